// The .scn text form: round trips, canonical printing, and errors with positions.
#include <gtest/gtest.h>

#include <filesystem>

#include "scenario/text.h"
#include "scenario/validate.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CorpusDir;
using testing::ReadFile;

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::recursive_directory_iterator(CorpusDir()))
    if (e.path().extension() == ".scn") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ScenarioText, EveryCorpusFileRoundTripsExactly) {
  const auto files = CorpusFiles();
  ASSERT_GE(files.size(), 40u) << "the seed corpus has at least 40 scenarios";
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    const std::string text = ReadFile(f);
    Scenario s = ParseScenario(text, f);
    EXPECT_EQ(PrintScenario(s), text) << "not canonical: run `inflight fmt -w " << f << "`";
    EXPECT_EQ(ParseScenario(PrintScenario(s), f), s);
    EXPECT_FALSE(s.about.empty()) << "every corpus file says what it stands for";
    EXPECT_FALSE(s.refs.empty()) << "every corpus file carries a public reference";
  }
}

TEST(ScenarioText, CorpusNamesAreUnique) {
  std::set<std::string> names;
  for (const std::string& f : CorpusFiles())
    EXPECT_TRUE(names.insert(ParseScenario(ReadFile(f), f).name).second) << f;
}

const char* kEveryAction = R"(# preamble line
#
scenario every_action
about Every action and option once.
ref docs/scenario.md

p0: a b = socketpair stream
p0: d e = socketpair dgram expect=ok
p0: s = socket seqpacket
p0: bind s @srv.1
p0: listen s backlog=4
p0: c = socket seqpacket
p0: connect c @srv.1

# a comment above
p0: x = accept s
p0: r w = pipe
p0: f = file
p0: m = memfd
p0: ev = eventfd
p0: send a [a b*3 r w f m ev] oob dontwait cmsgs=3 bytes=7  # trailing
p0: send a []
p0: y z = recv b peek oob dontwait ctrunc=2 nofile=10 max=5 bytes=9 expect=EAGAIN
p0: shutdown a wr
p0: dd = dup a
p0: fork kid
kid: close dd
kid: barrier
kid: sleep 5
p0: kill kid
p0: exit
# epilogue
)";

TEST(ScenarioText, EveryActionRoundTrips) {
  Scenario s = ParseScenario(kEveryAction);
  EXPECT_EQ(PrintScenario(s), kEveryAction);
  ASSERT_EQ(s.actions.size(), 23u);
  const Action& send = s.actions[12];
  EXPECT_EQ(send.op, Op::kSend);
  EXPECT_EQ(Scenario::RightsCount(send), 9u);
  EXPECT_EQ(send.cmsgs, 3);
  EXPECT_EQ(send.bytes, 7);
  EXPECT_EQ(send.flags, kFlagOob | kFlagDontwait);
  EXPECT_EQ(send.note, "trailing");
  const Action& recv = s.actions[14];
  EXPECT_EQ(recv.out.size(), 2u);
  EXPECT_EQ(recv.ctrunc, 2);
  EXPECT_EQ(recv.nofile, 10);
  EXPECT_EQ(recv.max, 5);
  ASSERT_TRUE(recv.expect.has_value());
  EXPECT_EQ(*recv.expect, EAGAIN);
  EXPECT_TRUE(s.actions[7].blank_before);
  EXPECT_EQ(s.actions[7].comments, std::vector<std::string>{"a comment above"});
  EXPECT_EQ(s.preamble, (std::vector<std::string>{"preamble line", ""}));
  EXPECT_EQ(s.epilogue, std::vector<std::string>{"epilogue"});
  EXPECT_EQ(s.procs, (std::vector<std::string>{"p0", "kid"}));
}

TEST(ScenarioText, PrivilegeAndLimitWordsRoundTrip) {
  const std::string text =
      "scenario unprivileged\n\n"
      "p0: fork p1\n"
      "p1: setuid second expect=ok\n"
      "p1: dropcaps\n"
      "p1: limit nofile=8 expect=ok  # the in-flight limit\n";
  Scenario s = ParseScenario(text);
  EXPECT_EQ(PrintScenario(s), text);
  ASSERT_EQ(s.actions.size(), 4u);
  EXPECT_EQ(s.actions[1].op, Op::kSetuid);
  EXPECT_EQ(s.actions[2].op, Op::kDropCaps);
  EXPECT_EQ(s.actions[3].op, Op::kLimit);
  EXPECT_EQ(s.actions[3].nofile, 8);
  EXPECT_FALSE(Validate(s).has_value());
}

TEST(ScenarioText, NonCanonicalInputPrintsCanonically) {
  Scenario s = ParseScenario(
      "scenario   loose\nabout  x\n\n\n  p0 :  a b   =  socketpair   stream  \n"
      "p0: send a [ b ] bytes=1\np0: y = recv b max=253 bytes=256\n");
  EXPECT_EQ(PrintScenario(s),
            "scenario loose\nabout x\n\np0: a b = socketpair stream\np0: send a [b]\n"
            "p0: y = recv b\n");
}

TEST(ScenarioText, DecodedScenariosRoundTripAfterCanonicalize) {
  // Build one by hand the way a decoder would: names in a different order.
  Scenario s;
  s.name = "built";
  s.procs = {"q", "root"};
  s.vars = {"unused", "v1", "v0"};
  Action pair;
  pair.op = Op::kSocketpair;
  pair.proc = 1;
  pair.out = {2, 1};
  Action fork;
  fork.op = Op::kFork;
  fork.proc = 1;
  fork.other = 0;
  Action send;
  send.op = Op::kSend;
  send.proc = 0;
  send.target = 1;
  send.rights = {{2, 2}};
  send.bytes = 1;
  s.actions = {pair, fork, send};
  Canonicalize(s);
  ASSERT_FALSE(Validate(s).has_value()) << Validate(s)->message;
  EXPECT_EQ(s.procs, (std::vector<std::string>{"root", "q"}));
  EXPECT_EQ(s.vars, (std::vector<std::string>{"v0", "v1"}));
  EXPECT_EQ(ParseScenario(PrintScenario(s)), s);
}

