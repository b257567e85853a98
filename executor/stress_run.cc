// Forking a stressor into its slot, judging its processes, collecting its results.
#include "executor/stress_run.h"

#include <fmt/core.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <unordered_set>

#include "base/clock.h"

namespace inflight {

namespace {

// _exit() status of a stressor root whose own setup failed (setns, fchdir).
constexpr int kRootSetupFailed = 121;
constexpr rlim_t kStressNofile = 65536;
constexpr rlim_t kStressAddressSpace = rlim_t{1} << 30;

void CloseAllFds() {
  if (syscall(SYS_close_range, 0u, ~0u, 0u) == 0) return;
  for (int fd = 0; fd < 65536; ++fd) ::close(fd);  // kernels before 5.9
}

bool ExpectedEnd(int status, bool killed_ok) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    return code == 0 || code == kStressSkippedStatus || code == kStressFailedStatus;
  }
  return killed_ok && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

std::string DescribeEnd(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("died by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("ended with wait status {:#x}", status);
}

}  // namespace

Result<std::unique_ptr<StressArea>> StressArea::Map() {
  const size_t size = (sizeof(StressShared) + 4095) & ~size_t{4095};
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Errno("mmap(stress area)");
  auto* sh = new (p) StressShared();
  sh->Reset();
  return std::unique_ptr<StressArea>(new StressArea(sh, size));
}

StressArea::~StressArea() {
  sh_->~StressShared();
  munmap(sh_, size_);
}

uint32_t StressUidBase(pid_t host_pid, int slot) {
  if (host_pid <= 0 || slot < 0 || slot >= 64) return 0;
  return 0x40000000u + ((static_cast<uint32_t>(host_pid) % 0x100000u) << 10) +
         static_cast<uint32_t>(slot) * kUidsPerSlot;
}

StressRun::StressRun(const Stressor& s, StressArea& area, const StressRequest& req,
                     StressPlace place)
    : s_(s), area_(area), req_(req), place_(std::move(place)) {
  for (size_t i = 0; i < s.options.size() && i < req.options.size() && i < kMaxStressOptions; ++i)
    params_.options[i] = req.options[i];
  params_.seed = req.seed;
  params_.epoch = req.epoch;
  params_.slot = place_.slot;
  params_.uid_base = place_.uid_base;
  params_.log_objects = req.log_objects;
  const size_t n = std::min(place_.hold_addr.size(), sizeof params_.hold_addr - 1);
  memcpy(params_.hold_addr, place_.hold_addr.data(), n);
  params_.hold_addr[n] = 0;
}

Result<pid_t> StressRun::Start() {
  StressShared* sh = area_.shared();
  sh->Reset();
  int64_t deadline = NowMicros() + static_cast<int64_t>(req_.epoch_ms) * 1000;
  if (req_.run_end_us > 0) deadline = std::min(deadline, req_.run_end_us);
  params_.deadline_us = deadline;
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork(stressor root)");
  if (pid > 0) {
    root_ = pid;
    return pid;
  }
  // The stressor's root: enter the slot, drop every descriptor of the sandbox, bound
  // what the stressor may use, run it.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (place_.netns_fd >= 0 && setns(place_.netns_fd, CLONE_NEWNET) != 0) _exit(kRootSetupFailed);
  if (place_.dir_fd >= 0 && fchdir(place_.dir_fd) != 0) _exit(kRootSetupFailed);
  CloseAllFds();
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = std::min(rl.rlim_max, kStressNofile);
  setrlimit(RLIMIT_NOFILE, &rl);
  // Per uid of the slot (the workers'): a bound on processes the kernel enforces. Not
  // without uids of our own: then it would count every process of the invoking user.
  if (place_.uid_base != 0) {
    rlimit nproc{kMaxStressProcs * 2, kMaxStressProcs * 2};
    setrlimit(RLIMIT_NPROC, &nproc);
  }
  rlimit as{kStressAddressSpace, kStressAddressSpace};
  setrlimit(RLIMIT_AS, &as);
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  sh->run_start_us.store(NowMicros());
  StressContext ctx(s_, sh, params_);
  s_.run(ctx);
  ctx.Flush();
  sh->run_end_us.store(NowMicros());
  const bool failed = sh->note_counts[static_cast<size_t>(NoteKind::kError)].load() > 0;
  _exit(sh->skipped.load() ? kStressSkippedStatus : failed ? kStressFailedStatus : 0);
}

bool StressRun::OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why) {
  if (pid == root_) {
    root_status_ = status;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kRootSetupFailed) {
      *why =
          fmt::format("stressor {}: its root could not enter the slot (setns or fchdir)", s_.name);
      return false;
    }
    if (ExpectedEnd(status, watchdog_fired)) return true;
    *why = fmt::format("stressor {}: its root {}", s_.name, DescribeEnd(status));
    return false;
  }
  // An orphan: a stressor process whose parent ended first.
  if (ExpectedEnd(status, true)) return true;
  *why = fmt::format("stressor {}: process {} {}", s_.name, pid, DescribeEnd(status));
  return false;
}

