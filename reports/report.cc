// JSON form of the report model.
#include "reports/report.h"

#include "reports/compare.h"
#include "reports/finding_signature.h"

#include <fmt/core.h>
#include <time.h>

#include "base/errno_names.h"
#include "base/version.h"

namespace inflight {

std::map<std::string, size_t> Report::Counts() const {
  std::map<std::string, size_t> c;
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    c[VerdictName(static_cast<VerdictKind>(k))] = 0;
  for (const RunRecord& r : runs) ++c[VerdictName(r.verdict.kind)];
  return c;
}

int VerdictSeverity(VerdictKind k) {
  switch (k) {
    case VerdictKind::kClean: return 0;
    case VerdictKind::kUnsettled: return 1;
    case VerdictKind::kFault: return 2;
    case VerdictKind::kLoss: return 3;
    case VerdictKind::kLeak: return 4;
    case VerdictKind::kHang: return 5;
    case VerdictKind::kError: return 6;
  }
  return 0;
}

VerdictKind Report::Worst() const {
  VerdictKind worst = VerdictKind::kClean;
  for (const RunRecord& r : runs)
    if (VerdictSeverity(r.verdict.kind) > VerdictSeverity(worst)) worst = r.verdict.kind;
  return worst;
}

namespace {

// `extra.fuzz.findings` of `inflight fuzz`: what the fuzzer found, whether or not a re-run
// reproduced it (a finding that did not is still one: the fuzzer's run ruled it).
const nlohmann::json* FuzzFindings(const nlohmann::json& extra) {
  auto it = extra.find("fuzz");
  if (it == extra.end() || !it->is_object()) return nullptr;
  auto f = it->find("findings");
  return f != it->end() && f->is_array() ? &*f : nullptr;
}

}  // namespace

size_t Report::Findings() const {
  size_t n = command_findings.size();
  for (const RunRecord& r : runs) n += IsFinding(r.verdict.kind) ? 1 : 0;
  if (const nlohmann::json* f = FuzzFindings(extra)) n += f->size();
  return n;
}

VerdictKind Report::Overall() const {
  const VerdictKind worst = Worst();
  if (worst == VerdictKind::kError || worst == VerdictKind::kHang) return worst;
  if (!command_findings.empty()) return VerdictKind::kLeak;
  if (worst != VerdictKind::kClean && worst != VerdictKind::kUnsettled) return worst;
  if (const nlohmann::json* f = FuzzFindings(extra); f && !f->empty()) {
    VerdictKind v = VerdictKind::kLeak;
    for (const auto& finding : *f) {
      const std::string name = finding.is_object() ? finding.value("verdict", "") : "";
      if (const auto k = VerdictFromName(name);
          k && VerdictSeverity(*k) > VerdictSeverity(VerdictKind::kClean))
        v = *k;
      break;  // the first finding's verdict names the report
    }
    return v;
  }
  return worst;
}

bool RunPassed(const RunRecord& r) {
  return r.expected ? r.expected->met : r.verdict.kind == VerdictKind::kClean;
}

namespace {

nlohmann::json CensusToJson(const Census& c) {
  nlohmann::json socks = nlohmann::json::array();
  for (const SocketInfo& s : c.sockets) {
    nlohmann::json j = {
        {"ino", s.ino},   {"type", s.type},     {"state", s.state},  {"listening", s.listening},
        {"peer", s.peer}, {"rqueue", s.rqueue}, {"wqueue", s.wqueue}};
    if (!s.name.empty()) j["name"] = s.name;
    if (s.peer_without_inode) j["peer_without_inode"] = true;
    if (!s.embryos.empty()) j["embryos"] = s.embryos;
    socks.push_back(std::move(j));
  }
  return {{"method", CensusMethodName(c.method)},
          {"proto_inuse", c.proto_inuse},
          {"anonymous", c.anonymous},
          {"sockets", std::move(socks)}};
}

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kCreated:
      return "created";
    case EventType::kSent:
      return "sent";
    case EventType::kReceived:
      return "received";
    case EventType::kSentVia:
      return "sent_via";
    case EventType::kRecvVia:
      return "recv_via";
    case EventType::kWitnessed:
      return "witnessed";
  }
  return "?";
}

}  // namespace

