// inflight: run AF_UNIX in-flight descriptor scenarios against this kernel and rule on
// leaks. Subcommands are registered from cli/cmd_*.cc; this file maps errors to the exit
// status table of base/exit_codes.h.
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "base/version.h"
#include "cli/commands.h"
#include "cli/manpage.h"
#include "driver/run_session.h"
#include "scenario/text.h"

using namespace inflight;

namespace {

// CLI11 reads unsigned options with strtoull, which takes "-1" as 2^64-1 (and wraps other
// negative numbers): every unsigned option of every command refuses a minus sign.
void RefuseNegativeUnsigned(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    if (o->get_type_name() != "UINT") continue;
    o->check(CLI::Validator(
        [](std::string& value) -> std::string {
          const size_t first = value.find_first_not_of(" \t");
          if (first == std::string::npos || value[first] != '-') return "";
          return "must be 0 or more (got " + value + ")";
        },
        "", "non-negative"));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    RefuseNegativeUnsigned(*sub);
}

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The first word that is not an option must name a subcommand; CLI11 would only say "A
// subcommand is required". Returns the message for an unknown one, "" when it is known
// or absent.
std::string UnknownSubcommand(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::string best;
    size_t best_d = std::string::npos;
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == word) return "";
      const size_t d = EditDistance(word, sub->get_name());
      if (d < best_d) best_d = d, best = sub->get_name();
    }
    std::string msg = fmt::format("unknown command '{}'", word);
    if (best_d <= 2 || (best.rfind(word, 0) == 0 && word.size() >= 2))
      msg += fmt::format("; did you mean '{}'?", best);
    return msg + " (inflight --help lists the commands)";
  }
  return "";
}

// kselftest's exit statuses (tools/testing/selftests/kselftest.h): 0 pass, 1 fail, 4 skip.
// Under --kselftest "this machine cannot run it" is a skip (4), and a bug of ours, whose
// usual status is that same 4, is a failure (1) so that it is never taken for a skip.
int KselftestStatus(int status) {
  switch (status) {
    case kExitEnvironment:
      return kKselftestSkip;
    case kExitInternal:
      return kExitFinding;
    default:
      return status;
  }
}

int Main(int argc, char** argv, bool& kselftest) {
  SetLogProgram("inflight");
  std::vector<std::string> args(argv, argv + argc);
  CLI::App app{
      "inflight: stress and fuzz AF_UNIX descriptor passing (SCM_RIGHTS) and rule on\n"
      "in-flight leaks. Exit status: 0 clean, 1 finding (leak, hang, fault), 2 bad usage or\n"
      "input, 3 this machine cannot run it, 4 a bug of inflight, 5 the kernel did not boot\n"
      "(vm, gate), 6 timeout (vm, gate), 7 incomplete comparison (compare, gate), 130\n"
      "interrupted. With --kselftest: 4 (kselftest's skip) when this machine cannot run it,\n"
      "1 for a bug of inflight. KTAP on stdout: --format ktap:- (run, check, stress, fuzz).",
      "inflight"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug details");
  app.add_flag("--kselftest", kselftest,
               "kselftest exit statuses: 4 (skip) when this machine cannot run the command (no "
               "namespaces, not root, a missing kernel facility) instead of 3, and 1 instead of "
               "4 for a bug of inflight");
  app.set_version_flag("--version", "inflight " + InflightVersionLine(),
                       "Print the version and the git commit it was built from, and exit");
  const std::vector<CommandEntry> commands = {
      AddCheckCommand(app, args),    AddRunCommand(app, args),
      AddSelftestCommand(app, args), AddFmtCommand(app),
      AddCompareCommand(app),        AddCsourceCommand(app),
      AddMinimizeCommand(app, args), AddStressCommand(app, args),
      AddVmCommand(app, args),       AddGateCommand(app, args),
      AddFuzzCommand(app, args),     AddReproCommand(app, args),
      AddDecodeCommand(app),         AddEncodeCommand(app),
      AddCoverCommand(app),
  };
  RefuseNegativeUnsigned(app);
  // For the build (cli/CMakeLists.txt), not listed in --help: the man page and the bash
  // completion, from the definitions above.
  if (argc == 2 && args[1] == "--print-man-page") {
    fmt::print("{}", ManPage(app, InflightVersionLine()));
    return kExitClean;
  }
  if (argc == 2 && args[1] == "--print-bash-completion") {
    fmt::print("{}", BashCompletion(app));
    return kExitClean;
  }
  if (const std::string unknown = UnknownSubcommand(app, argc, argv); !unknown.empty()) {
    LogError("{}", unknown);
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (verbose) SetLogLevel(LogLevel::kDebug);
  try {
    for (const CommandEntry& c : commands)
      if (c.app->parsed()) return c.run();
    return kExitUsage;
  } catch (const ParseError& e) {
    LogError("{}", e.what());
    return kExitUsage;
  } catch (const UsageError& e) {
    LogError("{}", e.what());
    return kExitUsage;
  } catch (const EnvironmentError& e) {
    LogError("{}", e.what());
    LogError("skipped: this machine cannot run it (exit status {})",
             kselftest ? KselftestStatus(kExitEnvironment) : kExitEnvironment);
    EmitKtapSkipAll(e.what());
    return kExitEnvironment;
  } catch (const InternalError& e) {
    LogError("internal error (a bug of inflight): {}", e.what());
    return kExitInternal;
  } catch (const std::exception& e) {
    LogError("internal error (a bug of inflight): {}", e.what());
    return kExitInternal;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool kselftest = false;
  const int status = Main(argc, argv, kselftest);
  return kselftest ? KselftestStatus(status) : status;
}
