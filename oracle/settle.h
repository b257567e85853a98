// The settling protocol: a correct kernel may free in-flight garbage late (Linux runs its
// collector from a work queue and releases files through delayed fput), so before ruling
// *leak* we trigger the collector, poll the census with backoff until it is back to its
// baseline or a deadline passes, trigger again, poll a final window, and only then rule.
//
// Settler is a non-blocking schedule: the caller takes a census whenever NextPollAt()
// is due and reports whether it was clean. That lets one process settle many slots at
// once, so that one wait of the kernel's deferred work serves them all.
#pragma once

#include <cstdint>
#include <functional>

#include "base/result.h"

namespace inflight {

// Makes the kernel run its AF_UNIX collector soon: a socket pair whose one end carries
// itself, then both closed. Closing a unix socket while anything is in flight schedules
// the collector, and the self-carrying end is a cycle only the collector can free.
// Run it outside any scenario's namespace so the trigger never shows in a census.
Status TriggerCollector();

struct SettleOptions {
  int64_t deadline_us = 2'000'000;   // from the first dirty census to the second trigger
  int64_t final_window_us = 250'000; // polling after the second trigger
  int64_t first_gap_us = 1'000;      // first poll after the first trigger
  int64_t max_gap_us = 20'000;       // backoff cap
  int64_t retrigger_us = 50'000;     // trigger again while dirty this often, in case a
                                     // collection already running missed our garbage
  // Makes the collector run at some point after `since` (a monotonic time in us). The
  // collector is global, so one trigger serves every slot whose garbage is older; a
  // sandbox settling many slots passes one that skips redundant triggers.
  std::function<void(int64_t since)> trigger = [](int64_t) { (void)TriggerCollector(); };
};

class Settler {
 public:
  enum class Outcome { kPending, kClean, kLeak };

  explicit Settler(SettleOptions opt = {}) : opt_(opt) {}

  // The census right after the graph was found dirty at `now`; triggers the collector
  // unless one was triggered after `garbage_since` (when the graph ended).
  void Start(int64_t now, int64_t garbage_since);
  int64_t NextPollAt() const { return next_at_; }
  // Report one census taken at `now`. May trigger the collector again.
  Outcome OnCensus(bool clean, int64_t now);

  int polls() const { return polls_; }
  int triggers() const { return triggers_; }
  int64_t started_at() const { return started_; }

 private:
  void Trigger(int64_t since);

  SettleOptions opt_;
  int64_t started_ = 0;
  int64_t next_at_ = 0;
  int64_t gap_ = 0;
  int64_t last_trigger_ = 0;
  bool second_phase_ = false;
  int polls_ = 0;
  int triggers_ = 0;
};

}  // namespace inflight
