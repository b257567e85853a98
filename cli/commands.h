// The subcommands of `inflight`. Each registers its options on the CLI11 app and returns
// the function that runs it; main() runs the one that was chosen and maps exceptions to
// exit statuses (base/exit_codes.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "executor/client.h"
#include "executor/run_types.h"

namespace inflight {

using Command = std::function<int()>;
struct CommandEntry {
  CLI::App* app;
  Command run;
};

// Options every running command shares.
struct CommonRunArgs {
  std::string timeout = "10s";
  std::string settle = "60s";
  std::string io_timeout = "20ms";
  uint32_t jobs = 0;  // 0: number of CPUs
  uint32_t slots = 16;
  std::string report_dir;
  std::string format = "json";  // report files: json[,junit][,ktap][,html]
  bool quiet = false;
  bool no_sock_diag = false;
  std::string hold;  // positive control: a listener at @hold outside the scenarios
  uint32_t accounting_every = 32;
  int64_t global_tolerance = 0;  // 0: global counts recorded, not ruled
};
void AddCommonRunOptions(CLI::App* cmd, CommonRunArgs& args, const std::string& report_default);
RunOptions BaseRunOptions(const CommonRunArgs& args);  // throws UsageError
PoolOptions MakePoolOptions(const CommonRunArgs& args);
std::vector<RunMode> ParseModes(const std::string& mode);  // throws UsageError

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

// The corpus shipped with this build: $INFLIGHT_CORPUS, the source tree's corpus/, or
// share/inflight/corpus next to the binary.
std::string DefaultCorpusDir();

}  // namespace inflight
