// The fuzzer's byte form: fixed inputs decode to known scenarios (a change of decoding
// breaks every saved corpus, so these pins must only change with a format version),
// every input decodes to a valid scenario, and every corpus file round-trips.
#include "scenario/codec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "scenario/text.h"
#include "scenario/validate.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

std::string Decoded(const std::string& bytes) {
  return PrintScenario(DecodeScenario(bytes));
}

// --- pinned decodings --------------------------------------------------------------

TEST(CodecPinned, EmptyInputIsARootThatExits) {
  EXPECT_EQ(Decoded(""), "scenario decoded\n\np0: exit\n");
}

TEST(CodecPinned, SelfReferenceAcrossAFork) {
  // op socketpair, type stream | fork | send (proc p1, target v1, 1 entry: v0, count 1,
  // no options) | exit (proc p1) | close v0 | close v1 (the only choice: no byte).
  const std::string in = Bytes({0, 0, 9, 2, 1, 1, 1, 0, 0, 0, 10, 1, 7, 0, 7});
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 v1 = socketpair stream\n"
      "p0: fork p1\n"
      "p1: send v1 [v0]\n"
      "p1: exit\n"
      "p0: close v0\n"
      "p0: close v1\n";
  EXPECT_EQ(Decoded(in), text);
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), in);
}

TEST(CodecPinned, EveryOptionAndTheEscapes) {
  const std::string in = Bytes({
      0,  2,                                         // socketpair seqpacket
      2,  1,   1,  0,   240, 7,  13, 3, 240, 16, 0,  // send: count 8 and bytes 16 via escapes
      5,  0,   2,  127, 5,   3,  0,  5,              // recv with every option
      24, 240, 16, 39,                               // sleep 10000 (two bytes after the escape)
      14, 0,   8,  3,   49,  24, 64, 0,              // connect to a spelled-out address
      14, 1,   7,                                    // connect to the table's inflight-hold
      9,  27,  0,  1,                                // fork; pidfd of p1
      22, 1,                                         // p1 kills p0
      13, 1,   1,  3,                                // listen v1 backlog=3
      25, 0,   26, 4,   1,                           // epoll; epoll_add v5 v1
      20, 0,   1,                                    // shutdown v0 wr
  });
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 v1 = socketpair seqpacket\n"
      "p0: send v1 [v0*8] oob cmsgs=4 bytes=16\n"
      "p0: v2 v3 = recv v0 peek oob dontwait ctrunc=3 nofile=1 max=6 bytes=5\n"
      "p0: sleep 10000\n"
      "p0: connect v0 @Xy-a\n"
      "p0: connect v1 @inflight-hold\n"
      "p0: fork p1\n"
      "p0: v4 = pidfd p1\n"
      "p1: kill p0\n"
      "p1: listen v1 backlog=3\n"
      "p1: v5 = epoll\n"
      "p1: epoll_add v5 v1\n"
      "p1: shutdown v0 wr\n";
  EXPECT_EQ(Decoded(in), text);
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), in);
}

TEST(CodecPinned, ImpossibleOpsSpendOnlyTheirOpByte) {
  // close with nothing open; then socketpair (type 22 % 3 = dgram); kill with no other
  // process; pipe; then the last byte starts a socketpair whose type reads as 0.
  EXPECT_EQ(Decoded(Bytes({7, 0, 22, 22, 16, 0})),
            "scenario decoded\n\n"
            "p0: v0 v1 = socketpair dgram\n"
            "p0: v2 v3 = pipe\n"
            "p0: v4 v5 = socketpair stream\n");
}

