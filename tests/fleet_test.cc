// The logic of a fleet of fuzzing guests (vm/fleet_merge.h, vm/fleet.h): the corpus
// exchange, findings merged across guests by signature, the progress line, the resumed
// fuzz arguments.
#include "vm/fleet.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/test_util.h"
#include "vm/fleet_merge.h"

namespace inflight {
namespace {

namespace fs = std::filesystem;
using Files = std::vector<std::pair<std::string, std::string>>;

TEST(CorpusExchange, AGuestGetsWhatTheOthersFoundOnceItsCorpusIsThere) {
  testing::TempDir d;
  CorpusExchange ex(2, d.path());
  EXPECT_TRUE(ex.FromGuest(0, "corpus/aaa", "A"));
  EXPECT_TRUE(ex.FromGuest(0, "corpus/bbb", "B"));
  EXPECT_TRUE(ex.ForGuest(1, 1 << 20).empty()) << "guest 1 has not shown its corpus yet";
  EXPECT_TRUE(ex.FromGuest(1, "corpus/ccc", "C"));
  EXPECT_FALSE(ex.FromGuest(1, "corpus/aaa", "A")) << "the same input found twice";
  EXPECT_EQ(ex.ForGuest(1, 1 << 20), (Files{{"corpus/bbb", "B"}})) << "it had aaa and ccc";
  EXPECT_TRUE(ex.ForGuest(1, 1 << 20).empty()) << "sent once";
  EXPECT_EQ(ex.ForGuest(0, 1 << 20), (Files{{"corpus/ccc", "C"}}));
  EXPECT_EQ(ex.corpus_size(), 3u);
  EXPECT_EQ(testing::ReadFile(d.path() + "/ccc"), "C") << "the union is on disk at once";
  EXPECT_EQ(ex.counts(1).sent_back, 2u);
  EXPECT_EQ(ex.counts(1).fresh, 1u);
  EXPECT_EQ(ex.counts(1).given, 1u);
}

TEST(CorpusExchange, OnlyPlainCorpusFilesJoinAndBigBatchesAreCut) {
  CorpusExchange ex(2, "");
  EXPECT_FALSE(ex.FromGuest(0, "logs/worker-0.log", "x"));
  EXPECT_FALSE(ex.FromGuest(0, "corpus/../state.json", "x"));
  EXPECT_FALSE(ex.FromGuest(0, "corpus/.hidden", "x"));
  EXPECT_FALSE(ex.FromGuest(5, "corpus/x", "x")) << "no such guest";
  EXPECT_EQ(ex.corpus_size(), 0u);
  for (char c = 'a'; c < 'e'; ++c) ex.FromGuest(0, std::string("corpus/") + c, std::string(10, c));
  ex.FromGuest(1, "corpus/z", "z");
  EXPECT_EQ(ex.ForGuest(1, 25).size(), 2u) << "20 of 25 bytes";
  EXPECT_EQ(ex.ForGuest(1, 1).size(), 1u) << "at least one";
  EXPECT_EQ(ex.ForGuest(1, 1000).size(), 1u) << "the last one";
}

TEST(CorpusExchange, ARebootedGuestIsGivenWhatItsResumedCorpusLacks) {
  CorpusExchange ex(2, "");
  ex.AddKnown("old", "O");
  ex.FromGuest(0, "corpus/a", "A");
  ex.FromGuest(1, "corpus/b", "B");
  EXPECT_EQ(ex.ForGuest(1, 100).size(), 2u);  // a, old
  ex.Rebooted(1, {"b"});
  EXPECT_TRUE(ex.ForGuest(1, 100).empty()) << "not before its fuzz runs again";
  ex.Ready(1);
  EXPECT_EQ(ex.ForGuest(1, 100), (Files{{"corpus/a", "A"}, {"corpus/old", "O"}}));
}

TEST(CorpusExchange, CountsDistinctSignaturesAcrossGuests) {
  CorpusExchange ex(3, "");
  ex.FromGuest(0, "findings/abc/meta.json", R"j({"signature": "leak|stream socket|scc(2n,2e)"})j");
  ex.FromGuest(2, "findings/abc/meta.json", R"j({"signature": "leak|stream socket|scc(2n,2e)"})j");
  ex.FromGuest(1, "findings/def/meta.json", R"j({"signature": "hang|recv"})j");
  ex.FromGuest(1, "findings/bad/meta.json", "not json");
  ex.FromGuest(1, "findings/def/input", "bytes");
  EXPECT_EQ(ex.signatures(), 2u);
}

nlohmann::json Meta(const std::string& sig, size_t hits, size_t size, double seen,
                    size_t repro_runs = 0) {
  return {{"signature", sig},     {"id", sig.substr(0, 4)},
          {"verdict", "leak"},    {"summary", "s"},
          {"hits", hits},         {"input_size", size},
          {"first_seen_s", seen}, {"repro", {{"runs", repro_runs}}}};
}

TEST(MergeFindings, OneFindingPerSignatureWithTheGuestsThatFoundIt) {
  const auto merged = MergeFindings({
      {Meta("leak|a", 3, 120, 9.5, 2), Meta("leak|b", 1, 50, 4)},
      {Meta("leak|a", 2, 80, 12, 3), nlohmann::json{{"id", "x"}}},
      {},
  });
  ASSERT_EQ(merged.size(), 2u);
  const FleetFinding& a = merged[0];
  EXPECT_EQ(a.signature, "leak|a");
  EXPECT_EQ(a.guests, (std::set<size_t>{0, 1}));
  EXPECT_EQ(a.hits, 5u);
  EXPECT_EQ(a.input_size, 80u) << "the smallest input";
  EXPECT_EQ(a.input_from, 1u);
  EXPECT_DOUBLE_EQ(a.first_seen_s, 9.5) << "the earliest";
  EXPECT_EQ(a.repro["runs"], 3) << "the guest with the most re-runs";
  EXPECT_EQ(merged[1].guests, (std::set<size_t>{0}));
  const auto j = FleetFindingToJson(a);
  EXPECT_EQ(j["guests"], nlohmann::json({0, 1}));
  EXPECT_EQ(j["input_from_guest"], 1);
}

TEST(MergeFindings, NothingFromNothing) {
  EXPECT_TRUE(MergeFindings({}).empty());
  EXPECT_TRUE(MergeFindings({{}, {}}).empty());
}

TEST(FleetProgress, ReadsTheGuestsFuzzLine) {
  // The line driver/fuzz_supervisor.cc prints, as the guest's output carries it.
  auto p = ParseFuzzProgress(
      "fuzz: 1m05s/5m00s  execs 1234 (19/s)  corpus 87  cov 861 ft 4009  findings 2 (hits 5)  "
      "workers 1/1 restarts 0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->execs, 1234u);
  EXPECT_EQ(p->corpus, 87u);
  EXPECT_EQ(p->findings, 2u);
  EXPECT_FALSE(ParseFuzzProgress("inflight fuzz: 1m of 1 worker(s) on Linux 6.12"));
  EXPECT_FALSE(ParseFuzzProgress("fuzz: 1m05s/5m00s  execs x"));
  EXPECT_FALSE(ParseFuzzProgress(""));
}

TEST(FleetProgress, OneLineAddsTheGuestsUp) {
  FleetStatus s;
  s.elapsed_s = 10;
  s.duration_s = 120;
  s.guests = {{100, 5, 0}, {200, 7, 1}};
  s.running = {true, false};
  s.corpus = 9;
  s.signatures = 1;
  const std::string line = FleetProgressLine(s);
  EXPECT_NE(line.find("fleet: 10s/2m00s"), std::string::npos) << line;
  EXPECT_NE(line.find("guests 1/2"), std::string::npos) << line;
  EXPECT_NE(line.find("execs 300 (30/s; per guest 100 200(down))"), std::string::npos) << line;
  EXPECT_NE(line.find("corpus 9"), std::string::npos) << line;
  EXPECT_NE(line.find("findings 1"), std::string::npos) << line;
  EXPECT_EQ(line.find("reboots"), std::string::npos) << line;
}

TEST(GuestFuzzArgs, TheResumedArguments) {
  EXPECT_EQ(GuestFuzzResumed({"fuzz", "--duration", "2m", "-q"}, 45'000),
            (std::vector<std::string>{"fuzz", "-q", "--resume", "--duration", "45s"}));
  EXPECT_EQ(GuestFuzzResumed({"fuzz", "--resume", "--duration=1m"}, 500),
            (std::vector<std::string>{"fuzz", "--resume", "--duration", "1s"}));
}

}  // namespace
}  // namespace inflight
