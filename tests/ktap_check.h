// A checker for the KTAP subset the report writes (Documentation/dev-tools/ktap.rst):
// a version line, a plan "1..N", result lines "ok|not ok <n> <description>[ # <directive>
// ...]" numbered 1..N in order, description free of '#', directives from the spec's list,
// diagnostic lines "# ...", and an optional last line "Bail out! <reason>". Returns one line per problem; empty when the text is valid.
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace inflight::testing {

struct KtapSummary {
  size_t plan = 0, ok = 0, not_ok = 0, timeout = 0, error = 0;
  std::string bail_out;  // the reason of a "Bail out!" line, "" when none
  std::vector<std::string> descriptions;  // in order
  std::vector<bool> passed;
};

inline std::vector<std::string> CheckKtap(const std::string& text, KtapSummary* summary = nullptr) {
  std::vector<std::string> problems;
  KtapSummary s;
  std::istringstream in(text);
  std::string line;
  size_t lineno = 0, next = 1;
  bool plan_seen = false;
  const std::regex version(R"(^(KTAP version 1|TAP version 13|TAP version 14)$)");
  const std::regex plan(R"(^1\.\.([0-9]+)$)");
  const std::regex result(
      R"(^(ok|not ok) ([0-9]+)( [^#]*[^# ])?( # (SKIP|TODO|XFAIL|TIMEOUT|ERROR)( [^\n]*)?)?$)");
  const std::regex diagnostic(R"(^# .*$|^#$)");
  while (std::getline(in, line)) {
    ++lineno;
    auto bad = [&](const std::string& why) {
      problems.push_back("line " + std::to_string(lineno) + ": " + why + ": " + line);
    };
    std::smatch m;
    if (!s.bail_out.empty()) {
      bad("a line after \"Bail out!\"");
      continue;
    }
    if (lineno > 1 && line.rfind("Bail out!", 0) == 0) {
      s.bail_out = line.size() > 10 ? line.substr(10) : "(no reason)";
      continue;
    }
    if (lineno == 1) {
      if (!std::regex_match(line, version)) bad("the first line is not a version line");
      continue;
    }
    if (std::regex_match(line, m, plan)) {
      if (plan_seen) bad("a second plan");
      plan_seen = true;
      s.plan = std::stoul(m[1]);
      continue;
    }
    if (std::regex_match(line, m, result)) {
      if (!plan_seen) bad("a result before the plan");
      if (std::stoul(m[2]) != next) bad("results are not numbered 1, 2, ... in order");
      ++next;
      const bool ok = m[1] == "ok";
      ++(ok ? s.ok : s.not_ok);
      if (m[5] == "TIMEOUT") ++s.timeout;
      if (m[5] == "ERROR") ++s.error;
      s.descriptions.push_back(m[3].matched ? std::string(m[3]).substr(1) : "");
      s.passed.push_back(ok);
      continue;
    }
    if (std::regex_match(line, diagnostic)) continue;
    bad("neither version, plan, result nor diagnostic");
  }
  if (!plan_seen) problems.push_back("no plan line");
  if (plan_seen && s.plan != next - 1)
    problems.push_back("the plan says " + std::to_string(s.plan) + " tests, there are " +
                       std::to_string(next - 1));
  if (summary) *summary = s;
  return problems;
}

}  // namespace inflight::testing
