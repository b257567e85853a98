// Measuring a uid's in-flight allowance in a child process.
#include "probe/accounting.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <grp.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/scm.h"

namespace inflight {

namespace {

constexpr int kMeasureFailed = 250;

bool SendOne(int via, int fd) {
  return SendWithFds(via, &fd, 1) == 1;
}

}  // namespace

bool BecomeUidKeepingCaps(uid_t uid, gid_t gid) {
  if (prctl(PR_SET_KEEPCAPS, 1) != 0) return false;
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
    return false;
  // setresuid away from 0 cleared the effective set; the permitted set was kept.
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  return syscall(SYS_capset, &hdr, data) == 0;
}

Result<int> MeasureInflightAllowance(uid_t uid, gid_t gid) {
  pid_t pid = fork();
  if (pid < 0) return Errno("fork(allowance)");
  if (pid == 0) {
    // No allocation from here on. Close what the parent had open (its numbers could
    // exceed the low limit below), then drop to the uid with no capabilities at all.
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
      for (int f = 3; f < 65536; ++f) close(f);
    rlimit lim{kAllowanceLimit, kAllowanceLimit};
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) _exit(kMeasureFailed);
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0)
      _exit(kMeasureFailed);
    int sv[2], p[2];
    // A stream pair: datagram queues stop at net.unix.max_dgram_qlen (10 in a new namespace).
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(p, O_CLOEXEC) != 0)
      _exit(kMeasureFailed);
    int passed = 0;
    while (passed < kAllowanceLimit + 16 && SendOne(sv[0], p[0])) ++passed;
    if (passed < kAllowanceLimit + 16 && errno != ETOOMANYREFS) _exit(kMeasureFailed);
    _exit(passed);  // everything closes: what it put in flight is freed with it
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid(allowance)");
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) == kMeasureFailed)
    return SysError{0, fmt::format("allowance measure for uid {} failed (status {:#x})", uid, st)};
  return WEXITSTATUS(st);
}

}  // namespace inflight
