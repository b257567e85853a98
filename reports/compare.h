// Comparing two reports by finding signature: what B found that A did not, and how
// often each finding happened in each. The kernel gate (baseline vs candidate) and
// `inflight compare` rule on this.
//
// Works on the JSON form (schema inflight-report/1), so it compares reports written by
// any command, on this machine or inside a VM.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "reports/report.h"

namespace inflight {

// A finding's stable signature: verdict, scenario, and the kinds of what was left over
// (for a leak), e.g. "leak|mixed_lowpoint_stream|stream socket". Independent of seeds,
// inode numbers and timing, so the same bug on two kernels has the same signature.
std::string FindingSignature(const nlohmann::json& run);
std::string FindingSignature(const RunRecord& run);

struct SignatureStats {
  size_t hits = 0;   // runs with this finding
  size_t runs = 0;   // runs of the same scenario
  double Rate() const { return runs ? static_cast<double>(hits) / runs : 0.0; }
};

struct Comparison {
  std::map<std::string, SignatureStats> a, b;  // per signature
  std::vector<std::string> introduced;  // in B, not in A
  std::vector<std::string> fixed;       // in A, not in B
  std::vector<std::string> worse;       // in both, B's rate clearly higher
  std::vector<std::string> better;      // in both, B's rate clearly lower
  std::vector<std::string> errors;      // B has runs ruled `error` (its verdicts are incomplete)
  bool BIsWorse() const { return !introduced.empty() || !worse.empty(); }
};

// `rate_tolerance`: how much higher B's rate must be, beyond sampling noise, to count
// as worse (an absolute difference of rates).
Comparison CompareReports(const nlohmann::json& a, const nlohmann::json& b,
                          double rate_tolerance = 0.25);

// A readable account of a comparison, one line per change.
std::string DescribeComparison(const Comparison& c);

}  // namespace inflight