// Format 5's recv (op byte 36): the extended recv's choices, then which buffers fault.
TEST(CodecPinned, Format5RecvFaults) {
  // socketpair stream; recv (36) on v1, no outputs, no modifiers, an exact cbuf=16, fault
  // pick 0 (cbuf), 2 (both).
  EXPECT_EQ(Decoded(Bytes({0, 0, 36, 1, 0, 0, 1, 16, 0})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\n"
            "p0: recv v1 cbuf=16 fault=cbuf\n");
  EXPECT_EQ(Decoded(Bytes({0, 0, 36, 1, 0, 0, 1, 16, 2})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\n"
            "p0: recv v1 cbuf=16 fault=cbuf,data\n");
  // A control buffer of 0 bytes cannot fault: only the data buffer does.
  EXPECT_EQ(Decoded(Bytes({0, 0, 36, 1, 0, 0, 1, 0, 2})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\n"
            "p0: recv v1 cbuf=0 fault=data\n");
  // No exact buffer: the recv keeps its default one (room for 253).
  EXPECT_EQ(Decoded(Bytes({0, 0, 36, 1, 0, 0, 0, 1})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\n"
            "p0: recv v1 fault=data\n");
}

TEST(CodecPinned, BytesRunningOutReadAsZeros) {
  EXPECT_EQ(Decoded(Bytes({2})), "scenario decoded\n\np0: exit\n");  // send: nothing open
  EXPECT_EQ(Decoded(Bytes({16})), "scenario decoded\n\np0: v0 v1 = pipe\n");
  EXPECT_EQ(Decoded(Bytes({0})), "scenario decoded\n\np0: v0 v1 = socketpair stream\n");
  EXPECT_EQ(Decoded(Bytes({45 + 16})), "scenario decoded\n\np0: v0 v1 = pipe\n")
      << "op bytes wrap around the table (45 entries since format 8)";
}

// Format 7's entries (op bytes 41 to 43): bind and connect to a path, unlink; each reads
// the address as format 1's bind does.
TEST(CodecPinned, Format7AppendsPaths) {
  // socket stream | bind path (41): the only target, address 0 ("a") | listen: default
  // backlog | socket stream | connect path (42): target v1, address "a" | unlink (43):
  // spelled out (8), length 1 + 1, "b" "c".
  const std::string in = Bytes({11, 0, 41, 0, 13, 0, 11, 0, 42, 1, 0, 43, 8, 1, 1, 2});
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 = socket stream\n"
      "p0: bind v0 ./a\n"
      "p0: listen v0\n"
      "p0: v1 = socket stream\n"
      "p0: connect v1 ./a\n"
      "p0: unlink ./bc\n";
  EXPECT_EQ(Decoded(in), text);
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), in);
  // The abstract bind (12) with the same bytes; a path name starting with '.' (char 63)
  // is none: the unlink is dropped, its bytes spent, and the pipe after it decodes.
  EXPECT_EQ(Decoded(Bytes({11, 0, 12, 0, 43, 8, 0, 63, 16})),
            "scenario decoded\n\np0: v0 = socket stream\np0: bind v0 @a\n"
            "p0: v1 v2 = pipe\n");
  // With nothing open a path bind spends its op byte only.
  EXPECT_EQ(Decoded(Bytes({41, 16})), "scenario decoded\n\np0: v0 v1 = pipe\n");
}

TEST(CodecPinned, Format3AppendsTheExtendedSendAndRecv) {
  // socketpair | extended send: target v1, one entry v0 with count 300 (escape, two bytes),
  // mods cmsgs, cmsgs 1+2, empty 2 | extended recv: target v0, binds one, no mods, cbuf 20.
  const std::string in = Bytes({0, 0, 33, 1, 1, 0, 240, 43, 1, 4, 2, 2, 34, 0, 1, 0, 20});
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 v1 = socketpair stream\n"
      "p0: send v1 [v0*300] cmsgs=3 empty=2\n"
      "p0: v2 = recv v0 cbuf=20\n";
  EXPECT_EQ(Decoded(in), text);
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), in);
  // Format 2's send still stops at SCM_MAX_FD and at one message per descriptor.
  EXPECT_EQ(Decoded(Bytes({0, 0, 2, 1, 1, 0, 240, 43, 4, 2})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\n"
            "p0: send v1 [v0*44] cmsgs=3\n");
  EXPECT_EQ(Decoded(Bytes({0, 0, 2, 1, 1, 0, 0, 4, 2})),
            "scenario decoded\n\np0: v0 v1 = socketpair stream\np0: send v1 [v0]\n");
}

TEST(CodecPinned, Format4AppendsSetsockopt) {
  // socketpair | setsockopt: target v0, option passrights, value 1 | setsockopt: target v1,
  // sndbuf, 1 + 63 | rcvbuf after the escape: 1 + 4095 (two bytes, little end first).
  const std::string in = Bytes({0, 0, 35, 0, 0, 1, 35, 1, 1, 63, 35, 0, 2, 240, 0xff, 0x0f});
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 v1 = socketpair stream\n"
      "p0: setsockopt v0 passrights=1\n"
      "p0: setsockopt v1 sndbuf=64\n"
      "p0: setsockopt v0 rcvbuf=4096\n";
  EXPECT_EQ(Decoded(in), text);
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), in);
  // With nothing open it spends its op byte only.
  EXPECT_EQ(Decoded(Bytes({35, 16})), "scenario decoded\n\np0: v0 v1 = pipe\n");
}

