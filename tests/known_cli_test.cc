// `inflight check --known` on this host: the scc_index bug of Linux 6.18 (nested-cycle
// SCCs the collector never frees) is one signature across scenarios and modes; with the
// shipped known file the check exits 0, without it 1. Skipped on a kernel without the bug.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/test_util.h"

namespace inflight {
namespace {

namespace fs = std::filesystem;
using testing::CliPath;
using testing::CorpusDir;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

TEST(KnownCli, CheckWithTheKnownFileOfThisKernelExitsZero) {
  INFLIGHT_REQUIRE_NAMESPACES();
  TempDir d;
  const fs::path corpus = fs::path(d.path()) / "corpus";
  fs::create_directories(corpus);
  fs::copy(fs::path(CorpusDir()) / "controls", corpus / "controls", fs::copy_options::recursive);
  for (const char* s : {"mixed_lowpoint_stream", "nested_cycles_gc_midway", "cycle2_stream"})
    fs::copy_file(fs::path(CorpusDir()) / (std::string(s) + ".scn"), corpus / (std::string(s) + ".scn"));
  const std::string base = CliPath() + " check --corpus " + corpus.string() +
                           " --repeat 2 --no-stress --no-fuzz -q --settle 5s --report ";
  auto without = RunCommand(base + d.path() + "/a");
  if (without.status == 0) GTEST_SKIP() << "this kernel does not leak nested cycles (scc_index bug fixed)";
  ASSERT_EQ(without.status, 1) << without.out;
  const auto j = nlohmann::json::parse(ReadFile(d.path() + "/a/report.json"));
  std::set<std::string> sigs;
  for (const auto& run : j["runs"])
    if (run["verdict"] == "leak") sigs.insert(run["signature"].get<std::string>());
  EXPECT_EQ(sigs, std::set<std::string>{"leak|cycle(nested)|socket"})
      << "two scenarios, two modes: one bug, one signature\n" << without.out;
  EXPECT_NE(without.out.find("FINDINGS"), std::string::npos) << without.out;

  const std::string known = std::string(INFLIGHT_SOURCE_DIR) + "/known/linux-6.18-scc_index.txt";
  auto with = RunCommand(base + d.path() + "/b --known " + known);
  EXPECT_EQ(with.status, 0) << with.out;
  EXPECT_NE(with.out.find("KNOWN FINDINGS ONLY"), std::string::npos) << with.out;
  EXPECT_NE(with.out.find("known: leak|cycle(nested)|socket"), std::string::npos) << with.out;
  const auto k = nlohmann::json::parse(ReadFile(d.path() + "/b/report.json"));
  EXPECT_TRUE(k["known"]["new"].empty()) << k["known"].dump();
  EXPECT_GT(k["counts"]["known"].get<int>(), 0);

  // A known file that lacks the bug: it is new again.
  const std::string other = d.path() + "/other.txt";
  FILE* f = fopen(other.c_str(), "w");
  ASSERT_TRUE(f);
  fputs("leak|cycle(self)|socket  # not this kernel's\n", f);
  fclose(f);
  auto wrong = RunCommand(base + d.path() + "/c --known " + other);
  EXPECT_EQ(wrong.status, 1) << wrong.out;
  EXPECT_NE(wrong.out.find("known, no longer seen: leak|cycle(self)|socket"), std::string::npos)
      << wrong.out;
  EXPECT_NE(wrong.out.find("new (not in"), std::string::npos) << wrong.out;
}

}  // namespace
}  // namespace inflight
