// `inflight fuzz`: the options of the nightly fuzzing job (driver/fuzz_supervisor.h).
#include <memory>

#include "cli/commands.h"
#include "driver/fuzz_supervisor.h"
#include "driver/interrupt.h"
#include "scenario/validate.h"

namespace inflight {

CommandEntry AddFuzzCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    FuzzOptions opt;
    std::string duration = "10m";
    std::string settle = "60s";
    std::string minimize = "60s";
    std::string mode = "lockstep";
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  args->opt.out = "inflight-fuzz";
  args->opt.fuzzer = DefaultFuzzerPath();
  CLI::App* cmd = app.add_subcommand(
      "fuzz",
      "The nightly fuzzing job: N graph_fuzzer workers (libFuzzer, each with its own sandbox) "
      "share one corpus seeded from the scenario corpus; findings are deduplicated by "
      "signature (smallest input kept), re-run to give a leak rate, and reported in "
      "OUT/report.json and OUT/summary.txt. Ctrl-C stops the workers and keeps every finding.");
  cmd->add_option("--duration", args->duration, "How long to fuzz (e.g. 10m, 8h)")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", args->opt.jobs, "Parallel libFuzzer workers")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("-o,--out", args->opt.out,
                  "Folder for corpus/, artifacts/, findings/, logs/, report.json, summary.txt")
      ->capture_default_str();
  cmd->add_flag("--resume", args->opt.resume,
                "Go on with the corpus and findings of an earlier run in --out");
  cmd->add_option("--repro", args->opt.repro, "Re-runs of each finding for its leak rate (0: none)")
      ->check(CLI::Range(0, 100'000))
      ->capture_default_str();
  cmd->add_option("--minimize-for", args->minimize,
                  "After the re-runs, minimize each finding that reproduced for at most this "
                  "long into OUT/findings/ID/repro.scn, and write repro.c (csource) from it "
                  "(0: do not)")
      ->capture_default_str();
  cmd->add_option("--seeds", args->opt.seeds,
                  "Scenario files or folders to seed a fresh corpus with (controls/ are left "
                  "out)")
      ->default_str("<corpus>");
  cmd->add_option("--exclude", args->opt.exclude,
                  "Scenario names (or file stems) to leave out of the seeds");
  cmd->add_option("--fuzzer", args->opt.fuzzer, "The graph_fuzzer binary")->capture_default_str();
  cmd->add_option("--settle", args->settle, "Settling ceiling (see inflight run --help)")
      ->capture_default_str();
  cmd->add_option("--mode", args->mode,
                  "How each graph runs: lockstep (one action at a time, every result "
                  "reproducible) or free (each process at its own pace, racing the collector: "
                  "for race bugs such as MSG_PEEK against a collection; findings are re-run and "
                  "minimized in the same mode)")
      ->check(CLI::IsMember({"lockstep", "free"}))
      ->capture_default_str();
  cmd->add_option("--slots", args->opt.slots, "Network namespaces per worker's sandbox")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--hold", args->opt.hold,
                  "Re-run findings with the holder at @ADDR (for findings of the test build "
                  "graph_fuzzer_hold_test)")
      ->check([](const std::string& a) {
        return IsAddress(a) ? std::string() : std::string("an address is [A-Za-z0-9_.-]{1,32}");
      });
  cmd->add_option("--libfuzzer-arg", args->opt.libfuzzer_args,
                  "Extra argument for every worker, e.g. --libfuzzer-arg=-use_value_profile=1");
  cmd->add_flag("--stop-at-first", args->opt.stop_at_first,
                "End at the first new finding (benchmarks of the time to a first finding; "
                "each finding's first_seen_s says when)");
  cmd->add_option("--known", args->opt.known,
                  "Findings expected on this kernel (known/*.txt, signatures one a line): they "
                  "do not stop the workers, are listed as known, and alone exit 0")
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", args->common.format, "Report files, comma-separated: json (report.json, always written), junit "
                  "(junit.xml), ktap (report.ktap), html (report.html) into --out"
                  "; ktap:- prints KTAP on stdout (everything else goes to stderr)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->opt.quiet, "No progress line");
  return {cmd, [args, argv]() -> int {
            Args& a = *args;
            a.opt.duration_ms = ParseDurationMs(a.duration, "--duration");
            a.opt.settle_ms = ParseDurationMs(a.settle, "--settle");
            a.opt.run_mode = a.mode == "free" ? RunMode::kFree : RunMode::kLockstep;
            a.opt.minimize_ms = a.minimize == "0" ? 0 : ParseDurationMs(a.minimize, "--minimize-for");
            if (a.opt.seeds.empty()) a.opt.seeds = {DefaultCorpusDir()};
            a.common.quiet = a.opt.quiet;
            a.common.settle = a.settle;
            a.common.jobs = 1;
            a.opt.stop = [] { return Interrupted(); };
            InstallInterruptHandlers();
            return RunFuzzJob(a.opt, argv, a.common);
          }};
}

}  // namespace inflight
