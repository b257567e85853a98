// The C emitter without a kernel: one commented block per step in the file's order, the
// turn handed to the right process (the executor's lockstep order, skipping processes
// that are gone), the embedded C library verbatim with only the action helpers a scenario
// needs, and a program that compiles with cc -Wall -Werror (and -Wextra) for every
// operation of the language.
#include "repro/csource.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "repro/c_library.h"
#include "scenario/bounds.h"
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
  EXPECT_NE(c.find("{ 22, 1, { EAGAIN }, { \"EAGAIN\" }, \"p1: recv a expect=EAGAIN\" }"),
            std::string::npos)
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
  EXPECT_NE(p1.find("do_send(2, V_b, vars, counts, 1, 1, 0, 0, 1, CREDS_NONE);\n\t}\n\tpass_turn(P_p0);"),
            std::string::npos)
      << p1;
  EXPECT_NE(p2.find("do_close(4, V_a);\n\tpass_turn(P_p0);"), std::string::npos) << p2;
  EXPECT_NE(p0.find("do_kill(5, P_p2);\n\tpass_turn(P_p1);"), std::string::npos) << p0;
  // p1's exit hands the turn to p0; p0 ends last of all (p1 exited, p2 was killed).
  EXPECT_NE(p1.find("sh->status[6] = STEP_OK;\n\tend_process(P_p0);"), std::string::npos) << p1;
  EXPECT_NE(p0.find("do_close(7, V_b);\n\tpass_turn(P_p0);"), std::string::npos) << p0;
  EXPECT_NE(p0.find("wait_turn(P_p0);\n\tend_process(-1);"), std::string::npos) << p0;
  // Of the action helpers, only what is used is emitted (repro.h declares them all).
  EXPECT_NE(c.find("void do_send(int step, int s, const int *vars, const int *counts, int nvars,"
                   "\n\t     int ncmsgs, int nempty, int flags, int bytes, int creds)\n{"),
            std::string::npos);
  EXPECT_EQ(c.find("do_recv: x y = recv s"), std::string::npos);
  EXPECT_EQ(c.find("void do_pipe(int step, int out0, int out1)\n{"), std::string::npos);
  EXPECT_EQ(c.find("expects[]"), std::string::npos) << "no expect=, no check";
  EXPECT_NE(c.find(".expects = NULL,\n\t\t.nexpects = 0,"), std::string::npos);
}

std::string SourceFile(const std::string& name) {
  return testing::ReadFile(std::string(INFLIGHT_SOURCE_DIR) + "/repro/c/" + name);
}

TEST(Csource, EmbedsTheLibraryFilesAsTheyAreInTheTree) {
  // Fails when the build did not re-embed a changed file, or embedding altered a byte.
  std::set<std::string> embedded;
  for (const CLibraryFile& f : CLibraryFiles()) {
    embedded.insert(std::string(f.name));
    EXPECT_EQ(f.text, SourceFile(std::string(f.name))) << f.name;
  }
  // Every file of repro/c/ but the library's own test program is embedded.
  std::set<std::string> files;
  for (auto& e :
       std::filesystem::directory_iterator(std::string(INFLIGHT_SOURCE_DIR) + "/repro/c")) {
    const std::string n = e.path().filename();
    if ((e.path().extension() == ".c" || e.path().extension() == ".h") && n != "repro_test.c")
      files.insert(n);
  }
  EXPECT_EQ(embedded, files);
  ASSERT_FALSE(CLibraryFiles().empty());
  EXPECT_EQ(CLibraryFiles()[0].name, "repro.h") << "printed first, before the scenario";
}

TEST(Csource, TheProgramIsTheLibraryTextPlusTheScenario) {
  const Scenario s = LoadScenarioFile(EveryOp());
  const std::string c = EmitCSource(s, {EveryOp()});
  // The header before the scenario, every other file after it, verbatim but for the
  // #include of the header; of steps.c, each helper used.
  const size_t scenario = c.find("/* ==== The scenario, generated by inflight csource ==== */");
  ASSERT_NE(scenario, std::string::npos);
  EXPECT_LT(c.find(std::string(CLibraryText("repro.h"))), scenario);
  for (const CLibraryFile& f : CLibraryFiles()) {
    if (f.name == "repro.h") continue;
    const std::string text = WithoutLibraryInclude(f.text);
    EXPECT_EQ(text.find("#include \"repro.h\""), std::string::npos);
    if (f.name == "steps.c") {
      const CLibraryPieces pieces = SplitHelpers(text);
      EXPECT_GT(c.find(pieces.prefix), scenario);
      for (const auto& [name, helper] : pieces.helpers)
        EXPECT_GT(c.find(helper), scenario) << name << ": every_op uses every action";
    } else {
      EXPECT_GT(c.find(text), scenario) << f.name;
    }
  }
  EXPECT_NE(c.find("\treturn repro_main(&scenario);\n}"), std::string::npos);
}

