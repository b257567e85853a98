// One stress epoch on the sandbox's side: the region each slot shares with its
// stressor's processes, forking the stressor's root into the slot, judging the processes
// the sandbox reaps, and collecting counters, notes and the names of leftovers.
//
// Threading: the sandbox's single thread. After fork the root runs stressor code only
// (stressors/stressor.h): no allocation, no exceptions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "executor/reapable.h"
#include "run/run_types.h"
#include "run/stress_types.h"
#include "stressors/stressor.h"

namespace inflight {

// The shared region of one slot: mapped at the slot's first epoch and kept, so that a
// slot settling after its epoch still has the object log when its census rules.
class StressArea {
 public:
  static Result<std::unique_ptr<StressArea>> Map();
  ~StressArea();
  StressArea(const StressArea&) = delete;
  StressArea& operator=(const StressArea&) = delete;
  StressShared* shared() const { return sh_; }

 private:
  StressArea(StressShared* sh, size_t size) : sh_(sh), size_(size) {}
  StressShared* sh_;
  size_t size_;
};

// Where an epoch runs.
struct StressPlace {
  int netns_fd = -1;
  int dir_fd = -1;
  int slot = 0;
  uint32_t uid_base = 0;  // first of kUidsPerSlot uids of the slot's own; 0: none
  std::string hold_addr;  // the sandbox's test-only holder, "" when none
};

// The first of kUidsPerSlot uids that belong to `slot` of the sandbox whose launcher had
// host pid `host_pid`: unique among sandboxes alive on the host. 0 when there is none.
uint32_t StressUidBase(pid_t host_pid, int slot);

class StressRun : public Reapable {
 public:
  // `req.options` must match the stressor's option table (the caller checks).
  StressRun(const Stressor& s, StressArea& area, const StressRequest& req, StressPlace place);

  // Forks the stressor's root into the slot. Returns its pid.
  Result<pid_t> Start();
  int64_t deadline_us() const { return params_.deadline_us; }

  bool OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why) override;
  std::string DescribeAlive() const override;

  // Fills out.stress (counters, faults, notes, skip) and, for the stressor's own errors
  // and hangs, out.status and out.error.
  void Collect(RunResult& out) const;

 private:
  const Stressor& s_;
  StressArea& area_;
  StressRequest req_;
  StressPlace place_;
  StressParams params_;
  pid_t root_ = -1;
  int root_status_ = -1;
};

// Names the leftovers of a dirty checkpoint: every socket in `census` beyond `baseline`
// (and every embryo's connecting socket) that the stressor logged, into out.objects.
void NameStressLeftovers(const StressShared& sh, const Census& baseline, const Census& census,
                         StressOutcome& out);

}  // namespace inflight
