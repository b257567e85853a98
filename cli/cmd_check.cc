// `inflight check` (the main job) and `inflight selftest`.
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "driver/selftest.h"
#include "driver/stress_runner.h"
#include "reports/compare.h"
#include "reports/ktap.h"
#include "reports/writer.h"
#include "vm/child_process.h"

namespace inflight {

namespace fs = std::filesystem;

std::string DefaultCorpusDir() {
  if (const char* env = getenv("INFLIGHT_CORPUS"); env && *env) return env;
  std::error_code ec;
  const std::string source = std::string(INFLIGHT_SOURCE_DIR) + "/corpus";
  if (fs::is_directory(source, ec)) return source;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    fs::path exe(std::string(buf, static_cast<size_t>(n)));
    fs::path share = exe.parent_path().parent_path() / "share" / "inflight" / "corpus";
    if (fs::is_directory(share, ec)) return share.string();
  }
  return "corpus";
}

CommandEntry AddSelftestCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string controls;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "selftest",
      "Prove the oracle works on this machine: plant leaks with a holder outside the "
      "scenarios (they must be ruled leak, naming exactly the planted objects) and run the "
      "same scenarios without it (they must be ruled clean).");
  cmd->add_option("--controls", args->controls, "Folder of control scenarios")
      ->default_str("<corpus>/controls");
  AddCommonRunOptions(cmd, args->common, "");
  cmd->get_option("--report")
      ->description(
          "Also write a report of every control run here (the planted leaks are findings in it; "
          "the exit status is the selftest's)");
  return {cmd, [args, argv]() -> int {
            InstallInterruptHandlers();
            const std::string dir =
                args->controls.empty() ? DefaultCorpusDir() + "/controls" : args->controls;
            ReportFormats formats;
            if (std::string why = ParseReportFormats(args->common.format, formats); !why.empty())
              throw UsageError("--format: " + why);
            const std::string report_dir = args->common.report_dir;
            if (formats.ktap_stdout) SetStdoutAsideForKtap();
            if (!report_dir.empty())
              if (auto s = PrepareReportDir(report_dir); !s)
                throw UsageError(fmt::format("--report {}: {}", report_dir, s.error().Text()));
            Report report;
            report.command = "selftest";
            report.argv = argv;
            report.started_at = UtcNow();
            const int64_t start = NowMicros();
            SelftestResult r = RunSelftest(dir, args->common, !args->common.quiet);
            if (!report_dir.empty() || formats.ktap_stdout) {
              DescribeLayers(r.hello, report);
              report.runs = std::move(r.runs);
              report.interrupted = Interrupted();
              report.duration_s = (NowMicros() - start) / 1e6;
              report.extra["selftest"] = {{"passed", r.passed},
                                          {"kernel_fails", r.kernel_fails},
                                          {"summary", r.summary},
                                          {"runs", r.details}};
              if (formats.ktap_stdout) EmitKtap(ReportToKtap(report));
              if (!report_dir.empty())
                if (auto s = WriteReport(report_dir, report, formats); !s) {
                  LogError("cannot write the report: {}", s.error().Text());
                  return kExitInternal;
                }
            }
            if (Interrupted()) return kExitInterrupted;
            fmt::print("inflight selftest: {}: {}{}\n",
                       r.passed         ? "PASSED"
                       : r.kernel_fails ? "FINDINGS"
                                        : "FAILED",
                       r.summary,
                       report_dir.empty() ? "" : "; report: " + report_dir + "/report.json");
            return r.passed ? kExitClean : r.kernel_fails ? kExitFinding : kExitInternal;
          }};
}

namespace {

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "inflight";
}

