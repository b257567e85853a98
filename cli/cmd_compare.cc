// `inflight compare A/report.json B/report.json`: what B found that A did not, by finding
// signature, and how the rates of the findings both have changed.
#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "cli/commands.h"
#include "reports/compare.h"

namespace inflight {

namespace {

nlohmann::json LoadReport(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("{}: cannot open the report", path));
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw UsageError(fmt::format("{}: not JSON: {}", path, e.what()));
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string() ||
      j["schema"].get<std::string>() != kReportSchema)
    throw UsageError(
        fmt::format("{}: not an inflight report (schema {} expected)", path, kReportSchema));
  if (!j.contains("runs") || !j["runs"].is_array())
    throw UsageError(fmt::format("{}: the report has no runs array", path));
  for (const auto& run : j["runs"])
    if (!run.is_object() || !run.contains("scenario") || !run["scenario"].is_string() ||
        !run.contains("verdict") || !run["verdict"].is_string())
      throw UsageError(fmt::format("{}: a run record without scenario or verdict", path));
  return j;
}

std::string Describe(const nlohmann::json& j, const std::string& path) {
  return fmt::format("{}: inflight {} on Linux {}, {} runs{}", path, j.value("command", "?"),
                     j.value("kernel", "?"), j["runs"].size(),
                     j.value("interrupted", false) ? " (interrupted)" : "");
}

}  // namespace

CommandEntry AddCompareCommand(CLI::App& app) {
  struct Args {
    std::string a, b;
    double tolerance = 0.25;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Compare two reports by finding signature (what outlived each run, classified on its "
      "reference graph: docs/triage.md): "
      "what B found that A did not, what is gone, and rate changes. Exit status 1 when B is "
      "worse (a new finding, a clearly higher rate, a VM that ended worse); else 7 when B is "
      "incomplete (interrupted, no runs, scenarios of A missing or run far fewer times, runs "
      "without a decided verdict, a report that did not come back from its VM); else 4 when "
      "B has runs ruled error (its verdicts are incomplete); else 0.");
  cmd->add_option("a", args->a, "The baseline report.json")->required();
  cmd->add_option("b", args->b, "The report to judge against it")->required();
  cmd->add_option("--tolerance", args->tolerance,
                  "How much higher (absolute) B's rate of a finding must be to count as worse")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  return {cmd, [args]() -> int {
            const nlohmann::json a = LoadReport(args->a);
            const nlohmann::json b = LoadReport(args->b);
            const Comparison c = CompareReports(a, b, args->tolerance);
            fmt::print("A {}\nB {}\n", Describe(a, args->a), Describe(b, args->b));
            fmt::print("{}", DescribeComparison(c));
            if (c.BIsWorse()) {
              fmt::print(
                  "inflight compare: WORSE: {} new finding(s), {} at a higher rate, {} way(s) "
                  "B ended worse\n",
                  c.introduced.size(), c.worse.size(), c.ended_worse.size());
              return kExitFinding;
            }
            if (c.BIsIncomplete()) {
              fmt::print(
                  "inflight compare: INCOMPLETE: B does not cover what A ran ({} reason(s)): "
                  "no verdict\n",
                  c.incomplete.size());
              return kExitIncomplete;
            }
            if (!c.errors.empty()) {
              fmt::print("inflight compare: INCOMPLETE: B has {} error(s) of ours\n",
                         c.errors.size());
              return kExitInternal;
            }
            fmt::print("inflight compare: NOT WORSE: {} finding(s) gone, {} at a lower rate\n",
                       c.fixed.size(), c.better.size());
            return kExitClean;
          }};
}

}  // namespace inflight
