// The KTAP writer.
#include "reports/ktap.h"

#include "reports/compare.h"

#include <fmt/core.h>

#include "base/version.h"

namespace inflight {

namespace {

// One line of free text: no newlines, and no '#' (which would start a directive).
std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t')
      out += ' ';
    else if (c == '#')
      out += "No.";
    else if (static_cast<unsigned char>(c) >= 0x20)
      out += c;
  }
  return out;
}

void Diagnostic(std::string& out, std::string_view text) {
  out += "# ";
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += '\n';
}

}  // namespace

std::string ReportToKtap(const Report& report) {
  const std::vector<DistinctFinding> beside = FindingsBesideRuns(report);
  std::string out = "TAP version 13\n";
  out += fmt::format("1..{}\n", report.runs.size() + beside.size());
  Diagnostic(out,
             fmt::format("inflight {}: {} run(s) on Linux {}, census {}, inflight {}", report.command,
                         report.runs.size(), report.sandbox.kernel, report.sandbox.census_method,
                         InflightVersionLine()));
  if (report.interrupted) Diagnostic(out, "interrupted: only the runs that finished are listed");
  size_t pass = 0, fail = 0, xfail = 0, error = 0, skip = 0, n = 0;
  for (const RunRecord& r : report.runs) {
    ++n;
    const std::string desc =
        OneLine(fmt::format("{} {} seed={}", r.scenario, RunModeName(r.mode), r.seed));
    const std::optional<Expectation>& planned = r.expected;
    if (r.verdict.kind == VerdictKind::kClean && (!planned || planned->met)) {
      ++pass;
      if (planned && !planned->note.empty()) Diagnostic(out, "as planned: " + planned->note);
      out += fmt::format("ok {} {}\n", n, desc);
      continue;
    }
    if (r.verdict.kind == VerdictKind::kError) {
      ++error;
      if (planned)
        Diagnostic(out,
                   fmt::format("planned {}: {}", VerdictName(planned->verdict), planned->note));
      out += fmt::format("not ok {} {} # ERROR {}\n", n, desc, OneLine(r.verdict.summary));
      continue;
    }
    if (r.verdict.kind == VerdictKind::kUnsettled && !planned) {
      // Neither pass nor fail: the oracle could not prove it either way.
      ++skip;
      out += fmt::format("ok {} {} # SKIP {}\n", n, desc, OneLine(r.verdict.summary));
      continue;
    }
    Diagnostic(out, fmt::format("{}: {}", VerdictName(r.verdict.kind), r.verdict.summary));
    for (const Leftover& l : r.verdict.leftovers)
      Diagnostic(out, fmt::format("leftover: {}{}{}{}", l.what,
                                  l.object.empty() ? "" : " '" + l.object + "'",
                                  l.ino ? fmt::format(" ino {}", l.ino) : "",
                                  l.where.empty() ? "" : ", " + l.where));
    for (const std::string& f : r.verdict.faults) Diagnostic(out, "fault: " + f);
    for (const std::string& l : r.verdict.losses) Diagnostic(out, "loss: " + l);
    if (planned && planned->met) {
      // A finding the command planted and the oracle named: kselftest's expected failure.
      ++xfail;
      out += fmt::format("ok {} {} # XFAIL {}\n", n, desc, OneLine(planned->note));
      continue;
    }
    if (!planned && KnownFinding(report, r)) {
      // Known to this kernel (--known): kselftest's expected failure.
      ++xfail;
      const std::string sig = RecordSignatures(r).front();
      const std::string& why = report.known.comment.at(sig);
      out += fmt::format("ok {} {} # XFAIL known: {}{}\n", n, desc, sig,
                         why.empty() ? "" : " (" + OneLine(why) + ")");
      continue;
    }
    ++fail;
    if (planned)
      Diagnostic(out, fmt::format("planned {}, not met: {}", VerdictName(planned->verdict),
                                  planned->note));
    Diagnostic(out, "replay: " + ReplayCommand(report, r));
    if (r.verdict.kind == VerdictKind::kHang)
      out += fmt::format("not ok {} {} # TIMEOUT {}\n", n, desc, OneLine(r.verdict.summary));
    else
      out += fmt::format("not ok {} {}\n", n, desc);
  }
  // Then the findings no run carries (the command's checks, a fuzzer's finds), one test
  // each, so that a consumer of KTAP alone sees every finding the exit status counts.
  for (const DistinctFinding& f : beside) {
    ++n;
    const std::string desc = OneLine("finding " + f.signature);
    Diagnostic(out, f.example);
    if (report.known.Has(f.signature)) {
      ++xfail;
      const std::string& why = report.known.comment.at(f.signature);
      out += fmt::format("ok {} {} # XFAIL known: {}{}\n", n, desc, OneLine(f.signature),
                         why.empty() ? "" : " (" + OneLine(why) + ")");
      continue;
    }
    ++fail;
    out += fmt::format("not ok {} {}\n", n, desc);
  }
  out += fmt::format("# Totals: pass:{} fail:{} xfail:{} xpass:0 skip:{} error:{}\n", pass, fail,
                     xfail, skip, error);
  // The spec's way to say the run stopped before its end: the last line.
  if (report.interrupted) out += "Bail out! interrupted\n";
  return out;
}

}  // namespace inflight