TEST(Csource, EveryActionHelperIsDeclaredAndCutOut) {
  // The helpers csource cuts out of steps.c are exactly the do_* functions repro.h
  // declares: a helper without its "do_NAME:" comment would be glued to the one before.
  const CLibraryPieces pieces = SplitHelpers(CLibraryText("steps.c"));
  std::set<std::string> cut, declared;
  for (const auto& [name, text] : pieces.helpers) {
    cut.insert(name);
    EXPECT_NE(text.find("void " + name + "(int step"), std::string::npos) << name;
    EXPECT_EQ(text.find("void do_", text.find("void " + name) + 1), std::string::npos)
        << name << " holds another helper";
  }
  const std::string h(CLibraryText("repro.h"));
  const std::regex decl(R"(\nvoid (do_[a-z_]+)\()");
  for (auto it = std::sregex_iterator(h.begin(), h.end(), decl); it != std::sregex_iterator(); ++it)
    declared.insert((*it)[1]);
  EXPECT_EQ(cut, declared);
  EXPECT_EQ(cut.size(), static_cast<size_t>(Op::kMaxValue) + 2)
      << "one per op (exit has none), and a second bind and connect for paths";
}

// Paths (./NAME) are relative: the C program makes a directory of the run's own, the
// graph's working directory, and removes the paths the scenario names at the end.
TEST(Csource, PathsAreNamedForTheRunsOwnDirectory) {
  const Scenario s = ParseScenario(
      "scenario p\n\np0: s = socket stream\np0: bind s ./b expect=ok\np0: connect s @b\n"
      "p0: unlink ./b\np0: t = socket stream\np0: connect t ./a expect=ENOENT\n");
  const std::string c = EmitCSource(s, {});
  EXPECT_NE(c.find("\tdo_bind_path(1, V_s, \"b\");\n"), std::string::npos);
  EXPECT_NE(c.find("\tdo_connect(2, V_s, \"b\");\n"), std::string::npos) << "@b stays abstract";
  EXPECT_NE(c.find("\tdo_unlink(3, \"b\");\n"), std::string::npos);
  EXPECT_NE(c.find("\tdo_connect_path(5, V_t, \"a\");\n"), std::string::npos);
  EXPECT_NE(c.find("static const char *const paths[] = {\n\t\"a\",\n\t\"b\",\n};\n"),
            std::string::npos)
      << "each path once, for the supervisor to remove";
  EXPECT_NE(c.find(".npaths = sizeof(paths) / sizeof(paths[0]),"), std::string::npos);
  const std::string plain = EmitCSource(
      ParseScenario("scenario q\n\np0: s = socket stream\np0: bind s @b\n"), {});
  EXPECT_EQ(plain.find(".npaths"), std::string::npos) << "no paths, no directory";
}

TEST(Csource, LibraryBoundsAreTheScenarioBounds) {
  const std::string h(CLibraryText("repro.h"));
  auto define = [&](const std::string& name) {
    std::smatch m;
    const std::regex re("#define " + name + " ([0-9]+)\n");
    return std::regex_search(h, m, re) ? std::stoul(m[1]) : 0ul;
  };
  EXPECT_EQ(define("REPRO_MAX_PROCS"), Bounds::kMaxProcs);
  EXPECT_EQ(define("REPRO_MAX_STEPS"), Bounds::kMaxActions);
  EXPECT_EQ(define("REPRO_MAX_VARS"), Bounds::kMaxVars);
}

TEST(Csource, SplitHelpersCutsAtEachHelpersComment) {
  const CLibraryPieces p = SplitHelpers(
      "#include \"repro.h\"\n\nint shared;\n\n/* do_a: one line */\nvoid do_a(int step)\n{\n}\n\n"
      "/*\n * do_bc: two\n * lines\n */\nvoid do_bc(int step)\n{\n}\n/* not a helper */\n");
  EXPECT_EQ(p.prefix, "#include \"repro.h\"\n\nint shared;\n\n");
  ASSERT_EQ(p.helpers.size(), 2u);
  EXPECT_EQ(p.helpers[0].first, "do_a");
  EXPECT_EQ(p.helpers[0].second, "/* do_a: one line */\nvoid do_a(int step)\n{\n}\n\n");
  EXPECT_EQ(p.helpers[1].first, "do_bc");
  EXPECT_EQ(p.helpers[1].second,
            "/*\n * do_bc: two\n * lines\n */\nvoid do_bc(int step)\n{\n}\n/* not a helper */\n");
  EXPECT_EQ(WithoutLibraryInclude("#include \"repro.h\"\nx\n"), "x\n");
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

// inet steps: the helper makes the family and type the kind names, and the program
// declares the families it needs, so a kernel without them skips it (exit 3) instead of
// ruling its EAFNOSUPPORT a fault.
TEST(Csource, InetStepsNameTheirFamilies) {
  const std::string c = EmitCSource(ParseScenario("scenario i\n\np0: t = inet tcp\n"
                                                  "p0: u = inet udp6\np0: listen t\n"),
                                    {});
  EXPECT_NE(c.find("do_inet(0, AF_INET, SOCK_STREAM, "), std::string::npos);
  EXPECT_NE(c.find("do_inet(1, AF_INET6, SOCK_DGRAM, "), std::string::npos);
  EXPECT_NE(c.find(".inet_families = REPRO_INET | REPRO_INET6,"), std::string::npos);
  const std::string v4 = EmitCSource(ParseScenario("scenario i\n\np0: u = inet udp\n"), {});
  EXPECT_NE(v4.find(".inet_families = REPRO_INET,"), std::string::npos);
  const std::string none = EmitCSource(ParseScenario("scenario i\n\np0: f = file\n"), {});
  EXPECT_EQ(none.find(".inet_families ="), std::string::npos);
}

}  // namespace
}  // namespace inflight
