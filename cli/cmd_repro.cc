// `inflight repro`, `inflight decode` and `inflight encode`: replay a crash artifact or a
// .scn and give its leak rate; show the scenario a fuzzer input stands for; turn
// scenarios into fuzzer inputs (seed corpora).
#include <fmt/core.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/file_util.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/minimize.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "oracle/signature.h"
#include "reports/finding_signature.h"
#include "reports/writer.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {

namespace fs = std::filesystem;

namespace {

// The inputs `decode` reads for a path: the file itself, or each file of a folder (a
// corpus or a findings folder: its regular files in name order, dot files left out).
std::vector<std::string> DecodeInputs(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.path().filename().string().rfind('.', 0) == 0) continue;
    if (e.is_regular_file(ec)) files.push_back(e.path().string());
  }
  if (ec) throw UsageError(fmt::format("{}: cannot list the folder: {}", path, ec.message()));
  if (files.empty()) throw UsageError(fmt::format("{}: a folder without input files", path));
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

CommandEntry AddReproCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string file;
    uint32_t repeat = 20;
    uint64_t seed = 1;
    std::string mode = "lockstep";
    std::string minimize;
    uint32_t minimize_runs = 2;
    CommonRunArgs common;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "repro",
      "Run a fuzzer crash artifact (or a .scn) N times: print the scenario as text, each "
      "distinct verdict and the leak rate. Exit 1 when any run is a finding.");
  cmd->add_option("file", args->file, "A fuzzer input (crash-*, a corpus file) or a .scn")
      ->required();
  cmd->add_option("-n,--repeat", args->repeat, "Runs")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the first run")->capture_default_str();
  cmd->add_option("--mode", args->mode, "lockstep, free or both")->capture_default_str();
  AddCommonRunOptions(cmd, args->common, "inflight-repro");
  cmd->add_option("--minimize", args->minimize,
                  "When a run is a finding: shrink the scenario (drop actions and processes "
                  "while every one of --minimize-runs runs is still ruled the same verdict) "
                  "and write it to this .scn file");
  cmd->add_option("--minimize-runs", args->minimize_runs,
                  "Runs each shrunk candidate must all reproduce in")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--hold", args->common.hold,
                  "Give every slot the holder at @ADDR (to replay findings of the test build "
                  "graph_fuzzer_hold_test, which plants leaks this way)")
      ->check([](const std::string& a) {
        return IsAddress(a) ? std::string() : std::string("an address is [A-Za-z0-9_.-]{1,32}");
      });
  return {cmd, [args, argv]() -> int {
            const ScenarioFile f = LoadInputOrScenario(args->file);
            if (!args->minimize.empty()) {
              std::string dir = fs::path(args->minimize).parent_path().string();
              if (dir.empty()) dir = ".";
              if (access(dir.c_str(), W_OK | X_OK) != 0)
                throw UsageError(fmt::format("--minimize {}: cannot write in {}: {}",
                                             args->minimize, dir, strerror(errno)));
            }
            fmt::print("{}\n", f.text);
            fflush(stdout);
            RunPlan plan;
            plan.modes = ParseModes(args->mode);
            plan.repeat = args->repeat;
            plan.seed = args->seed;
            plan.base = BaseRunOptions(args->common);
            if (args->common.jobs == 0) args->common.jobs = 1;
            RunSession session("repro", argv, args->common);
            session.Start(MakePoolOptions(args->common));
            RunnerUi ui{!args->common.quiet, "repro"};
            RunScenarios(session.pool(), {f}, plan, ui, session.report());
            std::map<std::string, size_t> by_signature;
            size_t findings = 0;
            for (const RunRecord& r : session.report().runs) {
              if (r.verdict.kind == VerdictKind::kClean) continue;
              const std::string sig = RunSignature(f.scenario, r);
              ++by_signature[sig.empty() ? FindingSignatureOf(f.scenario, r.result, r.verdict)
                                         : sig];
              findings += IsFinding(r.verdict.kind);
            }
            const size_t runs = session.report().runs.size();
            for (const auto& [sig, n] : by_signature)
              fmt::print("signature: {}  ({}/{} runs)\n", sig, n, runs);
            fmt::print("leak rate: {}/{} runs ruled a finding ({:.0f}%)\n", findings, runs,
                       runs ? 100.0 * findings / runs : 0.0);
            session.report().extra["repro"] = {
                {"file", args->file},
                {"findings", findings},
                {"runs", runs},
                {"rate", runs ? static_cast<double>(findings) / runs : 0.0}};
            if (!args->minimize.empty() && findings > 0 && !Interrupted()) {
              ReproMinimizeOptions mo;
              mo.run = plan.base;
              mo.run.mode = plan.modes.front();
              mo.runs = args->minimize_runs;
              mo.stop = [] { return Interrupted(); };
              for (const RunRecord& r : session.report().runs)
                if (IsFinding(r.verdict.kind)) {
                  mo.kind = r.verdict.kind;
                  break;
                }
              mo.progress = [&](const Scenario& s) {
                if (!args->common.quiet)
                  LogInfo("minimize: {} actions, {} processes", s.actions.size(), s.procs.size());
              };
              Scenario small = MinimizeScenario(session.pool(), f.scenario, mo);
              // Interrupted: the smallest scenario found so far is kept, and says so.
              const bool cut_short = Interrupted();
              small.preamble = {fmt::format(
                  "minimized from {}{}: every one of {} {} runs is ruled {}", args->file,
                  cut_short ? " (interrupted: the smallest found so far, not proven minimal)" : "",
                  mo.runs, RunModeName(mo.run.mode), VerdictName(mo.kind))};
              const std::string text = PrintScenario(small);
              session.report().extra["repro"]["minimized"] = text;
              session.report().extra["repro"]["minimize_interrupted"] = cut_short;
              if (auto s = WriteFileAtomically(args->minimize, text); !s) {
                LogError("--minimize {}: {}", args->minimize, s.error().Text());
                session.Finish(false);
                return kExitUsage;
              }
              fmt::print("minimized{} ({} of {} actions) into {}:\n{}",
                         cut_short ? " until interrupted" : "", small.actions.size(),
                         f.scenario.actions.size(), args->minimize, text);
            }
            return session.Finish(false);
          }};
}

