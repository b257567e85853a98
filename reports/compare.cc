// Signatures, the comparison of two reports, and what makes B incomplete.
#include "reports/compare.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "base/exit_codes.h"
#include "reports/finding_signature.h"

namespace inflight {

namespace {

// How many incomplete scenarios DescribeComparison lists before it says how many more.
constexpr size_t kIncompleteLinesShown = 20;

std::string Join(const std::set<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ",";
    out += p;
  }
  return out;
}

// Readers that do not throw on a report of the wrong shape: a missing or mistyped field
// reads as empty.
const nlohmann::json& ArrayAt(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Bool(const nlohmann::json& j, const char* key, bool otherwise) {
  if (!j.is_object()) return otherwise;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : otherwise;
}

int Int(const nlohmann::json& j, const char* key, int otherwise) {
  if (!j.is_object()) return otherwise;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : otherwise;
}

const nlohmann::json* Section(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

// "uid 0x2000abcd can pass 12" -> "uid N can pass N": what a finding is about, not how
// much or where.
std::string NumbersAsN(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (!isdigit(static_cast<unsigned char>(in[i]))) {
      out += in[i++];
      continue;
    }
    if (in.compare(i, 2, "0x") == 0) i += 2;
    while (i < in.size() && isxdigit(static_cast<unsigned char>(in[i]))) ++i;
    out += 'N';
  }
  return out;
}

// A command finding's signature: what it is about, not how much or for which uid:
// "command|global counts: files", "command|in-flight accounting".
std::string CommandSignature(std::string text) {
  if (auto cut = text.find(" grew by "); cut != std::string::npos) text.resize(cut);
  if (text.rfind("in-flight accounting:", 0) == 0) text = "in-flight accounting";
  return "command|" + NumbersAsN(text);
}

enum class Decision : uint8_t { kClean, kFinding, kError, kUndecided };

// A verdict this build does not know (or one that is neither clean, a finding nor ours,
// such as `unsettled`) decides nothing.
Decision Decide(const std::string& verdict) {
  const auto kind = VerdictFromName(verdict);
  if (!kind) return Decision::kUndecided;
  if (*kind == VerdictKind::kClean) return Decision::kClean;
  if (*kind == VerdictKind::kError) return Decision::kError;
  return IsFinding(*kind) ? Decision::kFinding : Decision::kUndecided;
}

bool IsKernelRecord(const std::string& scenario) {
  return scenario.rfind(kKernelRecordPrefix, 0) == 0;
}

// The fuzzer's findings, in `inflight fuzz`'s section and in check's fuzz smoke.
std::vector<std::string> FuzzSignatures(const nlohmann::json& report) {
  std::vector<std::string> out;
  if (const nlohmann::json* fuzz = Section(report, "fuzz"))
    for (const auto& f : ArrayAt(*fuzz, "findings"))
      if (std::string sig = Str(f, "signature"); !sig.empty()) out.push_back(std::move(sig));
  if (const nlohmann::json* smoke = Section(report, "fuzz_smoke"))
    for (const auto& s : ArrayAt(*smoke, "signatures"))
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

void Tally(const nlohmann::json& report, std::map<std::string, SignatureStats>& out,
           std::vector<std::string>* errors) {
  std::map<std::string, size_t> runs_per_scenario;
  std::map<std::string, std::set<std::string>> scenarios;  // signature -> scenarios
  for (const auto& run : ArrayAt(report, "runs")) ++runs_per_scenario[Str(run, "scenario")];
  for (const auto& run : ArrayAt(report, "runs")) {
    switch (Decide(Str(run, "verdict"))) {
      case Decision::kClean:
      case Decision::kUndecided:  // not a finding; coverage rules on it
        continue;
      case Decision::kError:
        if (errors) errors->push_back(Str(run, "scenario") + ": " + Str(run, "summary"));
        continue;
      case Decision::kFinding:
        break;
    }
    for (const std::string& sig : FindingSignatures(run)) {
      SignatureStats& s = out[sig];
      ++s.hits;
      // Runs of every scenario that showed this signature: one bug in many scenarios is
      // one finding, at the rate it has over all of them.
      const std::string scenario = Str(run, "scenario");
      if (scenarios[sig].insert(scenario).second) s.runs += runs_per_scenario[scenario];
    }
  }
  // Findings of the whole command (global counts, kmemleak, in-flight accounting): one
  // "run" each, named by what they are about, not by how much ("global counts: filp").
  for (const auto& f : ArrayAt(report, "command_findings")) {
    if (!f.is_string()) continue;
    const std::string text = f.get<std::string>();
    if (text.rfind(kFuzzSmokeFindingPrefix, 0) == 0) continue;  // by signature, below
    SignatureStats& s = out[CommandSignature(text)];
    s.hits = 1;
    s.runs = 1;
  }
  for (const std::string& sig : FuzzSignatures(report)) {
    // The fuzzer names findings as the runs do (reports/finding_signature.h): a class
    // the runs also found is one finding; a class only the fuzzer found counts once.
    SignatureStats& s = out[sig];
    if (s.runs == 0) s.hits = s.runs = 1;
  }
}

// What a report covered: per scenario and mode, the runs that ran (a decided verdict, or
// an error of ours, which the errors list tells) and those without a decided verdict.
struct Covered {
  size_t ran = 0;
  size_t undecided = 0;
  std::set<std::string> undecided_verdicts;
};
using ScenarioMode = std::pair<std::string, std::string>;

std::map<ScenarioMode, Covered> Coverage(const nlohmann::json& report) {
  std::map<ScenarioMode, Covered> out;
  // A fuzz report's runs are re-runs of whatever that fuzzing found: not a plan to cover.
  if (Section(report, "fuzz")) return out;
  for (const auto& run : ArrayAt(report, "runs")) {
    const std::string scenario = Str(run, "scenario");
    if (IsKernelRecord(scenario)) continue;  // read in the console, not run
    Covered& c = out[{scenario, Str(run, "mode")}];
    const std::string verdict = Str(run, "verdict");
    if (Decide(verdict) == Decision::kUndecided) {
      ++c.undecided;
      c.undecided_verdicts.insert(verdict.empty() ? "none" : verdict);
    } else {
      ++c.ran;
    }
  }
  return out;
}

std::string Name(const ScenarioMode& sm) {
  return sm.second.empty() ? sm.first : fmt::format("{} ({})", sm.first, sm.second);
}

void CompareCoverage(const nlohmann::json& a, const nlohmann::json& b, const CompareLabels& l,
                     Comparison& c) {
  if (Bool(b, "interrupted", false))
    c.incomplete.push_back(fmt::format("{} was interrupted: {} run(s), {} has {}", l.b,
                                       ArrayAt(b, "runs").size(), l.a, ArrayAt(a, "runs").size()));
  const auto ca = Coverage(a);
  const auto cb = Coverage(b);
  size_t a_ran = 0;
  for (const auto& [_, x] : ca) a_ran += x.ran;
  if (a_ran > 0 && cb.empty()) {
    c.incomplete.push_back(fmt::format("{} has no runs ({} has {})", l.b, l.a, a_ran));
    return;
  }
  for (const auto& [sm, x] : ca) {
    if (x.ran == 0) continue;  // A decided nothing here either
    auto it = cb.find(sm);
    if (it == cb.end()) {
      c.incomplete.push_back(
          fmt::format("{} lacks {}: {} ran it {} time(s)", l.b, Name(sm), l.a, x.ran));
      continue;
    }
    const Covered& y = it->second;
    if (y.undecided > 0 && x.undecided == 0)
      c.incomplete.push_back(fmt::format(
          "{} has {} of {} run(s) of {} without a decided verdict ({}); {} decided all {}", l.b,
          y.undecided, y.ran + y.undecided, Name(sm), Join(y.undecided_verdicts), l.a, x.ran));
    else if (static_cast<double>(y.ran) < static_cast<double>(x.ran) * kMinRunShare)
      c.incomplete.push_back(
          fmt::format("{} ran {} {} time(s), {} {}", l.b, Name(sm), y.ran, l.a, x.ran));
  }
}

std::string EndWords(const std::string& end) {
  if (end == "no-boot") return "did not boot";
  if (end == "guest-crashed") return "went down";
  if (end == "guest-hang") return "fell silent";
  if (end == "timeout") return "timed out";
  return "ended " + (end.empty() ? std::string("without saying how") : end);
}

// Reports of `inflight vm` say how the VM ended and how the suite inside exited: a B that
// ended worse than A is worse whatever its runs say (a finding that did not reach the
// report, a guest that never finished), and one whose report did not come back is
// incomplete.
void CompareVmEnds(const nlohmann::json& a, const nlohmann::json& b, const CompareLabels& l,
                   Comparison& c) {
  const nlohmann::json* vb = Section(b, "vm");
  if (!vb) return;
  const nlohmann::json* va = Section(a, "vm");
  const std::string end_b = Str(*vb, "end");
  const bool a_completed = !va || Str(*va, "end") == "completed";
  if (end_b == "interrupted") return;  // `interrupted: true` says so
  if (end_b != "completed") {
    const std::string why = fmt::format("{}'s VM {}: {}", l.b, EndWords(end_b), Str(*vb, "why"));
    (a_completed ? c.ended_worse : c.incomplete).push_back(why);
    return;
  }
  const int gb = Int(*vb, "guest_exit_status", -1);
  if (!Bool(*vb, "complete", true))
    c.incomplete.push_back(
        fmt::format("{}'s report did not come back from its VM (its suite exited {})", l.b, gb));
  if (gb == kExitInterrupted && !Bool(b, "interrupted", false))
    c.incomplete.push_back(fmt::format("{}'s suite was interrupted (exit status 130)", l.b));
  if (gb != kExitClean && gb != kExitFinding && gb != kExitUsage && gb != kExitEnvironment &&
      gb != kExitInterrupted)
    c.errors.push_back(fmt::format("{}'s suite exited {} (a bug of inflight)", l.b, gb));
  if (!va || Str(*va, "end") != "completed") return;
  const int ga = Int(*va, "guest_exit_status", -1);
  if (gb == kExitFinding && ga != kExitFinding)
    c.ended_worse.push_back(
        fmt::format("{}'s suite exited 1 (a finding) where {}'s exited {}", l.b, l.a, ga));
  const auto cannot_run = [](int s) { return s == kExitUsage || s == kExitEnvironment; };
  if (cannot_run(gb) && !cannot_run(ga))
    c.ended_worse.push_back(fmt::format(
        "{}'s suite could not run (exit status {}) where {}'s exited {}", l.b, gb, l.a, ga));
}

}  // namespace

std::string FindingSignature(const nlohmann::json& run) {
  if (std::string sig = Str(run, "signature"); !sig.empty()) return sig;
  // A record of an older build: verdict, scenario and kinds.
  std::set<std::string> kinds;
  for (const auto& l : ArrayAt(run, "leftovers")) kinds.insert(Str(l, "what"));
  return fmt::format("{}|{}|{}", Str(run, "verdict"), Str(run, "scenario"), Join(kinds));
}

std::string FindingSignature(const RunRecord& run) {
  if (auto it = run.extra.find("signature"); it != run.extra.end() && it->is_string())
    return it->get<std::string>();
  if (std::string sig = RunSignature(run); !sig.empty()) return sig;
  return FindingSignature(RunRecordToJson(run, false));
}

std::vector<std::string> FindingSignatures(const nlohmann::json& run) {
  std::vector<std::string> named;
  for (const auto& sig : ArrayAt(run, "signatures"))
    if (sig.is_string()) named.push_back(sig.get<std::string>());
  if (!named.empty()) return named;
  if (!Str(run, "signature").empty()) return {Str(run, "signature")};
  std::set<std::string> names;
  if (run.is_object() && run.contains("stressor"))
    for (const auto& l : ArrayAt(run, "leftovers")) {
      const std::string label = Str(l, "object");
      names.insert(label.empty() ? Str(l, "what") : label);
    }
  if (names.empty()) return {FindingSignature(run)};
  std::vector<std::string> out;
  for (const std::string& n : names)
    out.push_back(fmt::format("{}|{}|{}", Str(run, "verdict"), Str(run, "scenario"), n));
  return out;
}

Comparison CompareReports(const nlohmann::json& a, const nlohmann::json& b, double rate_tolerance,
                          const CompareLabels& labels) {
  Comparison c;
  Tally(a, c.a, nullptr);
  Tally(b, c.b, &c.errors);
  for (const auto& [sig, sb] : c.b) {
    auto it = c.a.find(sig);
    if (it == c.a.end())
      c.introduced.push_back(sig);
    else if (sb.Rate() > it->second.Rate() + rate_tolerance)
      c.worse.push_back(sig);
    else if (sb.Rate() + rate_tolerance < it->second.Rate())
      c.better.push_back(sig);
  }
  for (const auto& [sig, sa] : c.a)
    if (!c.b.count(sig)) c.fixed.push_back(sig);
  CompareVmEnds(a, b, labels, c);
  CompareCoverage(a, b, labels, c);
  return c;
}

std::string DescribeComparison(const Comparison& c) {
  std::string out;
  auto rate = [](const SignatureStats& s) {
    return fmt::format("{}/{} runs ({:.0f}%)", s.hits, s.runs, 100 * s.Rate());
  };
  for (const auto& sig : c.introduced)
    out += fmt::format("new:   {}  {}\n", sig, rate(c.b.at(sig)));
  for (const auto& sig : c.worse)
    out += fmt::format("worse: {}  {} -> {}\n", sig, rate(c.a.at(sig)), rate(c.b.at(sig)));
  for (const auto& sig : c.better)
    out += fmt::format("better: {}  {} -> {}\n", sig, rate(c.a.at(sig)), rate(c.b.at(sig)));
  for (const auto& sig : c.fixed) out += fmt::format("gone:  {}  was {}\n", sig, rate(c.a.at(sig)));
  for (const auto& e : c.ended_worse) out += fmt::format("ended worse: {}\n", e);
  for (size_t i = 0; i < c.incomplete.size() && i < kIncompleteLinesShown; ++i)
    out += fmt::format("incomplete: {}\n", c.incomplete[i]);
  if (c.incomplete.size() > kIncompleteLinesShown)
    out +=
        fmt::format("incomplete: ... and {} more\n", c.incomplete.size() - kIncompleteLinesShown);
  for (const auto& e : c.errors) out += fmt::format("error: {}\n", e);
  if (out.empty()) out = "no difference in findings\n";
  return out;
}

bool ReportHasFindings(const nlohmann::json& report) {
  for (const auto& run : ArrayAt(report, "runs"))
    if (Decide(Str(run, "verdict")) == Decision::kFinding) return true;
  return !ArrayAt(report, "command_findings").empty() || !FuzzSignatures(report).empty();
}

std::vector<std::string> RecordSignatures(const RunRecord& run) {
  if (!IsFinding(run.verdict.kind)) return {};
  std::vector<std::string> out;
  if (auto it = run.extra.find("signatures"); it != run.extra.end() && it->is_array())
    for (const auto& sig : *it)
      if (sig.is_string()) out.push_back(sig.get<std::string>());
  if (out.empty()) out.push_back(FindingSignature(run));
  return out;
}

std::vector<DistinctFinding> DistinctFindings(const Report& report) {
  std::vector<DistinctFinding> out;
  std::map<std::string, size_t> at;
  auto add = [&](const std::string& sig, const std::string& example) -> DistinctFinding& {
    auto [it, fresh] = at.emplace(sig, out.size());
    if (fresh) out.push_back({sig, {}, example});
    return out[it->second];
  };
  for (const RunRecord& r : report.runs)
    for (const std::string& sig : RecordSignatures(r)) add(sig, r.verdict.summary).runs.push_back(&r);
  if (auto it = report.extra.find("fuzz_smoke"); it != report.extra.end() && it->is_object())
    for (const auto& sig : ArrayAt(*it, "signatures"))
      if (sig.is_string()) add(sig.get<std::string>(), "found by the fuzz smoke");
  if (auto it = report.extra.find("fuzz"); it != report.extra.end() && it->is_object())
    for (const auto& f : ArrayAt(*it, "findings"))
      if (std::string sig = Str(f, "signature"); !sig.empty()) add(sig, Str(f, "summary"));
  if (auto it = report.extra.find("fuzz"); it != report.extra.end() && it->is_object())
    for (const auto& f : ArrayAt(*it, "known_hits"))  // --known ones the workers only logged
      if (std::string sig = Str(f, "signature"); !sig.empty())
        add(sig, fmt::format("hit {} time(s) by the fuzzer (known)", f.value("hits", 0)));
  for (const std::string& f : report.command_findings) {
    if (f.rfind(kFuzzSmokeFindingPrefix, 0) == 0) continue;  // by its signature, above
    add(CommandSignature(f), f);
  }
  return out;
}

std::vector<DistinctFinding> FindingsBesideRuns(const Report& report) {
  std::vector<DistinctFinding> out;
  for (DistinctFinding& f : DistinctFindings(report))
    if (f.runs.empty()) out.push_back(std::move(f));
  return out;
}

bool KnownFinding(const Report& report, const RunRecord& run) {
  if (report.known.comment.empty() || !IsFinding(run.verdict.kind)) return false;
  for (const std::string& sig : RecordSignatures(run))
    if (!report.known.Has(sig)) return false;
  return true;
}

nlohmann::json ApplyKnown(const KnownFindings& known, const nlohmann::json& b, Comparison& cmp) {
  nlohmann::json moved = nlohmann::json::array();
  std::vector<std::string> keep;
  for (const std::string& sig : cmp.introduced)
    if (known.Has(sig))
      moved.push_back({{"signature", sig}, {"comment", known.comment.at(sig)}});
    else
      keep.push_back(sig);
  cmp.introduced = std::move(keep);
  bool all_known = true;
  for (const auto& run : b.value("runs", nlohmann::json::array()))
    if (const std::string v = run.value("verdict", "");
        v == "leak" || v == "hang" || v == "fault" || v == "loss")
      for (const std::string& sig : FindingSignatures(run)) all_known &= known.Has(sig);
  if (all_known) {
    keep.clear();
    for (const std::string& why : cmp.ended_worse)
      if (why.find("exited 1 (a finding)") == std::string::npos) keep.push_back(why);
    cmp.ended_worse = std::move(keep);
  }
  return moved;
}

KnownSplit SplitKnown(const Report& report) {
  KnownSplit k;
  std::set<std::string> seen;
  for (DistinctFinding& d : DistinctFindings(report)) {
    seen.insert(d.signature);
    const size_t runs = std::max<size_t>(d.runs.size(), 1);
    if (report.known.Has(d.signature)) {
      k.expected_runs += runs;
      k.expected.push_back(std::move(d));
    } else {
      k.fresh_runs += runs;
      k.fresh.push_back(std::move(d));
    }
  }
  for (const auto& [sig, _] : report.known.comment)
    if (!seen.count(sig)) (report.interrupted ? k.not_reached : k.not_seen).push_back(sig);
  return k;
}

nlohmann::json KnownSplitToJson(const Report& report, const KnownSplit& k) {
  auto list = [&](const std::vector<DistinctFinding>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const DistinctFinding& d : v) {
      nlohmann::json j = {{"signature", d.signature}, {"runs", d.runs.size()}};
      if (auto it = report.known.comment.find(d.signature); it != report.known.comment.end())
        j["comment"] = it->second;
      out.push_back(std::move(j));
    }
    return out;
  };
  auto signatures = [&](const std::vector<std::string>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& sig : v)
      out.push_back({{"signature", sig}, {"comment", report.known.comment.at(sig)}});
    return out;
  };
  return {{"file", report.known.file},   {"expected", list(k.expected)},
          {"new", list(k.fresh)},        {"not_seen", signatures(k.not_seen)},
          {"not_reached", signatures(k.not_reached)},
          {"expected_runs", k.expected_runs}, {"new_runs", k.fresh_runs}};
}

}  // namespace inflight
