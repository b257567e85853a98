// The driver loop shared by `run`, `check` and `selftest`: loads scenarios, plans runs
// (scenarios x modes x repeats, each with its seed), feeds a SandboxPool, rules each
// result through the batch runner (driver/batch.h), shows progress, and fills a Report.
// Stops cleanly when RunnerUi::stop says so (SIGINT/SIGTERM by default).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "driver/interrupt.h"
#include "driver/run_args.h"
#include "driver/sandbox_pool.h"
#include "reports/report.h"
#include "scenario/scenario.h"

namespace inflight {

struct ScenarioFile {
  std::string path;
  Scenario scenario;
  std::string text;  // canonical
};

// Expands folders (recursively, *.scn, sorted) and parses every file. Throws UsageError
// for a missing path and ParseError (file:line:col) for a bad scenario.
std::vector<ScenarioFile> LoadScenarios(const std::vector<std::string>& paths);

// A fuzzer input (decoded, its preamble saying so) or a .scn file. Throws UsageError when
// it cannot be read, ParseError for a bad scenario.
ScenarioFile LoadInputOrScenario(const std::string& path);
// The whole file; throws UsageError for a folder or what cannot be read.
std::string ReadBinaryFile(const std::string& path);

struct RunPlan {
  std::vector<RunMode> modes = {RunMode::kLockstep};
  uint32_t repeat = 1;
  uint64_t seed = 1;  // run r of a scenario uses seed + r
  RunOptions base;    // timeouts
};

struct RunnerUi {
  bool progress = true;  // a progress line on stderr (rewritten in place on a terminal)
  std::string label = "run";
  bool keep_clean_details = false;  // full records (actions, census) for clean runs too
  std::function<bool()> stop = [] { return Interrupted(); };  // polled; true: stop early
};

// Runs the plan. Returns false when interrupted (the report holds what finished).
bool RunScenarios(SandboxPool& pool, const std::vector<ScenarioFile>& files, const RunPlan& plan,
                  const RunnerUi& ui, Report& report);

// The oracle layers a sandbox described in its hello, active and not.
void DescribeLayers(const Hello& h, Report& report);

// A table per scenario and mode: runs and verdicts, exec and settle times.
// With `findings_only`, only the rows that are not all clean, and a line for the rest.
std::string SummaryTable(const Report& report, bool findings_only = false);

}  // namespace inflight
