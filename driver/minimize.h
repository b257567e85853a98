// Shrinking a scenario that reproduces a finding, for `inflight repro --minimize`: the
// minimizer of repro/minimize.h, judged here by a simple oracle: every one of a few runs
// is still ruled the same verdict kind. Candidates run in parallel through the pool's
// slots.
#pragma once

#include <cstdint>
#include <functional>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "scenario/scenario.h"

namespace inflight {

struct ReproMinimizeOptions {
  RunOptions run;
  VerdictKind kind = VerdictKind::kLeak;
  uint32_t runs = 2;                              // every one of these must reproduce
  std::function<void(const Scenario&)> progress;  // after each accepted shrink
};

// The smallest scenario found; `s` itself when nothing smaller reproduces. On an interrupt
// (driver/interrupt.h) the pool is stopped and the smallest found so far is returned.
Scenario MinimizeScenario(SandboxPool& pool, const Scenario& s, const ReproMinimizeOptions& opt);

}  // namespace inflight
