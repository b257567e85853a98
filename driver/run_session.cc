// Report folder, pool lifetime, and the exit status of a running command.
#include "driver/run_session.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <map>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "driver/interrupt.h"
#include "driver/runner.h"
#include "probe/kmemleak.h"
#include "reports/compare.h"
#include "reports/ktap.h"
#include "reports/writer.h"

namespace inflight {

namespace {

// With --format ktap:-, the real stdout (a CLOEXEC copy); fd 1 is then stderr, so that
// nothing but KTAP ever reaches the real stdout, whoever prints. -1 otherwise.
int g_ktap_fd = -1;
bool g_ktap_done = false;

void WriteAll(int fd, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout gone (a closed pipe): nothing more to say there
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

void SetStdoutAsideForKtap() {
  if (g_ktap_fd >= 0) return;
  fflush(stdout);
  g_ktap_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (g_ktap_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
    throw EnvironmentError(
        fmt::format("--format ktap:-: cannot set stdout aside: {}", strerror(errno)));
}

void EmitKtap(const std::string& text) {
  if (g_ktap_fd < 0 || g_ktap_done) return;
  g_ktap_done = true;
  WriteAll(g_ktap_fd, text);
}

bool EmitKtapSkipAll(const std::string& why) {
  if (g_ktap_fd < 0 || g_ktap_done) return false;
  std::string reason;
  for (char c : why) reason += (c == '\n' || c == '#') ? ' ' : c;
  EmitKtap("TAP version 13\n1..0 # SKIP " + reason + "\n");
  return true;
}

RunSession::RunSession(std::string command, std::vector<std::string> argv,
                       const CommonRunArgs& args)
    : dir_(args.report_dir),
      quiet_(args.quiet),
      start_us_(NowMicros()),
      global_tolerance_(args.global_tolerance) {
  if (std::string why = ParseReportFormats(args.format, formats_); !why.empty())
    throw UsageError("--format: " + why);
  if (formats_.ktap_stdout) SetStdoutAsideForKtap();
  if (auto s = PrepareReportDir(dir_); !s)
    throw UsageError(fmt::format("--report {}: {}", dir_, s.error().Text()));
  if (!args.known.empty()) report_.known = LoadKnownFindings(args.known);  // UsageError
  report_.command = std::move(command);
  report_.argv = std::move(argv);
  report_.started_at = UtcNow();
  InstallInterruptHandlers();
}

RunSession::~RunSession() = default;

void RunSession::Start(const PoolOptions& opt) {
  // Before any sandbox holds anything. When ruling, per-CPU slabs are flushed first so the
  // counts are exact.
  global_before_ = SampleGlobalRepeatedly(3, 10, global_tolerance_ > 0);
  kmemleak_ = KmemleakAvailable(&kmemleak_why_) && KmemleakClear().ok();
  pool_ = std::make_unique<SandboxPool>(opt);
  if (!pool_->Start()) return;  // interrupted: Finish() says so
  DescribeLayers(pool_->hello(), report_);
  if (kmemleak_)
    report_.layers.push_back(
        "kmemleak: scanned (twice, 6 s apart) after the command; unreferenced objects "
        "allocated through AF_UNIX or SCM code are findings");
  else
    report_.inactive_layers.push_back("kmemleak: " + kmemleak_why_);
  if (global_before_.empty())
    report_.inactive_layers.push_back("global counts: /proc/sys/fs/file-nr unreadable");
  else if (global_tolerance_ > 0)
    report_.layers.push_back(
        fmt::format("global counts: file-nr and slab objects before and after the command; a drift "
                    "beyond {} in every sample is a finding",
                    global_tolerance_));
  else
    report_.layers.push_back(
        "global counts: file-nr and slab objects recorded before and after the command, "
        "not ruled on (a shared host; --global-tolerance N rules)");
  if (!quiet_) {
    LogInfo("kernel {}; {} sandbox(es) x {} slots; oracle layers: {}", pool_->hello().kernel,
            opt.jobs, pool_->hello().slots, fmt::join(report_.layers, "; "));
  }
}

void RunSession::RecordGlobalCounts() {
  if (global_before_.empty()) return;
  const bool rule = global_tolerance_ > 0;
  // file-nr is read without summing its per-CPU parts: it may be off by FileNrSlack().
  auto tolerance = [&](const GlobalDrift& d) {
    return d.name == "files" ? global_tolerance_ + FileNrSlack() : global_tolerance_;
  };
  // The sandboxes' last files and network namespaces are released asynchronously (RCU,
  // the netns cleanup work): when ruling, settle like a run does, polling until every
  // count is within its tolerance or the deadline passes, and rule on the last samples.
  const int64_t start = NowMicros();
  const int64_t deadline = start + (rule ? 5'000'000 : 50'000);
  std::vector<GlobalSample> after;
  std::vector<GlobalDrift> drifts;
  for (int64_t wait_us = 50'000;; wait_us = std::min<int64_t>(wait_us * 2, 500'000)) {
    usleep(static_cast<useconds_t>(wait_us));  // a signal ends it early (no SA_RESTART)
    after = SampleGlobalRepeatedly(3, 10, rule);
    drifts = CompareGlobal(global_before_, after);
    const bool within = std::all_of(drifts.begin(), drifts.end(), [&](const GlobalDrift& d) {
      return d.Drift() <= tolerance(d);
    });
    if (!rule || within || NowMicros() >= deadline || Interrupted()) break;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const GlobalDrift& d : drifts) {
    out.push_back({{"count", d.name},
                   {"before_max", d.before_max},
                   {"after_min", d.after_min},
                   {"drift", d.Drift()},
                   {"tolerance", tolerance(d)}});
    if (rule && d.Drift() > tolerance(d))
      report_.command_findings.push_back(fmt::format(
          "global counts: {} grew by {} over the command in every sample (tolerance {})", d.name,
          d.Drift(), tolerance(d)));
  }
  report_.extra["global_counts"] = {{"tolerance", global_tolerance_},
                                    {"ruled", rule},
                                    {"slabs_flushed", rule},
                                    {"settle_s", (NowMicros() - start) / 1e6},
                                    {"samples", global_before_.size()},
                                    {"drifts", out}};
}

int RunSession::Finish(bool print_table, bool findings_only) {
  if (Interrupted()) report_.interrupted = true;
  if (pool_) {
    if (report_.interrupted) {
      pool_->Stop();
    } else {
      pool_->Finish();
      // Each slot's uid must be able to pass as many descriptors as before its runs.
      nlohmann::json acc = nlohmann::json::array();
      for (const SlotAccounting& a : pool_->accounting()) {
        acc.push_back({{"uid", a.uid},
                       {"runs", a.runs},
                       {"baseline", a.baseline},
                       {"allowance", a.allowance}});
        if (a.allowance < a.baseline)
          report_.command_findings.push_back(fmt::format(
              "in-flight accounting: uid {:#x} can pass {} descriptors, {} fewer than before its "
              "last {} run(s): the kernel still counts them in flight",
              a.uid, a.allowance, a.baseline - a.allowance, a.runs));
      }
      report_.extra["accounting"] = acc;
      // An interrupt from here on still ends the command within a second: what the runs
      // found is kept, the command-wide checks that were not done are left out.
      if (!Interrupted()) RecordGlobalCounts();
      if (kmemleak_ && !Interrupted()) {
        if (!quiet_) LogInfo("kmemleak: scanning (about 6 s)");
        auto leaks = KmemleakScan(6000, [] { return Interrupted(); });
        if (!leaks) {
          report_.inactive_layers.push_back("kmemleak: scan failed: " + leaks.error().Text());
        } else {
          report_.extra["kmemleak"] = *leaks;
          for (const std::string& block : *leaks)
            report_.command_findings.push_back("kmemleak: " + block.substr(0, block.find('\n')));
        }
      }
    }
  }
  if (Interrupted()) report_.interrupted = true;
  report_.duration_s = (NowMicros() - start_us_) / 1e6;
  const Status written = WriteReport(dir_, report_, formats_);
  if (formats_.ktap_stdout) EmitKtap(ReportToKtap(report_));
  if (!written) {
    LogError("cannot write the report: {}", written.error().Text());
    return kExitInternal;
  }
  if (print_table && !report_.runs.empty()) fmt::print("{}", SummaryTable(report_, findings_only));
  // Findings grouped by signature (one bug, one group): how often, in which scenarios,
  // and one example in full. Runs that are neither clean nor a finding (unsettled, our
  // errors) by scenario.
  std::map<std::string, std::map<RunMode, size_t>> runs_per_mode;
  for (const RunRecord& r : report_.runs) ++runs_per_mode[r.scenario][r.mode];
  const std::vector<DistinctFinding> distinct = DistinctFindings(report_);
  size_t finding_runs = 0;
  for (const RunRecord& r : report_.runs) finding_runs += IsFinding(r.verdict.kind);
  for (const DistinctFinding& d : distinct) {
    if (d.runs.empty()) continue;  // a command's finding: its line is below
    std::map<std::string, size_t> per_scenario;
    for (const RunRecord* r : d.runs) ++per_scenario[r->scenario];
    std::string where;
    size_t shown = 0;
    for (const auto& [scenario, n] : per_scenario) {
      if (++shown > 4) {
        where += fmt::format(", and {} more", per_scenario.size() - 4);
        break;
      }
      size_t of = 0;
      for (const auto& [mode, k] : runs_per_mode[scenario]) of += k;
      where += fmt::format("{}{} {}/{}", where.empty() ? "" : ", ", scenario, n, of);
    }
    const RunRecord& ex = *d.runs.front();
    fmt::print("{}: {} run(s) in {} scenario(s): {}\n    e.g. {} {} seed {}: {}\n", d.signature,
               d.runs.size(), per_scenario.size(), where, ex.scenario, RunModeName(ex.mode),
               ex.seed, ex.verdict.summary);
    for (const Leftover& l : ex.verdict.leftovers)
      fmt::print("    leftover: {}{}{}{}\n", l.what,
                 l.object.empty() ? "" : fmt::format(" '{}'", l.object),
                 l.ino ? fmt::format(" ino {}", l.ino) : "", l.where.empty() ? "" : ", " + l.where);
    for (const std::string& f : ex.verdict.faults) fmt::print("    fault: {}\n", f);
    for (const std::string& k : ex.verdict.kernel_log) fmt::print("    kernel: {}\n", k);
  }
  std::map<std::pair<std::string, VerdictKind>, size_t> other;
  for (const RunRecord& r : report_.runs)
    if (r.verdict.kind != VerdictKind::kClean && !IsFinding(r.verdict.kind))
      ++other[{r.scenario, r.verdict.kind}];
  for (const auto& [key, n] : other)
    fmt::print("{}: {} ({} run(s))\n", VerdictName(key.second), key.first, n);
  for (const std::string& f : report_.command_findings) fmt::print("finding: {}\n", f);
  // With --known: what was expected, what no longer shows up, and what is new.
  const bool with_known = !report_.known.file.empty();
  const KnownSplit known = with_known ? SplitKnown(report_) : KnownSplit{};
  for (const DistinctFinding& d : known.expected)
    fmt::print("known: {} ({} run(s)){}\n", d.signature, std::max<size_t>(d.runs.size(), 1),
               report_.known.comment.at(d.signature).empty()
                   ? ""
                   : "  # " + report_.known.comment.at(d.signature));
  auto comment = [&](const std::string& sig) {
    const std::string& c = report_.known.comment.at(sig);
    return c.empty() ? std::string() : "  # " + c;
  };
  for (const std::string& sig : known.not_seen)
    fmt::print("known, no longer seen: {}{}\n", sig, comment(sig));
  for (const std::string& sig : known.not_reached)
    fmt::print("known, not reached (interrupted): {}{}\n", sig, comment(sig));
  for (const DistinctFinding& d : known.fresh)
    fmt::print("new (not in {}): {}\n", report_.known.file, d.signature);
  const auto counts = report_.Counts();
  const size_t findings = report_.Findings();
  const VerdictKind worst = report_.Worst();
  // Known findings alone do not fail the command (--known).
  const bool only_known = with_known && findings && known.fresh.empty();
  std::string verdict = report_.interrupted            ? "INTERRUPTED"
                        : worst == VerdictKind::kError ? "ERROR"
                        : only_known                   ? "KNOWN FINDINGS ONLY"
                        : findings                     ? "FINDINGS"
                                                       : "CLEAN";
  std::string known_text;
  if (with_known)
    known_text = fmt::format(" ({} known: {} runs; {} new; {} known {})", known.expected.size(),
                             known.expected_runs, known.fresh.size(),
                             report_.interrupted ? known.not_reached.size() : known.not_seen.size(),
                             report_.interrupted ? "not reached" : "not seen");
  std::string also;
  for (const auto& [on, name] :
       {std::pair{formats_.junit, "junit.xml"}, std::pair{formats_.ktap, "report.ktap"},
        std::pair{formats_.html, "report.html"}})
    if (on) also += fmt::format("{}{}", also.empty() ? " (also " : ", ", name);
  if (formats_.ktap_stdout) also += fmt::format("{}KTAP on stdout", also.empty() ? " (also " : ", ");
  if (!also.empty()) also += ")";
  const size_t unsettled = counts.at("unsettled");
  fmt::print(
      "inflight {}: {}: {} runs, {} distinct finding(s) ({} runs){}, {} error(s){} on Linux {} "
      "in {:.2f} s; report: {}/report.json{}\n",
      report_.command, verdict, report_.runs.size(), distinct.size(), finding_runs, known_text,
      counts.at("error"),
      unsettled ? fmt::format(", {} unsettled (not proven either way)", unsettled) : "",
      report_.sandbox.kernel, report_.duration_s, dir_, also);
  fflush(stdout);
  if (report_.interrupted) return kExitInterrupted;
  if (findings && !only_known) return kExitFinding;  // errors are listed, a finding acts
  return worst == VerdictKind::kError ? kExitInternal : kExitClean;
}

}  // namespace inflight
