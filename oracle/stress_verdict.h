// The verdict on one stress epoch, ruled in the driver on what the sandbox sent back:
// the stressor's own errors and hangs, leftovers after settling (named by the labels the
// stressor logged them under), and the rules of the kernel the stressor saw broken.
//
// Pure logic, no syscalls.
#pragma once

#include "executor/run_types.h"
#include "oracle/verdict.h"
#include "stressors/stressor.h"

namespace inflight {

// Leak beats fault, as in Rule(): a leftover is the stronger evidence.
Verdict RuleStress(const Stressor& s, const RunResult& r);

// "cycles: ring" for a logged label; "" when out of range.
std::string StressLabel(const Stressor& s, uint16_t label);

}  // namespace inflight