struct BadInput {
  const char* text;
  uint32_t line, col;
  const char* message;  // a substring of the error
};

// Each with the exact place the error names.
const BadInput kBad[] = {
    {"", 1, 1, "no 'scenario NAME' line"},
    {"p0: exit\n", 1, 1, "starts with 'scenario NAME'"},
    {"scenario 9lives\n", 1, 10, "identifier"},
    {"scenario s\nabout\n", 2, 1, "'about' needs text"},
    {"scenario s\n# c\nabout x\n", 3, 1, "'about' belongs in the header"},
    {"scenario s\n\np0 exit\n", 3, 1, "process name and a colon"},
    {"scenario s\n\np0: frob a\n", 3, 5, "unknown action 'frob'"},
    {"scenario s\n\np0: a = socketpair stream\n", 3, 9, "binds 2 variable(s)"},
    {"scenario s\n\np0: a b = socketpair tcp\n", 3, 22, "stream, dgram or seqpacket"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a b\n", 4, 12, "list of descriptors"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a [b\n", 4, 14, "expected ']'"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a [b*0]\n", 4, 13, "at least 1"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a [b*513]\n", 4, 15,
     "a repeat count is at most 512"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a [b*400 a*200]\n", 4, 5,
     "at most 512 descriptors"},
    {"scenario s\n\np0: a b = socketpair stream\np0: send a [b] peek\n", 4, 16,
     "'send' does not take 'peek'"},
    {"scenario s\n\np0: a b = socketpair stream\np0: x = recv a nofile=0\n", 4, 23,
     "nofile is at least 1"},
    {"scenario s\n\np0: a b = socketpair stream\np0: x = recv a max=abc\n", 4, 20,
     "decimal number"},
    {"scenario s\n\np0: a b = socketpair stream\np0: close a expect=ENOPE\n", 4, 20,
     "unknown errno name 'ENOPE'"},
    {"scenario s\n\np0: close a\n", 3, 5, "'a' is not an open descriptor"},
    {"scenario s\n\np0: a b = socketpair stream\np0: close a\np0: close a\n", 5, 5,
     "'a' is not an open descriptor"},
    {"scenario s\n\np0: a b = socketpair stream\np0: a c = socketpair dgram\n", 4, 11,
     "still open"},
    {"scenario s\n\np0: fork p1\np0: fork p1\n", 4, 5, "forked twice"},
    {"scenario s\n\np0: exit\np1: exit\n", 4, 5, "acts before it is forked"},
    {"scenario s\n\np0: fork p1\np0: kill p1\np1: exit\n", 5, 5, "after it exited or was killed"},
    {"scenario s\n\np0: exit\np0: exit\n", 4, 5, "after it exited"},
    {"scenario s\n\np0: fork p0\n", 3, 5, "forked twice"},
    {"scenario s\n\np0: kill p0\n", 3, 5, "cannot kill itself"},
    {"scenario s\n\np0: s = socket stream\np0: bind s srv\n", 4, 12, "an address is '@'"},
    {"scenario s\n\np0: sleep 20000\n", 3, 11, "sleep is at most 10000"},
    {"scenario s\n\np0: a b = socketpair stream\np0: listen a backlog=500\n", 4, 22,
     "backlog is at most 128"},
    {"scenario s\n\np0: barrier\x01\n", 3, 12, "control character"},
    {"scenario s\nabout x\n\np0: exit\nscenario t\n", 5, 1, "belongs in the header"},
};

TEST(ScenarioText, MalformedInputsNameTheirPlace) {
  ASSERT_GE(std::size(kBad), 15u);
  for (const BadInput& b : kBad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(b.text, "bad.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("bad.scn:", 0), 0u) << e.what();
    }
  }
}

TEST(ScenarioText, PrivilegeAndLimitWordsNameTheirErrors) {
  const BadInput bad[] = {
      {"scenario s\n\np0: setuid\n", 3, 11, "expected 'second'"},
      {"scenario s\n\np0: setuid 1000\n", 3, 12, "setuid takes 'second'"},
      {"scenario s\n\np0: limit\n", 3, 10, "limit takes nofile=N"},
      {"scenario s\n\np0: limit nofile=0\n", 3, 18, "nofile is at least 1"},
      {"scenario s\n\np0: limit nofile=2000\n", 3, 18, "1024"},
      {"scenario s\n\np0: limit nofile=4 nofile=5\n", 3, 20, "'nofile' given twice"},
      {"scenario s\n\np0: limit max=4\n", 3, 11, "'limit' does not take 'max'"},
      {"scenario s\n\np0: dropcaps nofile=3\n", 3, 14, "'dropcaps' does not take 'nofile'"},
  };
  for (const BadInput& b : bad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(b.text, "bad.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
    }
  }
}

TEST(ScenarioText, TooLargeTextIsRefused) {
  std::string big = "scenario s\n\n";
  big.append(1 << 20, '#');
  EXPECT_THROW(ParseScenario(big), ParseError);
}

TEST(ScenarioText, MissingFileIsAParseErrorNotACrash) {
  try {
    LoadScenarioFile("/nonexistent/x.scn");
    ADD_FAILURE();
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
}

}  // namespace
}  // namespace inflight