TEST(CodecPinned, Format2AppendsThePrivilegeWords) {
  EXPECT_EQ(Decoded(Bytes({30})), "scenario decoded\n\np0: setuid second\n");
  EXPECT_EQ(Decoded(Bytes({31})), "scenario decoded\n\np0: dropcaps\n");
  EXPECT_EQ(Decoded(Bytes({32, 7})), "scenario decoded\n\np0: limit nofile=8\n");
  const std::string text =
      "scenario decoded\n\np0: fork p1\np1: setuid second\np1: dropcaps\np1: limit nofile=8\n";
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), Bytes({9, 30, 1, 31, 1, 32, 1, 7}));
}

// --- properties ---------------------------------------------------------------------

TEST(Codec, EveryInputDecodesToAValidScenarioThatPrintsAndParsesBack) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 20000; ++i) {
    std::string in(rng() % 600, '\0');
    for (char& c : in) c = static_cast<char>(rng());
    const Scenario s = DecodeScenario(in);
    auto err = Validate(s);
    ASSERT_FALSE(err) << err->message << " at action " << err->action;
    ASSERT_EQ(ParseScenario(PrintScenario(s)), s) << PrintScenario(s);
    // Decoding is a function of the bytes alone.
    ASSERT_EQ(DecodeScenario(in), s);
    // Re-encoding the decoded scenario gives an input that decodes to it again.
    auto again = EncodeScenario(s);
    ASSERT_TRUE(again.has_value()) << PrintScenario(s);
    ASSERT_EQ(DecodeScenario(*again), s);
  }
}

TEST(Codec, EveryCorpusFileRoundTrips) {
  size_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(testing::CorpusDir())) {
    if (e.path().extension() != ".scn") continue;
    SCOPED_TRACE(e.path().string());
    const Scenario s = LoadScenarioFile(e.path().string());
    auto bytes = EncodeScenario(s);
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(DecodeScenario(*bytes), CodecForm(s));
    ++n;
  }
  EXPECT_GT(n, 50u);
}

TEST(Codec, CodecFormDropsOnlyPresentationAndExpectations) {
  const Scenario s = ParseScenario(
      "# pre\nscenario named\nabout text\n\np0: x = socket dgram  # note\n"
      "# comment\np0: close x expect=ok\n");
  const Scenario f = CodecForm(s);
  EXPECT_EQ(PrintScenario(f), "scenario decoded\n\np0: v0 = socket dgram\np0: close v0\n");
}

TEST(Codec, InvalidScenariosAreNotEncoded) {
  Scenario s = ParseScenario("scenario x\n\np0: a b = socketpair stream\n");
  s.actions[0].out = {0};  // socketpair with one output
  EXPECT_FALSE(EncodeScenario(s).has_value());
}

}  // namespace
}  // namespace inflight
