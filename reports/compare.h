// Comparing two reports by finding signature: what B found that A did not, and how
// often each finding happened in each; and whether B covers what A ran at all. The kernel
// gate (baseline vs candidate) and `inflight compare` rule on this, failing closed: a B
// that was interrupted, ran less, or whose VM ended worse never passes.
//
// Works on the JSON form (schema inflight-report/1), so it compares reports written by
// any command, on this machine or inside a VM.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/report.h"

namespace inflight {

// A finding's stable signature (reports/finding_signature.h): the record's "signature",
// what outlived the run classified on its reference graph, e.g. "leak|cycle(nested)|socket";
// a record of an older build without one gets "verdict|scenario|kinds". Independent of
// seeds, inode numbers, timing and the scenario, so one bug on two kernels, in many
// scenarios, stress shapes and fuzz inputs, has one signature. Stable names: fleet calls
// them.
std::string FindingSignature(const nlohmann::json& run);
std::string FindingSignature(const RunRecord& run);

// The signatures a run record is compared by: its "signatures" (a stress checkpoint has
// one per leak class its leftovers were logged under: an epoch leaks whatever shapes it
// happened to build, so the set of one epoch varies, the classes that leak do not), else
// its "signature"; for an older stress record one per distinct leftover label.
std::vector<std::string> FindingSignatures(const nlohmann::json& run);

// The signatures of a record in memory: its command's "signatures" (a stress
// checkpoint), else FindingSignature. Empty for a run that is not a finding.
std::vector<std::string> RecordSignatures(const RunRecord& run);

// A report's distinct findings: per signature the runs that showed it (runs, the fuzz
// smoke's or fuzzer's findings, and command findings, each its own), in first-seen order.
struct DistinctFinding {
  std::string signature;
  std::vector<const RunRecord*> runs;  // empty for a fuzzer's or a command's finding
  std::string example;                 // what to read first: a run's summary, the finding's text
};
std::vector<DistinctFinding> DistinctFindings(const Report& report);
// The distinct findings no run carries: the command's own (in-flight accounting, global
// counts, kmemleak) and a fuzzer's. KTAP and JUnit give each a test of its own, so that a
// consumer reading only them misses none.
std::vector<DistinctFinding> FindingsBesideRuns(const Report& report);

// A run ruled a finding whose every signature is known (Report::known): expected.
bool KnownFinding(const Report& report, const RunRecord& run);

// The known findings of a report against what it found: which signatures were seen (and
// how often), which known ones were not seen, and which findings are new. A known one an
// interrupted report did not see is "not reached", not "no longer seen": the runs that
// would have shown it may never have started.
struct KnownSplit {
  std::vector<DistinctFinding> expected;  // known, and seen
  std::vector<DistinctFinding> fresh;     // not known
  std::vector<std::string> not_seen;      // known, not seen in a complete report
  std::vector<std::string> not_reached;   // known, not seen before the report was interrupted
  size_t expected_runs = 0, fresh_runs = 0;
};
KnownSplit SplitKnown(const Report& report);
nlohmann::json KnownSplitToJson(const Report& report, const KnownSplit& k);

// Findings of a fuzzer (the `fuzz` section of `inflight fuzz`, `fuzz_smoke.signatures` of
// `check`) are compared by the same signatures as runs: a fuzz find of a class the runs
// found too is the same finding. (The prefix below named them apart before; kept for
// readers of old reports.)
inline constexpr const char* kFuzzSignaturePrefix = "fuzz|";
// check's command_findings lines for its fuzz smoke start with this; they are compared
// through `fuzz_smoke.signatures`, not by their text.
inline constexpr const char* kFuzzSmokeFindingPrefix = "fuzz smoke: ";

// B covers a scenario and mode A ran only when it decided at least this share of A's
// number of decided runs of it (a stress run gets a checkpoint or two fewer under load;
// an interrupted corpus run gets far fewer).
inline constexpr double kMinRunShare = 0.5;

struct SignatureStats {
  size_t hits = 0;  // runs with this finding
  size_t runs = 0;  // runs of the same scenario
  double Rate() const { return runs ? static_cast<double>(hits) / runs : 0.0; }
};

struct Comparison {
  std::map<std::string, SignatureStats> a, b;  // per signature
  std::vector<std::string> introduced;         // in B, not in A
  std::vector<std::string> fixed;              // in A, not in B
  std::vector<std::string> worse;              // in both, B's rate clearly higher
  std::vector<std::string> better;             // in both, B's rate clearly lower
  std::vector<std::string> errors;  // B has runs ruled `error` (its verdicts are incomplete)
  // B's VM ended worse than A's (no boot, a crash, a hang, a timeout), or B's suite exited
  // with a worse status than A's (1 where A's exited 0): worse whatever the runs say.
  std::vector<std::string> ended_worse;
  // Why B's verdicts do not cover A's: B was interrupted, has no runs, lacks a scenario
  // and mode A ran, ran far fewer runs of one, has runs without a decided verdict (any
  // verdict this build does not know, e.g. `unsettled`) where A had none, or its report
  // did not come back from its VM.
  std::vector<std::string> incomplete;
  bool BIsWorse() const { return !introduced.empty() || !worse.empty() || !ended_worse.empty(); }
  bool BIsIncomplete() const { return !incomplete.empty(); }
};

// `gate --known`: signatures B introduced that are known are taken out of the comparison
// and returned (each {signature, comment}); and B's suite exiting 1 where A's exited 0 is
// not worse when every finding of B is known (the suite inside knows nothing of the file).
// A known signature A shows too is still compared by rate: B leaking a known bug far more
// often stays worse. Crashes, hangs and new signatures stay worse.
nlohmann::json ApplyKnown(const KnownFindings& known, const nlohmann::json& b, Comparison& cmp);

// How the two sides are named in the comparison's sentences.
struct CompareLabels {
  std::string a = "A";
  std::string b = "B";
};

// `rate_tolerance`: how much higher B's rate must be, beyond sampling noise, to count
// as worse (an absolute difference of rates).
Comparison CompareReports(const nlohmann::json& a, const nlohmann::json& b,
                          double rate_tolerance = 0.25, const CompareLabels& labels = {});

// A readable account of a comparison, one line per change (long lists of incomplete
// scenarios are cut short; Comparison::incomplete has them all).
std::string DescribeComparison(const Comparison& c);

// True when the report holds a finding in any form: a run ruled leak, hang or fault, a
// finding of the whole command, a fuzzer's finding.
bool ReportHasFindings(const nlohmann::json& report);

}  // namespace inflight
