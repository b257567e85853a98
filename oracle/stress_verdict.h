// The verdict on one stress epoch, ruled in the driver on what the sandbox sent back,
// through the sequence graph runs share (oracle/ruling.h: errors, hangs, kernel log
// records, leftovers after settling, faults): leftovers are named by the labels the
// stressor logged them under, and its faults are the rules of the kernel it saw broken.
//
// Pure logic, no syscalls.
#pragma once

#include "oracle/verdict.h"
#include "run/run_types.h"
#include "stressors/stressor.h"

namespace inflight {

// In the order of RuleRun(): a kernel log record is a fault, a leftover beats the
// stressor's own faults.
Verdict RuleStress(const Stressor& s, const RunResult& r);

// "cycles: ring" for a logged label; "" when out of range.
std::string StressLabel(const Stressor& s, uint16_t label);

}  // namespace inflight
