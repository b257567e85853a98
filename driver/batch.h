// The one loop that runs a batch of scenario runs through a sandbox pool and rules each
// result: behind `run`, `check`, `selftest`, `minimize` and `repro --minimize`.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "scenario/scenario.h"

namespace inflight {

struct BatchRun {
  const Scenario* scenario = nullptr;  // what the result is ruled against
  const std::string* text = nullptr;   // what the sandbox runs: the scenario's canonical text
  RunOptions opt;
};

// Submits the runs (at most `window` of them queued in the pool at a time), rules each
// result as it comes back, in any order, and hands it to ruled(index, result, verdict).
// Polls stop() at least every 100 ms; when it says stop, stops the pool (what is
// unanswered is dropped) and returns false. Throws InternalError for a result the batch
// did not ask for.
using RuledFn = std::function<void(size_t index, RunResult& result, Verdict& verdict)>;
bool RunBatch(SandboxPool& pool, const std::vector<BatchRun>& runs, const RuledFn& ruled,
              const std::function<bool()>& stop, size_t window = 256);

}  // namespace inflight
