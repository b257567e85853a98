// Report comparison by signature: new findings make B worse; the same findings at the
// same rate do not; seeds, inodes and timings do not matter.
#include <gtest/gtest.h>

#include "reports/compare.h"

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
  EXPECT_NE(DescribeComparison(c).find("new:   leak|y|stream socket  1/1 runs"),
            std::string::npos);
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
  EXPECT_EQ(c.introduced[1], "command|in-flight accounting: uid N can pass N descriptors, N fewer");
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

}  // namespace
}  // namespace inflight