CommandEntry AddDecodeCommand(CLI::App& app) {
  auto paths = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "decode",
      "Print the scenario a fuzzer input stands for, as .scn text; for a folder (a corpus), "
      "each of its files in name order.");
  cmd->add_option("paths", *paths, "Fuzzer inputs (crash artifacts, corpus files) or folders")
      ->required();
  return {cmd, [paths]() -> int {
            // Every input is read before anything is printed: bad input prints nothing.
            std::vector<std::pair<std::string, std::string>> inputs;
            for (const std::string& path : *paths)
              for (const std::string& file : DecodeInputs(path))
                inputs.emplace_back(file, ReadBinaryFile(file));
            for (const auto& [file, bytes] : inputs) {
              Scenario s = DecodeScenario(bytes);
              s.preamble = {fmt::format("decoded from {}", file)};
              fmt::print("{}", PrintScenario(s));
              if (inputs.size() > 1) fmt::print("\n");
            }
            return kExitClean;
          }};
}

CommandEntry AddEncodeCommand(CLI::App& app) {
  struct Args {
    std::vector<std::string> paths;
    std::string out;
    std::vector<std::string> exclude;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "encode",
      "Turn scenarios into fuzzer inputs that decode back to them (seed corpora): one file "
      "<scenario name> per scenario in --out.");
  cmd->add_option("paths", args->paths, "Scenario files and folders")->required();
  cmd->add_option("-o,--out", args->out, "Folder for the inputs")->required();
  cmd->add_option("--exclude", args->exclude, "Scenario names to leave out");
  return {cmd, [args]() -> int {
            auto files = LoadScenarios(args->paths);
            std::error_code ec;
            fs::create_directories(args->out, ec);
            size_t n = 0;
            for (const ScenarioFile& f : files) {
              if (std::find(args->exclude.begin(), args->exclude.end(), f.scenario.name) !=
                  args->exclude.end())
                continue;
              auto bytes = EncodeScenario(f.scenario);
              if (!bytes) throw InternalError(fmt::format("{}: cannot encode", f.path));
              if (auto s = WriteFileAtomically(args->out + "/" + f.scenario.name, *bytes); !s)
                throw UsageError(s.error().Text());
              ++n;
            }
            fmt::print("inflight encode: {} input(s) in {}\n", n, args->out);
            return kExitClean;
          }};
}

}  // namespace inflight
