// `inflight minimize FILE`: the smallest scenario that still shows the finding of FILE,
// judged by running candidates in the sandbox pool.
#include <fmt/core.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/minimize.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "reports/compare.h"
#include "reports/finding_signature.h"
#include "reports/writer.h"
#include "repro/minimize.h"
#include "repro/reduce.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {

namespace {

std::string SizeText(const ScenarioSize& z) {
  return fmt::format("{} process{}, {} object{}, {} action{}", z.processes,
                     z.processes == 1 ? "" : "es", z.objects, z.objects == 1 ? "" : "s", z.actions,
                     z.actions == 1 ? "" : "s");
}

nlohmann::json SizeJson(const ScenarioSize& z) {
  return {{"processes", z.processes}, {"objects", z.objects}, {"actions", z.actions}};
}

}  // namespace

CommandEntry AddMinimizeCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string file;
    std::string out;
    std::string mode = "lockstep";
    uint32_t trials = 10;
    uint32_t repeat = 0;
    double min_rate = 0;
    uint64_t seed = 1;
    std::string signature;
    size_t max_candidates = 3000;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "minimize",
      "Shrink a scenario that shows a finding (leak, hang or fault) to the smallest one that "
      "still shows it: delta debugging over processes, objects and actions, then fewer copies "
      "of passed descriptors, until no single removal keeps the finding. The finding is its "
      "signature (the leak class on the reference graph, docs/triage.md); for a racy finding every candidate runs "
      "--repeat times and must keep it at --min-rate. Prints the sizes before and after and "
      "the minimized scenario, which it also writes to the report folder (and -o FILE); the "
      "report holds the runs that confirm it.");
  cmd->add_option("file", args->file, "The .scn scenario that shows the finding")->required();
  cmd->add_option("-o,--output", args->out, "Also write the minimized scenario here");
  cmd->add_option("--mode", args->mode, "lockstep or free")->capture_default_str();
  cmd->add_option("--trials", args->trials,
                  "Runs of the original (to find the finding and its rate) and of the result")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("-n,--repeat", args->repeat,
                  "Runs per candidate (default: 1 for a finding seen in every trial; for a "
                  "racy one enough for about 4 expected hits, at most 50)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--min-rate", args->min_rate,
                  "A candidate keeps the finding at this rate or more (default: half the "
                  "original's rate, at most 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", args->seed, "Seed of the first run of each candidate")
      ->capture_default_str();
  cmd->add_option("--signature", args->signature,
                  "The finding to keep, as printed (default: the most frequent one)");
  cmd->add_option("--max-candidates", args->max_candidates, "Stop after judging this many")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  AddCommonRunOptions(cmd, args->common, "inflight-report");
  cmd->add_option("--hold", args->common.hold,
                  "Positive control: every slot gets a listener at @ADDR that never accepts "
                  "(see inflight run --hold)")
      ->check([](const std::string& a) {
        return IsAddress(a) ? std::string() : std::string("an address is [A-Za-z0-9_.-]{1,32}");
      });
  return {
      cmd, [args, argv]() -> int {
        const std::vector<RunMode> modes = ParseModes(args->mode);
        if (modes.size() != 1) throw UsageError("--mode is lockstep or free");
        auto files = LoadScenarios({args->file});
        if (files.size() != 1)
          throw UsageError(fmt::format("{}: minimize takes one scenario file", args->file));
        const ScenarioFile original = files.front();
        if (!args->out.empty()) {
          std::string dir = std::filesystem::path(args->out).parent_path().string();
          if (dir.empty()) dir = ".";
          if (access(dir.c_str(), W_OK | X_OK) != 0)
            throw UsageError(
                fmt::format("-o {}: cannot write in {}: {}", args->out, dir, strerror(errno)));
        }
        RunPlan plan;
        plan.modes = modes;
        plan.repeat = args->trials;
        plan.seed = args->seed;
        plan.base = BaseRunOptions(args->common);
        plan.base.mode = modes.front();
        RunSession session("minimize", argv, args->common);
        session.Start(MakePoolOptions(args->common));
        const bool quiet = args->common.quiet;

        // 1. The finding and its rate.
        Report trials;
        RunScenarios(session.pool(), {original}, plan,
                     RunnerUi{!quiet && !Interrupted(), "minimize: trials"}, trials);
        if (Interrupted()) {
          session.report().runs = std::move(trials.runs);
          return session.Finish(false);
        }
        std::map<std::string, size_t> sigs;
        for (const RunRecord& r : trials.runs)
          if (IsFinding(r.verdict.kind)) ++sigs[FindingSignature(r)];
        std::string target = args->signature;
        if (target.empty()) {
          for (const auto& [sig, n] : sigs)
            if (target.empty() || n > sigs[target]) target = sig;
        }
        if (target.empty() || !sigs.count(target)) {
          fmt::print("inflight minimize: {} in {} run(s) of {}: nothing to minimize\n",
                     target.empty() ? "no finding" : "no finding " + target, trials.runs.size(),
                     original.path);
          session.report().runs = std::move(trials.runs);
          return session.Finish(true);
        }
        const double rate = static_cast<double>(sigs[target]) / trials.runs.size();
        const uint32_t repeat =
            args->repeat    ? args->repeat
            : rate >= 0.999 ? 1u
                            : std::min<uint32_t>(50, static_cast<uint32_t>(std::ceil(4 / rate)));
        const double min_rate = args->min_rate > 0 ? args->min_rate : std::min(0.5, rate / 2);
        const ScenarioSize before = MeasureScenario(original.scenario);
        if (!quiet)
          LogInfo(
              "finding {} in {}/{} trials; each candidate runs {} time(s) and must keep "
              "it at a rate of {:.2f} or more",
              target, sigs[target], trials.runs.size(), repeat, min_rate);

        // 2. Delta debugging.
        RunningOracleOptions ro;
        ro.run = plan.base;
        ro.runs = repeat;
        ro.seed = args->seed;
        ro.min_rate = min_rate;
        ro.reproduces = [&](const Scenario& cand, const RunResult& r, const Verdict& v) {
          if (!IsFinding(v.kind)) return false;
          RunRecord rec;
          rec.scenario = original.scenario.name;
          rec.mode = plan.base.mode;
          rec.result = r;
          rec.verdict = v;
          return RunSignature(cand, rec) == target;
        };
        ro.stop = [] { return Interrupted(); };
        RunningOracle oracle(session.pool(), std::move(ro));
        MinimizeOptions mo;
        mo.max_candidates = args->max_candidates;
        mo.stop = [] { return Interrupted(); };
        mo.progress = [&](const Scenario& s, size_t n) {
          if (!quiet)
            LogInfo("minimize: {} -> {} after {} candidate(s)", SizeText(before),
                    SizeText(MeasureScenario(s)), n);
        };
        MinimizeStats stats;
        const BatchOracle keeps = [&](const std::vector<Scenario>& b) { return oracle(b); };
        Scenario min = Minimize(original.scenario, keeps, mo, &stats);
        const ScenarioSize after = MeasureScenario(min);

        // 3. The result, named and described as such.
        if (original.scenario.name.size() + 4 <= 64) min.name = original.scenario.name + "_min";
        std::vector<std::string> about = {
            fmt::format("Minimized by inflight minimize from {} ({} -> {}).",
                        original.path.substr(0, 200), SizeText(before), SizeText(after)),
            fmt::format("It keeps the finding {}.", target.substr(0, 300))};
        for (const std::string& l : original.scenario.about)
          if (about.size() < 64) about.push_back(l);
        min.about = std::move(about);
        min.preamble.clear();
        if (Validate(min)) throw InternalError("the minimized scenario does not validate");
        const std::string text = PrintScenario(min);
        const ScenarioFile result{args->out.empty() ? "<minimized>" : args->out, min, text};

        // 4. Confirm: the report holds these runs.
        if (!Interrupted())
          RunScenarios(session.pool(), {result}, plan,
                       RunnerUi{!quiet && !Interrupted(), "minimize: confirm"}, session.report());
        size_t final_hits = 0;
        for (const RunRecord& r : session.report().runs) {
          RunRecord renamed = r;
          renamed.scenario = original.scenario.name;
          if (IsFinding(r.verdict.kind) && FindingSignature(renamed) == target) ++final_hits;
        }
        const size_t final_runs = session.report().runs.size();
        const double final_rate = final_runs ? static_cast<double>(final_hits) / final_runs : 0.0;
        nlohmann::json section = {
            {"file", original.path},           {"signature", target},
            {"before", SizeJson(before)},      {"after", SizeJson(after)},
            {"original_rate", rate},           {"min_rate", min_rate},
            {"runs_per_candidate", repeat},    {"candidates", stats.candidates},
            {"candidate_runs", oracle.runs()}, {"invalid_candidates", stats.invalid},
            {"minimal", stats.minimal},        {"interrupted", Interrupted()},
            {"scenario_text", text},
        };
        if (final_runs) section["final_rate"] = final_rate;
        session.report().extra["minimize"] = std::move(section);

        if (!args->out.empty())
          if (auto st = WriteFileAtomically(args->out, text); !st)
            throw UsageError(fmt::format("-o {}: {}", args->out, st.error().Text()));
        if (auto st = WriteFileAtomically(session.report_dir() + "/minimized.scn", text); !st)
          LogError("cannot write {}/minimized.scn: {}", session.report_dir(), st.error().Text());
        fmt::print("inflight minimize: before: {}\n", SizeText(before));
        fmt::print("inflight minimize: after:  {}{}\n", SizeText(after),
                   stats.minimal ? " (no single removal keeps the finding)"
                                 : " (stopped early: not proven minimal)");
        fmt::print(
            "inflight minimize: {} candidate(s) judged in {} batch(es), {} run(s); "
            "{} rejected by the validator; finding rate {:.2f} -> {:.2f}\n",
            stats.candidates, stats.batches, oracle.runs(), stats.invalid, rate, final_rate);
        if (oracle.errors())
          LogWarn(
              "{} candidate run(s) were ruled error (ours); those candidates were "
              "treated as losing the finding",
              oracle.errors());
        if (final_runs && final_rate < min_rate)
          LogWarn(
              "the minimized scenario showed the finding at a rate of {:.2f}, below "
              "{:.2f}, in its confirming runs",
              final_rate, min_rate);
        fmt::print("inflight minimize: the minimized scenario ({}{}/minimized.scn):\n\n{}\n",
                   args->out.empty() ? "" : args->out + ", ", session.report_dir(), text);
        fflush(stdout);
        return session.Finish(false);
      }};
}

}  // namespace inflight
