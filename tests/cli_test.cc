// The inflight command line end to end: exit statuses, error messages with positions,
// the report, and interrupts that leave nothing behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <regex>

#include "base/clock.h"
#include "tests/test_util.h"

extern char** environ;

namespace inflight {
namespace {

using testing::CliPath;
using testing::CorpusDir;
using testing::ReadFile;
using testing::RunCommand;
using testing::Spawn;
using testing::TempDir;
using testing::WaitForAll;

std::string Cli(const std::string& args) {
  return CliPath() + " " + args;
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_TRUE(f);
  fputs(text.c_str(), f);
  fclose(f);
}

TEST(Cli, HelpAnswers) {
  auto r = RunCommand(Cli("--help"));
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"check", "run", "selftest", "fmt", "Exit status"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  r = RunCommand(Cli("run --help"));
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"--repeat", "--seed", "--mode", "--timeout", "--settle", "--report"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
}

TEST(Cli, BadUsageExitsTwo) {
  EXPECT_EQ(RunCommand(Cli("")).status, 2);
  EXPECT_EQ(RunCommand(Cli("frobnicate")).status, 2);
  EXPECT_EQ(RunCommand(Cli("run")).status, 2);
  auto r = RunCommand(Cli("run /nonexistent/path.scn"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("no such file or folder"), std::string::npos) << r.out;
  TempDir d;
  r = RunCommand(Cli("run " + CorpusDir() + "/controls --timeout soon --report " + d.path()));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--timeout takes a duration"), std::string::npos) << r.out;
  r = RunCommand(Cli("run " + CorpusDir() + "/controls --mode sideways --report " + d.path()));
  EXPECT_EQ(r.status, 2);
}

// CLI11 takes "-1" for an unsigned option as 2^64-1; every command refuses it instead.
TEST(Cli, AMistypedCommandGetsADidYouMean) {
  auto r = RunCommand(Cli("chek"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown command 'chek'; did you mean 'check'?"), std::string::npos)
      << r.out;
  r = RunCommand(Cli("-v stres --duration 1s"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("did you mean 'stress'?"), std::string::npos) << r.out;
  r = RunCommand(Cli("frobnicate"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown command 'frobnicate'"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("did you mean"), std::string::npos) << "nothing is close: " << r.out;
}

TEST(Cli, VersionNamesTheCommitAndReportsCarryIt) {
  auto r = RunCommand(Cli("--version"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("inflight 0.", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(git "), std::string::npos) << r.out;
  TempDir d;
  r = RunCommand(Cli("run " + CorpusDir() + "/self_ref_stream.scn -q --format json,ktap --report " +
                     d.path()));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(d.path() + "/report.json"));
  ASSERT_TRUE(j.contains("inflight"));
  EXPECT_FALSE(j["inflight"]["version"].get<std::string>().empty());
  EXPECT_FALSE(j["inflight"]["commit"].get<std::string>().empty());
  EXPECT_NE(ReadFile(d.path() + "/report.ktap").find("inflight 0."), std::string::npos);
}

TEST(Cli, NegativeNumbersExitTwoAndNameTheOption) {
  TempDir d;
  const std::string scn = CorpusDir() + "/controls/hold_socket.scn";
  const std::string out = " --report " + d.path() + "/out";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run " + scn + " --seed -1" + out, "--seed"},
      {"run " + scn + " --seed -18446744073709551615" + out, "--seed"},
      {"run " + scn + " --repeat -3" + out, "--repeat"},
      {"run " + scn + " --slots -1" + out, "--slots"},
      {"run " + scn + " --accounting-every -1" + out, "--accounting-every"},
      {"run " + scn + " -j -1" + out, "--jobs"},
      {"check --seed -1 --no-fuzz --no-stress" + out, "--seed"},
      {"selftest --jobs -1", "--jobs"},
      {"repro " + scn + " --seed -1" + out, "--seed"},
      {"repro " + scn + " --minimize-runs -1" + out, "--minimize-runs"},
      {"minimize " + scn + " --seed -1" + out, "--seed"},
      {"minimize " + scn + " --max-candidates -1" + out, "--max-candidates"},
      {"minimize " + scn + " --trials -1" + out, "--trials"},
      {"stress cycles --seed -1 --duration 1s" + out, "--seed"},
      {"stress cycles --workers -1 --duration 1s" + out, "--workers"},
      {"fuzz --jobs -1 --out " + d.path() + "/fuzz", "--jobs"},
      {"fuzz --repro -1 --out " + d.path() + "/fuzz", "--repro"},
      {"vm --kernel /nonexistent --cpus -1 -- run corpus", "--cpus"},
  };
  for (const auto& [args, option] : cases) {
    auto r = RunCommand(Cli(args));
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(option), std::string::npos) << args << "\n" << r.out;
  }
  auto r = RunCommand(Cli("run " + scn + " --seed -1" + out));
  EXPECT_NE(r.out.find("--seed: must be 0 or more (got -1)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/out/report.json")) << "nothing ran";
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/fuzz"));
}

// decode takes files and folders of them; a folder without inputs, a missing or an
// unreadable file is bad input, named, and nothing is printed.
TEST(Cli, DecodeReadsEachFileOfAFolderAndRefusesEmptyOnes) {
  TempDir d;
  const std::string corpus = d.path() + "/corpus";
  std::filesystem::create_directories(corpus + "/sub");
  auto r = RunCommand(Cli("encode " + CorpusDir() + "/self_ref_stream.scn " + CorpusDir() +
                          "/self_ref_dgram.scn --out " + corpus));
  ASSERT_EQ(r.status, 0) << r.out;
  WriteText(corpus + "/.state", "not an input");
  r = RunCommand(Cli("decode " + corpus));
  EXPECT_EQ(r.status, 0) << r.out;
  const size_t dgram = r.out.find("# decoded from " + corpus + "/self_ref_dgram\n");
  const size_t stream = r.out.find("# decoded from " + corpus + "/self_ref_stream\n");
  EXPECT_NE(dgram, std::string::npos) << r.out;
  EXPECT_NE(stream, std::string::npos) << r.out;
  EXPECT_LT(dgram, stream) << "in name order";
  EXPECT_EQ(r.out.find(".state"), std::string::npos) << "dot files are not inputs";

  r = RunCommand(Cli("decode " + corpus + "/sub"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(corpus + "/sub: a folder without input files"), std::string::npos) << r.out;
  r = RunCommand(Cli("decode " + corpus + "/self_ref_dgram " + d.path() + "/missing"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(d.path() + "/missing: cannot read the file"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("decoded from"), std::string::npos) << "bad input prints nothing";
  r = RunCommand(Cli("decode /proc/self/mem"));  // opens, but reading offset 0 fails (EIO)
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("/proc/self/mem: cannot read the file"), std::string::npos) << r.out;
  r = RunCommand(Cli("repro " + corpus + "/sub --report " + d.path() + "/out"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("a folder, not a file"), std::string::npos) << r.out;
}

TEST(Cli, MalformedScenarioNamesFileLineAndColumn) {
  TempDir d;
  const std::string f = d.path() + "/bad.scn";
  WriteText(f, "scenario bad\n\np0: a b = socketpair stream\np0: send a [b] peek\n");
  auto r = RunCommand(Cli("run " + f + " --report " + d.path() + "/out"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find(f + ":4:16: 'send' does not take 'peek'"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/out/report.json"))
      << "nothing half-done is written for bad input";
}

TEST(Cli, UnwritableReportFolderExitsTwo) {
  auto r = RunCommand(Cli("run " + CorpusDir() + "/controls --report /proc/inflight-nope"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--report /proc/inflight-nope"), std::string::npos) << r.out;
}

TEST(Cli, FmtCheckAcceptsTheCorpus) {
  auto r = RunCommand(Cli("fmt --check " + CorpusDir()));
  EXPECT_EQ(r.status, 0) << r.out;
  TempDir d;
  const std::string f = d.path() + "/loose.scn";
  WriteText(f, "scenario   loose\n\np0:   m = memfd\n");
  r = RunCommand(Cli("fmt --check " + f));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(RunCommand(Cli("fmt -w " + f)).status, 0);
  EXPECT_EQ(ReadFile(f), "scenario loose\n\np0: m = memfd\n");
}

class CliKernel : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

TEST_F(CliKernel, CleanRunWritesTheReportAndExitsZero) {
  TempDir d;
  auto r =
      RunCommand(Cli("run " + CorpusDir() + "/controls -n 3 --mode both -q --report " + d.path()));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("inflight run: CLEAN: 12 runs, 0 distinct finding(s) (0 runs)"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/report.json"));
  EXPECT_EQ(j["schema"], "inflight-report/1");
  EXPECT_EQ(j["verdict"], "clean");
  EXPECT_EQ(j["runs"].size(), 12u);
  EXPECT_EQ(j["counts"]["clean"], 12);
  EXPECT_FALSE(j["interrupted"].get<bool>());
  EXPECT_FALSE(j["kernel"].get<std::string>().empty());
  EXPECT_FALSE(j["layers"].empty());
  for (const auto& run : j["runs"]) {
    EXPECT_TRUE(run.contains("seed"));
    EXPECT_TRUE(run.contains("mode"));
    EXPECT_TRUE(run.contains("timings_us"));
    EXPECT_TRUE(run["leftovers"].empty());
  }
}

TEST_F(CliKernel, PlantedLeakExitsOneAndNamesTheLeftovers) {
  TempDir d;
  auto r = RunCommand(Cli("run " + CorpusDir() +
                          "/controls/hold_socket.scn --hold inflight-hold "
                          "--settle 5s -q --report " +
                          d.path()));
  EXPECT_EQ(r.status, 1) << r.out;
  // Grouped by signature: an embryo no one accepts holds x.
  EXPECT_NE(r.out.find("leak|chain|embryo: 1 run(s) in 1 scenario(s): control_hold_socket"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("e.g. control_hold_socket"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("leftover: dgram socket 'x'"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/report.json"));
  EXPECT_EQ(j["verdict"], "leak");
  EXPECT_EQ(j["runs"][0]["leftovers"][0]["object"], "x");
  EXPECT_TRUE(j["runs"][0].contains("scenario_text"));
}

TEST_F(CliKernel, SelftestPasses) {
  auto r = RunCommand(Cli("selftest -q"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("PASSED"), std::string::npos) << r.out;
}

TEST_F(CliKernel, UnprivilegedUsersRunInsideAUserNamespace) {
  if (const std::string why = testing::WhyNoUnprivilegedRun(); !why.empty())
    GTEST_SKIP() << "skipped: " << why;
  TempDir d;
  chmod(d.path().c_str(), 0777);
  auto r = RunCommand(
      testing::kAsNobody +
      Cli("run " + CorpusDir() + "/controls --mode both -q --report " + d.path() + "/out"));
  EXPECT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));
  EXPECT_TRUE(j["user_namespace"].get<bool>());
  EXPECT_EQ(j["verdict"], "clean");
  r = RunCommand(testing::kAsNobody + Cli("selftest -q"));
  EXPECT_EQ(r.status, 0) << "the oracle still sees planted leaks unprivileged: " << r.out;
}

TEST_F(CliKernel, ScenariosThatNeedRootAreLeftOutInAUserNamespaceAndSaySo) {
  // `setuid second` cannot work in a user namespace (EINVAL): a scenario using it is not
  // run there, and the report says which and why; it is not ruled a fault of the kernel.
  if (const std::string why = testing::WhyNoUnprivilegedRun(); !why.empty())
    GTEST_SKIP() << "skipped: " << why;
  TempDir d;
  chmod(d.path().c_str(), 0777);
  auto r = RunCommand(testing::kAsNobody +
                      Cli("run " + CorpusDir() + "/inflight_limit_unprivileged.scn " + CorpusDir() +
                          "/self_ref_stream.scn -q --report " + d.path() + "/out"));
  EXPECT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));
  EXPECT_EQ(j["verdict"], "clean") << j["counts"].dump();
  for (const auto& run : j["runs"]) EXPECT_EQ(run["scenario"], "self_ref_stream");
  EXPECT_FALSE(j["runs"].empty());
  bool said = false;
  for (const auto& l : j["inactive_layers"])
    said |= l.get<std::string>().find("scenario inflight_limit_unprivileged: not run: `setuid "
                                      "second` needs root") != std::string::npos;
  EXPECT_TRUE(said) << j["inactive_layers"].dump(1);
}

void InterruptMidRun(int sig) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TempDir d;
  const std::string f = d.path() + "/slow.scn";
  WriteText(f,
            "scenario slow\n\np0: a b = socketpair stream\np0: fork p1\np1: send b [a]\n"
            "p1: sleep 300\np0: sleep 300\n");
  pid_t pid = Spawn({CliPath(), "run", f, "-n", "200", "-j", "2", "--report", d.path() + "/out"},
                    d.path() + "/log");
  // Let it get going: the sandboxes said which layers are active, then runs finish
  // (each takes about 0.6 s).
  const int64_t started_by = NowMicros() + 30'000'000;
  while (ReadFile(d.path() + "/log").find("oracle layers") == std::string::npos &&
         NowMicros() < started_by)
    usleep(20'000);
  usleep(1'500'000);
  ASSERT_EQ(kill(pid, sig), 0);
  const int status = WaitForAll(pid);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  const std::string log = ReadFile(d.path() + "/log");
  if (sig == SIGKILL) {
    EXPECT_EQ(status, 128 + SIGKILL);
    return;
  }
  EXPECT_EQ(status, 130) << log;
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["runs"].size(), 0u) << "finished runs are kept";
  EXPECT_LT(j["runs"].size(), 200u);
  EXPECT_NE(log.find("INTERRUPTED"), std::string::npos) << log;
  for (auto& e : std::filesystem::directory_iterator(d.path() + "/out"))
    EXPECT_EQ(e.path().filename(), "report.json") << "no temporary file is left";
}

TEST_F(CliKernel, SigintMidRunKeepsResultsAndLeavesNothing) {
  InterruptMidRun(SIGINT);
}
TEST_F(CliKernel, SigtermMidRunKeepsResultsAndLeavesNothing) {
  InterruptMidRun(SIGTERM);
}
TEST_F(CliKernel, SigkillOfTheDriverLeavesNoProcess) {
  InterruptMidRun(SIGKILL);
}

// The scenario that once deadlocked the driver and its sandbox on their pipes (issue 11):
// 50 levels of nesting, 248 actions, 20 runs in each mode. With one sandbox (-j 1) the
// blocking writes of before deadlocked on it every time on the 2-core test machine.
TEST_F(CliKernel, FiftyLevelNestingFinishesInBothModes) {
  TempDir d;
  const std::string scn = std::string(INFLIGHT_SOURCE_DIR) + "/tests/data/nested_50_levels.scn";
  const std::string log = d.path() + "/log";
  const pid_t pid = Spawn({CliPath(), "run", scn, "--repeat", "20", "--mode", "both", "-j", "1",
                           "-q", "--report", d.path() + "/out"},
                          log);
  const auto status = testing::WaitExit(pid, 60'000);
  if (!status) {
    kill(pid, SIGKILL);  // its sandbox dies with it (PR_SET_PDEATHSIG)
    (void)testing::WaitExit(pid, 10'000);
  }
  ASSERT_TRUE(status.has_value()) << "still running after 60 s: " << ReadFile(log);
  EXPECT_EQ(*status, 0) << ReadFile(log);
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));
  EXPECT_EQ(j["runs"].size(), 40u);
  EXPECT_EQ(j["counts"]["clean"], 40) << ReadFile(log);
}

struct Stopped {
  int status = -1;
  double exit_s = 0;      // from the signal to the command's exit
  bool all_gone = false;  // every process it started is gone within 3 s of the signal
  std::string log;
};

// Starts `args`, waits until its output matches `started`, sends `sig`, and times how long
// the command and everything it started take to go. This process is their subreaper
// meanwhile, so a sandbox left behind is seen as our child.
Stopped SignalOnceStarted(const std::vector<std::string>& args, const std::string& log,
                          const std::regex& started, int sig) {
  Stopped out;
  EXPECT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const pid_t pid = Spawn(args, log);
  const int64_t started_by = NowMicros() + 120'000'000;
  while (!std::regex_search(ReadFile(log), started) && NowMicros() < started_by) {
    if (testing::WaitExit(pid, 20)) {
      ADD_FAILURE() << "it ended before it got going: " << ReadFile(log);
      prctl(PR_SET_CHILD_SUBREAPER, 0);
      return out;
    }
  }
  const int64_t t0 = NowMicros();
  EXPECT_EQ(kill(pid, sig), 0);
  const auto status = testing::WaitExit(pid, 30'000);
  out.exit_s = (NowMicros() - t0) / 1e6;
  if (!status) {
    ADD_FAILURE() << "still running 30 s after the signal";
    kill(pid, SIGKILL);
    (void)testing::WaitExit(pid, 10'000);
  }
  out.status = status.value_or(-1);
  const std::string children = "/proc/self/task/" + std::to_string(getpid()) + "/children";
  for (;;) {
    int st;
    while (waitpid(-1, &st, WNOHANG | __WALL) > 0) {
    }
    out.all_gone = ReadFile(children).empty();
    if (out.all_gone || NowMicros() > t0 + 3'000'000) break;
    usleep(10'000);  // orphans have no event to wait for; they are reaped as they end
  }
  if (!out.all_gone) ADD_FAILURE() << "left behind: " << ReadFile(children);
  testing::WaitForAll(-1);  // whatever is left goes before the next test
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  out.log = ReadFile(log);
  return out;
}

// SIGTERM in the middle of a long run of large scenarios (requests and results both
// larger than the pipes): exit 130 within about a second, a complete report that says it
// was interrupted and holds the finished runs, and no sandbox left behind.
TEST_F(CliKernel, SigtermStopsALongRunWithinASecond) {
  TempDir d;
  const std::string corpus = d.path() + "/corpus";
  std::filesystem::create_directory(corpus);
  for (int k = 0; k < 8; ++k)
    WriteText(corpus + "/chain" + std::to_string(k) + ".scn",
              testing::NestedChainText("chain" + std::to_string(k), 50, 64, 200));
  const Stopped s = SignalOnceStarted({CliPath(), "run", corpus, "--repeat", "500", "--mode",
                                       "both", "--report", d.path() + "/out"},
                                      d.path() + "/log", std::regex("run: \\[[1-9]"), SIGTERM);
  EXPECT_EQ(s.status, 130) << s.log;
  EXPECT_LT(s.exit_s, 2.0) << s.log;
  EXPECT_TRUE(s.all_gone);
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));  // complete JSON
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["runs"].size(), 0u) << "finished runs are kept";
  EXPECT_LT(j["runs"].size(), 8000u);
  EXPECT_NE(s.log.find("INTERRUPTED"), std::string::npos) << s.log;
}

// The same for a short stress run, once its first checkpoints are in.
TEST_F(CliKernel, SigtermStopsStressWithinASecond) {
  TempDir d;
  const Stopped s =
      SignalOnceStarted({CliPath(), "stress", "cycles", "-O", "cycles.nested=0", "--duration",
                         "60s", "--checkpoint", "500ms", "--report", d.path() + "/out"},
                        d.path() + "/log", std::regex("checkpoints [1-9]"), SIGTERM);
  EXPECT_EQ(s.status, 130) << s.log;
  EXPECT_LT(s.exit_s, 2.0) << s.log;
  EXPECT_TRUE(s.all_gone);
  auto j = nlohmann::json::parse(ReadFile(d.path() + "/out/report.json"));
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["runs"].size(), 0u) << "finished checkpoints are kept";
}

}  // namespace
}  // namespace inflight
