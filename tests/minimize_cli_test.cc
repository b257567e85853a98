// `inflight minimize` on this kernel: a planted finding (the --hold listener keeps one
// socket in flight) buried in a 31-step scenario comes out as the planted part and
// almost nothing else, confirmed by real runs and recorded in a schema-valid report; a
// clean scenario has nothing to minimize; bad input exits 2 and writes nothing; an
// interrupted `repro --minimize` keeps what it found.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>

#include <nlohmann/json.hpp>

#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CliPath;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

std::string Planted() {
  return std::string(INFLIGHT_SOURCE_DIR) + "/tests/scenarios/planted_hold_buried.scn";
}

class MinimizeCli : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

TEST_F(MinimizeCli, APlantedFindingBuriedIn31StepsComesOutAlone) {
  TempDir d;
  auto r = RunCommand(CliPath() + " minimize " + Planted() +
                      " --hold inflight-hold --settle 5s -q --format json,html --report " +
                      d.path() + "/report -o " + d.path() + "/min.scn");
  ASSERT_EQ(r.status, 1) << "the minimized scenario still shows the finding: " << r.out;
  EXPECT_NE(r.out.find("inflight minimize: before: 3 processes, 12 objects, 31 actions"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("inflight minimize: after:  2 processes, 2 objects, 5 actions (no single "
                       "removal keeps the finding)"),
            std::string::npos)
      << r.out;

  const Scenario min = LoadScenarioFile(d.path() + "/min.scn");
  std::vector<std::string> lines;
  for (const Action& a : min.actions)
    lines.push_back(min.procs[a.proc] + ": " + PrintAction(min, a));
  EXPECT_EQ(lines, (std::vector<std::string>{"p0: fork p1", "p1: x = socket dgram",
                                             "p1: c = socket stream",
                                             "p1: connect c @inflight-hold", "p1: send c [x]"}));
  EXPECT_EQ(ReadFile(d.path() + "/min.scn"), ReadFile(d.path() + "/report/minimized.scn"));

  const auto j = nlohmann::json::parse(ReadFile(d.path() + "/report/report.json"));
  const auto& m = j["minimize"];
  // The leak itself (docs/triage.md): the holder's embryo, accepted by no one, holds x.
  EXPECT_EQ(m["signature"], "leak|chain|embryo");
  EXPECT_EQ(m["before"]["actions"], 31);
  EXPECT_EQ(m["after"]["actions"], 5);
  EXPECT_TRUE(m["minimal"].get<bool>());
  EXPECT_EQ(m["original_rate"], 1.0);
  EXPECT_EQ(m["final_rate"], 1.0);
  EXPECT_GT(m["candidates"].get<int>(), 5);
  EXPECT_EQ(j["runs"].size(), 10u) << "the confirming runs of the minimized scenario";
  EXPECT_EQ(j["runs"][0]["scenario"], "planted_hold_buried_min");
  auto v = RunCommand(std::string("/usr/bin/python3 ") + INFLIGHT_SOURCE_DIR +
                      "/tests/validate_report.py " + INFLIGHT_SOURCE_DIR +
                      "/docs/report.schema.json " + d.path() + "/report/report.json");
  EXPECT_TRUE(v.status == 0 || v.status == 3) << v.out;
  const std::string html = ReadFile(d.path() + "/report/report.html");
  EXPECT_NE(html.find("planted_hold_buried_min"), std::string::npos);
}

TEST_F(MinimizeCli, ACleanScenarioHasNothingToMinimize) {
  TempDir d;
  auto r = RunCommand(CliPath() + " minimize " + Planted() + " --trials 3 -q --report " + d.path() +
                      "/report");
  EXPECT_EQ(r.status, 0) << "without the holder nothing leaks: " << r.out;
  EXPECT_NE(r.out.find("no finding in 3 run(s)"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(d.path() + "/report/report.json"));
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/report/minimized.scn"));
}

// Ctrl-C while `repro --minimize` shrinks: exit 130, and what it had is kept, as
// `inflight minimize` keeps it: the smallest scenario found so far and the report.
TEST_F(MinimizeCli, ReproMinimizeInterruptedKeepsTheSmallestSoFar) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TempDir d;
  const std::string out = d.path() + "/min.scn", log = d.path() + "/log";
  const pid_t pid = testing::Spawn({CliPath(), "repro", Planted(), "--hold", "inflight-hold", "-n",
                                    "2", "--minimize", out, "--report", d.path() + "/report"},
                                   log);
  // The first accepted shrink is logged; candidates that keep the leak wait the whole
  // settling deadline (2 s), so the search is far from done then.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (ReadFile(log).find("minimize: ") == std::string::npos &&
         std::chrono::steady_clock::now() < until)
    usleep(50'000);
  ASSERT_NE(ReadFile(log).find("minimize: "), std::string::npos) << ReadFile(log);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  const int status = testing::WaitForAll(pid);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  const std::string text = ReadFile(log);
  ASSERT_EQ(status, 130) << text;

  const Scenario min = LoadScenarioFile(out);
  EXPECT_LT(min.actions.size(), 31u) << "a shrink was accepted before the interrupt";
  EXPECT_NE(ReadFile(out).find("interrupted: the smallest found so far"), std::string::npos)
      << ReadFile(out);
  const auto j = nlohmann::json::parse(ReadFile(d.path() + "/report/report.json"));
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_EQ(j["repro"]["minimized"], ReadFile(out));
  EXPECT_TRUE(j["repro"]["minimize_interrupted"].get<bool>());
  EXPECT_EQ(j["runs"].size(), 2u) << "the runs of the original are in the report";
  auto v = RunCommand(std::string("/usr/bin/python3 ") + INFLIGHT_SOURCE_DIR +
                      "/tests/validate_report.py " + INFLIGHT_SOURCE_DIR +
                      "/docs/report.schema.json " + d.path() + "/report/report.json");
  EXPECT_TRUE(v.status == 0 || v.status == 3) << v.out;
}

TEST(MinimizeCliInput, BadInputExitsTwoAndWritesNothing) {
  TempDir d;
  const std::string bad = d.path() + "/bad.scn";
  FILE* f = fopen(bad.c_str(), "w");
  fputs("scenario bad\n\np0: a = socket stream\np0: send a [nothing]\n", f);
  fclose(f);
  auto r = RunCommand(CliPath() + " minimize " + bad + " --report " + d.path() + "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":4:"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/out"));

  r = RunCommand(CliPath() + " minimize " + d.path() + "/missing.scn --report " + d.path() +
                 "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  r = RunCommand(CliPath() + " minimize " + Planted() + " --report /proc/inflight-nope");
  EXPECT_EQ(r.status, 2) << r.out;
  r = RunCommand(CliPath() + " minimize " + Planted() + " -o /proc/nope/min.scn --report " +
                 d.path() + "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("-o /proc/nope/min.scn"), std::string::npos) << r.out;
  r = RunCommand(CliPath() + " repro " + Planted() + " --minimize /proc/nope/min.scn --report " +
                 d.path() + "/out");
  EXPECT_EQ(r.status, 2) << "refused before the runs, not after the search: " << r.out;
  EXPECT_NE(r.out.find("--minimize /proc/nope/min.scn"), std::string::npos) << r.out;
  r = RunCommand(CliPath() + " minimize " + std::string(INFLIGHT_SOURCE_DIR) +
                 "/corpus/controls --report " + d.path() + "/out");
  EXPECT_EQ(r.status, 2) << "one file, not a folder of several: " << r.out;
  r = RunCommand(CliPath() + " minimize " + Planted() + " --format json,pdf --report " + d.path() +
                 "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/out/report.json"));
}

}  // namespace
}  // namespace inflight
