// Signatures and the comparison of two reports.
#include "reports/compare.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace inflight {

namespace {

std::string Join(std::set<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ",";
    out += p;
  }
  return out;
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

void Tally(const nlohmann::json& report, std::map<std::string, SignatureStats>& out,
           std::vector<std::string>* errors) {
  std::map<std::string, size_t> runs_per_scenario;
  for (const auto& run : report.value("runs", nlohmann::json::array()))
    ++runs_per_scenario[run.value("scenario", "")];
  for (const auto& run : report.value("runs", nlohmann::json::array())) {
    const std::string verdict = run.value("verdict", "");
    if (verdict == "clean") continue;
    if (verdict == "error") {
      if (errors) errors->push_back(run.value("scenario", "") + ": " + run.value("summary", ""));
      continue;
    }
    SignatureStats& s = out[FindingSignature(run)];
    ++s.hits;
    s.runs = runs_per_scenario[run.value("scenario", "")];
  }  // Findings of the whole command (global counts, kmemleak, in-flight accounting): one
  // "run" each, named by what they are about, not by how much ("global counts: filp").
  for (const auto& f : report.value("command_findings", nlohmann::json::array())) {
    if (!f.is_string()) continue;
    std::string text = f.get<std::string>();
    if (auto at = text.find(" grew by "); at != std::string::npos) text.resize(at);
    text = NumbersAsN(text);
    SignatureStats& s = out["command|" + text];
    s.hits = 1;
    s.runs = 1;
  }
}

}  // namespace

std::string FindingSignature(const nlohmann::json& run) {
  std::set<std::string> kinds;
  for (const auto& l : run.value("leftovers", nlohmann::json::array()))
    kinds.insert(l.value("what", ""));
  return fmt::format("{}|{}|{}", run.value("verdict", ""), run.value("scenario", ""),
                     Join(kinds));
}

std::string FindingSignature(const RunRecord& run) {
  return FindingSignature(RunRecordToJson(run, false));
}

Comparison CompareReports(const nlohmann::json& a, const nlohmann::json& b,
                          double rate_tolerance) {
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
  return c;
}

std::string DescribeComparison(const Comparison& c) {
  std::string out;
  auto rate = [](const SignatureStats& s) {
    return fmt::format("{}/{} runs ({:.0f}%)", s.hits, s.runs, 100 * s.Rate());
  };
  for (const auto& sig : c.introduced) out += fmt::format("new:   {}  {}\n", sig, rate(c.b.at(sig)));
  for (const auto& sig : c.worse)
    out += fmt::format("worse: {}  {} -> {}\n", sig, rate(c.a.at(sig)), rate(c.b.at(sig)));
  for (const auto& sig : c.better)
    out += fmt::format("better: {}  {} -> {}\n", sig, rate(c.a.at(sig)), rate(c.b.at(sig)));
  for (const auto& sig : c.fixed) out += fmt::format("gone:  {}  was {}\n", sig, rate(c.a.at(sig)));
  for (const auto& e : c.errors) out += fmt::format("error: {}\n", e);
  if (out.empty()) out = "no difference in findings\n";
  return out;
}

}  // namespace inflight
