// Report comparison by signature: new findings make B worse; the same findings at the
// same rate do not; seeds, inodes and timings do not matter. B is incomplete when it does
// not cover what A ran; a VM report whose suite ended worse is worse whatever its runs say.
#include "reports/compare.h"

#include <gtest/gtest.h>

namespace inflight {
namespace {

nlohmann::json FakeRun(const std::string& scenario, const std::string& verdict,
                       std::vector<std::string> whats = {}, int ino = 1) {
  nlohmann::json left = nlohmann::json::array();
  for (const auto& w : whats) left.push_back({{"what", w}, {"ino", ino++}});
  return {{"scenario", scenario}, {"verdict", verdict}, {"leftovers", left}, {"seed", ino}};
}

nlohmann::json FakeReport(std::vector<nlohmann::json> runs) {
  return {{"schema", kReportSchema}, {"runs", runs}};
}

nlohmann::json WithMode(nlohmann::json run, const std::string& mode) {
  run["mode"] = mode;
  return run;
}

// `n` runs of each scenario in `scenarios`, lockstep, all clean.
std::vector<nlohmann::json> CleanRuns(const std::vector<std::string>& scenarios, int n) {
  std::vector<nlohmann::json> out;
  for (const auto& s : scenarios)
    for (int i = 0; i < n; ++i) out.push_back(WithMode(FakeRun(s, "clean"), "lockstep"));
  return out;
}

// A report of `inflight vm` whose guest suite exited `status`.
nlohmann::json VmReport(std::vector<nlohmann::json> runs, int status,
                        const std::string& end = "completed", bool complete = true) {
  nlohmann::json r = FakeReport(std::move(runs));
  r["vm"] = {{"end", end},
             {"why", "the suite exited"},
             {"complete", complete},
             {"guest_exit_status", status}};
  return r;
}

bool Mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

TEST(Compare, SignatureIgnoresSeedsInodesAndOrder) {
  EXPECT_EQ(FindingSignature(FakeRun("s", "leak", {"stream socket", "embryo"}, 10)),
            FindingSignature(FakeRun("s", "leak", {"embryo", "stream socket", "embryo"}, 99)));
  EXPECT_NE(FindingSignature(FakeRun("s", "leak", {"stream socket"})),
            FindingSignature(FakeRun("s", "leak", {"dgram socket"})));
  EXPECT_NE(FindingSignature(FakeRun("s", "leak")), FindingSignature(FakeRun("t", "leak")));
}

TEST(Compare, NewFindingInBIsWorse) {
  auto a = FakeReport({FakeRun("x", "clean"), FakeRun("y", "clean")});
  auto b = FakeReport({FakeRun("x", "clean"), FakeRun("y", "leak", {"stream socket"})});
  Comparison c = CompareReports(a, b);
  EXPECT_TRUE(c.BIsWorse());
  ASSERT_EQ(c.introduced.size(), 1u);
  EXPECT_EQ(c.introduced[0], "leak|y|stream socket");
  EXPECT_NE(DescribeComparison(c).find("new:   leak|y|stream socket  1/1 runs"), std::string::npos);
  // The reverse is a fix, not a regression.
  Comparison r = CompareReports(b, a);
  EXPECT_FALSE(r.BIsWorse());
  EXPECT_EQ(r.fixed.size(), 1u);
}

TEST(Compare, FindingsOfTheWholeCommandCountByWhatTheyAreAbout) {
  auto with = [](std::vector<std::string> findings) {
    nlohmann::json r = FakeReport({FakeRun("x", "clean")});
    r["command_findings"] = findings;
    return r;
  };
  auto a = with({"global counts: filp grew by 12 over the command in every sample (tolerance 1)",
                 "in-flight accounting: uid 0x2000abcd can pass 10 descriptors, 2 fewer"});
  auto b = with({"global counts: filp grew by 40 over the command in every sample (tolerance 1)",
                 "in-flight accounting: uid 0x2000ffff can pass 3 descriptors, 9 fewer"});
  EXPECT_FALSE(CompareReports(a, b).BIsWorse()) << DescribeComparison(CompareReports(a, b));
  // A count the baseline did not see grow is new.
  Comparison c = CompareReports(with({}), b);
  EXPECT_TRUE(c.BIsWorse());
  ASSERT_EQ(c.introduced.size(), 2u);
  EXPECT_EQ(c.introduced[0], "command|global counts: filp");
  EXPECT_EQ(c.introduced[1], "command|in-flight accounting");
}

TEST(Compare, SameFindingsAtTheSameRateAreNotWorse) {
  auto a = FakeReport({FakeRun("y", "leak", {"stream socket"}, 5), FakeRun("y", "clean")});
  auto b = FakeReport({FakeRun("y", "clean"), FakeRun("y", "leak", {"stream socket"}, 77)});
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsWorse());
  EXPECT_EQ(DescribeComparison(c), "no difference in findings\n");
}

TEST(Compare, AClearlyHigherRateIsWorse) {
  std::vector<nlohmann::json> ra, rb;
  for (int i = 0; i < 20; ++i) {
    ra.push_back(i < 2 ? FakeRun("y", "leak", {"stream socket"}) : FakeRun("y", "clean"));
    rb.push_back(i < 15 ? FakeRun("y", "leak", {"stream socket"}) : FakeRun("y", "clean"));
  }
  Comparison c = CompareReports(FakeReport(ra), FakeReport(rb));
  EXPECT_TRUE(c.BIsWorse());
  EXPECT_EQ(c.worse.size(), 1u);
}

TEST(Compare, AClearlyLowerRateIsBetterNotWorse) {
  std::vector<nlohmann::json> ra, rb;
  for (int i = 0; i < 20; ++i) {
    ra.push_back(i < 15 ? FakeRun("y", "leak", {"stream socket"}) : FakeRun("y", "clean"));
    rb.push_back(i < 2 ? FakeRun("y", "leak", {"stream socket"}) : FakeRun("y", "clean"));
  }
  Comparison c = CompareReports(FakeReport(ra), FakeReport(rb));
  EXPECT_FALSE(c.BIsWorse());
  ASSERT_EQ(c.better.size(), 1u);
  EXPECT_NE(DescribeComparison(c).find("better: leak|y|stream socket  15/20 runs (75%) -> "
                                       "2/20 runs (10%)"),
            std::string::npos)
      << DescribeComparison(c);
}

TEST(Compare, ErrorsAreListedButAreNotFindings) {
  auto a = FakeReport({FakeRun("x", "clean")});
  auto b = FakeReport({FakeRun("x", "error")});
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsWorse());
  EXPECT_EQ(c.errors.size(), 1u);
}

