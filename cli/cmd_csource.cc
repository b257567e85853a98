// `inflight csource FILE`: the scenario as a standalone C program that checks the census
// itself and prints CLEAN, LEAK or UNSETTLED.
#include <fmt/core.h>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "cli/commands.h"
#include "driver/runner.h"
#include "reports/writer.h"
#include "repro/csource.h"
#include "scenario/text.h"

namespace inflight {

CommandEntry AddCsourceCommand(CLI::App& app) {
  struct Args {
    std::string file;
    std::string out;
    std::string settle = "60s";
    std::string timeout = "10s";
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "csource",
      "Print a scenario as a standalone C program (libc only, one commented block per step) "
      "that forks the same graph in a network namespace of its own, runs the steps in the "
      "file's order, checks the socket census itself, settles by proof as inflight does and "
      "prints CLEAN (exit 0), LEAK (exit 1) or UNSETTLED (exit 3). Build it with "
      "cc -Wall -Werror.");
  cmd->add_option("file", args->file, "The .scn scenario")->required();
  cmd->add_option("-o,--output", args->out, "Write the program here instead of stdout");
  cmd->add_option("--settle", args->settle,
                  "The program's settling ceiling (SETTLE_MS): a leftover is a leak once "
                  "collector passes after the graph freed nothing more of it (milliseconds); "
                  "at the ceiling with counts still changing it prints UNSETTLED")
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout, "The program's watchdog for the graph")
      ->capture_default_str();
  return {cmd, [args]() -> int {
            CsourceOptions opt;
            opt.settle_ms = ParseDurationMs(args->settle, "--settle");
            opt.timeout_ms = ParseDurationMs(args->timeout, "--timeout");
            opt.source = args->file;
            const Scenario s = LoadScenarioFile(args->file);  // ParseError: exit 2
            const std::string c = EmitCSource(s, opt);
            if (args->out.empty()) {
              fmt::print("{}", c);
              return kExitClean;
            }
            if (auto st = WriteFileAtomically(args->out, c); !st)
              throw UsageError(fmt::format("-o {}: {}", args->out, st.error().Text()));
            return kExitClean;
          }};
}

}  // namespace inflight