std::string StressRun::DescribeAlive() const {
  const StressShared& sh = *area_.shared();
  std::string out;
  for (const StressProcSlot& p : sh.procs) {
    const int pid = p.pid.load();
    const char* op = p.op.load();
    if (pid <= 0 || (op && strcmp(op, "exited") == 0)) continue;
    if (kill(pid, 0) != 0) continue;
    if (!out.empty()) out += "; ";
    const int w = p.worker.load();
    out +=
        fmt::format("{} (pid {}) in '{}'",
                    w < 0 ? std::string("root") : fmt::format("worker {}", w), pid, op ? op : "?");
  }
  return fmt::format("stressor {}: {}", s_.name, out.empty() ? "no process alive" : out);
}

void StressRun::Collect(RunResult& out) const {
  const StressShared& sh = *area_.shared();
  StressOutcome& o = out.stress;
  o.stressor = s_.name;
  o.epoch = req_.epoch;
  const int64_t start = sh.run_start_us.load();
  int64_t end = sh.run_end_us.load();
  if (end == 0) end = NowMicros();
  o.run_us = start > 0 ? end - start : 0;
  o.counters.assign(s_.counters.size(), 0);
  for (size_t i = 0; i < s_.counters.size() && i < kMaxStressCounters; ++i)
    o.counters[i] = sh.counters[i].load();
  if (sh.skipped.load())
    o.skipped = std::string(sh.skip_reason, strnlen(sh.skip_reason, sizeof sh.skip_reason));
  o.faults_total = sh.note_counts[static_cast<size_t>(NoteKind::kFault)].load();
  o.losses_total = sh.note_counts[static_cast<size_t>(NoteKind::kLoss)].load();
  std::vector<std::string> errors, hangs;
  const uint32_t kept = std::min<uint32_t>(sh.n_notes.load(), kMaxStressNotes);
  for (uint32_t i = 0; i < kept; ++i) {
    const StressNote& n = sh.notes[i];
    if (!n.ready.load(std::memory_order_acquire)) continue;
    std::string text(n.text, strnlen(n.text, sizeof n.text));
    switch (n.kind) {
      case NoteKind::kFault:
        o.faults.push_back(std::move(text));
        break;
      case NoteKind::kError:
        errors.push_back(std::move(text));
        break;
      case NoteKind::kHang:
        hangs.push_back(std::move(text));
        break;
      case NoteKind::kInfo:
        o.notes.push_back(std::move(text));
        break;
      case NoteKind::kLoss:
        o.losses.push_back(std::move(text));
        break;
    }
  }
  const uint32_t n_errors = sh.note_counts[static_cast<size_t>(NoteKind::kError)].load();
  const uint32_t n_hangs = sh.note_counts[static_cast<size_t>(NoteKind::kHang)].load();
  // The stressor's own failures are ours; a process that would not stop is a hang.
  if (n_errors > 0 && out.status == RunStatus::kCompleted) {
    out.status = RunStatus::kExecutorError;
    out.error = fmt::format("stressor {}: {}{}", s_.name,
                            errors.empty() ? std::string("an error note was lost") : errors.front(),
                            n_errors > 1 ? fmt::format(" (and {} more)", n_errors - 1) : "");
  } else if (n_hangs > 0 && out.status == RunStatus::kCompleted) {
    out.status = RunStatus::kHang;
    out.error = fmt::format("stressor {}: {}{}", s_.name,
                            hangs.empty() ? std::string("a hang note was lost") : hangs.front(),
                            n_hangs > 1 ? fmt::format(" (and {} more)", n_hangs - 1) : "");
  }
}

void NameStressLeftovers(const StressShared& sh, const Census& baseline, const Census& census,
                         StressOutcome& out) {
  const CensusDelta d = DiffCensus(baseline, census);
  std::unordered_set<uint64_t> wanted;
  for (const SocketInfo& s : d.new_sockets) wanted.insert(s.ino);
  for (const auto& e : d.new_embryos)
    for (uint64_t peer : e.added)
      if (peer) wanted.insert(peer);
  out.objects.clear();
  const uint32_t n = sh.n_log.load();
  out.log_truncated = n > kStressLogCapacity;
  if (wanted.empty()) return;
  const uint32_t limit = std::min<uint32_t>(n, kStressLogCapacity);
  for (uint32_t i = 0; i < limit; ++i) {
    const StressLogEntry& e = sh.log[i];
    if (wanted.erase(e.ino)) out.objects.push_back({e.ino, e.label, e.worker});
  }
}

}  // namespace inflight