TEST(CompareIncomplete, TheSameRunsAreComplete) {
  auto a = FakeReport(CleanRuns({"x", "y"}, 20));
  Comparison c = CompareReports(a, a);
  EXPECT_FALSE(c.BIsIncomplete()) << DescribeComparison(c);
  EXPECT_FALSE(c.BIsWorse());
}

TEST(CompareIncomplete, AnInterruptedBIsIncomplete) {
  auto a = FakeReport(CleanRuns({"x", "y"}, 20));
  auto b = FakeReport(CleanRuns({"x"}, 20));
  b["runs"].push_back(WithMode(FakeRun("y", "clean"), "lockstep"));
  b["interrupted"] = true;
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsWorse());
  ASSERT_TRUE(c.BIsIncomplete());
  EXPECT_EQ(c.incomplete[0], "B was interrupted: 21 run(s), A has 40");
  EXPECT_TRUE(Mentions(c.incomplete, "B ran y (lockstep) 1 time(s), A 20"))
      << DescribeComparison(c);
  // Interrupted with every run there is still interrupted.
  auto full = a;
  full["interrupted"] = true;
  EXPECT_TRUE(CompareReports(a, full).BIsIncomplete());
}

TEST(CompareIncomplete, NoRunsIsIncompleteUnlessANeitherHasAny) {
  auto a = FakeReport(CleanRuns({"x"}, 3));
  auto empty = FakeReport({});
  Comparison c = CompareReports(a, empty);
  ASSERT_EQ(c.incomplete.size(), 1u) << DescribeComparison(c);
  EXPECT_EQ(c.incomplete[0], "B has no runs (A has 3)");
  EXPECT_NE(DescribeComparison(c).find("incomplete: B has no runs (A has 3)"), std::string::npos);
  EXPECT_FALSE(CompareReports(empty, empty).BIsIncomplete());
  EXPECT_FALSE(CompareReports(empty, a).BIsIncomplete());
}

