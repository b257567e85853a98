// `inflight gate --baseline IMAGE --candidate IMAGE -- ARGS`: the same suite on two kernels,
// compared by finding signature; exit 1 when the candidate is worse. For patch-gating CI.
#include <fmt/core.h>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "reports/compare.h"
#include "reports/known.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "vm/console.h"
#include "vm/gate_ruling.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

struct Side {
  std::string name;  // "baseline", "candidate"
  std::string kernel;
  std::string modules;
  VmConfig config;
  VmOutcome outcome;
  nlohmann::json report;
  int status = -1;
};

void RunSide(Side& s, const VmArgs& vm, const std::string& dir,
             const std::vector<std::string>& argv) {
  const std::string sub = dir + "/" + s.name;
  s.config = MakeVmConfig(vm, s.kernel, s.modules, sub);
  if (!vm.quiet) {
    const std::string prefix = s.name + "| ";
    s.config.on_output = [prefix](const std::string& line) {
      fmt::print("{}{}\n", prefix, line);
      fflush(stdout);
    };
  }
  if (auto st = PrepareReportDir(sub); !st)
    throw UsageError(fmt::format("--report {}: {}", dir, st.error().Text()));
  const std::string started_at = UtcNow();
  s.outcome = RunVm(s.config);
  s.report = WriteVmReportFolder(sub, s.config, s.outcome, argv, started_at);
  s.status = VmExitStatus(s.outcome);
  for (const std::string& line : LastLines(DescribeVmOutcome(s.outcome), 1000))
    fmt::print("{}| {}\n", s.name, line);
  fmt::print("{}: {}; {} runs, verdict {}; {}/report.json\n", s.name, s.outcome.why,
             s.report.value("runs", nlohmann::json::array()).size(), s.report.value("verdict", "?"),
             sub);
  fflush(stdout);
}

// One run of `report` with this signature, for the example lines.
const nlohmann::json* Example(const nlohmann::json& report, const std::string& signature) {
  if (!report.contains("runs") || !report.at("runs").is_array()) return nullptr;
  for (const auto& run : report.at("runs")) {
    if (run.value("verdict", "") == "clean") continue;
    for (const std::string& sig : FindingSignatures(run))
      if (sig == signature) return &run;
  }
  return nullptr;
}

std::string DescribeExample(const nlohmann::json& run) {
  const bool kernel = run.value("scenario", "").rfind(kKernelRecordPrefix, 0) == 0;
  std::string out = kernel ? fmt::format("    in {}:\n", run.value("file", "console.log"))
                           : fmt::format("    e.g. {} seed {}: {}\n", run.value("mode", "?"),
                                         run.value("seed", 0), run.value("summary", ""));
  const auto leftovers = run.value("leftovers", nlohmann::json::array());
  size_t listed = 0;
  for (const auto& l : leftovers) {
    if (listed++ == 10) {
      out += fmt::format("    ... and {} more leftovers\n", leftovers.size() - 10);
      break;
    }
    const std::string object = l.value("object", "");
    const std::string where = l.value("where", "");
    out +=
        fmt::format("    leftover: {}{}{}\n", l.value("what", ""),
                    object.empty() ? "" : " '" + object + "'", where.empty() ? "" : ", " + where);
  }
  size_t shown = 0;
  for (const char* list : {"losses", "faults"})
    for (const auto& f : run.value(list, nlohmann::json::array())) {
      if (shown++ == 6) break;
      out += fmt::format("    | {}\n", f.get<std::string>());
    }
  return out;
}

}  // namespace

