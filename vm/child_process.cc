// fork/exec of helper processes, with nothing allocated after fork.
#include "vm/child_process.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

namespace inflight {

namespace {

int DecodeStatus(int st) {
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, Stderr err) {
  const bool merge = err == Stderr::kMerge;
  if (argv.empty()) return SysError{EINVAL, "start(no command)"};
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe2");
  UniqueFd rd(out[0]), wr(out[1]);
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return Errno("open(/dev/null)");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Errno(fmt::format("fork({})", argv[0]));
  if (pid == 0) {
    // The child: async-signal-safe calls only.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    dup2(null.Get(), STDIN_FILENO);
    dup2(wr.Get(), STDOUT_FILENO);
    if (merge) dup2(wr.Get(), STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  ChildProcess c;
  c.pid_ = pid;
  c.out_ = std::move(rd);
  fcntl(c.out_.Get(), F_SETFL, fcntl(c.out_.Get(), F_GETFL) | O_NONBLOCK);
  return c;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_(std::move(other.out_)),
      reaped_(other.reaped_),
      status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (running()) Kill();
    pid_ = std::exchange(other.pid_, -1);
    out_ = std::move(other.out_);
    reaped_ = other.reaped_;
    status_ = other.status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (running()) Kill();
}

std::optional<int> ChildProcess::TryWait() {
  if (pid_ <= 0) return std::nullopt;
  if (reaped_) return status_;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = DecodeStatus(st);
    return status_;
  }
  return std::nullopt;
}

int ChildProcess::Wait() {
  if (pid_ <= 0) return -1;
  if (reaped_) return status_;
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  reaped_ = true;
  status_ = DecodeStatus(st);
  return status_;
}

int ChildProcess::Kill() {
  if (pid_ <= 0) return -1;
  if (!reaped_) kill(pid_, SIGKILL);
  return Wait();
}

Result<std::string> RunAndCapture(const std::vector<std::string>& argv) {
  auto child = ChildProcess::Start(argv, ChildProcess::Stderr::kInherit);
  if (!child) return child.error();
  std::string out;
  char buf[1 << 16];
  for (;;) {
    pollfd p{child->output_fd(), POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) return Errno("poll");
    const ssize_t n = read(child->output_fd(), buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno != EAGAIN && errno != EINTR) return Errno(fmt::format("read(output of {})", argv[0]));
  }
  const int status = child->Wait();
  if (status != 0) return SysError{0, fmt::format("{} exited with status {}", argv[0], status)};
  return out;
}

std::string FindOnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

}  // namespace inflight