// The fuzz smoke of `check`: `inflight fuzz` as a child for `duration`, one worker, into
// REPORT/fuzz/, its output passed through; a Ctrl-C is handed on (the child keeps its
// findings). Its findings become findings of the check. Returns false when the smoke
// itself failed (a bug of ours), true otherwise (also when it was skipped: said why).
bool RunFuzzSmoke(Report& report, const std::string& report_dir, const std::string& duration,
                  uint64_t seed, bool quiet) {
  const fs::path out = fs::path(report_dir) / "fuzz";
  std::error_code ec;
  fs::remove_all(out, ec);  // ours, from an earlier check into the same folder
  std::vector<std::string> argv = {SelfExe(),
                                   "fuzz",
                                   "--duration",
                                   duration,
                                   "--jobs",
                                   "1",
                                   "--out",
                                   out.string(),
                                   "--repro",
                                   "3",
                                   "--minimize-for",  // a folder to act on, in bounded time
                                   "20s",
                                   "--libfuzzer-arg=-seed=" + std::to_string(seed)};
  if (quiet) argv.push_back("-q");
  auto child = ChildProcess::Start(argv, ChildProcess::Stderr::kInherit);
  if (!child) {
    report.extra["fuzz_smoke"] = {{"error", child.error().Text()}};
    LogError("fuzz smoke: {}", child.error().Text());
    return false;
  }
  bool forwarded = false;
  std::optional<int> status;
  while (!(status = child->TryWait())) {
    if (Interrupted() && !forwarded) {
      kill(child->pid(), SIGINT);
      forwarded = true;
    }
    pollfd p{child->output_fd(), POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char buf[4096];
      const ssize_t n = read(child->output_fd(), buf, sizeof buf);
      if (n > 0 && !quiet) fwrite(buf, 1, static_cast<size_t>(n), stdout);
    }
  }
  for (char buf[4096];;) {  // what is left in the pipe
    const ssize_t n = read(child->output_fd(), buf, sizeof buf);
    if (n <= 0) break;
    if (!quiet) fwrite(buf, 1, static_cast<size_t>(n), stdout);
  }
  fflush(stdout);
  nlohmann::json smoke = {{"status", *status}, {"out", out.string()}, {"duration", duration}};
  if (*status == kExitEnvironment) {
    // Exit status 3 of inflight fuzz: no graph_fuzzer where it looks (a build without
    // clang and INFLIGHT_FUZZERS, or an `inflight vm` guest, whose initramfs has none);
    // its message above says which.
    smoke["skipped"] =
        "inflight fuzz cannot run here (exit status 3: no graph_fuzzer; it needs a clang "
        "build with INFLIGHT_FUZZERS, and inflight vm guests have none yet)";
    report.inactive_layers.push_back(
        "fuzz smoke: skipped, inflight fuzz cannot run here (no graph_fuzzer)");
    report.extra["fuzz_smoke"] = smoke;
    return true;
  }
  std::ifstream in(out / "report.json");
  nlohmann::json fuzz = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (fuzz.is_discarded() || !fuzz.contains("fuzz") ||
      (*status != kExitClean && *status != kExitFinding && *status != kExitInterrupted)) {
    smoke["error"] = fmt::format("inflight fuzz ended with status {} and {}", *status,
                                 fuzz.is_discarded() ? "no readable report" : "its report");
    report.extra["fuzz_smoke"] = smoke;
    LogError("fuzz smoke: {}", smoke["error"].get<std::string>());
    return false;
  }
  const nlohmann::json& f = fuzz["fuzz"];
  for (const char* k : {"seconds", "execs", "execs_per_s", "corpus", "coverage", "kernel_coverage"})
    if (f.contains(k)) smoke[k] = f[k];
  smoke["findings"] = f.value("findings", nlohmann::json::array()).size();
  // By signature, for inflight compare and the gate (the lines below are for people).
  std::vector<std::string> signatures;
  for (const auto& finding : f.value("findings", nlohmann::json::array())) {
    signatures.push_back(finding.value("signature", "?"));
    const auto& repro = finding.value("repro", nlohmann::json::object());
    const size_t reruns = repro.value("runs", size_t{0});
    report.command_findings.push_back(fmt::format(
        "{}{} ({}), {}; input {}/findings/{}/input", kFuzzSmokeFindingPrefix,
        finding.value("signature", "?"), finding.value("summary", ""),
        reruns ? fmt::format("{} of {} re-runs", repro.value("findings", size_t{0}), reruns)
               : std::string("not re-run"),
        out.string(), finding.value("id", "?")));
  }
  smoke["signatures"] = signatures;
  report.layers.push_back(fmt::format("fuzz smoke: graph_fuzzer for {} ({} execs)", duration,
                                      f.value("execs", uint64_t{0})));
  report.extra["fuzz_smoke"] = smoke;
  return true;
}

}  // namespace