CommandEntry AddGateCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    Side baseline{"baseline"}, candidate{"candidate"};
    std::string report_dir = "inflight-gate";
    double tolerance = 0.25;
    std::string known;
    VmArgs vm;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "gate",
      "Run the same inflight arguments in a VM on a baseline and on a candidate kernel, "
      "compare the two reports by finding signature, print what the candidate introduced, "
      "and exit 1 when the candidate is worse (a new finding, a finding clearly more often, a "
      "kernel fault, a crash, a hang, no boot, a timeout, its suite exiting worse than the "
      "baseline's), 7 when its verdicts do not cover the baseline's (its report missing or "
      "interrupted, scenarios missing or run far fewer times), 4 for errors of ours. 0: not "
      "worse. It fails closed: the candidate passes only with a complete report.");
  cmd->add_option("--baseline", args->baseline.kernel, "Kernel image to compare against")
      ->required();
  cmd->add_option("--candidate", args->candidate.kernel, "Kernel image under test")->required();
  cmd->add_option("--baseline-modules", args->baseline.modules, "Module tree of the baseline");
  cmd->add_option("--candidate-modules", args->candidate.modules, "Module tree of the candidate");
  cmd->add_option("--rate-tolerance", args->tolerance,
                  "How much more often (0..1, absolute) a finding both have must happen on the "
                  "candidate to count as worse")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--report", args->report_dir,
                  "Folder for baseline/ and candidate/ (each a VM report folder) and gate.json")
      ->capture_default_str();
  cmd->add_option("--known", args->known,
                  "Findings expected on the candidate (known/*.txt: signatures, one a line): a "
                  "known signature the candidate introduced is reported as known, not worse; "
                  "anything else still is (a crash, a hang, a new signature, a known one the "
                  "baseline shows too but the candidate clearly more often)")
      ->check(CLI::ExistingFile);
  AddVmOptions(cmd, args->vm);
  return {
      cmd, [args, argv]() -> int {
        Side& base = args->baseline;
        Side& cand = args->candidate;
        // Both configurations are checked before anything boots.
        CheckVmInput(MakeVmConfig(args->vm, base.kernel, base.modules, ""));  // both, first
        CheckVmInput(MakeVmConfig(args->vm, cand.kernel, cand.modules, ""));
        if (auto s = PrepareReportDir(args->report_dir); !s)
          throw UsageError(fmt::format("--report {}: {}", args->report_dir, s.error().Text()));
        InstallInterruptHandlers();
        nlohmann::json gate = {
            {"baseline", base.kernel}, {"candidate", cand.kernel}, {"argv", argv}};
        auto finish = [&](int status, const std::string& verdict, const std::string& why) {
          gate["verdict"] = verdict;
          gate["why"] = why;
          gate["exit_status"] = status;
          if (auto s = WriteFileAtomically(args->report_dir + "/gate.json", gate.dump(2) + "\n");
              !s)
            LogError("cannot write gate.json: {}", s.error().Text());
          fmt::print("inflight gate: {}: {}; report: {}/gate.json\n", verdict, why,
                     args->report_dir);
          fflush(stdout);
          return status;
        };

        // --inject (a test hook) is for the candidate only: the baseline stays honest.
        VmArgs base_vm = args->vm;
        base_vm.inject.clear();
        RunSide(base, base_vm, args->report_dir, argv);
        gate["baseline_end"] = VmEndName(base.outcome.end);
        gate["baseline_status"] = base.status;
        if (auto ruling = RuleOnBaseline(base.outcome))
          return finish(ruling->status, ruling->verdict, ruling->why);

        RunSide(cand, args->vm, args->report_dir, argv);
        gate["candidate_end"] = VmEndName(cand.outcome.end);
        gate["candidate_status"] = cand.status;
        Comparison cmp = CompareReports(base.report, cand.report, args->tolerance, GateLabels());
        if (!args->known.empty()) {
          const KnownFindings known = LoadKnownFindings(args->known);
          const nlohmann::json moved = ApplyKnown(known, cand.report, cmp);
          gate["known"] = {{"file", known.file}, {"seen", moved}};
          for (const auto& m : moved)
            fmt::print("gate: known: {}  # {}\n", m["signature"].get<std::string>(),
                       m["comment"].get<std::string>());
        }
        gate["introduced"] = cmp.introduced;
        gate["worse"] = cmp.worse;
        gate["fixed"] = cmp.fixed;
        gate["errors"] = cmp.errors;
        gate["ended_worse"] = cmp.ended_worse;
        gate["incomplete"] = cmp.incomplete;
        if (cand.outcome.end != VmEnd::kInterrupted) {
          fmt::print("gate: candidate against baseline, by finding signature:\n{}",
                     DescribeComparison(cmp));
          for (const auto* list : {&cmp.introduced, &cmp.worse})
            for (const std::string& sig : *list)
              if (const nlohmann::json* run = Example(cand.report, sig))
                fmt::print("{}: {}\n{}", list == &cmp.introduced ? "introduced" : "worse", sig,
                           DescribeExample(*run));
        }
        const GateRuling ruling = RuleOnCandidate(base.outcome, cand.outcome, cmp);
        return finish(ruling.status, ruling.verdict, ruling.why);
      }};
}

}  // namespace inflight
