// `inflight compare` end to end on report files: exit 1 when B is worse, 0 when not, 4
// when B's verdicts are incomplete, 2 for files that are not reports.
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
                  const std::vector<nlohmann::json>& runs) {
  const std::string path = d.path() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  fputs(nlohmann::json(
            {{"schema", "inflight-report/1"}, {"command", "run"}, {"kernel", "k"}, {"runs", runs}})
            .dump()
            .c_str(),
        f);
  fclose(f);
  return path;
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
