// Leak classes on real reference graphs: every corpus scenario of the table runs once in
// lockstep on this kernel (for its object log), then is ruled as if everything it made
// had outlived it, and the classifier must name the expected class. And the findings this
// host really has (the scc_index bug of Linux 6.18.44) collapse to one signature.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "reports/finding_signature.h"
#include "reports/ref_graph.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

// Scenario -> the class of its reference graph with everything left over. The cycles of
// a scenario name it whatever else it made; without a cycle, what holds what.
const std::map<std::string, std::string> kExpected = {
    {"cycle2_stream", "cycle(simple)|socket"},
    {"cycle2_mixed_types", "cycle(simple)|socket"},
    {"ring8_mixed_types", "cycle(simple)|socket"},
    {"nested_cycles_figure8", "cycle(nested)|socket"},
    {"mixed_lowpoint_stream", "cycle(nested)|socket"},
    // kselftest's backtrack_from_scc: a ring, and a vertex the walk backtracks from.
    {"backtrack_from_scc_stream", "cycle(simple)|socket"},
    {"backtrack_from_scc_seqpacket", "cycle(simple)|socket"},
    {"cross_edge_stream", "cycle(nested)|socket"},
    {"cross_edge_dgram", "cycle(nested)|socket"},
    {"oob_self_and_other", "cycle(self)+cycle(self,oob)|socket"},
    {"dgram_peer_closes", "chain|dgram socket"},
    {"oob_self_ref_stream", "cycle(self,oob)|socket"},
    {"oob_cycle2_stream", "cycle(simple,oob)|socket"},
    // (A listener's kind here is the one it was created with; a real run's census says
    // "stream listener", coarse "listener".)
    {"listener_self_ref_embryo", "cycle(simple,embryo)|embryo,socket"},
    {"all_exit_before_recv", "cycle(simple)|socket"},
};

PoolOptions Options() {
  PoolOptions p;
  p.jobs = 1;
  p.slots = 4;
  p.sandbox_path = testing::SandboxPath();
  return p;
}

// The run's reference graph with every object it created left over.
std::string EverythingLeftOver(const Scenario& s, RunResult r) {
  RunRecord rec;
  rec.mode = RunMode::kLockstep;
  rec.verdict.kind = VerdictKind::kLeak;
  bool listener = false;
  for (const ObjectEvent& e : r.events) {
    if (e.type != EventType::kCreated || e.action >= s.actions.size()) continue;
    const Action& a = s.actions[e.action];
    Leftover l;
    l.ino = e.ino;
    l.what = ObjectKindName(a, e.index);
    rec.verdict.leftovers.push_back(l);
  }
  for (const Action& a : s.actions) listener |= a.op == Op::kListen;
  if (listener) rec.verdict.leftovers.push_back(Leftover{.what = "embryo"});
  rec.result = std::move(r);
  return LeakClassOf(BuildRefGraph(s, rec), rec.verdict);
}

class Signature : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

TEST_F(Signature, EachCorpusScenarioHasItsLeakClass) {
  SandboxPool pool(Options());
  ASSERT_TRUE(pool.Start());
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::CorpusDir())) {
    if (entry.path().extension() != ".scn") continue;
    const Scenario s = LoadScenarioFile(entry.path().string());
    RunRequest req;
    req.opt.mode = RunMode::kLockstep;
    req.scenario_text = PrintScenario(s);
    req.id = pool.Submit(req);
    auto r = pool.Next(60'000);
    ASSERT_TRUE(r.has_value()) << s.name;
    const std::string got = EverythingLeftOver(s, std::move(*r));
    auto want = kExpected.find(s.name);
    if (want == kExpected.end()) {
      fmt::print("  (not in the table) {}: {}\n", s.name, got);
      continue;
    }
    EXPECT_EQ(got, want->second) << s.name;
    ++checked;
  }
  pool.Finish();
  EXPECT_EQ(checked, kExpected.size()) << "a scenario of the table is missing from the corpus";
}

}  // namespace
}  // namespace inflight