TEST(CompareIncomplete, AScenarioOrModeBLacksIsNamed) {
  std::vector<nlohmann::json> both = CleanRuns({"x", "y"}, 2);
  both.push_back(WithMode(FakeRun("x", "clean"), "free"));
  auto a = FakeReport(both);
  auto b = FakeReport(CleanRuns({"x"}, 2));
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsWorse());
  EXPECT_EQ(c.incomplete, (std::vector<std::string>{"B lacks x (free): A ran it 1 time(s)",
                                                    "B lacks y (lockstep): A ran it 2 time(s)"}));
  // What B has more of is not A's business.
  EXPECT_FALSE(CompareReports(b, a).BIsIncomplete());
}

TEST(CompareIncomplete, FarFewerRunsAreIncompleteAFewFewerAreNot) {
  auto a = FakeReport(CleanRuns({"x"}, 20));
  auto some = FakeReport(CleanRuns({"x"}, 10));  // kMinRunShare of 20
  auto few = FakeReport(CleanRuns({"x"}, 9));
  EXPECT_FALSE(CompareReports(a, some).BIsIncomplete())
      << DescribeComparison(CompareReports(a, some));
  Comparison c = CompareReports(a, few);
  ASSERT_EQ(c.incomplete.size(), 1u);
  EXPECT_EQ(c.incomplete[0], "B ran x (lockstep) 9 time(s), A 20");
}

TEST(CompareIncomplete, AVerdictThisBuildDoesNotKnowDecidesNothing) {
  auto a = FakeReport(CleanRuns({"x"}, 4));
  auto b = FakeReport(CleanRuns({"x"}, 3));
  b["runs"].push_back(WithMode(FakeRun("x", "unsettled"), "lockstep"));
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsWorse()) << "not a finding: " << DescribeComparison(c);
  EXPECT_TRUE(c.introduced.empty());
  ASSERT_EQ(c.incomplete.size(), 1u) << DescribeComparison(c);
  EXPECT_EQ(c.incomplete[0],
            "B has 1 of 4 run(s) of x (lockstep) without a decided verdict (unsettled); A "
            "decided all 4");
  // Where A could not decide either, B is no less complete.
  auto a2 = FakeReport(CleanRuns({"x"}, 3));
  a2["runs"].push_back(WithMode(FakeRun("x", "unsettled"), "lockstep"));
  EXPECT_FALSE(CompareReports(a2, b).BIsIncomplete());
  // All of them undecided: nothing of x was covered.
  auto none = FakeReport({WithMode(FakeRun("x", "unsettled"), "lockstep"),
                          WithMode(FakeRun("x", "who-knows"), "lockstep")});
  Comparison n = CompareReports(a, none);
  ASSERT_EQ(n.incomplete.size(), 1u);
  EXPECT_NE(n.incomplete[0].find("(unsettled,who-knows)"), std::string::npos) << n.incomplete[0];
}

TEST(CompareIncomplete, KernelRecordsAndFuzzReRunsAreNotScenariosToCover) {
  auto a = FakeReport(CleanRuns({"x"}, 2));
  a["runs"].push_back(FakeRun(std::string(kKernelRecordPrefix) + "BUG: oops", "fault"));
  auto b = FakeReport(CleanRuns({"x"}, 2));
  Comparison c = CompareReports(a, b);
  EXPECT_FALSE(c.BIsIncomplete()) << DescribeComparison(c);
  EXPECT_EQ(c.fixed.size(), 1u) << "a kernel fault B does not have is gone";

  // A fuzz report's runs re-run what that fuzzing found: B finding nothing is not B
  // running less.
  auto fa = FakeReport({FakeRun("finding_0123456789ab", "leak", {"stream socket"})});
  fa["fuzz"] = {{"findings", nlohmann::json::array()}};
  auto fb = FakeReport({});
  fb["fuzz"] = {{"findings", nlohmann::json::array()}};
  EXPECT_FALSE(CompareReports(fa, fb).BIsIncomplete());
}

