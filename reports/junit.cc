// The JUnit writer.
#include "reports/junit.h"

#include "reports/compare.h"

#include <fmt/core.h>

#include <map>

#include "reports/escape.h"

namespace inflight {

namespace {

double RunSeconds(const RunRecord& r) {
  return (r.result.exec_us + r.result.settle_us) / 1e6;
}

std::string Details(const Report& report, const RunRecord& r) {
  std::string out = r.verdict.summary + "\n";
  for (const Leftover& l : r.verdict.leftovers) {
    out += fmt::format("leftover: {}{}{}", l.what, l.object.empty() ? "" : " '" + l.object + "'",
                       l.ino ? fmt::format(" ino {}", l.ino) : "");
    if (!l.where.empty()) out += ", " + l.where;
    if (!l.detail.empty()) out += " (" + l.detail + ")";
    out += "\n";
  }
  for (const std::string& f : r.verdict.faults) out += "fault: " + f + "\n";
  for (const std::string& l : r.verdict.losses) out += "loss: " + l + "\n";
  if (!r.result.error.empty() && r.verdict.kind != VerdictKind::kError)
    out += "error: " + r.result.error + "\n";
  out += "replay: " + ReplayCommand(report, r) + "\n";
  return out;
}

// A run ruled error is an <error>; one that does not pass (RunPassed) a <failure>.
bool IsError(const RunRecord& r) {
  return r.verdict.kind == VerdictKind::kError;
}
// An unsettled run was decided neither way: <skipped>.
// So is a finding known to this kernel (--known): expected, not a failure.
bool IsSkipped(const Report& report, const RunRecord& r) {
  return (r.verdict.kind == VerdictKind::kUnsettled && !r.expected) || KnownFinding(report, r);
}
bool IsFailure(const Report& report, const RunRecord& r) {
  return !IsError(r) && !IsSkipped(report, r) && !RunPassed(r);
}

std::string TestCase(const Report& report, const RunRecord& r) {
  std::string out =
      fmt::format("    <testcase classname=\"inflight.{}.{}\" name=\"{}\" time=\"{:.6f}\"",
                  XmlEscape(report.command), XmlEscape(r.scenario),
                  XmlEscape(fmt::format("{} {} seed={}", r.scenario, RunModeName(r.mode), r.seed)),
                  RunSeconds(r));
  if (RunPassed(r)) {
    // A planned run that went as planned passes; it says what was checked.
    if (!r.expected) return out + "/>\n";
    return out + fmt::format(">\n      <system-out>{}</system-out>\n    </testcase>\n",
                             XmlEscape(fmt::format("ruled {} as planned: {}\n{}",
                                                   VerdictName(r.verdict.kind), r.expected->note,
                                                   Details(report, r))));
  }
  out += ">\n";
  if (IsSkipped(report, r)) {
    const std::string why = KnownFinding(report, r)
                                ? "known finding (" + report.known.file + "): " + r.verdict.summary
                                : r.verdict.summary;
    out += fmt::format("      <skipped message=\"{}\">{}</skipped>\n", XmlEscape(why),
                       XmlEscape(Details(report, r)));
    return out + "    </testcase>\n";
  }
  const char* tag = IsError(r) ? "error" : "failure";
  std::string type = VerdictName(r.verdict.kind);
  std::string message = r.verdict.summary;
  std::string details = Details(report, r);
  if (r.expected && !IsError(r)) {
    type = fmt::format("planned-{}", VerdictName(r.expected->verdict));
    message = fmt::format("planned {}, ruled {}: {}", VerdictName(r.expected->verdict),
                          VerdictName(r.verdict.kind), r.expected->note);
  }
  out += fmt::format("      <{} type=\"{}\" message=\"{}\">{}</{}>\n", tag, type,
                     XmlEscape(message), XmlEscape(details), tag);
  out += "    </testcase>\n";
  return out;
}

}  // namespace

std::string ReportToJUnit(const Report& report) {
  // Suites in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunRecord*>> suites;
  for (const RunRecord& r : report.runs) {
    auto& v = suites[r.scenario];
    if (v.empty()) order.push_back(r.scenario);
    v.push_back(&r);
  }
  size_t failures = 0, errors = 0, skipped = 0;
  for (const RunRecord& r : report.runs) {
    errors += IsError(r);
    failures += IsFailure(report, r);
    skipped += IsSkipped(report, r);
  }
  // The findings no run carries (the command's checks, a fuzzer's finds): a suite of their
  // own, one test each, so that a consumer of JUnit alone sees every finding.
  const std::vector<DistinctFinding> beside = FindingsBesideRuns(report);
  size_t beside_known = 0;
  for (const DistinctFinding& f : beside) beside_known += report.known.Has(f.signature);
  failures += beside.size() - beside_known;
  skipped += beside_known;
  std::string timestamp = report.started_at;
  if (!timestamp.empty() && timestamp.back() == 'Z') timestamp.pop_back();  // UTC, see below

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"inflight {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" "
      "skipped=\"{}\" time=\"{:.3f}\">\n",
      XmlEscape(report.command), report.runs.size() + beside.size(), failures, errors, skipped,
      report.duration_s);
  for (const std::string& name : order) {
    const auto& runs = suites[name];
    size_t f = 0, e = 0, sk = 0;
    double t = 0;
    for (const RunRecord* r : runs) {
      e += IsError(*r);
      f += IsFailure(report, *r);
      sk += IsSkipped(report, *r);
      t += RunSeconds(*r);
    }
    out += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
        "time=\"{:.6f}\" timestamp=\"{}\">\n",
        XmlEscape(name), runs.size(), f, e, sk, t, XmlEscape(timestamp));
    out += "    <properties>\n";
    auto prop = [&](const std::string& k, const std::string& v) {
      out +=
          fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", XmlEscape(k), XmlEscape(v));
    };
    prop("file", runs.front()->file);
    prop("kernel", report.sandbox.kernel);
    prop("census_method", report.sandbox.census_method);
    prop("timestamp_zone", "UTC");
    if (report.interrupted) prop("interrupted", "true");
    out += "    </properties>\n";
    for (const RunRecord* r : runs) out += TestCase(report, *r);
    out += "  </testsuite>\n";
  }
  if (!beside.empty()) {
    out += fmt::format(
        "  <testsuite name=\"findings\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "skipped=\"{}\" time=\"0\" timestamp=\"{}\">\n",
        beside.size(), beside.size() - beside_known, beside_known, XmlEscape(timestamp));
    for (const DistinctFinding& f : beside) {
      out += fmt::format(
          "    <testcase classname=\"inflight.{}.findings\" name=\"{}\" time=\"0\">\n",
          XmlEscape(report.command), XmlEscape("finding " + f.signature));
      if (report.known.Has(f.signature))
        out += fmt::format("      <skipped message=\"{}\">{}</skipped>\n",
                           XmlEscape("known finding (" + report.known.file + "): " + f.signature),
                           XmlEscape(f.example));
      else
        out += fmt::format("      <failure type=\"finding\" message=\"{}\">{}</failure>\n",
                           XmlEscape(f.signature), XmlEscape(f.example));
      out += "    </testcase>\n";
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace inflight
