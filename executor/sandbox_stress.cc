// The sandbox's side of a stress epoch: run the stressor in a free slot, reap it, then
// rule the slot like a graph's (clean at once, or settle while other slots run).
#include <fmt/core.h>

#include "base/clock.h"
#include "executor/sandbox.h"
#include "executor/stress_run.h"
#include "stressors/registry.h"

namespace inflight {

bool Sandbox::RunStress(const StressRequest& req, Slot& slot) {
  RunResult res;
  res.id = req.id;
  res.slot = slot.index;
  res.baseline = slot.baseline;
  res.stress.stressor = req.stressor;
  res.stress.epoch = req.epoch;
  const Stressor* s = FindStressor(req.stressor);
  if (!s || req.options.size() != s->options.size()) {
    res.status = RunStatus::kSetupError;
    res.error = s ? fmt::format("stressor {}: {} option values for {} options", req.stressor,
                                req.options.size(), s->options.size())
                  : fmt::format("no stressor called '{}' in this sandbox", req.stressor);
    Emit(res);
    return true;
  }
  // The run's time is up: say so rather than start an epoch that ends at once.
  if (req.run_end_us > 0 && NowMicros() + 50'000 >= req.run_end_us) {
    res.stress.not_run = true;
    Emit(res);
    return true;
  }
  if (!slot.stress) {
    auto area = StressArea::Map();
    if (!area) {
      res.status = RunStatus::kSetupError;
      res.error = area.error().Text();
      Emit(res);
      return true;
    }
    slot.stress = std::move(*area);
  }
  StressPlace place;
  place.netns_fd = slot.netns.Get();
  place.dir_fd = slot.dir.Get();
  place.slot = slot.index;
  place.uid_base = opt_.user_namespace ? 0 : StressUidBase(opt_.host_pid, slot.index);
  place.hold_addr = opt_.hold_addr;
  StressRun run(*s, *slot.stress, req, place);
  const int64_t t0 = NowMicros();
  auto pid = run.Start();
  if (!pid) {
    res.status = RunStatus::kSetupError;
    res.error = pid.error().Text();
    Emit(res);
    return true;
  }
  const bool can_continue =
      Reap(run, run.deadline_us() + static_cast<int64_t>(req.timeout_ms) * 1000, res);
  const int64_t t1 = NowMicros();
  res.exec_us = t1 - t0;
  run.Collect(res);
  // What the kernel logged while the stressor ran is this epoch's (Finish adds what comes
  // while settling), as RunOne does for a graph.
  if (kmsg_) res.kernel_log = kmsg_->TakeNew();
  if (!can_continue) {
    Emit(res);
    return false;
  }
  return CheckOrSettle(slot, std::move(res), t1, req.settle_ms);
}

}  // namespace inflight
