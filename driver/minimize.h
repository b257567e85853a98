// Minimizing by running: the minimizer of repro/minimize.h judged on the real kernel.
// Each candidate runs a few times through the batch runner (driver/batch.h), all of a
// batch's candidates at once across the pool's slots, and keeps the finding when enough of
// its runs reproduce it. `inflight minimize` (a finding's signature, at a rate) and
// `inflight repro --minimize` (a verdict kind, every run) both judge this way.
#pragma once

#include <cstdint>
#include <functional>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "scenario/scenario.h"

namespace inflight {

struct RunningOracleOptions {
  RunOptions run;
  uint32_t runs = 2;  // per candidate, with seeds seed, seed+1, ...
  uint64_t seed = 1;
  // A candidate keeps the finding when at least one of its runs and at least this share
  // of them reproduce it.
  double min_rate = 1.0;
  // Whether a candidate's run keeps the finding (its scenario, result and verdict: the
  // signature is classified on the run's reference graph).
  std::function<bool(const Scenario&, const RunResult&, const Verdict&)> reproduces;
  std::function<bool()> stop;  // then the pool is stopped and no candidate keeps it
};

// The judge of repro/minimize.h's BatchOracle.
class RunningOracle {
 public:
  RunningOracle(SandboxPool& pool, RunningOracleOptions opt) : pool_(pool), opt_(std::move(opt)) {}
  std::vector<bool> operator()(const std::vector<Scenario>& batch);
  size_t runs() const { return runs_; }      // ruled so far
  size_t errors() const { return errors_; }  // of those, ruled error (our own failures)

 private:
  SandboxPool& pool_;
  RunningOracleOptions opt_;
  size_t runs_ = 0, errors_ = 0;
};

struct ReproMinimizeOptions {
  RunOptions run;
  VerdictKind kind = VerdictKind::kLeak;
  // When set, every run must also have this finding signature (reports/finding_signature.h):
  // the same bug, not merely the same kind (a chain cut down to a lone embryo is a leak too).
  std::string signature;
  uint32_t runs = 2;                              // every one of these must reproduce
  std::function<void(const Scenario&)> progress;  // after each accepted shrink
  std::function<bool()> stop = [] { return false; };
};

// For `inflight repro --minimize` and fuzz finding folders: the smallest scenario found
// whose every run is ruled `kind` (with `signature`, when set); `s` itself when nothing
// smaller reproduces. When stop() says so the pool is stopped and the smallest found so
// far is returned.
Scenario MinimizeScenario(SandboxPool& pool, const Scenario& s, const ReproMinimizeOptions& opt);

}  // namespace inflight
