// Delta debugging of a scenario that shows a finding: remove processes (a fork and all it
// leads to), objects (a creating action and every use of it) and actions (ddmin over
// chunks of actions, down to single ones), and simplify single actions, as long as the
// finding stays, until no single removal keeps it (1-minimal).
//
// Candidates are judged in batches, so that a pool of sandboxes runs them in parallel;
// every candidate passes Validate() before it is judged. Pure logic: the caller's oracle
// decides what "keeps the finding" means (the same signature at a high enough rate).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace inflight {

// For each candidate: whether it still shows the finding.
using BatchOracle = std::function<std::vector<bool>(const std::vector<Scenario>&)>;

struct MinimizeOptions {
  size_t max_candidates = 5000;  // judged in all; then stop (not minimal)
  std::function<bool()> stop;    // e.g. an interrupt; checked between batches
  std::function<void(const Scenario& current, size_t candidates)> progress;
};

struct MinimizeStats {
  size_t candidates = 0;  // judged by the oracle
  size_t invalid = 0;     // built but rejected by Validate() (never judged)
  size_t cached = 0;      // seen before, answered from memory
  size_t batches = 0;
  bool minimal = false;  // every single removal and simplification was tried and lost it
  bool stopped = false;  // stop() or max_candidates ended the search early
};

Scenario Minimize(const Scenario& start, const BatchOracle& keeps, const MinimizeOptions& opt,
                  MinimizeStats* stats);

}  // namespace inflight