TEST(Compare, FuzzFindingsCompareByTheFuzzersSignature) {
  auto fuzz = [](std::vector<std::string> sigs) {
    nlohmann::json r = FakeReport({});
    nlohmann::json f = nlohmann::json::array();
    for (const auto& s : sigs) f.push_back({{"signature", s}, {"id", "0123"}, {"summary", "?"}});
    r["fuzz"] = {{"findings", f}};
    return r;
  };
  const std::string sig = "leak|cycle(nested)|socket";
  Comparison c = CompareReports(fuzz({}), fuzz({sig}));
  EXPECT_TRUE(c.BIsWorse());
  EXPECT_EQ(c.introduced, std::vector<std::string>{sig});
  EXPECT_FALSE(CompareReports(fuzz({sig}), fuzz({sig})).BIsWorse());
  EXPECT_TRUE(ReportHasFindings(fuzz({sig})));
  EXPECT_FALSE(ReportHasFindings(fuzz({})));

  // check's fuzz smoke: by `fuzz_smoke.signatures`; its command_findings lines, which
  // carry re-run counts and paths, are for people.
  auto check = [](std::vector<std::string> sigs, const std::string& line) {
    nlohmann::json r = FakeReport(CleanRuns({"x"}, 1));
    r["fuzz_smoke"] = {{"status", sigs.empty() ? 0 : 1}, {"signatures", sigs}};
    r["command_findings"] = nlohmann::json::array();
    if (!line.empty()) r["command_findings"].push_back(line);
    return r;
  };
  auto a =
      check({sig}, "fuzz smoke: " + sig + " (a), 3 of 3 re-runs; input /o/findings/ab12/input");
  auto b = check({sig}, "fuzz smoke: " + sig + " (b), not re-run; input /p/findings/ab12/input");
  EXPECT_FALSE(CompareReports(a, b).BIsWorse()) << DescribeComparison(CompareReports(a, b));
  Comparison n = CompareReports(check({}, ""), b);
  EXPECT_EQ(n.introduced, std::vector<std::string>{sig});
}

// A stress checkpoint as `inflight stress` records it; `leaks` are the labels of what
// outlived the epoch, with the socket type each was drawn with.
nlohmann::json Checkpoint(int epoch, std::vector<std::pair<std::string, std::string>> leaks = {}) {
  nlohmann::json left = nlohmann::json::array();
  for (const auto& [label, what] : leaks)
    left.push_back({{"what", what}, {"object", label}, {"ino", 100 + epoch}});
  return {{"scenario", "cycles"},
          {"file", "stressors"},
          {"mode", "free"},
          {"repeat", epoch},
          {"stressor", "cycles"},
          {"epoch", epoch},
          {"verdict", leaks.empty() ? "clean" : "leak"},
          {"leftovers", left}};
}

nlohmann::json StressReport(std::vector<nlohmann::json> checkpoints) {
  nlohmann::json j = FakeReport(std::move(checkpoints));
  j["stress"] = {{"duration_s", 10}};
  return j;
}

TEST(Compare, StressCheckpointsCompareByTheShapesThatLeaked) {
  const std::string lowpoint = "cycles: nested_mixed_lowpoint (edges 0->1 1->2 2->1 1->0)";
  const std::string figure8 = "cycles: nested_figure8_gc_midway (collector run after two edges)";
  std::vector<nlohmann::json> clean, leaky, leaky_again;
  for (int e = 0; e < 5; ++e) {
    clean.push_back(Checkpoint(e));
    leaky.push_back(Checkpoint(e, {{lowpoint, "stream socket"}, {figure8, "stream socket"}}));
    // The same kernel again: the same shapes leak, drawn with other socket types, and
    // with something no stressor logged in one epoch.
    leaky_again.push_back(Checkpoint(
        e, {{lowpoint, e % 2 ? "dgram socket" : "stream socket"}, {figure8, "seqpacket socket"}}));
  }
  leaky_again[3]["leftovers"].push_back({{"what", "embryo (connection never accepted)"}});
  Comparison c = CompareReports(StressReport(clean), StressReport(leaky));
  EXPECT_TRUE(c.BIsWorse());
  EXPECT_EQ(c.introduced,
            (std::vector<std::string>{"leak|cycles|" + figure8, "leak|cycles|" + lowpoint}));
  EXPECT_NE(DescribeComparison(c).find("new:   leak|cycles|" + lowpoint + "  5/5 runs (100%)"),
            std::string::npos)
      << DescribeComparison(c);

  Comparison again = CompareReports(StressReport(leaky), StressReport(leaky_again));
  EXPECT_EQ(again.introduced,
            std::vector<std::string>{"leak|cycles|embryo (connection never accepted)"})
      << "only what is really new: " << DescribeComparison(again);
  EXPECT_TRUE(again.worse.empty()) << DescribeComparison(again);

  // Fewer checkpoints: one or two under load is fine, most of them missing is not.
  clean.pop_back();
  EXPECT_FALSE(CompareReports(StressReport(leaky), StressReport(clean)).BIsIncomplete());
  clean.resize(2);
  EXPECT_TRUE(CompareReports(StressReport(leaky), StressReport(clean)).BIsIncomplete());
}

