// `inflight vm --vms N -- fuzz ...`: N guests fuzz the same kernel at once, one thread of
// ours each, sharing one corpus through the host (vm/fleet_merge.h: each guest sends what
// its corpus gained every exchange period, and gets what the others found), each booted
// again with --resume when it goes down; at the end one report, with findings
// deduplicated across guests by signature, and one folder:
//
//   DIR/report.json   the fleet's report (fuzz.findings name the guests of each finding)
//   DIR/corpus/       the union of the guests' corpora, written as it grows
//   DIR/findings/ID/  one per signature: input (the smallest), scenario.scn, meta.json
//   DIR/guest-K/      each guest's own `inflight vm` folder (console.log, report.json, ...)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm/vm_run.h"

namespace inflight {

// The most guests one fleet runs: each is a QEMU with its own memory, and under TCG a
// host thread per vCPU.
inline constexpr uint32_t kMaxFleetGuests = 16;

// The same fuzz arguments with --resume and a --duration of `duration_ms`: the next guest
// of a fuzz whose guest went down.
std::vector<std::string> GuestFuzzResumed(const std::vector<std::string>& guest_args,
                                          uint32_t duration_ms);

struct FleetConfig {
  VmConfig vm;  // each guest's; its `interrupted` is Ctrl-C (handlers installed by the caller)
  uint32_t guests = 2;
  uint32_t duration_ms = 0;  // the fuzz's --duration inside; 0: not a fuzz
  // Shows the fleet's progress line when it is due (nullptr: none).
  std::function<void(const std::string&)> show_progress;
  std::string dir;  // the fleet's folder (prepared)
  std::vector<std::string> argv;
  bool quiet = false;
};

// Throws UsageError for a fleet that cannot be (bounds, a command other than fuzz, an
// earlier run in DIR without --resume), and whatever RunVm throws before a guest boots.
// Returns the exit status: 0 clean, 1 findings, 130 interrupted (Ctrl-C: every guest is
// stopped, its QEMU reaped, and the report of what came back is written), else the first
// guest's other status (5 no boot, 6 timeout, ...).
int RunFleet(const FleetConfig& config);

}  // namespace inflight
