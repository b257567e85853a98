// What `inflight vm` and `inflight gate` share: the VM options, turning them into a
// VmConfig, and writing one VM's report folder (report.json, console.log, guest.log).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vm/vm_run.h"

namespace inflight {

struct VmArgs {
  std::string memory = "512";
  uint32_t cpus = 1;
  std::string timeout;  // "": 10m, or a guest fuzz's --duration and 10m more
  std::string boot_timeout = "2m";
  std::string hang_after = "30s";
  std::string accel = "auto";
  std::string inject;
  bool quiet = false;
  std::vector<std::string> guest_args;
};

// Options for every VM a command boots (not --kernel, --modules, --report).
void AddVmOptions(CLI::App* cmd, VmArgs& a);

// Throws UsageError for bad values. `out_dir` is the VM's report folder (where `fuzz
// --resume` inside finds the corpus of earlier boots).
VmConfig MakeVmConfig(const VmArgs& a, const std::string& kernel, const std::string& modules,
                      const std::string& out_dir);

// The --duration of a `fuzz` inside (10m when not given), or nullopt for another command.
std::optional<uint32_t> GuestFuzzDurationMs(const std::vector<std::string>& guest_args);
// The same fuzz arguments with --resume and a --duration of `duration_ms`: the next guest
// of a fuzz whose guest went down.
std::vector<std::string> GuestFuzzResumed(const std::vector<std::string>& guest_args,
                                          uint32_t duration_ms);

// Writes report.json, console.log and guest.log into `dir` (prepared already); returns the
// report. Throws InternalError when the folder cannot be written.
nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at);

}  // namespace inflight
