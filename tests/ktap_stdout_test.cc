// `--format ktap:-`: KTAP on stdout and nothing else there (the summary goes to stderr),
// results in the order of the files and the plan whatever the parallelism, and an
// interrupted run that ends with "Bail out! interrupted".
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "tests/ktap_check.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CliPath;
using testing::CorpusDir;
using testing::ReadFile;
using testing::TempDir;

int Status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

TEST(KtapStdout, ResultsInFileOrderAndNothingElse) {
  INFLIGHT_REQUIRE_NAMESPACES();
  TempDir d;
  // Not in name order, to see that the command-line order is kept.
  const std::vector<std::string> names = {"dup_in_flight", "cycle2_stream", "dgram_peer_closes"};
  std::string cmd = CliPath() + " run";
  for (const std::string& n : names) cmd += " " + CorpusDir() + "/" + n + ".scn";
  cmd += " -n 3 --mode both -j 2 --settle 5s --format json,ktap:- --report " + d.path() +
         "/r >" + d.path() + "/out 2>" + d.path() + "/err";
  const int st = Status(system(cmd.c_str()));
  const std::string out = ReadFile(d.path() + "/out");
  const std::string err = ReadFile(d.path() + "/err");
  ASSERT_TRUE(st == 0 || st == 1) << err;
  testing::KtapSummary s;
  const auto problems = testing::CheckKtap(out, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << out;
  std::vector<std::string> expected;
  for (const std::string& n : names)
    for (const char* mode : {"lockstep", "free"})
      for (int seed = 1; seed <= 3; ++seed)
        expected.push_back(n + " " + mode + " seed=" + std::to_string(seed));
  EXPECT_EQ(s.descriptions, expected) << out;
  EXPECT_EQ(s.bail_out, "");
  // The summary went to stderr; report.json is still written.
  EXPECT_NE(err.find("inflight run: "), std::string::npos) << err;
  EXPECT_NE(err.find("KTAP on stdout"), std::string::npos) << err;
  EXPECT_NE(ReadFile(d.path() + "/r/report.json").find("\"runs\""), std::string::npos);
}

TEST(KtapStdout, InterruptedRunEndsWithBailOut) {
  INFLIGHT_REQUIRE_NAMESPACES();
  TempDir d;
  const std::string cmd = "sh -c '" + CliPath() + " run " + CorpusDir() +
                          "/cycle2_stream.scn -n 1000000 -j 1 --format ktap:- --report " + d.path() +
                          "/r >" + d.path() + "/out 2>" + d.path() +
                          "/err & pid=$!; sleep 3; kill -INT $pid; wait $pid'";
  const int st = Status(system(cmd.c_str()));
  const std::string out = ReadFile(d.path() + "/out");
  const std::string err = ReadFile(d.path() + "/err");
  EXPECT_EQ(st, 130) << err;
  testing::KtapSummary s;
  const auto problems = testing::CheckKtap(out, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << out;
  EXPECT_EQ(s.bail_out, "interrupted") << out;
  ASSERT_GE(out.size(), 22u);
  EXPECT_EQ(out.substr(out.size() - 22), "Bail out! interrupted\n");
  EXPECT_NE(err.find("INTERRUPTED"), std::string::npos) << err;
}

}  // namespace
}  // namespace inflight
