// `inflight fmt`: print scenarios in their canonical text form, or check that they are.
#include <fmt/core.h>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/runner.h"
#include "reports/writer.h"
#include "scenario/text.h"

namespace inflight {

CommandEntry AddFmtCommand(CLI::App& app) {
  struct Args {
    std::vector<std::string> paths;
    bool check = false;
    bool write = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "fmt", "Parse scenarios and print them in canonical form (the form the corpus keeps).");
  cmd->add_option("paths", args->paths, "Scenario files and folders")->required();
  auto* check = cmd->add_flag("--check", args->check,
                              "Print nothing; exit 1 if a file is not in canonical form");
  cmd->add_flag("-w,--write", args->write, "Rewrite files in place")->excludes(check);
  return {cmd, [args]() -> int {
            auto files = LoadScenarios(args->paths);
            int status = kExitClean;
            for (const ScenarioFile& f : files) {
              std::string original;
              {
                FILE* in = fopen(f.path.c_str(), "rb");
                if (!in) throw UsageError(fmt::format("{}: cannot read", f.path));
                char buf[65536];
                size_t n;
                while ((n = fread(buf, 1, sizeof buf, in)) > 0) original.append(buf, n);
                fclose(in);
              }
              if (args->check) {
                if (original != f.text) {
                  fmt::print("{}: not in canonical form\n", f.path);
                  status = kExitFinding;
                }
              } else if (args->write) {
                if (original != f.text) {
                  if (auto s = WriteFileAtomically(f.path, f.text); !s)
                    throw UsageError(s.error().Text());
                }
              } else {
                fmt::print("{}", f.text);
              }
            }
            return status;
          }};
}

}  // namespace inflight