TEST(CompareVm, ASuiteThatExitedWorseIsWorseWhateverItsRunsSay) {
  const auto runs = CleanRuns({"x"}, 2);
  // The candidate's stress found leaks and exited 1, but its report holds only clean runs.
  Comparison c = CompareReports(VmReport(runs, 0), VmReport(runs, 1));
  EXPECT_TRUE(c.BIsWorse());
  EXPECT_TRUE(c.introduced.empty());
  EXPECT_EQ(c.ended_worse,
            std::vector<std::string>{"B's suite exited 1 (a finding) where A's exited 0"});
  EXPECT_FALSE(CompareReports(VmReport(runs, 1), VmReport(runs, 1)).BIsWorse());
  EXPECT_FALSE(CompareReports(VmReport(runs, 1), VmReport(runs, 0)).BIsWorse());

  Comparison cannot = CompareReports(VmReport(runs, 0), VmReport({}, 3));
  EXPECT_TRUE(Mentions(cannot.ended_worse, "B's suite could not run (exit status 3)"));

  for (const char* end : {"no-boot", "guest-crashed", "guest-hang", "timeout"}) {
    Comparison e = CompareReports(VmReport(runs, 0), VmReport(runs, -1, end, false));
    EXPECT_TRUE(e.BIsWorse()) << end;
    EXPECT_TRUE(Mentions(e.ended_worse, "B's VM")) << end << ": " << DescribeComparison(e);
  }
  // A host report on one side: no exit statuses to weigh.
  EXPECT_FALSE(CompareReports(FakeReport(runs), VmReport(runs, 1)).BIsWorse());
}

TEST(CompareVm, AReportThatDidNotComeBackIsIncomplete) {
  const auto runs = CleanRuns({"x"}, 2);
  Comparison c = CompareReports(VmReport(runs, 0), VmReport({}, 0, "completed", false));
  EXPECT_FALSE(c.BIsWorse());
  EXPECT_TRUE(
      Mentions(c.incomplete, "B's report did not come back from its VM (its suite exited 0)"))
      << DescribeComparison(c);
  Comparison odd = CompareReports(VmReport(runs, 0), VmReport(runs, 139));
  EXPECT_TRUE(Mentions(odd.errors, "B's suite exited 139 (a bug of inflight)"))
      << DescribeComparison(odd);
}

TEST(Compare, LabelsNameTheSides) {
  CompareLabels l{"the baseline", "the candidate"};
  Comparison c = CompareReports(FakeReport(CleanRuns({"x"}, 2)), FakeReport({}), 0.25, l);
  ASSERT_EQ(c.incomplete.size(), 1u);
  EXPECT_EQ(c.incomplete[0], "the candidate has no runs (the baseline has 2)");
}

TEST(Compare, ReportsOfTheWrongShapeDoNotThrow) {
  nlohmann::json odd = {{"runs", {{{"scenario", 3}, {"verdict", nullptr}}, "text"}},
                        {"command_findings", "not a list"},
                        {"vm", "not an object"},
                        {"fuzz", {{"findings", 7}}}};
  EXPECT_NO_THROW(CompareReports(odd, odd));
  EXPECT_NO_THROW(ReportHasFindings(odd));
}

}  // namespace
}  // namespace inflight
