// `inflight compare` end to end on report files: exit 1 when B is worse, 0 when not, 7
// when B does not cover what A ran, 4 when B has errors of ours, 2 for files that are not
// reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CliPath;
using testing::RunCommand;
using testing::TempDir;

nlohmann::json FakeRun(const std::string& scenario, const std::string& verdict,
                       const std::string& what = "") {
  nlohmann::json left = nlohmann::json::array();
  if (!what.empty()) left.push_back({{"what", what}, {"ino", 5}});
  return {{"scenario", scenario}, {"verdict", verdict}, {"leftovers", left}, {"summary", "s"}};
}

std::string Write(const TempDir& d, const std::string& name,
                  const std::vector<nlohmann::json>& runs, bool interrupted = false) {
  const std::string path = d.path() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  fputs(nlohmann::json({{"schema", "inflight-report/1"},
                        {"command", "run"},
                        {"kernel", "k"},
                        {"interrupted", interrupted},
                        {"runs", runs}})
            .dump()
            .c_str(),
        f);
  fclose(f);
  return path;
}

std::vector<nlohmann::json> Runs(const std::string& scenario, int n, const std::string& verdict,
                                 const std::string& what = "") {
  std::vector<nlohmann::json> out;
  for (int i = 0; i < n; ++i) out.push_back(FakeRun(scenario, verdict, what));
  return out;
}

std::vector<nlohmann::json> operator+(std::vector<nlohmann::json> a,
                                      const std::vector<nlohmann::json>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(CompareCli, ExitStatusSaysWhetherBIsWorse) {
  TempDir d;
  const std::string clean = Write(d, "a.json", {FakeRun("x", "clean"), FakeRun("y", "clean")});
  const std::string leak =
      Write(d, "b.json", {FakeRun("x", "clean"), FakeRun("y", "leak", "stream socket")});
  const std::string error = Write(d, "c.json", {FakeRun("x", "error"), FakeRun("y", "clean")});

  auto r = RunCommand(CliPath() + " compare " + clean + " " + leak);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("new:   leak|y|stream socket  1/1 runs (100%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inflight compare: WORSE: 1 new finding(s)"), std::string::npos);

  r = RunCommand(CliPath() + " compare " + leak + " " + clean);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("gone:  leak|y|stream socket"), std::string::npos) << r.out;

  r = RunCommand(CliPath() + " compare " + clean + " " + clean);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("no difference in findings"), std::string::npos);

  r = RunCommand(CliPath() + " compare " + clean + " " + error);
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_NE(r.out.find("INCOMPLETE"), std::string::npos);
}

// An interrupted run (155 of 1440), `"runs": []`, a scenario left out and far fewer runs
// of one are no verdict: exit 7, naming why; never NOT WORSE.
TEST(CompareCli, ABThatDoesNotCoverAExitsSeven) {
  TempDir d;
  const std::string a = Write(d, "a.json", Runs("x", 20, "clean") + Runs("y", 20, "clean"));
  struct Case {
    std::string name;
    std::string b;
    std::string says;
  } cases[] = {
      {"interrupted", Write(d, "int.json", Runs("x", 20, "clean") + Runs("y", 20, "clean"), true),
       "incomplete: B was interrupted: 40 run(s), A has 40"},
      {"no runs", Write(d, "empty.json", {}), "incomplete: B has no runs (A has 40)"},
      {"missing scenario", Write(d, "missing.json", Runs("x", 20, "clean")),
       "incomplete: B lacks y: A ran it 20 time(s)"},
      {"far fewer runs", Write(d, "fewer.json", Runs("x", 20, "clean") + Runs("y", 3, "clean")),
       "incomplete: B ran y 3 time(s), A 20"},
      {"undecided", Write(d, "unsettled.json", Runs("x", 20, "clean") + Runs("y", 20, "unsettled")),
       "without a decided verdict (unsettled)"},
  };
  for (const Case& c : cases) {
    auto r = RunCommand(CliPath() + " compare " + a + " " + c.b);
    EXPECT_EQ(r.status, 7) << c.name << ": " << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.name << ": " << r.out;
    EXPECT_NE(r.out.find("inflight compare: INCOMPLETE: B does not cover what A ran"),
              std::string::npos)
        << c.name << ": " << r.out;
    EXPECT_EQ(r.out.find("NOT WORSE"), std::string::npos) << c.name << ": " << r.out;
  }
  // Worse takes precedence: an interrupted B with a new finding is worse.
  const std::string leaky = Write(d, "leaky.json", Runs("x", 2, "leak", "stream socket"), true);
  auto r = RunCommand(CliPath() + " compare " + a + " " + leaky);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("incomplete: B was interrupted"), std::string::npos)
      << "the reasons are still listed: " << r.out;
  // Incomplete before errors of ours.
  const std::string both = Write(d, "both.json", Runs("x", 20, "error"));
  r = RunCommand(CliPath() + " compare " + a + " " + both);
  EXPECT_EQ(r.status, 7) << r.out;
}

TEST(CompareCli, FilesThatAreNotReportsExitTwo) {
  TempDir d;
  const std::string ok = Write(d, "a.json", {FakeRun("x", "clean")});
  const std::string junk = d.path() + "/junk.json";
  FILE* f = fopen(junk.c_str(), "w");
  fputs("{\"runs\": [", f);
  fclose(f);
  const std::string other = d.path() + "/other.json";
  f = fopen(other.c_str(), "w");
  fputs("{\"schema\": \"something-else/3\", \"runs\": []}", f);
  fclose(f);
  for (const std::string& b : {junk, other, d.path() + "/missing.json"}) {
    auto r = RunCommand(CliPath() + " compare " + ok + " " + b);
    EXPECT_EQ(r.status, 2) << b << ": " << r.out;
    EXPECT_NE(r.out.find(b), std::string::npos) << "the message names the file: " << r.out;
  }
  EXPECT_EQ(RunCommand(CliPath() + " compare " + ok).status, 2);
}

}  // namespace
}  // namespace inflight