nlohmann::json RunRecordToJson(const RunRecord& r, bool full) {
  const RunResult& res = r.result;
  nlohmann::json leftovers = nlohmann::json::array();
  for (const Leftover& l : r.verdict.leftovers) {
    nlohmann::json j = {{"what", l.what},       {"ino", l.ino},
                        {"object", l.object},   {"created_by", l.created_by},
                        {"sent_by", l.sent_by}, {"where", l.where},
                        {"detail", l.detail}};
    leftovers.push_back(std::move(j));
  }
  nlohmann::json j = {
      {"scenario", r.scenario},
      {"file", r.file},
      {"seed", r.seed},
      {"mode", RunModeName(r.mode)},
      {"repeat", r.repeat},
      {"verdict", VerdictName(r.verdict.kind)},
      {"summary", r.verdict.summary},
      {"leftovers", std::move(leftovers)},
      {"faults", r.verdict.faults},
      {"losses", r.verdict.losses},
      {"kernel_log", r.verdict.kernel_log},
      {"status", RunStatusName(res.status)},
      {"settle", SettleResultName(res.settle)},
      {"timings_us", {{"exec", res.exec_us}, {"settle", res.settle_us}}},
      {"settle_polls", res.settle_polls},
      {"settle_passes", res.settle_passes},
  };
  if (!res.settle_why.empty()) j["settle_why"] = res.settle_why;
  if (res.settle_stalled) j["settle_stalled"] = true;
  if (!res.error.empty()) j["error"] = res.error;
  if (r.expected)
    j["expected"] = {{"verdict", VerdictName(r.expected->verdict)},
                     {"met", r.expected->met},
                     {"note", r.expected->note}};
  // The finding's signature (reports/finding_signature.h), unless the command named it
  // (a stress checkpoint's "signatures", one per leak class).
  if (IsFinding(r.verdict.kind) && !r.extra.contains("signature") &&
      !r.extra.contains("signatures"))
    j["signature"] = RunSignature(r);
  for (auto& [k, v] : r.extra.items()) j[k] = v;
  if (full) {
    nlohmann::json actions = nlohmann::json::array();
    for (const ActionOutcome& a : res.actions) {
      nlohmann::json aj = {{"status", ActionStatusName(a.status)}};
      if (a.status == ActionStatus::kFailed) aj["errno"] = ErrnoName(a.err);
      if (a.status == ActionStatus::kOk) aj["ret"] = a.ret;
      if (a.fds) aj["fds"] = a.fds;
      if (a.msg_flags) aj["msg_flags"] = a.msg_flags;
      if (a.installed >= 0) aj["installed"] = a.installed;
      actions.push_back(std::move(aj));
    }
    nlohmann::json procs = nlohmann::json::array();
    for (const ProcOutcome& p : res.procs)
      procs.push_back(
          {{"end", ProcEndName(p.end)}, {"wait_status", p.wait_status}, {"action", p.action}});
    j["actions"] = std::move(actions);
    j["processes"] = std::move(procs);
    j["baseline"] = CensusToJson(res.baseline);
    j["census"] = CensusToJson(res.census);
    nlohmann::json events = nlohmann::json::array();
    for (const ObjectEvent& e : res.events) {
      nlohmann::json ej = {{"action", e.action},
                           {"type", EventTypeName(e.type)},
                           {"index", e.index},
                           {"dev", e.dev},
                           {"ino", e.ino}};
      if (e.key != ObjectEvent::kUnknownKey) ej["key"] = e.key;
      events.push_back(std::move(ej));
    }
    j["events"] = std::move(events);
    j["alive_objects"] = res.alive_objects;
    j["tmpfs_inodes_excess"] = res.tmpfs_inodes_excess;
    j["uid"] = res.uid;
    j["accounting_deficit"] = res.accounting_deficit;
    if (res.events_truncated) j["events_truncated"] = true;
    if (!r.scenario_text.empty()) j["scenario_text"] = r.scenario_text;
  }
  return j;
}

nlohmann::json ReportToJson(const Report& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const RunRecord& rec : r.runs)
    runs.push_back(RunRecordToJson(rec, rec.full || rec.verdict.kind != VerdictKind::kClean));
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [k, n] : r.Counts()) counts[k] = n;
  nlohmann::json j = {
      {"schema", kReportSchema},
      {"inflight", {{"version", InflightVersion()}, {"commit", InflightCommit()}}},
      {"command", r.command},
      {"argv", r.argv},
      {"started_at", r.started_at},
      {"duration_s", r.duration_s},
      {"kernel", r.sandbox.kernel},
      {"census_method", r.sandbox.census_method},
      {"user_namespace", r.sandbox.user_namespace},
      {"layers", r.layers},
      {"inactive_layers", r.inactive_layers},
      {"interrupted", r.interrupted},
      {"verdict", VerdictName(r.Overall())},
      {"command_findings", r.command_findings},
      {"counts", std::move(counts)},
      {"runs", std::move(runs)},
  };
  for (auto& [k, v] : r.extra.items()) j[k] = v;
  // What was found, by signature; with --known, which of it was expected.
  const std::vector<DistinctFinding> distinct = DistinctFindings(r);
  j["distinct_findings"] = distinct.size();
  if (!r.known.file.empty()) {
    const KnownSplit k = SplitKnown(r);
    j["known"] = KnownSplitToJson(r, k);
    j["counts"]["known"] = k.expected_runs;
  }
  return j;
}

std::string ReplayCommand(const RunRecord& r) {
  return fmt::format("inflight run {} --seed {} --repeat 1 --mode {}", r.file, r.seed,
                     RunModeName(r.mode));
}

std::string ReplayCommand(const Report& report, const RunRecord& r) {
  std::string out = ReplayCommand(r);
  const auto& argv = report.argv;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--hold" && i + 1 < argv.size()) return out + " --hold " + argv[i + 1];
    if (argv[i].rfind("--hold=", 0) == 0) return out + " --hold " + argv[i].substr(7);
  }
  return out;
}

void AppendRunJson(nlohmann::json& report, const RunRecord& run) {
  if (!report.contains("runs") || !report["runs"].is_array())
    report["runs"] = nlohmann::json::array();
  report["runs"].push_back(RunRecordToJson(run, run.full));
  std::map<std::string, size_t> counts;
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    counts[VerdictName(static_cast<VerdictKind>(k))] = 0;
  VerdictKind worst = VerdictKind::kClean;
  for (const auto& r : report["runs"]) {
    const std::string v = r.value("verdict", "");
    const auto kind = VerdictFromName(v);
    if (!kind) continue;
    ++counts[v];
    if (VerdictSeverity(*kind) > VerdictSeverity(worst)) worst = *kind;
  }
  // Findings of the whole command (global counts, in-flight accounting) make it a leak at
  // least, as in ReportToJson.
  if (report.contains("command_findings") && report["command_findings"].is_array() &&
      !report["command_findings"].empty() &&
      VerdictSeverity(worst) < VerdictSeverity(VerdictKind::kLeak))
    worst = VerdictKind::kLeak;
  report["counts"] = counts;
  report["verdict"] = VerdictName(worst);
}

std::string UtcNow() {
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace inflight
