// The ruling of `inflight gate` on a baseline and a candidate VM run. It fails closed: the
// candidate passes only when its VM completed, its report came back and covers what the
// baseline's covered, and nothing in it or in how it ended is worse than the baseline.
// Pure logic over the two outcomes and their comparison (reports/compare.h).
#pragma once

#include <optional>
#include <string>

#include "reports/compare.h"
#include "vm/vm_run.h"

namespace inflight {

struct GateRuling {
  int status = 0;       // the gate's exit status
  std::string verdict;  // PASS, CANDIDATE WORSE, INCOMPLETE, NO VERDICT, INTERRUPTED
  std::string why;      // one line
};

// The labels a gate compares under: "baseline" (A) and "candidate" (B).
CompareLabels GateLabels();

// Before the candidate boots: a ruling when the baseline gives nothing to compare with
// (it did not boot, went down, timed out, could not run the suite, or its report did not
// come back), nullopt when it does.
std::optional<GateRuling> RuleOnBaseline(const VmOutcome& base);

// After both ran, first match wins: interrupted (130); the candidate did not boot, went
// down, hung or timed out (1); a new or more frequent finding (1); its suite exited worse
// than the baseline's, e.g. 1 where the baseline's exited 0, whatever its report says (1);
// its report is missing, interrupted or does not cover the baseline's scenarios (7); errors
// of ours (4); else PASS (0). `cmp` is CompareReports(baseline, candidate, ..., GateLabels()).
GateRuling RuleOnCandidate(const VmOutcome& base, const VmOutcome& cand, const Comparison& cmp);

}  // namespace inflight
