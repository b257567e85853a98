// The stressor interface: what one stressor declares (name, help, option table,
// counters, object labels, its loop) and the context its processes run with.
//
// A stressor runs inside a sandbox slot like a scenario graph: the sandbox forks the
// stressor's root into the slot (its network namespace and tmpfs), the root forks its
// workers, every worker loops until ctx.Running() turns false at the epoch's deadline,
// and then every process exits. After that the slot settles and the census rules, so a
// leak is caught at the checkpoint right after the epoch that made it.
//
// Everything here runs after fork: no allocation, no exceptions, no logging. Stressor
// code uses fixed arrays, syscalls and the context's helpers only. One stressor per file
// in stressors/, one line per stressor in stressors/registry.cc.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <span>

#include "stressors/stress_shared.h"

namespace inflight {

struct StressOption {
  const char* name;
  const char* help;
  int64_t def;
  int64_t min;
  int64_t max;
};

enum class CounterKind : uint8_t {
  kTotal,  // summed over workers and epochs, shown as a rate per second of stressing
  kMax,    // a high-water mark: the run reports the largest
};

struct StressCounter {
  const char* name;
  const char* help;
  CounterKind kind = CounterKind::kTotal;
};

class StressContext;

struct Stressor {
  const char* name;
  const char* help;   // one line, for `inflight stress --list`
  const char* about;  // what it races and why, for `--list NAME` and docs/stressors.md
  std::span<const StressOption> options;
  std::span<const StressCounter> counters;  // the first is the headline rate
  std::span<const char* const> labels;      // names of what it logs, for leak reports
  uint32_t settle_ms;  // settle at least this long before ruling leak (0: the command's)
  void (*run)(StressContext& ctx);  // runs in the stressor's root process
  // Per label, the leak class of what it names when it outlives an epoch, as the shape the
  // stressor built ("cycle(nested)", reports/finding_signature.h); "" or missing: unknown.
  std::span<const char* const> label_classes = {};
};

// Number of uids each slot owns, so that per-user accounting (the in-flight count of
// too_many_unix_fds(), RLIMIT_NPROC) sees only this stressor's processes.
inline constexpr uint32_t kUidsPerSlot = 16;

// What the sandbox hands a stressor for one epoch.
struct StressParams {
  int64_t options[kMaxStressOptions] = {};
  uint64_t seed = 0;
  uint32_t epoch = 0;
  int slot = 0;
  int64_t deadline_us = 0;  // CLOCK_MONOTONIC
  uint32_t uid_base = 0;    // first of kUidsPerSlot uids of this slot; 0: cannot switch
  bool log_objects = true;
  char hold_addr[40] = {};  // the sandbox's test-only holder (--hold), "" when none
};

// _exit() statuses of stressor processes.
inline constexpr int kStressSkippedStatus = 122;  // root: the stressor cannot run here
inline constexpr int kStressFailedStatus = 123;   // a note of kind kError was written

class StressContext {
 public:
  StressContext(const Stressor& s, StressShared* shared, const StressParams& p);

  const Stressor& stressor() const { return s_; }
  int64_t Opt(size_t index) const { return p_.options[index]; }
  uint64_t seed() const { return p_.seed; }
  uint32_t epoch() const { return p_.epoch; }
  int slot() const { return p_.slot; }
  int worker() const { return worker_; }  // -1 in the root
  const char* hold_addr() const { return p_.hold_addr; }
  int64_t deadline_us() const { return p_.deadline_us; }
  // True until the epoch's deadline (or a stop request).
  bool Running() const;

  // Seeded per process: the root from the epoch's seed, worker i from seed and i.
  uint64_t Rand();
  uint64_t Below(uint64_t n);  // uniform in [0, n); 0 when n is 0
  bool Chance(uint32_t permille);

  // Counters (indices into the stressor's counter table). Add() buffers per process and
  // flushes every few milliseconds; Max() and the scratch atomics go straight to the
  // shared region.
  void Add(size_t counter, uint64_t n = 1);
  void Max(size_t counter, uint64_t value);
  void Flush();
  std::atomic<int64_t>& Scratch(size_t i) { return sh_->scratch[i]; }

  // Notes (printf-style, a few plain conversions only: no allocation after fork).
  void Fault(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  // Data loss: what was sent to a queue that a live process still reaches is not there
  // (the collector freed it: CVE-2021-0920, CVE-2026-23394 shapes). Ruled `loss`.
  void Loss(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void Error(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void Info(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  // The whole stressor cannot run here (a missing resource): Run() should return.
  void Skip(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  // Records fd's inode under `label` so that a leftover can be named at the checkpoint.
  void Log(int fd, uint16_t label);
  // What this process is doing now (a string literal), for hang reports.
  void SetOp(const char* op);

  // Forks another process of this stressor; at most kMaxStressProcs are alive. Returns
  // 0 in the child, which must end with Exit(); -1 with errno EAGAIN over the budget.
  pid_t Fork();
  [[noreturn]] void Exit();
  // Waits for a child; `killed`: the caller SIGKILLed it, so that end is expected. Any
  // end other than exit 0 (or that SIGKILL) is noted as an error. Returns the status.
  int Reap(pid_t pid, bool killed);

  // Root only: forks n workers; worker i switches to this slot's uid number uid_index[i]
  // (0 for all when null), runs fn(ctx, i) and exits. Waits for every worker; one still
  // alive 10 s after the deadline is noted as a hang and killed. fn may capture the
  // root's state by reference: each worker runs on its own copy after fork.
  template <typename Fn>
  void RunWorkers(int n, Fn&& fn, const uint8_t* uid_index = nullptr) {
    WorkerSet set;
    BeginWorkers(set);
    for (int i = 0; i < n && i < static_cast<int>(kMaxStressProcs); ++i) {
      const pid_t pid = ForkWorker(set, i, uid_index ? uid_index[i] : 0);
      if (pid == 0) {
        fn(*this, i);
        Exit();
      }
      if (pid < 0) break;
    }
    WaitWorkers(set);
  }

  // Switches this process to the slot's uid number k (dropping every capability).
  // False when the sandbox cannot (unprivileged, in a user namespace).
  bool BecomeUser(uint32_t k);
  uint32_t uid_base() const { return p_.uid_base; }

 private:
  struct WorkerSet {
    pid_t pids[kMaxStressProcs];
    bool done[kMaxStressProcs];
    bool killed[kMaxStressProcs];
    int started = 0;
    sigset_t old_mask;
  };
  void BeginWorkers(WorkerSet& set);
  // Returns 0 in worker i (switched to its uid), its pid in the root, -1 on failure.
  pid_t ForkWorker(WorkerSet& set, int i, uint8_t uid_index);
  void WaitWorkers(WorkerSet& set);

  void Note(NoteKind kind, const char* fmt, va_list ap);
  void Hang(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void ClaimProcSlot();

  const Stressor& s_;
  StressShared* sh_;
  StressParams p_;
  int worker_ = -1;
  int proc_slot_ = -1;
  uint64_t rng_ = 0;
  uint64_t local_[kMaxStressCounters] = {};
  uint32_t adds_since_flush_ = 0;
  int64_t last_flush_us_ = 0;
};

}  // namespace inflight
