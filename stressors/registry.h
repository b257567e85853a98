// The one list of stressors, for the sandbox (which runs them) and the driver (which
// lists them, checks their options and names their counters and labels).
#pragma once

#include <span>
#include <string_view>

#include "stressors/stressor.h"

namespace inflight {

// Every stressor, in the order `inflight stress --list` shows them.
std::span<const Stressor* const> AllStressors();

// The stressor called `name`, or null.
const Stressor* FindStressor(std::string_view name);

}  // namespace inflight
