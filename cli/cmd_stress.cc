// `inflight stress [NAMES]`: run stressors in sandboxes with periodic checkpoints, rule
// each checkpoint with the full oracle, report rates.
#include <fmt/core.h>

#include <thread>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "driver/stress_runner.h"
#include "scenario/validate.h"

namespace inflight {

CommandEntry AddStressCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::vector<std::string> names;
    bool list = false;
    std::string duration = "60s";
    std::string checkpoint = "2s";
    uint32_t workers = 1;
    uint64_t seed = 1;
    std::vector<std::string> settings;
    std::vector<std::string> old_o;  // the retired -o (now -O)
    std::string timeout = "30s";
    bool no_object_log = false;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "stress",
      "Run stressors (all of them when none is named) against this kernel, each worker in a "
      "sandbox slot of its own. Every --checkpoint the stressor's processes stop, the slot "
      "settles and the oracle rules on everything that epoch created; then the next epoch "
      "starts. A leak is caught at the checkpoint after the epoch that made it. "
      "`inflight stress --list` shows the stressors; `--list NAME` one in full.");
  cmd->add_option("names", args->names, "Stressors to run (default: all)");
  cmd->add_flag("--list", args->list, "List the stressors (with names: options and counters)");
  cmd->add_option("-d,--duration", args->duration, "How long to stress")->capture_default_str();
  cmd->add_option("-c,--checkpoint", args->checkpoint,
                  "Epoch length: stop, settle, census and resume this often")
      ->capture_default_str();
  cmd->add_option("-w,--workers", args->workers,
                  "Workers per stressor, each a sandbox running one epoch at a time")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed,
                  "Seed: epoch e of worker w uses SEED + w*1000000 + e (the report has each "
                  "epoch's seed and a replay command)")
      ->capture_default_str();
  cmd->add_option("-O,--option", args->settings,
                  "A stressor option, KEY=VALUE (every chosen stressor that has KEY) or "
                  "STRESSOR.KEY=VALUE; see --list NAME");
  // -o names where output goes in every command (csource, minimize: a file; fuzz,
  // encode, cover: a folder); stress's -o used to be --option. Not listed; says so.
  cmd->add_option("-o", args->old_o)->group("");
  cmd->add_option("--timeout", args->timeout,
                  "Watchdog past an epoch's end: a stressor still running then is a hang")
      ->capture_default_str();
  cmd->add_option("--settle", args->common.settle,
                  "Settling ceiling at a checkpoint: a leftover is a leak once collector "
                  "passes after the epoch freed nothing more of it; at the ceiling with counts "
                  "still falling the epoch is unsettled")
      ->capture_default_str();
  args->common.slots = 4;
  cmd->add_option("--slots", args->common.slots,
                  "Network namespaces per worker's sandbox (one runs, the others settle)")
      ->check(CLI::Range(2, 64))
      ->capture_default_str();
  args->common.report_dir = "inflight-report";
  cmd->add_option("--report", args->common.report_dir, "Folder for report.json")
      ->capture_default_str();
  cmd->add_option("--format", args->common.format, "Report files, comma-separated: json (report.json, always written), junit "
                  "(junit.xml), ktap (report.ktap), html (report.html)"
                  "; ktap:- prints KTAP on stdout (everything else goes to stderr)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->common.quiet, "No progress line");
  cmd->add_flag("--no-sock-diag", args->common.no_sock_diag,
                "Use the /proc/net/unix census fallback (fewer facts: no peers, no embryos)");
  cmd->add_option("--known", args->common.known,
                  "Findings expected on this kernel: a file of signatures, one a line, with # comments "
                  "naming the bug (known/*.txt). A known finding is reported as expected (KTAP "
                  "XFAIL, JUnit skipped, counts.known) and does not fail the command; a known "
                  "one that no longer shows up is said so")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-object-log", args->no_object_log,
                "Do not record sockets by inode (faster; leftovers are then not named)");
  cmd->add_option("--hold", args->common.hold,
                  "TEST ONLY: every slot gets a listener at @ADDR that never accepts; with "
                  "-O cycles.leak_to_holder=1 a ring is sent there, and the next checkpoint "
                  "must rule it a leak")
      ->check([](const std::string& a) {
        return IsAddress(a) ? std::string() : std::string("an address is [A-Za-z0-9_.-]{1,32}");
      });
  return {cmd, [args, argv]() -> int {
            if (!args->old_o.empty())
              throw UsageError(fmt::format(
                  "stress: -o {}: a stressor option is -O/--option KEY=VALUE (-o names an "
                  "output file or folder in the other commands)",
                  args->old_o.front()));
            if (args->list) {
              fmt::print("{}", StressListText(args->names));
              return kExitClean;
            }
            StressPlan plan;
            plan.entries = ChooseStressors(args->names);
            ApplyStressOptions(plan.entries, args->settings);
            plan.workers = args->workers;
            plan.seed = args->seed;
            plan.duration_ms = ParseDurationMs(args->duration, "--duration");
            plan.checkpoint_ms = ParseDurationMs(args->checkpoint, "--checkpoint");
            if (plan.checkpoint_ms < 100) throw UsageError("--checkpoint is at least 100ms");
            plan.checkpoint_ms = std::min(plan.checkpoint_ms, plan.duration_ms);
            plan.timeout_ms = ParseDurationMs(args->timeout, "--timeout");
            plan.settle_ms = ParseDurationMs(args->common.settle, "--settle");
            plan.log_objects = !args->no_object_log;
            CommonRunArgs common = args->common;
            common.jobs = static_cast<uint32_t>(plan.entries.size()) * plan.workers;
            RunSession session("stress", argv, common);
            session.Start(MakePoolOptions(common));
            RunnerUi ui{!common.quiet && !Interrupted(), "stress", false};
            RunStress(session.pool(), plan, ui, session.report());
            fmt::print("{}", StressSummary(session.report()));
            const bool all_skipped = AllStressorsSkipped(session.report());
            const int status = session.Finish(false);
            if (all_skipped && status == kExitClean) {
              LogError("skipped: no chosen stressor can run on this machine (exit status 3)");
              return kExitEnvironment;
            }
            return status;
          }};
}

}  // namespace inflight
