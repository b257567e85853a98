// The graph fuzzer's log lines, which `inflight fuzz` reads back from each worker's log:
// both ends of one format. Every line starts with "==inflight== "; a finding is a block
// (FINDING, signature, summary, input, artifact, then leftovers, faults, kernel records and
// the scenario) that the reader takes as complete at its artifact line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inflight {

inline constexpr std::string_view kFuzzLogPrefix = "==inflight== ";

// The harness's counters, printed every few seconds and at its end.
struct FuzzStats {
  uint64_t inputs = 0;
  uint64_t runs = 0;  // results ruled
  uint64_t clean = 0;
  uint64_t settled = 0;
  uint64_t findings = 0;
  uint64_t known = 0;  // findings with a known signature: counted, not stopping
  uint64_t skipped = 0;
  bool operator==(const FuzzStats&) const = default;
};

struct FuzzFindingBlock {
  std::string verdict;  // VerdictName
  std::string signature;
  std::string summary;
  uint64_t input_id = 0;
  uint64_t input_bytes = 0;
  // Whether it is the input running now; if not, its result came back late, while input
  // current_id ran (which is innocent).
  bool running_now = true;
  uint64_t current_id = 0;
  std::string artifact;  // where the input was written
  std::vector<std::string> leftovers, faults, kernel_log;
  std::string scenario_text;
};

// Writer side (fuzzers/graph_fuzzer.cc); each returns whole lines, newline-terminated.
std::string FuzzStatsLine(const FuzzStats& s);
std::string FuzzFindingText(const FuzzFindingBlock& f);
std::string FuzzKnownLine(const std::string& signature, uint64_t input_id);
std::string FuzzKernelCoverageLine(const std::string& what);

// Reader side (driver/fuzz_supervisor): fed a worker's log line by line (without the
// newline); says what each line completed.
struct FuzzLogEvent {
  enum class Kind { kStats, kKernelCoverage, kFinding, kKnown };
  Kind kind = Kind::kStats;
  FuzzStats stats;           // kStats
  std::string text;          // kKernelCoverage: what; kKnown: the signature
  FuzzFindingBlock finding;  // kFinding: verdict, signature, summary, artifact
};

class FuzzLogReader {
 public:
  // Lines that do not start with kFuzzLogPrefix are not ours: nullopt.
  std::optional<FuzzLogEvent> Line(std::string_view line);

 private:
  bool in_block_ = false;
  FuzzFindingBlock block_;
};

}  // namespace inflight
