// The C emitter without a kernel: one commented block per step in the file's order, the
// turn handed to the right process (the executor's lockstep order, skipping processes
// that are gone), only the helpers a scenario needs, and a program that compiles with
// cc -Wall -Werror (and -Wextra) for every operation of the language.
#include "repro/csource.h"

#include <gtest/gtest.h>

#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CorpusDir;
using testing::RunCommand;
using testing::TempDir;

std::string EveryOp() {
  return std::string(INFLIGHT_SOURCE_DIR) + "/tests/scenarios/every_op.scn";
}

// The body of `static void run_NAME(void)`.
std::string ProcessBody(const std::string& c, const std::string& name) {
  const size_t at = c.find("static void run_" + name + "(void)\n{");
  if (at == std::string::npos) return "";
  return c.substr(at, c.find("\n}\n", at) - at);
}

TEST(Csource, OneCommentedBlockPerStepInTheFilesOrder) {
  const Scenario s = LoadScenarioFile(EveryOp());
  const std::string c = EmitCSource(s, {EveryOp()});
  size_t last = 0;
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const std::string marker = "/* step " + std::to_string(i) + ": " + PrintAction(s, s.actions[i]);
    const size_t at = c.find(marker);
    ASSERT_NE(at, std::string::npos) << marker;
    if (s.actions[i].proc == 0) {
      EXPECT_GT(at, last) << "p0's steps appear in order";
      last = at;
    }
  }
  EXPECT_NE(c.find("from " + EveryOp()), std::string::npos);
  EXPECT_NE(c.find("k = recv a ctrunc=1 expect=ok  (r; the other five are dropped"),
            std::string::npos)
      << "the scenario's notes stay";
  EXPECT_NE(c.find("{ 18, EAGAIN, \"p1: recv a expect=EAGAIN\" }"), std::string::npos)
      << "expected results are checked by name";
}

TEST(Csource, TurnsFollowTheLockstepOrder) {
  const Scenario s = ParseScenario(R"(scenario turns

p0: a b = socketpair stream
p0: fork p1
p1: send b [a]
p0: fork p2
p2: close a
p0: kill p2
p1: exit
p0: close b
)");
  const std::string c = EmitCSource(s, {});
  const std::string p0 = ProcessBody(c, "p0"), p1 = ProcessBody(c, "p1"), p2 = ProcessBody(c, "p2");
  ASSERT_FALSE(p0.empty() || p1.empty() || p2.empty()) << c;
  // After step 1 (fork p1) the turn goes to p1, after step 2 back to p0, ...
  EXPECT_NE(p0.find("do_fork(1, P_p1, run_p1);\n\tpass_turn(P_p1);"), std::string::npos) << p0;
  EXPECT_NE(p1.find("do_send(2, V_b, vars, counts, 1, 1, 0, 1);\n\t}\n\tpass_turn(P_p0);"),
            std::string::npos)
      << p1;
  EXPECT_NE(p2.find("do_close(4, V_a);\n\tpass_turn(P_p0);"), std::string::npos) << p2;
  EXPECT_NE(p0.find("do_kill(5, P_p2);\n\tpass_turn(P_p1);"), std::string::npos) << p0;
  // p1's exit hands the turn to p0; p0 ends last of all (p1 exited, p2 was killed).
  EXPECT_NE(p1.find("sh->status[6] = STEP_OK;\n\tend_process(P_p0);"), std::string::npos) << p1;
  EXPECT_NE(p0.find("do_close(7, V_b);\n\tpass_turn(P_p0);"), std::string::npos) << p0;
  EXPECT_NE(p0.find("wait_turn(P_p0);\n\tend_process(-1);"), std::string::npos) << p0;
  // Only what is used is emitted.
  EXPECT_EQ(c.find("do_recv"), std::string::npos);
  EXPECT_EQ(c.find("do_pipe"), std::string::npos);
  EXPECT_EQ(c.find("expects[]"), std::string::npos) << "no expect=, no check";
}

bool HaveCc() {
  return RunCommand("command -v cc").status == 0;
}

TEST(Csource, CompilesWithWarningsAsErrors) {
  if (!HaveCc()) GTEST_SKIP() << "skipped: no C compiler (cc)";
  TempDir d;
  for (const std::string& f :
       {EveryOp(), CorpusDir() + "/kill_holder_of_peeked.scn",
        CorpusDir() + "/controls/hold_socket.scn", CorpusDir() + "/max_fds_253_one_message.scn",
        CorpusDir() + "/self_ref_dgram.scn"}) {
    const std::string c = d.path() + "/prog.c";
    FILE* out = fopen(c.c_str(), "w");
    ASSERT_TRUE(out);
    const std::string text = EmitCSource(LoadScenarioFile(f), {f});
    fputs(text.c_str(), out);
    fclose(out);
    auto r = RunCommand("cc -Wall -Wextra -Werror -o " + d.path() + "/prog " + c);
    EXPECT_EQ(r.status, 0) << f << ":\n" << r.out;
  }
}

TEST(Csource, CommandExitsTwoOnBadInputAndWritesNothing) {
  TempDir d;
  const std::string bad = d.path() + "/bad.scn";
  FILE* f = fopen(bad.c_str(), "w");
  fputs("scenario bad\n\np0: close nothing\n", f);
  fclose(f);
  auto r = RunCommand(testing::CliPath() + " csource " + bad + " -o " + d.path() + "/out.c");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":3:"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/out.c"));
  r = RunCommand(testing::CliPath() + " csource " + d.path() + "/missing.scn");
  EXPECT_EQ(r.status, 2) << r.out;
  r = RunCommand(testing::CliPath() + " csource " + EveryOp() + " -o /proc/nope/out.c");
  EXPECT_EQ(r.status, 2) << r.out;
  r = RunCommand(testing::CliPath() + " csource " + EveryOp() + " -o " + d.path() + "/ok.c");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(testing::ReadFile(d.path() + "/ok.c").find("int main(void)"), std::string::npos);
}

}  // namespace
}  // namespace inflight
