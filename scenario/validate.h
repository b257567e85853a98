// The one validator: decides whether a Scenario is runnable. The parser, the fuzz
// decoder and the generators all call it; the executor runs only validated scenarios.
#pragma once

#include <optional>
#include <string>

#include "scenario/scenario.h"

namespace inflight {

struct ValidationError {
  int action = -1;  // index into Scenario::actions, or -1 for the scenario as a whole
  std::string message;
};

std::optional<ValidationError> Validate(const Scenario& s);

// True for [A-Za-z_][A-Za-z0-9_]* of at most Bounds::kMaxNameLen characters.
bool IsIdentifier(std::string_view s);
// True for [A-Za-z0-9_.-]+ of at most Bounds::kMaxAddrLen characters.
bool IsAddress(std::string_view s);
// A path name (bind/connect/unlink ./NAME): an address that does not start with '.'.
bool IsPathName(std::string_view s);

}  // namespace inflight
