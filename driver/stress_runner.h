// The driver loop of `inflight stress`: keeps every worker of every chosen stressor busy
// with epochs (two queued per worker, so that a sandbox starts the next epoch while the
// last one's slot settles), rules each checkpoint, shows rates, and fills the report:
// one record per epoch and a "stress" section with totals and named rates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/runner.h"
#include "driver/sandbox_pool.h"
#include "reports/report.h"
#include "stressors/stressor.h"

namespace inflight {

struct StressEntry {
  const Stressor* stressor = nullptr;
  std::vector<int64_t> options;  // one per option of the stressor, defaults applied
};

struct StressPlan {
  std::vector<StressEntry> entries;
  uint32_t workers = 1;  // per stressor
  uint64_t seed = 1;     // epoch e of worker w uses seed + w * kWorkerSeedStride + e
  uint32_t duration_ms = 60'000;
  uint32_t checkpoint_ms = 2'000;
  uint32_t timeout_ms = 30'000;  // watchdog past an epoch's end
  uint32_t settle_ms = 60'000;   // settling ceiling; a stressor may ask for more
  bool log_objects = true;
};

inline constexpr uint64_t kWorkerSeedStride = 1'000'000;

// Entries for `names` (all stressors when empty), with defaults. Throws UsageError for an
// unknown name or a name given twice.
std::vector<StressEntry> ChooseStressors(const std::vector<std::string>& names);

// Applies "KEY=VALUE" and "NAME.KEY=VALUE" settings. Throws UsageError naming the
// setting when it matches no chosen stressor, is not an integer, or is out of range.
void ApplyStressOptions(std::vector<StressEntry>& entries,
                        const std::vector<std::string>& settings);

// `inflight stress --list`: one line per stressor; with names, each one in full.
std::string StressListText(const std::vector<std::string>& names);

// Runs the plan until its duration has passed (or an interrupt). Returns false when
// interrupted. Stressors that cannot run here are listed in report.extra["stress"].
bool RunStress(SandboxPool& pool, const StressPlan& plan, const RunnerUi& ui, Report& report);

// Per stressor: epochs by verdict, then every named rate and high-water mark.
std::string StressSummary(const Report& report);

// True when every stressor of the run was skipped (this machine cannot run any of them).
bool AllStressorsSkipped(const Report& report);

}  // namespace inflight
