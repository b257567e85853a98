// The subcommands of `inflight`. Each registers its options on the CLI11 app and returns
// the function that runs it; main() runs the one that was chosen and maps exceptions to
// exit statuses (base/exit_codes.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "driver/run_args.h"
#include "vm/vm_run.h"

namespace inflight {

using Command = std::function<int()>;
struct CommandEntry {
  CLI::App* app;
  Command run;
};

// Options every running command shares (driver/run_args.h).
void AddCommonRunOptions(CLI::App* cmd, CommonRunArgs& args, const std::string& report_default);

// What `inflight vm` and `inflight gate` share (cmd_vm.cc): the options of every VM a
// command boots (not --kernel, --modules, --report), and turning them into a VmConfig.
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
void AddVmOptions(CLI::App* cmd, VmArgs& a);
// Throws UsageError for bad values. `out_dir` is the VM's report folder (where `fuzz
// --resume` inside finds the corpus of earlier boots).
VmConfig MakeVmConfig(const VmArgs& a, const std::string& kernel, const std::string& modules,
                      const std::string& out_dir);

CommandEntry AddRunCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddCheckCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddSelftestCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddFmtCommand(CLI::App& app);
CommandEntry AddCompareCommand(CLI::App& app);
CommandEntry AddCsourceCommand(CLI::App& app);
CommandEntry AddMinimizeCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddStressCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddVmCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddGateCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddFuzzCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddReproCommand(CLI::App& app, const std::vector<std::string>& argv);
CommandEntry AddDecodeCommand(CLI::App& app);
CommandEntry AddEncodeCommand(CLI::App& app);
CommandEntry AddCoverCommand(CLI::App& app);

// The corpus shipped with this build: $INFLIGHT_CORPUS, the source tree's corpus/, or
// share/inflight/corpus next to the binary.
std::string DefaultCorpusDir();

}  // namespace inflight
