// The stressor context: counters, notes, the object log, bounded forks, workers and
// their uids. Runs after fork: no allocation, no exceptions.
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/clock.h"
#include "stressors/stressor.h"

namespace inflight {

namespace {

constexpr int64_t kFlushEveryUs = 20'000;
constexpr int64_t kStragglerGraceUs = 10'000'000;

uint64_t Mix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const char* SignalName(int sig) {
  const char* n = sigabbrev_np(sig);
  return n ? n : "?";
}

}  // namespace

void StressShared::Reset() {
  stop.store(0);
  alive.store(0);
  next_proc.store(0);
  run_start_us.store(0);
  run_end_us.store(0);
  for (auto& c : counters) c.store(0);
  for (auto& c : scratch) c.store(0);
  for (auto& c : note_counts) c.store(0);
  n_notes.store(0);
  for (auto& n : notes) {
    n.ready.store(0);
    n.text[0] = 0;
  }
  skipped.store(0);
  skip_reason[0] = 0;
  for (auto& p : procs) {
    p.pid.store(0);
    p.worker.store(-1);
    p.op.store(nullptr);
  }
  n_log.store(0);
}

StressContext::StressContext(const Stressor& s, StressShared* shared, const StressParams& p)
    : s_(s), sh_(shared), p_(p) {
  uint64_t x = p.seed ^ 0x2545f4914f6cdd1dull;
  rng_ = Mix(x);
  last_flush_us_ = NowMicros();
  ClaimProcSlot();
}

bool StressContext::Running() const {
  return sh_->stop.load(std::memory_order_relaxed) == 0 && NowMicros() < p_.deadline_us;
}

uint64_t StressContext::Rand() {
  return Mix(rng_);
}

uint64_t StressContext::Below(uint64_t n) {
  return n == 0 ? 0 : Rand() % n;
}

bool StressContext::Chance(uint32_t permille) {
  return Below(1000) < permille;
}

void StressContext::Add(size_t counter, uint64_t n) {
  local_[counter] += n;
  if (++adds_since_flush_ < 64) return;
  adds_since_flush_ = 0;
  if (NowMicros() - last_flush_us_ >= kFlushEveryUs) Flush();
}

void StressContext::Max(size_t counter, uint64_t value) {
  std::atomic<uint64_t>& c = sh_->counters[counter];
  uint64_t cur = c.load(std::memory_order_relaxed);
  while (value > cur && !c.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
  }
}

void StressContext::Flush() {
  for (size_t i = 0; i < kMaxStressCounters; ++i) {
    if (local_[i] == 0) continue;
    sh_->counters[i].fetch_add(local_[i], std::memory_order_relaxed);
    local_[i] = 0;
  }
  last_flush_us_ = NowMicros();
}

void StressContext::Note(NoteKind kind, const char* fmt, va_list ap) {
  sh_->note_counts[static_cast<size_t>(kind)].fetch_add(1);
  const uint32_t i = sh_->n_notes.fetch_add(1);
  if (i >= kMaxStressNotes) return;
  StressNote& n = sh_->notes[i];
  n.kind = kind;
  int len = 0;
  if (worker_ >= 0) len = snprintf(n.text, sizeof n.text, "worker %d: ", worker_);
  if (len < 0) len = 0;
  vsnprintf(n.text + len, sizeof n.text - static_cast<size_t>(len), fmt, ap);
  n.ready.store(1, std::memory_order_release);
}

void StressContext::Fault(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Note(NoteKind::kFault, fmt, ap);
  va_end(ap);
}

void StressContext::Loss(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Note(NoteKind::kLoss, fmt, ap);
  va_end(ap);
}

void StressContext::Error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Note(NoteKind::kError, fmt, ap);
  va_end(ap);
}

void StressContext::Info(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Note(NoteKind::kInfo, fmt, ap);
  va_end(ap);
}

void StressContext::Hang(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Note(NoteKind::kHang, fmt, ap);
  va_end(ap);
}

void StressContext::Skip(const char* fmt, ...) {
  if (sh_->skipped.exchange(1) != 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sh_->skip_reason, sizeof sh_->skip_reason, fmt, ap);
  va_end(ap);
}

void StressContext::Log(int fd, uint16_t label) {
  if (!p_.log_objects) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  const uint32_t i = sh_->n_log.fetch_add(1, std::memory_order_relaxed);
  if (i >= kStressLogCapacity) return;  // the sandbox reports the truncation
  StressLogEntry& e = sh_->log[i];
  e.ino = st.st_ino;
  e.label = label;
  e.worker = static_cast<uint8_t>(worker_ < 0 ? 255 : worker_);
}

void StressContext::SetOp(const char* op) {
  if (proc_slot_ >= 0) sh_->procs[proc_slot_].op.store(op, std::memory_order_relaxed);
}

void StressContext::ClaimProcSlot() {
  const uint32_t i = sh_->next_proc.fetch_add(1);
  proc_slot_ = i < kMaxStressProcs ? static_cast<int>(i) : -1;
  if (proc_slot_ < 0) return;
  StressProcSlot& ps = sh_->procs[proc_slot_];
  ps.worker.store(worker_);
  ps.op.store("starting");
  ps.pid.store(getpid());
}

