// The oracle's self-test: before ruling anything clean, prove on this machine that the
// oracle sees a planted leak. A holder outside the scenarios (the sandbox's --hold
// listener, which never accepts) keeps the control scenarios' objects in flight in its
// embryos' queues; each control must then be ruled *leak*, naming exactly the planted
// objects. The same controls without the holder must be ruled *clean*; when they are
// ruled a proven leak instead (settled by collector passes, or with the collector
// stalled) while every planted leak was named, the oracle is sound and the kernel is at
// fault: the controls' own cycles are a finding about the kernel, not a failed selftest.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "driver/run_args.h"
#include "reports/report.h"

namespace inflight {

inline constexpr const char* kHoldAddress = "inflight-hold";

struct SelftestResult {
  bool passed = false;
  // Not passed, but only because the kernel leaked the controls without the holder: the
  // oracle is sound (every planted leak was named) and those runs are kernel findings.
  bool kernel_fails = false;
  std::vector<RunRecord> kernel_findings;  // those runs, as plain findings
  std::string summary;                     // one line
  nlohmann::json details;                  // per control and mode: verdicts and what was named
  std::vector<RunRecord> runs;             // every control run, with and without the holder
  Hello hello;                             // what the sandboxes said about this machine
};

// Runs the controls under `controls_dir` with and without the holder.
SelftestResult RunSelftest(const std::string& controls_dir, const CommonRunArgs& args,
                           bool progress);

}  // namespace inflight
