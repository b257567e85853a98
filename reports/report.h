// The report model shared by every command, and its JSON form (the record).
//
// report.json is versioned by "schema" ("inflight-report/1"); docs/report.md describes
// every field. Writers for JUnit, KTAP and HTML read the same model.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oracle/verdict.h"
#include "reports/known.h"
#include "run/protocol.h"
#include "run/run_types.h"

namespace inflight {

inline constexpr const char* kReportSchema = "inflight-report/1";

// A run whose outcome the command planned (the selftest's controls: a planted leak must be
// ruled leak and named, the same graph without it clean). The CI formats report whether
// the plan held, not the verdict: a planted leak named as planted is a pass.
struct Expectation {
  VerdictKind verdict = VerdictKind::kClean;  // what the run had to be ruled
  bool met = false;
  std::string note;  // what was checked ("the planted leak was named: x"), or what went wrong
};
// Scenario names of the records `inflight vm` adds for what it read in the kernel's console
// (a fault, a crash, a silent guest) start with this; they are findings, not scenarios
// that ran.
inline constexpr const char* kKernelRecordPrefix = "[kernel] ";

struct RunRecord {
  std::string scenario;  // scenario name
  std::string file;      // where it was read from
  uint64_t seed = 0;
  RunMode mode = RunMode::kLockstep;
  uint32_t repeat = 0;  // 0-based repeat index
  Verdict verdict;
  RunResult result;           // outcome, census, timings
  std::string scenario_text;  // kept for findings (and with --report-all)
  bool full = false;          // the JSON record carries actions, processes and censuses
  nlohmann::json extra = nlohmann::json::object();  // command-specific fields of the record
  std::optional<Expectation> expected;              // set when the command planned the outcome
};

struct Report {
  std::string command;  // e.g. "run", "check"
  std::vector<std::string> argv;
  std::string started_at;  // ISO 8601, UTC
  double duration_s = 0;
  Hello sandbox;                             // kernel, census method, ...
  std::vector<std::string> layers;           // oracle layers that were active
  std::vector<std::string> inactive_layers;  // with the reason
  bool interrupted = false;
  std::vector<RunRecord> runs;
  // Findings that belong to the whole command, not to one run (e.g. a uid's in-flight
  // accounting still off after all its runs, a drift of the global counts).
  std::vector<std::string> command_findings;
  nlohmann::json extra = nlohmann::json::object();  // command-specific sections
  KnownFindings known;  // --known: findings expected on this kernel (reports/known.h)

  // Counts by verdict name.
  std::map<std::string, size_t> Counts() const;
  // Worst verdict of the runs: error > hang > leak > fault > clean.
  VerdictKind Worst() const;
  // Runs ruled leak, hang or fault, plus command findings, plus a fuzzer's findings
  // (`extra.fuzz.findings`: `inflight fuzz` keeps them there, re-run or not).
  size_t Findings() const;
  // The verdict of the report as a whole: the worst run's, or a finding's when runs are
  // clean but the command or its fuzzer found something.
  VerdictKind Overall() const;
};

nlohmann::json RunRecordToJson(const RunRecord& r, bool full);
nlohmann::json ReportToJson(const Report& r);

// The command line that replays one run: "inflight run FILE --seed N --repeat 1 --mode M",
// with the report's --hold when it had one (the holder is part of what was run).
std::string ReplayCommand(const RunRecord& r);
std::string ReplayCommand(const Report& report, const RunRecord& r);

// ISO 8601 UTC "now".
std::string UtcNow();

// Whether a run passes in the CI formats (JUnit, KTAP): a planned run when its plan held,
// any other run when it is clean.
bool RunPassed(const RunRecord& r);

// Severity order of verdicts, as Report::Worst() ranks them: clean 0 < unsettled < fault <
// leak < hang < error.
int VerdictSeverity(VerdictKind k);

// Appends a run record to a report in its JSON form and brings its "counts" and
// "verdict" up to date: for reports put together from parts (inflight vm adds the kernel
// faults it read in the guest's console to the guest's report).
void AppendRunJson(nlohmann::json& report, const RunRecord& run);

}  // namespace inflight
