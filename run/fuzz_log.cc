// Both ends of the graph fuzzer's log format.
#include "run/fuzz_log.h"

#include <fmt/core.h>

#include <cinttypes>
#include <cstdio>

namespace inflight {

namespace {

constexpr std::string_view kStats = "stats: ";
constexpr std::string_view kCoverage = "kernel coverage: ";
constexpr std::string_view kFinding = "FINDING ";
constexpr std::string_view kSignature = "signature: ";
constexpr std::string_view kSummary = "summary: ";
constexpr std::string_view kArtifact = "artifact: ";
constexpr std::string_view kKnown = "known finding: ";
constexpr std::string_view kKnownInput = " (input ";

std::string Line(std::string_view what, std::string_view rest) {
  return fmt::format("{}{}{}\n", kFuzzLogPrefix, what, rest);
}

bool Take(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::string FuzzStatsLine(const FuzzStats& s) {
  return Line(kStats,
              fmt::format("inputs {} runs {} clean {} settled {} findings {} known {} "
                          "skipped {}",
                          s.inputs, s.runs, s.clean, s.settled, s.findings, s.known, s.skipped));
}

std::string FuzzFindingText(const FuzzFindingBlock& f) {
  std::string block =
      Line(kFinding, f.verdict) + Line(kSignature, f.signature) + Line(kSummary, f.summary) +
      Line("input: ", fmt::format("{} ({} bytes){}", f.input_id, f.input_bytes,
                                  f.running_now ? ", the input running now"
                                                : fmt::format(", whose result came back while "
                                                              "input {} ran; that one is innocent",
                                                              f.current_id))) +
      Line(kArtifact, f.artifact);
  for (const std::string& x : f.leftovers) block += Line("leftover: ", x);
  for (const std::string& x : f.faults) block += Line("fault: ", x);
  for (const std::string& x : f.kernel_log) block += Line("kernel: ", x);
  const std::string& text = f.scenario_text;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    block += Line("| ", std::string_view(text).substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return block;
}

std::string FuzzKnownLine(const std::string& signature, uint64_t input_id) {
  return Line(kKnown, fmt::format("{}{}{})", signature, kKnownInput, input_id));
}

std::string FuzzKernelCoverageLine(const std::string& what) {
  return Line(kCoverage, what);
}

std::optional<FuzzLogEvent> FuzzLogReader::Line(std::string_view line) {
  std::string_view rest = line;
  if (!Take(rest, kFuzzLogPrefix)) return std::nullopt;
  FuzzLogEvent ev;
  if (Take(rest, kStats)) {
    FuzzStats& s = ev.stats;
    const std::string text(rest);
    if (sscanf(text.c_str(),
               "inputs %" SCNu64 " runs %" SCNu64 " clean %" SCNu64 " settled %" SCNu64
               " findings %" SCNu64 " known %" SCNu64 " skipped %" SCNu64,
               &s.inputs, &s.runs, &s.clean, &s.settled, &s.findings, &s.known, &s.skipped) != 7)
      return std::nullopt;
    ev.kind = FuzzLogEvent::Kind::kStats;
    return ev;
  }
  if (Take(rest, kCoverage)) {
    ev.kind = FuzzLogEvent::Kind::kKernelCoverage;
    ev.text = rest;
    return ev;
  }
  if (Take(rest, kFinding)) {
    in_block_ = true;
    block_ = {};
    block_.verdict = rest;
    return std::nullopt;
  }
  if (in_block_ && Take(rest, kSignature)) {
    block_.signature = rest;
    return std::nullopt;
  }
  if (in_block_ && Take(rest, kSummary)) {
    block_.summary = rest;
    return std::nullopt;
  }
  if (in_block_ && Take(rest, kArtifact)) {
    block_.artifact = rest;
    in_block_ = false;
    ev.kind = FuzzLogEvent::Kind::kFinding;
    ev.finding = std::move(block_);
    block_ = {};
    return ev;
  }
  if (Take(rest, kKnown)) {
    const size_t at = rest.rfind(kKnownInput);
    ev.kind = FuzzLogEvent::Kind::kKnown;
    ev.text = rest.substr(0, at);
    return ev;
  }
  return std::nullopt;
}

}  // namespace inflight
