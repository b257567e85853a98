// Report folder, pool lifetime, and the exit status of a running command.
#include "cli/run_session.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <map>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cli/interrupt.h"
#include "cli/runner.h"
#include "reports/writer.h"

namespace inflight {

RunSession::RunSession(std::string command, std::vector<std::string> argv,
                       const CommonRunArgs& args)
    : dir_(args.report_dir), quiet_(args.quiet), start_us_(NowMicros()) {
  if (std::string why = ParseReportFormats(args.format, formats_); !why.empty())
    throw UsageError("--format: " + why);
  if (auto s = PrepareReportDir(dir_); !s)
    throw UsageError(fmt::format("--report {}: {}", dir_, s.error().Text()));
  report_.command = std::move(command);
  report_.argv = std::move(argv);
  report_.started_at = UtcNow();
  InstallInterruptHandlers();
}

RunSession::~RunSession() = default;

void RunSession::Start(const PoolOptions& opt) {
  pool_ = std::make_unique<SandboxPool>(opt);
  pool_->Start();
  DescribeLayers(pool_->hello(), report_);
  if (!quiet_) {
    LogInfo("kernel {}; {} sandbox(es) x {} slots; oracle layers: {}", pool_->hello().kernel,
            opt.jobs, pool_->hello().slots, fmt::join(report_.layers, "; "));
  }
}

int RunSession::Finish(bool print_table) {
  if (pool_) pool_->Stop();
  if (Interrupted()) report_.interrupted = true;
  report_.duration_s = (NowMicros() - start_us_) / 1e6;
  if (auto s = WriteReport(dir_, report_, formats_); !s) {
    LogError("cannot write the report: {}", s.error().Text());
    return kExitInternal;
  }
  if (print_table && !report_.runs.empty()) fmt::print("{}", SummaryTable(report_));
  // Findings grouped by scenario and verdict: how often, and one example in full.
  std::map<std::pair<std::string, VerdictKind>, std::vector<const RunRecord*>> groups;
  std::map<std::string, std::map<RunMode, size_t>> runs_per_mode;
  for (const RunRecord& r : report_.runs) {
    ++runs_per_mode[r.scenario][r.mode];
    if (r.verdict.kind != VerdictKind::kClean) groups[{r.scenario, r.verdict.kind}].push_back(&r);
  }
  for (const auto& [key, recs] : groups) {
    std::map<RunMode, size_t> hits;
    for (const RunRecord* r : recs) ++hits[r->mode];
    std::string how;
    for (const auto& [mode, n] : hits)
      how += fmt::format("{}{}/{} {}", how.empty() ? "" : ", ", n,
                         runs_per_mode[key.first][mode], RunModeName(mode));
    const RunRecord& ex = *recs.front();
    fmt::print("{}: {} ({} runs): e.g. {} seed {}: {}\n", VerdictName(key.second), key.first, how,
               RunModeName(ex.mode), ex.seed, ex.verdict.summary);
    for (const Leftover& l : ex.verdict.leftovers)
      fmt::print("    leftover: {}{}{}{}\n", l.what,
                 l.object.empty() ? "" : fmt::format(" '{}'", l.object),
                 l.ino ? fmt::format(" ino {}", l.ino) : "",
                 l.where.empty() ? "" : ", " + l.where);
    for (const std::string& f : ex.verdict.faults) fmt::print("    fault: {}\n", f);
  }
  const auto counts = report_.Counts();
  const size_t findings = counts.at("leak") + counts.at("hang") + counts.at("fault");
  const VerdictKind worst = report_.Worst();
  std::string verdict = report_.interrupted ? "INTERRUPTED"
                        : worst == VerdictKind::kError ? "ERROR"
                        : findings ? "FINDINGS"
                                   : "CLEAN";
  std::string also;
  for (const auto& [on, name] : {std::pair{formats_.junit, "junit.xml"},
                                 std::pair{formats_.ktap, "report.ktap"},
                                 std::pair{formats_.html, "report.html"}})
    if (on) also += fmt::format("{}{}", also.empty() ? " (also " : ", ", name);
  if (!also.empty()) also += ")";
  fmt::print("inflight {}: {}: {} runs, {} finding(s), {} error(s) on Linux {} in {:.2f} s; "
             "report: {}/report.json{}\n",
             report_.command, verdict, report_.runs.size(), findings, counts.at("error"),
             report_.sandbox.kernel, report_.duration_s, dir_, also);
  fflush(stdout);
  if (report_.interrupted) return kExitInterrupted;
  if (findings) return kExitFinding;  // errors are listed, but a finding is what acts
  return worst == VerdictKind::kError ? kExitInternal : kExitClean;
}

}  // namespace inflight