CommandEntry AddCheckCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string corpus;
    uint32_t repeat = 20;
    uint64_t seed = 1;
    std::string mode = "both";
    std::string stress = "10s";
    bool no_stress = false;
    std::string fuzz = "20s";
    bool no_fuzz = false;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "The main job: prove the oracle on this machine (selftest), run the whole seed corpus "
      "against this kernel in both modes, then a short stress smoke and a short fuzz smoke, "
      "and write a report.");
  cmd->add_option("--corpus", args->corpus, "Corpus folder")->default_str("<source>/corpus");
  cmd->add_option("-n,--repeat", args->repeat, "Runs per scenario and mode")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the first run")->capture_default_str();
  cmd->add_option("--mode", args->mode, "lockstep, free or both")->capture_default_str();
  cmd->add_option("--stress", args->stress,
                  "After the corpus, a stress smoke: every stressor at once for this long")
      ->capture_default_str();
  cmd->add_flag("--no-stress", args->no_stress, "Skip the stress smoke");
  cmd->add_option("--fuzz", args->fuzz,
                  "Then a fuzz smoke: inflight fuzz with one graph_fuzzer worker for this long, "
                  "into REPORT/fuzz/")
      ->capture_default_str();
  cmd->add_flag("--no-fuzz", args->no_fuzz, "Skip the fuzz smoke");
  AddCommonRunOptions(cmd, args->common, "inflight-report");
  return {cmd, [args, argv]() -> int {
            // Usage errors before anything runs.
            if (!args->no_stress) ParseDurationMs(args->stress, "--stress");
            if (!args->no_fuzz) ParseDurationMs(args->fuzz, "--fuzz");
            const std::string corpus = args->corpus.empty() ? DefaultCorpusDir() : args->corpus;
            RunPlan plan;
            plan.modes = ParseModes(args->mode);
            plan.repeat = args->repeat;
            plan.seed = args->seed;
            plan.base = BaseRunOptions(args->common);
            auto files = LoadScenarios({corpus});
            RunSession session("check", argv, args->common);

            SelftestResult st =
                RunSelftest(corpus + "/controls", args->common, !args->common.quiet);
            session.report().extra["selftest"] = {{"passed", st.passed},
                                                  {"kernel_fails", st.kernel_fails},
                                                  {"summary", st.summary},
                                                  {"runs", st.details}};
            if (Interrupted()) return session.Finish(false);
            if (st.kernel_fails) {
              // The oracle is sound; the kernel leaked the controls' own cycles. They are
              // findings of this check, and the corpus still runs.
              LogWarn("selftest: {}", st.summary);
              for (RunRecord& r : st.kernel_findings) session.report().runs.push_back(std::move(r));
            } else if (!st.passed) {
              LogError("selftest failed: {}", st.summary);
              LogError("the oracle cannot be trusted here; no corpus verdicts are claimed");
              session.Finish(false);
              return kExitInternal;
            }
            if (!args->common.quiet) LogInfo("selftest passed: {}", st.summary);

            session.Start(MakePoolOptions(args->common));
            RunnerUi ui{!args->common.quiet, "check"};
            RunScenarios(session.pool(), files, plan, ui, session.report());
            if (!args->no_stress && !Interrupted()) {
              // The smoke: every stressor at once, one worker each, checkpoints of 2 s.
              StressPlan sp;
              sp.entries = ChooseStressors({});
              sp.seed = args->seed;
              sp.duration_ms = ParseDurationMs(args->stress, "--stress");
              sp.checkpoint_ms = std::min<uint32_t>(2'000, sp.duration_ms);
              sp.settle_ms = plan.base.settle_ms;
              CommonRunArgs common = args->common;
              common.jobs = static_cast<uint32_t>(sp.entries.size());
              common.slots = 4;
              SandboxPool stress_pool(MakePoolOptions(common));
              stress_pool.Start();
              RunnerUi sui{!args->common.quiet, "check: stress smoke"};
              RunStress(stress_pool, sp, sui, session.report());
              if (Interrupted())
                stress_pool.Stop();
              else
                stress_pool.Finish();
              if (!args->common.quiet) fmt::print("{}", StressSummary(session.report()));
            }
            bool fuzz_ok = true;
            if (!args->no_fuzz && !Interrupted()) {
              if (!args->common.quiet) LogInfo("check: fuzz smoke, {}", args->fuzz);
              fuzz_ok = RunFuzzSmoke(session.report(), args->common.report_dir, args->fuzz,
                                     args->seed, args->common.quiet);
            }
            const int status = session.Finish(true, /*findings_only=*/true);
            return !fuzz_ok && status == kExitClean ? kExitInternal : status;
          }};
}

}  // namespace inflight
