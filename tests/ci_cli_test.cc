// CI conventions of the built inflight that need no kernel facility: the man page and bash
// completion generated from the CLI definitions and installed by `cmake --install`, the
// exit statuses of --kselftest, and KTAP's skip-all plan on stdout when this machine
// cannot run the command (simulated with a sandbox binary that does not exist).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace inflight {
namespace {

namespace fs = std::filesystem;
using testing::CliPath;
using testing::CorpusDir;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

// The commands `inflight --help` lists (CLI11's own formatter, not the generator).
std::set<std::string> HelpCommands() {
  const auto help = RunCommand(CliPath() + " --help");
  std::set<std::string> out;
  std::istringstream in(help.out.substr(help.out.find("Subcommands:")));
  std::string line;
  std::getline(in, line);
  const std::regex cmd(R"(^  ([a-z][a-z-]*)( .*)?$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, cmd)) out.insert(m[1]);
  return out;
}

// Runs `cmdline` with stdout and stderr kept apart; returns the exit status.
int RunSplit(const std::string& cmdline, const std::string& dir, std::string& out, std::string& err) {
  const int st = system((cmdline + " >" + dir + "/stdout 2>" + dir + "/stderr").c_str());
  out = ReadFile(dir + "/stdout");
  err = ReadFile(dir + "/stderr");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(CiCli, InstallPutsBinaryManPageAndCompletionInPlace) {
  TempDir d;
  const auto inst = RunCommand(std::string(INFLIGHT_CMAKE_COMMAND) + " --install " +
                               INFLIGHT_BINARY_DIR + " --prefix " + d.path());
  ASSERT_EQ(inst.status, 0) << inst.out;
  const std::string bin = d.path() + "/bin/inflight";
  const std::string man = d.path() + "/share/man/man1/inflight.1";
  const std::string comp = d.path() + "/share/bash-completion/completions/inflight";
  ASSERT_TRUE(fs::exists(bin)) << inst.out;
  ASSERT_TRUE(fs::exists(man)) << inst.out;
  ASSERT_TRUE(fs::exists(comp)) << inst.out;
  EXPECT_EQ(RunCommand(bin + " --version").status, 0);

  // The page renders without a roff warning and names every command and option.
  const auto rendered = RunCommand("groff -man -Tutf8 -ww " + man + " 2>&1 >/dev/null");
  EXPECT_EQ(rendered.status, 0);
  EXPECT_EQ(rendered.out, "") << "groff warnings";
  const auto text = RunCommand("groff -man -Tascii -P-c -P-b -P-u " + man + " 2>/dev/null");
  ASSERT_EQ(text.status, 0);
  const std::set<std::string> commands = HelpCommands();
  ASSERT_GE(commands.size(), 10u);
  for (const std::string& c : commands)
    EXPECT_NE(text.out.find("inflight " + c + "\n"), std::string::npos) << "no section for " << c;
  for (const char* opt : {"--kselftest", "--version", "--repeat", "--known", "--format"})
    EXPECT_NE(text.out.find(opt), std::string::npos) << opt;
  EXPECT_NE(text.out.find("EXIT"), std::string::npos);

  // The completion offers every command at the first word, and a command's options after it.
  const std::string script = d.path() + "/complete.sh";
  FILE* f = fopen(script.c_str(), "w");
  ASSERT_TRUE(f);
  fprintf(f,
          "source %s\n"
          "COMP_WORDS=(inflight ''); COMP_CWORD=1; _inflight; echo \"first: ${COMPREPLY[*]}\"\n"
          "COMP_WORDS=(inflight run --rep); COMP_CWORD=2; _inflight; echo \"run: ${COMPREPLY[*]}\"\n"
          "COMP_WORDS=(inflight stress --); COMP_CWORD=2; _inflight; echo \"stress: ${COMPREPLY[*]}\"\n",
          comp.c_str());
  fclose(f);
  const auto out = RunCommand("bash " + script);
  ASSERT_EQ(out.status, 0) << out.out;
  std::istringstream lines(out.out);
  std::string first, run, stress;
  std::getline(lines, first);
  std::getline(lines, run);
  std::getline(lines, stress);
  std::set<std::string> offered;
  std::istringstream words(first.substr(first.find(':') + 1));
  for (std::string w; words >> w;) offered.insert(w);
  for (const std::string& c : commands) EXPECT_TRUE(offered.count(c)) << c << " not offered";
  EXPECT_EQ(run, "run: --repeat --report --report-all") << out.out;
  EXPECT_NE(stress.find("--known"), std::string::npos) << stress;
  EXPECT_EQ(stress.find("--repeat"), std::string::npos) << "run's options offered to stress";
}

TEST(CiCli, KselftestTurnsCannotRunHereIntoSkip) {
  TempDir d;
  const std::string run = "INFLIGHT_SANDBOX=/nonexistent/inflight-sandbox " + CliPath();
  const std::string args = " run " + CorpusDir() + "/cycle2_stream.scn -q --report " + d.path() + "/r";
  std::string out, err;
  EXPECT_EQ(RunSplit(run + args, d.path(), out, err), 3) << err;
  EXPECT_NE(err.find("exit status 3"), std::string::npos) << err;
  EXPECT_EQ(RunSplit(run + " --kselftest" + args, d.path(), out, err), 4) << err;
  EXPECT_NE(err.find("exit status 4"), std::string::npos) << err;
  // Bad usage keeps its status under --kselftest.
  EXPECT_EQ(RunSplit(CliPath() + " --kselftest run --repeat 0 x.scn", d.path(), out, err), 2);

  // KTAP on stdout: the skip-all plan, nothing else.
  EXPECT_EQ(RunSplit(run + " --kselftest" + args + " --format ktap:-", d.path(), out, err), 4) << err;
  EXPECT_TRUE(std::regex_match(out, std::regex("TAP version 13\n1\\.\\.0 # SKIP cannot run the "
                                               "sandbox [^\n#]*\n")))
      << out;
  EXPECT_EQ(RunSplit(CliPath() + " --help", d.path(), out, err), 0);
  EXPECT_NE(out.find("--kselftest"), std::string::npos);
  EXPECT_NE(out.find("ktap:-"), std::string::npos);
}

// -o has one meaning: where the output goes (a file or a folder), in every command.
TEST(CiCli, DashOIsAlwaysTheOutput) {
  size_t with_o = 0;
  for (const std::string& c : HelpCommands()) {
    const auto help = RunCommand(CliPath() + " " + c + " --help");
    ASSERT_EQ(help.status, 0) << c;
    std::istringstream in(help.out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("  -o,", 0) != 0) continue;
      ++with_o;
      EXPECT_TRUE(line.rfind("  -o,--out ", 0) == 0 || line.rfind("  -o,--output ", 0) == 0)
          << c << ": " << line;
    }
  }
  EXPECT_GE(with_o, 5u) << "csource, minimize, fuzz, encode, cover";
  // stress's stressor options are -O; its old -o says so instead of being taken for a file.
  TempDir d;
  const auto r = RunCommand(CliPath() + " stress cycles -o cycles.nested=0 --report " + d.path());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("-O/--option"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d.path() + "/report.json"));
}

}  // namespace
}  // namespace inflight
