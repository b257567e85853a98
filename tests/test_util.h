// Helpers shared by the test suites: paths of the built binaries and the corpus,
// namespaces for kernel-facing tests, temporary folders, running the CLI.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/scm.h"
#include "base/unique_fd.h"

namespace inflight::testing {

inline std::string CorpusDir() {
  return std::string(INFLIGHT_SOURCE_DIR) + "/corpus";
}
inline std::string SandboxPath() {
  return INFLIGHT_SANDBOX_PATH;
}
inline std::string CliPath() {
  return INFLIGHT_CLI_PATH;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Why kernel-facing tests cannot run here, or "" when they can: they need a private
// network namespace (root, or an unprivileged user namespace).
// Writes `text` to `path` (a test's own file), failing the test if it cannot.
inline void WriteFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_TRUE(f) << path;
  fputs(text.c_str(), f);
  fclose(f);
}

// Puts `n` descriptors in flight as `uid` into a socket whose other end this (root)
// process keeps; returns that end (closing it releases them).
inline UniqueFd HoldInFlightAs(uint32_t uid, int n) {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd keep(sv[1]);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) _exit(1);
    int p[2];
    if (pipe(p) != 0) _exit(1);
    for (int i = 0; i < n; ++i)
      if (SendWithFds(sv[0], &p[0], 1, nullptr, 0, 0) != 1) _exit(2);
    _exit(0);
  }
  close(sv[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  return keep;
}

inline std::string NamespaceSkipReason() {
  static const std::string reason = [] {
    std::string why;
    std::thread t([&] {
      if (unshare(CLONE_NEWNET) != 0)
        why = std::string("cannot create a network namespace: ") + strerror(errno) +
              " (needs root or unprivileged user namespaces)";
    });
    t.join();
    return why;
  }();
  return reason;
}

#define INFLIGHT_REQUIRE_NAMESPACES()                                    \
  do {                                                                   \
    const std::string why_ = ::inflight::testing::NamespaceSkipReason(); \
    if (!why_.empty()) GTEST_SKIP() << "skipped: " << why_;              \
  } while (0)

// Runs `body` on a thread of its own in a fresh network namespace (namespaces are per
// thread, so the rest of the test process is untouched). Fails the test if it cannot.
inline void InFreshNetns(const std::function<void()>& body) {
  std::thread t([&] {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << strerror(errno);
    body();
  });
  t.join();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/inflight-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;  // exit status, or 128+signal
  std::string out;  // stdout and stderr together
};

// Runs a shell command line and captures its output.
inline CommandResult RunCommand(const std::string& cmdline) {
  CommandResult r;
  FILE* p = popen((cmdline + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Number of open descriptors of this process.
// Tests of unprivileged use run inflight as nobody through setpriv (prefix of a command).
inline constexpr const char* kAsNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

// Why an unprivileged run cannot be tried here ("" when it can): we are not root (to
// switch users), there is no setpriv, or unprivileged user namespaces are off.
inline std::string WhyNoUnprivilegedRun() {
  if (geteuid() != 0) return "needs root to switch to an unprivileged user";
  if (RunCommand("command -v setpriv").status != 0) return "no setpriv";
  if (RunCommand(std::string(kAsNobody) + "unshare -U true").status != 0)
    return "unprivileged user namespaces are off on this kernel";
  return "";
}

inline int CountOpenFds() {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n - 1;  // the iterator's own
}

// Starts argv[0] (a path) with stdout and stderr into the file `out`; returns its pid.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Waits for `pid`, then for every orphan reparented to us (the caller is a subreaper):
// returns pid's exit status (128+signal when killed); fails the test if any descendant,
// uid-switched ones included, outlives 10 s.
inline int WaitForAll(pid_t pid) {
  int status = -1;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    int st;
    const pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
    if (p == pid) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (p < 0 && errno == ECHILD) break;
    if (p == 0) {
      if (std::chrono::steady_clock::now() > end) {
        ADD_FAILURE() << "processes left behind: "
                      << ReadFile("/proc/self/task/" + std::to_string(getpid()) + "/children");
        break;
      }
      usleep(10'000);
    }
  }
  return status;
}

// Waits at most `timeout_ms` for the child `pid` to end (through a pidfd: no polling) and
// reaps it. Returns its exit status (128+signal when killed), or nullopt if it still runs.
inline std::optional<int> WaitExit(pid_t pid, int timeout_ms) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int n;
    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    close(pidfd);
    if (n == 0) return std::nullopt;
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return std::nullopt;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Runs `body` in a child process and waits at most `timeout_ms` for it, so that a body
// that hangs (a deadlock) fails the test instead of hanging it: the child is killed and
// nullopt returned. The body reports through its return value (the exit status); it must
// not use test macros. Whatever it started dies with it (PR_SET_PDEATHSIG) or is reaped
// by the caller.
inline std::optional<int> RunBounded(const std::function<int()>& body, int timeout_ms) {
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) _exit(body());
  auto status = WaitExit(pid, timeout_ms);
  if (!status) {
    kill(pid, SIGKILL);
    (void)WaitExit(pid, 10'000);
  }
  return status;
}

// A chain of `levels` AF_UNIX stream pairs in one process: each pair is sent, in two
// messages, over the next fresh pair and closed there, so only the last pair is held;
// closing it releases the whole chain (5 actions a level). Variable names of `name_len`
// characters (at most 64) and a comment of `comment_len` characters (at most 400) on
// every action make the request as large as a test needs.
inline std::string NestedChainText(const std::string& name, int levels, size_t name_len = 1,
                                   size_t comment_len = 0) {
  const std::string v[4] = {std::string(name_len, 'a'), std::string(name_len, 'b'),
                            std::string(name_len, 'c'), std::string(name_len, 'd')};
  const std::string note = comment_len ? "  # " + std::string(comment_len, 'n') : "";
  std::string out = "scenario " + name + "\n\n";
  auto act = [&](const std::string& text) { out += "p0: " + text + note + "\n"; };
  act(v[0] + " " + v[1] + " = socketpair stream");
  for (int k = 1; k < levels; ++k) {
    const std::string& x = v[(k - 1) % 2 * 2];
    const std::string& y = v[(k - 1) % 2 * 2 + 1];
    const std::string& nx = v[k % 2 * 2];
    const std::string& ny = v[k % 2 * 2 + 1];
    act(nx + " " + ny + " = socketpair stream");
    act("send " + nx + " [" + x + "]");
    act("send " + nx + " [" + y + "]");
    act("close " + x);
    act("close " + y);
  }
  act("close " + v[(levels - 1) % 2 * 2]);
  act("close " + v[(levels - 1) % 2 * 2 + 1]);
  return out;
}

}  // namespace inflight::testing
