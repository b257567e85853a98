// Scenario surgery and delta debugging without a kernel: dropped actions take their
// dependents with them and every candidate validates; the search ends 1-minimal; a
// planted finding buried in 31 steps comes out with the planted part and almost nothing
// else; a racy oracle is asked in batches and the result still keeps the finding.
#include "repro/minimize.h"

#include <gtest/gtest.h>

#include "repro/reduce.h"
#include "scenario/text.h"
#include "scenario/validate.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

std::string Planted() {
  return std::string(INFLIGHT_SOURCE_DIR) + "/tests/scenarios/planted_hold_buried.scn";
}

std::vector<std::string> Lines(const Scenario& s) {
  std::vector<std::string> out;
  for (const Action& a : s.actions) out.push_back(s.procs[a.proc] + ": " + PrintAction(s, a));
  return out;
}

std::vector<bool> Only(size_t n, std::initializer_list<size_t> drop) {
  std::vector<bool> v(n, false);
  for (size_t i : drop) v[i] = true;
  return v;
}

TEST(DropActions, DependentsGoWithWhatTheyNeed) {
  const Scenario s = ParseScenario(R"(scenario d

p0: a b = socketpair stream
p0: m = memfd
p0: fork p1
p1: send b [a m*3] cmsgs=4
p1: x = dup a
p0: close a
p0: a = socket dgram
p0: kill p1
p0: send b [a]
)");
  // Without the memfd: the send keeps a, with at most as many cmsgs as descriptors.
  auto r = DropActions(s, Only(s.actions.size(), {1}));
  ASSERT_TRUE(r);
  EXPECT_EQ(Lines(*r),
            (std::vector<std::string>{"p0: a b = socketpair stream", "p0: fork p1",
                                      "p1: send b [a]", "p1: x = dup a", "p0: close a",
                                      "p0: a = socket dgram", "p0: kill p1", "p0: send b [a]"}));
  // Without the fork: p1 and everything it does, and the kill of it, are gone.
  r = DropActions(s, Only(s.actions.size(), {2}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->procs, (std::vector<std::string>{"p0"}));
  EXPECT_EQ(Lines(*r),
            (std::vector<std::string>{"p0: a b = socketpair stream", "p0: m = memfd", "p0: close a",
                                      "p0: a = socket dgram", "p0: send b [a]"}));
  // Without `close a`: a is still open, so `a = socket` cannot bind it; the last send
  // still passes the first a.
  r = DropActions(s, Only(s.actions.size(), {5}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->actions.size(), 7u);
  EXPECT_EQ(Lines(*r).back(), "p0: send b [a]");
  // Without the socketpair nothing that needs a or b survives.
  r = DropActions(s, Only(s.actions.size(), {0}));
  ASSERT_TRUE(r);
  EXPECT_EQ(Lines(*r), (std::vector<std::string>{"p0: m = memfd", "p0: fork p1",
                                                 "p0: a = socket dgram", "p0: kill p1"}));
  EXPECT_FALSE(DropActions(s, std::vector<bool>(s.actions.size(), true)));
  // Every single removal is a valid scenario.
  for (size_t i = 0; i < s.actions.size(); ++i) {
    auto c = DropActions(s, Only(s.actions.size(), {i}));
    ASSERT_TRUE(c) << i;
    EXPECT_FALSE(Validate(*c)) << i;
    EXPECT_EQ(ParseScenario(PrintScenario(*c)), *c) << "canonical after renumbering: " << i;
  }
}

TEST(Simplifications, FewerCopiesAndOneControlMessage) {
  const Scenario s = ParseScenario(
      "scenario s\n\np0: a b = socketpair stream\n"
      "p0: send b [a*250 b] cmsgs=3 bytes=9\n");
  std::vector<std::string> got;
  for (const Scenario& c : Simplifications(s)) got.push_back(Lines(c)[1]);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "p0: send b [a b] cmsgs=2 bytes=9", "p0: send b [a*125 b] cmsgs=3 bytes=9",
                     "p0: send b [a*250 b] bytes=9", "p0: send b [a*250 b] cmsgs=3"}));
}

