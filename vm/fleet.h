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
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vm/vm_run.h"

namespace inflight {

// The most guests one fleet runs: each is a QEMU with its own memory, and under TCG a
// host thread per vCPU.
inline constexpr uint32_t kMaxFleetGuests = 16;

// The same fuzz arguments with --resume and a --duration of `duration_ms`: the next guest
// of a fuzz whose guest went down.
std::vector<std::string> GuestFuzzResumed(const std::vector<std::string>& guest_args,
                                          uint32_t duration_ms);

// A guest fuzz that goes on in a new guest each time its guest goes down (panic, hang):
// booted again with --resume for the time left, at most kMaxFuzzBoots times and never for
// less than kMinFuzzBootMs. Each boot that went down keeps its folder as DIR/boot-N/, and
// its corpus and findings so far (sent while it ran) are written to DIR, where --resume
// takes them from. One loop for `inflight vm -- fuzz` and each guest of a fleet.
inline constexpr size_t kMaxFuzzBoots = 20;
inline constexpr int64_t kMinFuzzBootMs = 20'000;
struct FuzzBoots {
  VmOutcome last;                                       // the boot that ended the fuzz
  std::vector<std::pair<std::string, VmOutcome>> down;  // boot-N/ and how each ended
};
struct FuzzBootsConfig {
  std::string dir;            // the guest's report folder (prepared)
  uint32_t fuzz_ms = 0;       // the fuzz's whole --duration
  int64_t started_us = 0;     // NowMicros() when the first boot started
  std::string started_at;     // its UTC time, for each boot's report
  std::vector<std::string> argv;
  std::function<bool()> stop;  // no new boot once true (Ctrl-C, the fleet stopping)
  // Told of each boot that went down, before its successor boots: its folder (boot-N), the
  // milliseconds left, how it ended.
  std::function<void(const std::string&, int64_t, const VmOutcome&)> on_down;
};
// Runs the first boot and its successors; c.guest_args become the resumed ones.
void RunFuzzBoots(VmConfig& c, const FuzzBootsConfig& cfg, FuzzBoots& out);
// Folds the boots that went down into the last one's report (their kernel-fault records,
// with the inputs each ran last; vm.earlier_boots) and rewrites DIR/report.json. Returns
// `status`, made a finding when it was clean and a guest went down.
int FoldEarlierBoots(nlohmann::json& report, const std::string& dir, const FuzzBoots& boots,
                     int status);

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
