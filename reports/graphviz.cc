// Running `dot -Tsvg` with a deadline.
#include "reports/graphviz.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/unique_fd.h"

extern char** environ;

namespace inflight {

namespace {

Status WriteAllTo(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write(memfd for dot)");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// Reads what is ready on `fd` into `out`; false at EOF or on error.
bool Drain(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > (64u << 20)) return false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

}  // namespace

Result<std::string> RenderDotToSvg(const std::string& dot_text, int timeout_ms,
                                   const std::string& dot_path) {
  std::string program = dot_path;
  if (program.empty()) {
    const char* env = getenv("INFLIGHT_DOT");
    program = env && *env ? env : "dot";
  }
  UniqueFd input(memfd_create("inflight-dot", MFD_CLOEXEC));
  if (!input) return Errno("memfd_create(dot input)");
  if (auto s = WriteAllTo(input.Get(), dot_text); !s) return s.error();
  if (lseek(input.Get(), 0, SEEK_SET) != 0) return Errno("lseek(dot input)");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return Errno("pipe2(dot stdout)");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return Errno("pipe2(dot stderr)");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, input.Get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out_w.Get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w.Get(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string arg0 = program, arg1 = "-Tsvg";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, program.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return SysError{rc,
                    fmt::format("cannot run '{}' (Graphviz; Debian package graphviz)", program)};
  input.Reset();
  out_w.Reset();
  err_w.Reset();

  std::string svg, err;
  bool out_open = true, err_open = true, timed_out = false;
  const Deadline deadline(static_cast<int64_t>(timeout_ms) * 1000);
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out_r.Get() : -1, POLLIN, 0},
                   {err_open ? err_r.Get() : -1, POLLIN, 0}};
    const int wait_ms = static_cast<int>(deadline.RemainingMicros() / 1000);
    if (deadline.Passed() || ::poll(p, 2, wait_ms > 0 ? wait_ms : 1) == 0) {
      if (deadline.Passed()) {
        timed_out = true;
        ::kill(pid, SIGKILL);
        break;
      }
      continue;
    }
    if (out_open && p[0].revents) out_open = Drain(out_r.Get(), svg);
    if (err_open && p[1].revents) err_open = Drain(err_r.Get(), err);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return SysError{ETIMEDOUT, fmt::format("{} -Tsvg took longer than {} ms", program, timeout_ms)};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    return SysError{0, fmt::format("{} -Tsvg failed (wait status {:#x}): {}", program, status,
                                   err.substr(0, 400))};
  }
  return svg;
}

}  // namespace inflight
