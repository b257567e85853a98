// Triage: leak classes on reference graphs, distinct findings by signature, known
// findings (parsing, KTAP XFAIL, JUnit skipped, the known section, rates across scenarios).
#include <gtest/gtest.h>

#include "base/errors.h"
#include "reports/compare.h"
#include "reports/finding_signature.h"
#include "reports/junit.h"
#include "reports/known.h"
#include "reports/ktap.h"

namespace inflight {
namespace {

// A graph of leftover objects; `edges` are "from>to" in flight, "from~to" taken again,
// "from-to" pending (listener -> embryo), "from*to" in flight on an OOB skb.
struct G {
  RefGraph g;
  Verdict v;
  G& Obj(const std::string& id, const std::string& what, bool leftover = true) {
    RefNode n;
    n.id = id;
    n.ino = 100 + g.nodes.size();
    n.what = what;
    n.is_socket = what.find("socket") != std::string::npos;
    n.leftover = leftover;
    g.nodes.push_back(n);
    if (leftover) v.leftovers.push_back(Leftover{.what = what, .ino = n.ino});
    return *this;
  }
  G& Embryo(const std::string& id) {
    RefNode n;
    n.id = id;
    n.kind = RefNode::Kind::kEmbryo;
    n.leftover = true;
    g.nodes.push_back(n);
    v.leftovers.push_back(Leftover{.what = "embryo"});
    return *this;
  }
  G& Edges(std::initializer_list<const char*> edges) {
    for (std::string e : edges) {
      const size_t at = e.find_first_of(">~-*");
      RefEdge r{e.substr(0, at), e.substr(at + 1), "", RefEdge::Kind::kInFlight};
      if (e[at] == '~') r.kind = RefEdge::Kind::kTaken;
      if (e[at] == '-') r.kind = RefEdge::Kind::kPending;
      r.oob = e[at] == '*';
      g.edges.push_back(r);
    }
    return *this;
  }
  std::string Class() const { return LeakClassOf(g, v); }
};

TEST(LeakClass, CyclesByShape) {
  EXPECT_EQ(G().Obj("a", "stream socket").Edges({"a>a"}).Class(), "cycle(self)|socket");
  EXPECT_EQ(G().Obj("a", "stream socket").Edges({"a*a"}).Class(), "cycle(self,oob)|socket");
  EXPECT_EQ(G().Obj("a", "stream socket")
                .Obj("b", "dgram socket")
                .Obj("c", "seqpacket socket")
                .Edges({"a>b", "b>c", "c>a"})
                .Class(),
            "cycle(simple)|socket")
      << "socket types do not split one collector bug";
  // A figure eight: two rings sharing c.
  EXPECT_EQ(G().Obj("a", "stream socket")
                .Obj("b", "stream socket")
                .Obj("c", "stream socket")
                .Obj("d", "stream socket")
                .Obj("e", "stream socket")
                .Edges({"a>b", "b>c", "c>a", "c>d", "d>e", "e>c"})
                .Class(),
            "cycle(nested)|socket");
  // Mixed lowpoints: 0->1 1->2 2->1 1->0.
  EXPECT_EQ(G().Obj("a", "stream socket")
                .Obj("b", "stream socket")
                .Obj("c", "stream socket")
                .Edges({"a>b", "b>c", "c>b", "b>a"})
                .Class(),
            "cycle(nested)|socket");
}

TEST(LeakClass, WhatWasReceivedAgainAndPassengersDoNotCount) {
  // A ring whose earlier extra edge was received again is still a ring; a pipe it carries
  // is a passenger.
  EXPECT_EQ(G().Obj("a", "stream socket")
                .Obj("b", "stream socket")
                .Obj("p", "pipe read end")
                .Edges({"a>b", "b>a", "a~a", "a>p"})
                .Class(),
            "cycle(simple)|socket");
  // Copies of one descriptor in one queue are one edge.
  EXPECT_EQ(G().Obj("a", "stream socket")
                .Obj("b", "stream socket")
                .Edges({"a>b", "a>b", "b>a"})
                .Class(),
            "cycle(simple)|socket");
}

TEST(LeakClass, EmbryosChainsOrphans) {
  EXPECT_EQ(G().Obj("l", "stream listener").Embryo("e").Edges({"l-e", "e>l"}).Class(),
            "cycle(simple,embryo)|embryo,listener");
  EXPECT_EQ(G().Embryo("e").Obj("s", "stream socket").Edges({"e>s"}).Class(), "chain|embryo")
      << "an embryo no listener holds, holding what was sent to it";
  EXPECT_EQ(G().Obj("d", "dgram socket").Obj("p", "pipe read end").Edges({"d>p"}).Class(),
            "chain|dgram socket");
  EXPECT_EQ(G().Obj("q", "stream socket", false).Obj("f", "memfd").Edges({"q~f"}).Class(),
            "orphan|memfd");
  EXPECT_EQ(G().Obj("q", "stream socket", false).Obj("f", "memfd").Edges({"q>f"}).Class(),
            "orphan|memfd");
  EXPECT_EQ(G().Obj("f", "memfd").Class(), "never-in-flight|memfd");
  // Orphans beside a socket the table no longer lists are its queue's passengers: one
  // signature whatever they were (dgram-close-keeps-queue's four scenarios load memfds,
  // pipes and sockets).
  for (const char* passenger : {"memfd", "pipe read end", "dgram socket"}) {
    G kept = G().Obj("q", "dgram socket", false).Obj("f", passenger).Edges({"q>f"});
    kept.v.leftovers.push_back(Leftover{.what = "unix sockets outside the socket table"});
    EXPECT_EQ(kept.Class(), "orphan+unplaced|unix sockets outside the socket table") << passenger;
  }
  // Without such a socket the orphan's kind stays: it is what the bug kept.
  G tmpfs = G().Obj("q", "dgram socket", false).Obj("f", "memfd").Edges({"q>f"});
  tmpfs.v.leftovers.push_back(Leftover{.what = "inodes in use on the run's tmpfs"});
  EXPECT_EQ(tmpfs.Class(), "orphan+unplaced|inodes in use on the run's tmpfs,memfd");
  G acc;
  acc.v.leftovers.push_back(Leftover{.what = "in-flight accounting"});
  EXPECT_EQ(acc.Class(), "accounting|");
}

TEST(Signature, StressLeftoversByTheirLabelsClass) {
  EXPECT_EQ(StressLeakSignature("cycle(nested)", "cycles: nested_figure8", "dgram socket"),
            "leak|cycle(nested)|socket");
  EXPECT_EQ(StressLeakSignature("", "kill: kill channel", "stream socket"),
            "leak|stress(kill: kill channel)|stream socket");
}

TEST(Known, ParsesSignaturesAndComments) {
  const KnownFindings k = ParseKnownFindings(
      "# header\n\n# the scc_index bug\nleak|cycle(nested)|socket\n"
      "command|in-flight accounting   # its count\n\nleak|chain|embryo\n",
      "k.txt");
  ASSERT_EQ(k.comment.size(), 3u);
  EXPECT_EQ(k.comment.at("leak|cycle(nested)|socket"), "the scc_index bug");
  EXPECT_EQ(k.comment.at("command|in-flight accounting"), "its count");
  EXPECT_EQ(k.comment.at("leak|chain|embryo"), "") << "a blank line ends a comment's reach";
  try {
    ParseKnownFindings("leak|x|y\nnonsense\n", "k.txt");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("k.txt:2:"), std::string::npos) << e.what();
  }
}

RunRecord Finding(const std::string& scenario, const std::string& sig) {
  RunRecord r;
  r.scenario = scenario;
  r.verdict.kind = VerdictKind::kLeak;
  r.verdict.summary = "leaked";
  r.extra["signature"] = sig;
  return r;
}

TEST(Known, KnownFindingsAreExpectedNewOnesAreNot) {
  Report rep;
  rep.command = "run";
  rep.runs = {Finding("a", "leak|cycle(nested)|socket"), Finding("b", "leak|cycle(nested)|socket"),
              Finding("c", "leak|chain|embryo")};
  rep.runs.push_back(RunRecord{.scenario = "d"});  // clean
  const std::vector<DistinctFinding> d = DistinctFindings(rep);
  ASSERT_EQ(d.size(), 2u) << "one bug in two scenarios is one finding";
  EXPECT_EQ(d[0].runs.size(), 2u);

  rep.known = ParseKnownFindings("leak|cycle(nested)|socket # scc_index\nleak|cycle(self)|socket\n",
                                 "k.txt");
  const KnownSplit k = SplitKnown(rep);
  ASSERT_EQ(k.expected.size(), 1u);
  EXPECT_EQ(k.expected_runs, 2u);
  ASSERT_EQ(k.fresh.size(), 1u);
  EXPECT_EQ(k.fresh[0].signature, "leak|chain|embryo");
  EXPECT_EQ(k.not_seen, std::vector<std::string>{"leak|cycle(self)|socket"});

  const std::string ktap = ReportToKtap(rep);
  EXPECT_NE(ktap.find("ok 1 a lockstep seed=0 # XFAIL known: leak|cycle(nested)|socket (scc_index)"),
            std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find("not ok 3 c lockstep seed=0\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("pass:1 fail:1 xfail:2"), std::string::npos) << ktap;
  const std::string junit = ReportToJUnit(rep);
  EXPECT_NE(junit.find("failures=\"1\" errors=\"0\" skipped=\"2\""), std::string::npos) << junit;

  const nlohmann::json j = ReportToJson(rep);
  EXPECT_EQ(j["counts"]["known"], 2);
  EXPECT_EQ(j["distinct_findings"], 2);
  EXPECT_EQ(j["known"]["not_seen"][0]["signature"], "leak|cycle(self)|socket");
  EXPECT_TRUE(j["known"]["not_reached"].empty());
}

TEST(Known, AKnownFindingAnInterruptedRunDidNotSeeIsNotReachedNotGone) {
  Report rep;
  rep.command = "run";
  rep.runs = {Finding("a", "leak|cycle(nested)|socket")};
  rep.known = ParseKnownFindings("leak|cycle(nested)|socket\nleak|cycle(self)|socket # planted\n",
                                 "k.txt");
  rep.interrupted = true;
  const KnownSplit k = SplitKnown(rep);
  EXPECT_TRUE(k.not_seen.empty()) << "an interrupted run cannot say a known finding is gone";
  EXPECT_EQ(k.not_reached, std::vector<std::string>{"leak|cycle(self)|socket"});
  const nlohmann::json j = ReportToJson(rep);
  EXPECT_TRUE(j["known"]["not_seen"].empty());
  EXPECT_EQ(j["known"]["not_reached"][0]["signature"], "leak|cycle(self)|socket");
  EXPECT_EQ(j["known"]["not_reached"][0]["comment"], "planted");
}

TEST(Compare, OneSignatureAcrossScenariosHasOneRate) {
  // Two scenarios of 4 runs each, one finding each: 2 of 8, not 2 of 4.
  nlohmann::json b = {{"schema", kReportSchema}, {"runs", nlohmann::json::array()}};
  for (const char* s : {"x", "y"})
    for (int i = 0; i < 4; ++i) {
      nlohmann::json r = {{"scenario", s}, {"verdict", i ? "clean" : "leak"}, {"mode", "free"}};
      if (!i) r["signature"] = "leak|cycle(nested)|socket";
      b["runs"].push_back(r);
    }
  const Comparison c = CompareReports(b, b);
  ASSERT_EQ(c.b.count("leak|cycle(nested)|socket"), 1u);
  EXPECT_EQ(c.b.at("leak|cycle(nested)|socket").hits, 2u);
  EXPECT_EQ(c.b.at("leak|cycle(nested)|socket").runs, 8u);
}

// A report of `runs` runs of one scenario, the first `leaks` of them a leak named `sig`.
nlohmann::json ReportLeaking(const std::string& sig, int leaks, int runs = 40) {
  nlohmann::json r = {{"schema", kReportSchema}, {"runs", nlohmann::json::array()}};
  for (int i = 0; i < runs; ++i) {
    nlohmann::json run = {{"scenario", "x"}, {"verdict", i < leaks ? "leak" : "clean"},
                          {"mode", "free"}};
    if (i < leaks) run["signature"] = sig;
    r["runs"].push_back(run);
  }
  return r;
}

TEST(GateKnown, AKnownSignatureTheCandidateIntroducedIsKnownNotWorse) {
  const std::string sig = "leak|cycle(nested)|socket";
  const KnownFindings known = ParseKnownFindings(sig + " # scc_index\n", "k.txt");
  const nlohmann::json cand = ReportLeaking(sig, 10);
  Comparison c = CompareReports(ReportLeaking(sig, 0), cand);
  ASSERT_TRUE(c.BIsWorse()) << "without --known the candidate is worse";
  const nlohmann::json moved = ApplyKnown(known, cand, c);
  EXPECT_FALSE(c.BIsWorse()) << DescribeComparison(c);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0]["signature"], sig);
  EXPECT_EQ(moved[0]["comment"], "scc_index");
}

TEST(GateKnown, AKnownSignatureTheCandidateShowsFarMoreOftenIsStillWorse) {
  const std::string sig = "leak|cycle(nested)|socket";
  const KnownFindings known = ParseKnownFindings(sig + "\n", "k.txt");
  const nlohmann::json cand = ReportLeaking(sig, 36);
  Comparison c = CompareReports(ReportLeaking(sig, 4), cand);
  ASSERT_EQ(c.worse, std::vector<std::string>{sig});
  const nlohmann::json moved = ApplyKnown(known, cand, c);
  EXPECT_TRUE(moved.empty());
  EXPECT_TRUE(c.BIsWorse()) << "a known bug leaking 9x as often is a worse kernel";
}

TEST(GateKnown, AnUnknownSignatureBesideAKnownOneStaysWorse) {
  const KnownFindings known = ParseKnownFindings("leak|cycle(nested)|socket\n", "k.txt");
  nlohmann::json cand = ReportLeaking("leak|cycle(nested)|socket", 10);
  cand["runs"][20]["verdict"] = "leak";
  cand["runs"][20]["signature"] = "leak|chain|embryo";
  Comparison c = CompareReports(ReportLeaking("leak|cycle(nested)|socket", 0), cand);
  ApplyKnown(known, cand, c);
  EXPECT_EQ(c.introduced, std::vector<std::string>{"leak|chain|embryo"});
  EXPECT_TRUE(c.BIsWorse());
}

}  // namespace
}  // namespace inflight
