// Scenario surgery for the minimizer: remove actions and everything that no longer makes
// sense without them, so that every candidate is a valid scenario; measure sizes; and
// smaller variants of single actions (fewer copies of a descriptor, one control message).
#pragma once

#include <optional>
#include <vector>

#include "scenario/scenario.h"

namespace inflight {

struct ScenarioSize {
  size_t processes = 0;
  size_t objects = 0;  // descriptors created: socketpair and pipe make two, socket, accept,
                       // file, memfd and eventfd one (dup and recv make none)
  size_t actions = 0;
  bool operator==(const ScenarioSize&) const = default;
};
ScenarioSize MeasureScenario(const Scenario& s);

// `s` without the actions marked in `drop` (indexed like s.actions), repaired: an action is
// also dropped when its process is not running any more (its fork was dropped, or it
// ended), when its descriptor operand is not open there (its creation or receipt was
// dropped), when an output is still open (its close was dropped), or when it kills a
// process that is not running; a send keeps only the rights that are open (and at most as
// many control messages as descriptors). Processes that are never forked go, names are
// renumbered (Canonicalize). nullopt when nothing is left or the result does not pass
// Validate().
std::optional<Scenario> DropActions(const Scenario& s, const std::vector<bool>& drop);

// One-action simplifications of `s`, each a valid scenario: a send's repeated rights
// ("a*250") down to one copy, then to half; several control messages down to one; a
// send's payload back to one byte.
std::vector<Scenario> Simplifications(const Scenario& s);

}  // namespace inflight
