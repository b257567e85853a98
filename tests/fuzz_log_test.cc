// The graph fuzzer's log format: what the harness writes, the supervisor reads back.
#include "run/fuzz_log.h"

#include <gtest/gtest.h>

#include <sstream>

namespace inflight {
namespace {

std::vector<FuzzLogEvent> ReadAll(FuzzLogReader& r, const std::string& text) {
  std::vector<FuzzLogEvent> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (auto ev = r.Line(line)) out.push_back(*ev);
  return out;
}

TEST(FuzzLog, StatsRoundTrip) {
  const FuzzStats s{10, 9, 7, 2, 1, 3, 4};
  FuzzLogReader r;
  const auto ev = ReadAll(r, FuzzStatsLine(s));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, FuzzLogEvent::Kind::kStats);
  EXPECT_EQ(ev[0].stats, s);
}

TEST(FuzzLog, FindingBlockRoundTripsAndItsTailIsNotAnEvent) {
  FuzzFindingBlock f;
  f.verdict = "leak";
  f.signature = "leak|stream socket|scc(2n,2e) +held";
  f.summary = "2 leftovers: summary: with a colon";
  f.input_id = 1234;
  f.input_bytes = 160;
  f.running_now = false;
  f.current_id = 1250;
  f.artifact = "out/crash-abc";
  f.leftovers = {"stream socket 'v0', in the queue of v1"};
  f.faults = {"signature: not a field"};
  f.kernel_log = {"WARNING: x"};
  f.scenario_text = "scenario s\n\np0: v0 v1 = socketpair stream\n";
  const std::string text = FuzzFindingText(f);
  EXPECT_NE(text.find("==inflight== FINDING leak\n"), std::string::npos) << text;
  EXPECT_NE(text.find("input: 1234 (160 bytes), whose result came back while input 1250 ran"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("==inflight== | p0: v0 v1 = socketpair stream\n"), std::string::npos);
  FuzzLogReader r;
  const auto ev =
      ReadAll(r, text + FuzzKnownLine("leak|x (input 3)", 9) +
                     FuzzKernelCoverageLine("none (no KCOV)") + "INFO: libFuzzer's own line\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kind, FuzzLogEvent::Kind::kFinding);
  EXPECT_EQ(ev[0].finding.verdict, f.verdict);
  EXPECT_EQ(ev[0].finding.signature, f.signature);
  EXPECT_EQ(ev[0].finding.summary, f.summary);
  EXPECT_EQ(ev[0].finding.artifact, f.artifact);
  EXPECT_EQ(ev[1].kind, FuzzLogEvent::Kind::kKnown);
  EXPECT_EQ(ev[1].text, "leak|x (input 3)");
  EXPECT_EQ(ev[2].kind, FuzzLogEvent::Kind::kKernelCoverage);
  EXPECT_EQ(ev[2].text, "none (no KCOV)");
  f.running_now = true;
  EXPECT_NE(FuzzFindingText(f).find("(160 bytes), the input running now\n"), std::string::npos);
}

TEST(FuzzLog, LinesOutsideABlockAreNotReadAsItsFields) {
  FuzzLogReader r;
  EXPECT_TRUE(ReadAll(r, "==inflight== signature: x\n==inflight== artifact: y\n").empty());
}

}  // namespace
}  // namespace inflight
