// What each oracle layer costs on a clean run (the check every run pays before it can be
// ruled clean), measured here in microseconds per check, with the fork of a one-process
// graph as the yardstick measured in the same run.
#include <fcntl.h>
#include <fmt/core.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "base/clock.h"
#include "probe/accounting.h"
#include "probe/census.h"
#include "probe/kernel_log.h"
#include "probe/liveness.h"

using namespace inflight;

namespace {

double MicrosPer(int n, const std::function<void()>& f) {
  const int64_t t0 = NowMicros();
  for (int i = 0; i < n; ++i) f();
  return static_cast<double>(NowMicros() - t0) / n;
}

}  // namespace

int main() {
  std::thread t([] {
    if (unshare(CLONE_NEWNET) != 0) {
      fmt::print("layers_bench: skipped: cannot create a network namespace\n");
      return;
    }
    const double fork_us = MicrosPer(300, [] {
      pid_t p = fork();
      if (p == 0) _exit(0);
      waitpid(p, nullptr, 0);
    });
    auto diag = CensusSource::Open(true);
    auto proc = CensusSource::Open(false);
    auto witness = ObjectWitness::Create();
    if (!diag || !proc || !witness) {
      fmt::print("layers_bench: cannot open the census or the witness\n");
      return;
    }
    // A witness with ten live items, as after a small graph (its objects are still open
    // here, so every check finds them: the cost of reading them is the point).
    int keep[10];
    for (int& k : keep) {
      k = eventfd(0, EFD_CLOEXEC);
      epoll_event ev{};
      ev.data.u64 = static_cast<uint64_t>(k);
      epoll_ctl(witness->epoll_fd(), EPOLL_CTL_ADD, k, &ev);
    }
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    auto kmsg = KernelLog::Open();
    constexpr int kN = 2000;
    const double table = MicrosPer(kN, [&] { (void)diag->Take(false); });
    const double table_proto = MicrosPer(kN, [&] { (void)diag->Take(true); });
    const double procfs = MicrosPer(kN, [&] { (void)proc->Take(false); });
    const double wit = MicrosPer(kN, [&] { (void)witness->Alive(); });
    const double inodes = MicrosPer(kN, [&] { (void)UsedInodes(dir); });
    const double klog = kmsg ? MicrosPer(kN, [&] { (void)kmsg->TakeNew(); }) : -1;
    const double acct =
        geteuid() == 0
            ? MicrosPer(50, [] { (void)MeasureInflightAllowance(0x2ffffff0, 0x2ffffff0); })
            : -1;
    fmt::print("layers_bench: cost per check on a clean run, in microseconds\n");
    fmt::print("  yardstick: fork + exit + wait of one process     {:8.1f}\n", fork_us);
    fmt::print("  socket census, sock_diag table                   {:8.1f}\n", table);
    fmt::print("  socket census + /proc/net/protocols cross-check  {:8.1f}\n", table_proto);
    fmt::print("  socket census, /proc/net/unix fallback           {:8.1f}\n", procfs);
    fmt::print("  object witness (epoll fdinfo, 10 items)          {:8.1f}\n", wit);
    fmt::print("  slot tmpfs inode count (fstatfs)                 {:8.1f}\n", inodes);
    if (klog >= 0) fmt::print("  kernel log (/dev/kmsg, nothing new)              {:8.1f}\n", klog);
    if (acct >= 0)
      fmt::print("  accounting allowance (once per 32 runs per slot) {:8.1f}  ({:.1f} per run)\n",
                 acct, acct / 32);
    const double per_run =
        table_proto + wit + inodes + (klog >= 0 ? klog : 0) + (acct >= 0 ? acct / 32 : 0);
    fmt::print("  all layers, per clean run                        {:8.1f}  ({:.2f} forks)\n",
               per_run, per_run / fork_us);
    for (int k : keep) close(k);
    close(dir);
  });
  t.join();
  return 0;
}
