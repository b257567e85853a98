// One command's session: a writable report folder checked up front, interrupt handling,
// the sandbox pool, and at the end the report, the summary and the exit status.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "driver/run_args.h"
#include "driver/sandbox_pool.h"
#include "probe/global_counts.h"
#include "reports/report.h"
#include "reports/writer.h"

namespace inflight {

// --format ktap:-: keeps the real stdout aside for KTAP and points fd 1 at stderr, so that
// whatever else is printed (by us or by children) goes to stderr. Idempotent; throws
// EnvironmentError when the descriptors cannot be set up. EmitKtap then prints the KTAP
// there, once; it does nothing when stdout was not set aside.
void SetStdoutAsideForKtap();
void EmitKtap(const std::string& text);

// With --format ktap:- and no KTAP printed yet: prints the skip-all plan ("1..0 # SKIP
// why") on stdout, for a command that cannot run on this machine. False when not asked.
bool EmitKtapSkipAll(const std::string& why);

class RunSession {
 public:
  // Throws UsageError when the report folder cannot be written or --format is wrong.
  // With --format ktap:- it sets the real stdout aside for KTAP and points fd 1 at stderr,
  // so the summary and everything else printed goes to stderr.
  RunSession(std::string command, std::vector<std::string> argv, const CommonRunArgs& args);
  ~RunSession();

  // Starts the sandboxes (EnvironmentError when this machine cannot run them).
  void Start(const PoolOptions& opt);
  SandboxPool& pool() { return *pool_; }
  Report& report() { return report_; }
  const std::string& report_dir() const { return dir_; }

  // Stops the sandboxes, writes the report, prints the summary table (when asked) and a
  // final line; returns the exit status: 130 interrupted, 4 error, 1 finding, 0 clean.
  int Finish(bool print_table, bool findings_only = false);

 private:
  // Samples the global counts after the command and rules on their drift.
  void RecordGlobalCounts();

  std::string dir_;
  ReportFormats formats_;
  bool quiet_;
  Report report_;
  std::unique_ptr<SandboxPool> pool_;
  int64_t start_us_;
  int64_t global_tolerance_;
  std::vector<GlobalSample> global_before_;
  bool kmemleak_ = false;
  std::string kmemleak_why_;
};

}  // namespace inflight
