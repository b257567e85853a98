// `inflight run PATH...`: run scenario files and folders, rule, report.
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "reports/writer.h"
#include "scenario/validate.h"

namespace inflight {

void AddCommonRunOptions(CLI::App* cmd, CommonRunArgs& a, const std::string& report_default) {
  a.report_dir = report_default;
  cmd->add_option("--timeout", a.timeout, "Watchdog per run: a graph still running is a hang")
      ->capture_default_str();
  cmd->add_option("--settle", a.settle,
                  "Settling ceiling. A leftover is a leak once collector passes that started "
                  "after the run freed nothing more of it (usually milliseconds); at the "
                  "ceiling with counts still falling the run is unsettled, not a leak")
      ->capture_default_str();
  cmd->add_option("--io-timeout", a.io_timeout,
                  "Free-run: SO_RCVTIMEO/SO_SNDTIMEO bounding every blocking socket call")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", a.jobs, "Sandbox processes in parallel (default: CPUs)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--slots", a.slots,
                  "Reused network namespaces per sandbox, so runs settle in parallel")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--report", a.report_dir, "Folder for report.json and the other formats")
      ->capture_default_str();
  cmd->add_option("--format", a.format,
                  "Report files, comma-separated: json (report.json, always written), junit "
                  "(junit.xml), ktap (report.ktap), html (report.html with reference graphs)"
                  "; ktap:- prints KTAP on stdout (everything else goes to stderr)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", a.quiet, "No progress line");
  cmd->add_option("--accounting-every", a.accounting_every,
                  "Check each slot's per-user in-flight accounting after this many clean runs "
                  "(and at the end); 0 turns the check off")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--global-tolerance", a.global_tolerance,
                  "Rule on the global counts (file-nr, slab objects): a drift over the command "
                  "beyond N in every sample is a finding (file-nr gets a per-CPU slack; slabs are "
                  "flushed first, so they are exact). 0 records them without ruling (right for "
                  "a shared host; inflight vm gives its guest 1)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_flag("--no-sock-diag", a.no_sock_diag,
                "Use the /proc/net/unix census fallback (fewer facts: no peers, no embryos)");
  cmd->add_option("--known", a.known,
                  "Findings expected on this kernel: a file of signatures, one a line, with # comments "
                  "naming the bug (known/*.txt). A known finding is reported as expected (KTAP "
                  "XFAIL, JUnit skipped, counts.known) and does not fail the command; a known "
                  "one that no longer shows up is said so")
      ->check(CLI::ExistingFile);
}

CommandEntry AddRunCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::vector<std::string> paths;
    uint32_t repeat = 1;
    uint64_t seed = 1;
    std::string mode = "lockstep";
    bool report_all = false;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run .scn scenario files and folders against this kernel and rule each run clean, leak, "
      "hang or fault. Run r of a scenario uses seed SEED+r: to replay one, pass its seed from "
      "the report with --repeat 1.");
  cmd->add_option("paths", args->paths, "Scenario files and folders (searched for *.scn)")
      ->required();
  cmd->add_option("-n,--repeat", args->repeat, "Runs per scenario and mode")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the first run")->capture_default_str();
  cmd->add_option("--mode", args->mode,
                  "lockstep: every step in the file's order, exactly replayable; free: "
                  "processes race (seeded jitter); both")
      ->capture_default_str();
  AddCommonRunOptions(cmd, args->common, "inflight-report");
  cmd->add_flag("--report-all", args->report_all,
                "Full records in report.json for clean runs too: every action's outcome "
                "(errno, descriptors received, flags), how each process ended, the census");
  cmd->add_option("--hold", args->common.hold,
                  "Positive control: every slot gets a listener at @ADDR, outside the "
                  "scenarios, that never accepts; what scenarios send to its embryos stays in "
                  "flight and must be ruled leak")
      ->check([](const std::string& a) {
        return IsAddress(a) ? std::string() : std::string("an address is [A-Za-z0-9_.-]{1,32}");
      });
  return {cmd, [args, argv]() -> int {
            RunPlan plan;
            plan.modes = ParseModes(args->mode);
            plan.repeat = args->repeat;
            plan.seed = args->seed;
            plan.base = BaseRunOptions(args->common);
            auto files = LoadScenarios(args->paths);
            RunSession session("run", argv, args->common);
            session.Start(MakePoolOptions(args->common));
            RunnerUi ui{!args->common.quiet && !Interrupted(), "run", args->report_all};
            RunScenarios(session.pool(), files, plan, ui, session.report());
            return session.Finish(true);
          }};
}

}  // namespace inflight