// The planted finding, judged statically: p1 creates a dgram socket and sends it over a
// stream socket it connected to @inflight-hold.
bool HasPlantedPart(const Scenario& s) {
  bool x = false, c = false, connected = false;
  for (const Action& a : s.actions) {
    const std::string line = PrintAction(s, a);
    if (line == "x = socket dgram") x = true;
    if (line == "c = socket stream") c = true;
    if (line == "connect c @inflight-hold" && c) connected = true;
    if (line == "send c [x]" && x && connected) return true;
  }
  return false;
}

TEST(Minimize, APlantedFindingComesOutAloneAndOneMinimal) {
  const Scenario start = LoadScenarioFile(Planted());
  ASSERT_TRUE(HasPlantedPart(start));
  ASSERT_EQ(start.actions.size(), 31u);
  size_t judged = 0, batches = 0;
  const BatchOracle oracle = [&](const std::vector<Scenario>& batch) {
    ++batches;
    std::vector<bool> out;
    for (const Scenario& c : batch) {
      EXPECT_FALSE(Validate(c)) << "only valid candidates are judged";
      ++judged;
      out.push_back(HasPlantedPart(c));
    }
    return out;
  };
  MinimizeStats st;
  const Scenario min = Minimize(start, oracle, {}, &st);
  EXPECT_TRUE(st.minimal);
  EXPECT_FALSE(st.stopped);
  EXPECT_EQ(st.candidates, judged);
  EXPECT_EQ(st.batches, batches);
  EXPECT_LT(batches, judged) << "candidates are judged in batches";
  EXPECT_EQ(Lines(min), (std::vector<std::string>{
                            "p0: fork p1", "p1: x = socket dgram", "p1: c = socket stream",
                            "p1: connect c @inflight-hold", "p1: send c [x]"}));
  EXPECT_EQ(MeasureScenario(min), (ScenarioSize{2, 2, 5}));
  // 1-minimal: no single removal keeps it.
  for (size_t i = 0; i < min.actions.size(); ++i) {
    auto c = DropActions(min, Only(min.actions.size(), {i}));
    EXPECT_TRUE(!c || !HasPlantedPart(*c)) << i;
  }
}

TEST(Minimize, StopsWhenAskedAndSaysItIsNotMinimal) {
  const Scenario start = LoadScenarioFile(Planted());
  MinimizeOptions opt;
  opt.max_candidates = 3;
  MinimizeStats st;
  const Scenario out = Minimize(
      start, [](const std::vector<Scenario>& b) { return std::vector<bool>(b.size(), true); }, opt,
      &st);
  EXPECT_TRUE(st.stopped);
  EXPECT_FALSE(st.minimal);
  EXPECT_LE(st.candidates, 3u);
  EXPECT_FALSE(Validate(out));
}

TEST(Minimize, ARacyFindingThatNeedsTwoSendsKeepsBoth) {
  // The "finding" needs both sends of a; an oracle that misses it now and then (as a
  // racy kernel bug would) only loses candidates, it never breaks the result.
  const Scenario start = ParseScenario(R"(scenario racy

p0: a b = socketpair stream
p0: c d = socketpair stream
p0: send b [a]
p0: send d [c]
p0: send d [a]
p0: close c
p0: close a
)");
  uint64_t rng = 42;
  const BatchOracle oracle = [&](const std::vector<Scenario>& batch) {
    std::vector<bool> out;
    for (const Scenario& c : batch) {
      size_t sends = 0;
      for (const Action& a : c.actions)
        if (a.op == Op::kSend && PrintAction(c, a).find("[a]") != std::string::npos) ++sends;
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      out.push_back(sends == 2 && (rng >> 60) != 0);  // found 15 times in 16
    }
    return out;
  };
  const Scenario min = Minimize(start, oracle, {}, nullptr);
  size_t sends = 0;
  for (const Action& a : min.actions) sends += a.op == Op::kSend;
  EXPECT_EQ(sends, 2u);
  EXPECT_LE(min.actions.size(), 4u) << PrintScenario(min);
}

}  // namespace
}  // namespace inflight