pid_t StressContext::Fork() {
  if (sh_->alive.fetch_add(1) >= kMaxStressProcs) {
    sh_->alive.fetch_sub(1);
    errno = EAGAIN;
    return -1;
  }
  Flush();  // the child starts with a copy of the buffered counts
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    sh_->alive.fetch_sub(1);
    errno = err;
    return -1;
  }
  if (pid == 0) {
    for (uint64_t& c : local_) c = 0;
    uint64_t x = rng_ ^ static_cast<uint64_t>(getpid()) * 0x9e3779b97f4a7c15ull;
    rng_ = Mix(x);
    ClaimProcSlot();
  }
  return pid;
}

void StressContext::Exit() {
  Flush();
  if (proc_slot_ >= 0) sh_->procs[proc_slot_].op.store("exited");
  const bool failed = sh_->note_counts[static_cast<size_t>(NoteKind::kError)].load() > 0;
  _exit(failed && worker_ >= 0 ? kStressFailedStatus : 0);
}

int StressContext::Reap(pid_t pid, bool killed) {
  int st = 0;
  while (waitpid(pid, &st, __WALL) < 0) {
    if (errno != EINTR) return -1;
  }
  sh_->alive.fetch_sub(1);
  const bool ok =
      (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == kStressFailedStatus)) ||
      (killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  if (!ok) {
    if (WIFSIGNALED(st))
      Error("child %d died by SIG%s", pid, SignalName(WTERMSIG(st)));
    else
      Error("child %d ended with wait status %#x", pid, st);
  }
  return st;
}

bool StressContext::BecomeUser(uint32_t k) {
  if (p_.uid_base == 0 || k >= kUidsPerSlot) return false;
  const uid_t id = p_.uid_base + k;
  if (setgroups(0, nullptr) != 0 && errno != EPERM) return false;
  if (setresgid(id, id, id) != 0) return false;
  if (setresuid(id, id, id) != 0) return false;
  return true;
}

void StressContext::BeginWorkers(WorkerSet& set) {
  // Orphans of killed workers come back to the root, not to the sandbox.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &set.old_mask);
  set.started = 0;
  for (size_t i = 0; i < kMaxStressProcs; ++i) set.done[i] = set.killed[i] = false;
}

pid_t StressContext::ForkWorker(WorkerSet& set, int i, uint8_t uid_index) {
  const pid_t pid = Fork();
  if (pid < 0) {
    Error("fork(worker %d): %s", i, strerrorname_np(errno));
    return -1;
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &set.old_mask, nullptr);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    worker_ = i;
    uint64_t x = p_.seed * 0x100000001b3ull + static_cast<uint64_t>(i) + 1;
    rng_ = Mix(x);
    if (proc_slot_ >= 0) sh_->procs[proc_slot_].worker.store(i);
    // Per-user accounting must see only this stressor: a uid of the slot's own.
    BecomeUser(uid_index);
    return 0;
  }
  set.pids[set.started++] = pid;
  return pid;
}

void StressContext::WaitWorkers(WorkerSet& set) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int left = set.started;
  bool stragglers_killed = false;
  while (left > 0) {
    int st = 0;
    const pid_t pid = waitpid(-1, &st, WNOHANG | __WALL);
    if (pid > 0) {
      sh_->alive.fetch_sub(1);
      int w = -1;
      for (int i = 0; i < set.started; ++i)
        if (set.pids[i] == pid && !set.done[i]) w = i;
      if (w < 0) continue;  // an orphan of a worker, adopted by the subreaper
      set.done[w] = true;
      --left;
      const bool ok =
          (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == kStressFailedStatus)) ||
          (set.killed[w] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
      if (!ok) {
        if (WIFSIGNALED(st))
          Error("worker %d died by SIG%s", w, SignalName(WTERMSIG(st)));
        else
          Error("worker %d ended with wait status %#x", w, st);
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    const int64_t now = NowMicros();
    const int64_t kill_at = p_.deadline_us + kStragglerGraceUs;
    if (now >= kill_at && !stragglers_killed) {
      stragglers_killed = true;
      for (int i = 0; i < set.started; ++i) {
        if (set.done[i]) continue;
        const char* op = "?";
        for (size_t k = 0; k < kMaxStressProcs; ++k)
          if (sh_->procs[k].pid.load() == set.pids[i] && sh_->procs[k].op.load())
            op = sh_->procs[k].op.load();
        Hang("worker %d (pid %d) still in '%s' %lld s after the epoch's end; killed", i,
             set.pids[i], op, static_cast<long long>(kStragglerGraceUs / 1'000'000));
        set.killed[i] = true;
        kill(set.pids[i], SIGKILL);
      }
    }
    const int64_t until = stragglers_killed ? now + 100'000 : kill_at;
    const int64_t wait = std::max<int64_t>(1000, std::min<int64_t>(until - now, 100'000));
    timespec ts{static_cast<time_t>(wait / 1'000'000),
                static_cast<long>((wait % 1'000'000) * 1000)};
    sigtimedwait(&chld, nullptr, &ts);
  }
  // Orphans the workers left behind (victims of the kill stressor, say) end here too;
  // any that outlive this wait are the sandbox's to reap.
  const int64_t orphans_until = std::max(NowMicros(), p_.deadline_us) + kStragglerGraceUs;
  while (NowMicros() < orphans_until) {
    int st = 0;
    const pid_t pid = waitpid(-1, &st, WNOHANG | __WALL);
    if (pid > 0) {
      sh_->alive.fetch_sub(1);
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    timespec ts{0, 20'000'000};
    sigtimedwait(&chld, nullptr, &ts);
  }
  sigprocmask(SIG_SETMASK, &set.old_mask, nullptr);
}

}  // namespace inflight
