// Issue 16, word 5 (its last part): AF_INET and AF_INET6 sockets as passengers
// (`s = inet tcp|udp|tcp6|udp6`): text round trip, errors naming their place, the object
// kinds reports name, and the byte form (codec format 8).
#include <gtest/gtest.h>

#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {
namespace {

TEST(WordsInet, InetRoundTrips) {
  const std::string canonical =
      "scenario i\n\np0: t = inet tcp expect=ok\np0: u = inet udp\np0: t6 = inet tcp6\n"
      "p0: u6 = inet udp6 expect=ok|EAFNOSUPPORT\np0: listen t backlog=4 expect=ok\n"
      "p0: listen u expect=EOPNOTSUPP\np0: d = dup u6\np0: a b = socketpair stream\n"
      "p0: send a [t u t6 d*2]\np0: x y = recv b is=t,u\np0: close t\n";
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  ASSERT_EQ(s.actions[0].op, Op::kInet);
  EXPECT_EQ(s.actions[0].inet, InetKind::kTcp);
  EXPECT_EQ(s.actions[1].inet, InetKind::kUdp);
  EXPECT_EQ(s.actions[2].inet, InetKind::kTcp6);
  EXPECT_EQ(s.actions[3].inet, InetKind::kUdp6);
  EXPECT_EQ(ObjectKindName(s.actions[0], 0), "tcp socket");
  EXPECT_EQ(ObjectKindName(s.actions[1], 0), "udp socket");
  EXPECT_EQ(ObjectKindName(s.actions[2], 0), "tcp6 socket");
  EXPECT_EQ(ObjectKindName(s.actions[3], 0), "udp6 socket");
  EXPECT_TRUE(CreatesObject(Op::kInet));
  EXPECT_FALSE(Validate(s).has_value());
  // The byte form keeps every kind (is= and expect= are assertions it drops).
  auto bytes = EncodeScenario(s);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(DecodeScenario(*bytes), CodecForm(s));
}

TEST(WordsInet, InetNamesItsErrors) {
  struct Bad {
    const char* text;
    uint32_t line, col;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {"scenario i\n\np0: t = inet\n", 3, 13,
       "expected an inet socket kind: tcp, udp, tcp6 or udp6"},
      {"scenario i\n\np0: t = inet sctp\n", 3, 14, "inet takes tcp, udp, tcp6 or udp6"},
      {"scenario i\n\np0: t = inet stream\n", 3, 14, "inet takes tcp, udp, tcp6 or udp6"},
      {"scenario i\n\np0: inet tcp\n", 3, 5, "'inet' binds 1 variable(s)"},
      {"scenario i\n\np0: a b = inet udp\n", 3, 11, "'inet' binds 1 variable(s)"},
      {"scenario i\n\np0: t = inet tcp backlog=3\n", 3, 18, "'inet' does not take 'backlog'"},
      {"scenario i\n\np0: t = inet tcp\np0: t = inet udp\n", 4, 9, "'t' is still open"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(b.text, "i.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
    }
  }
  // The validator holds the same rules for scenarios no text made: a kind out of range,
  // and a kind on an op that does not use it.
  Scenario s = ParseScenario("scenario i\n\np0: t = inet udp6\np0: close t\n");
  s.actions[0].inet = static_cast<InetKind>(4);
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("unknown inet socket kind"), std::string::npos) << err->message;
  s.actions[0].inet = InetKind::kUdp6;
  s.actions[1].inet = InetKind::kUdp;
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->action, 1);
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
}

// Codec format 8: op byte 44 is `inet`, reading one byte for its kind. Pinned: saved
// inputs depend on it.
TEST(WordsInet, InetIsInTheByteForm) {
  // inet tcp | inet udp | inet tcp6 | inet udp6 | listen (13): target v0, default backlog |
  // close (7): target v1 | op byte 44 + 45 wraps to inet, kind 5 % 4 = udp, output 1 of
  // (a new variable, v1): v1 again.
  const std::string in = {44, 0, 44, 1, 44, 2, 44, 3, 13, 0, 0, 7, 1, 89, 5, 1};
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 = inet tcp\n"
      "p0: v1 = inet udp\n"
      "p0: v2 = inet tcp6\n"
      "p0: v3 = inet udp6\n"
      "p0: listen v0\n"
      "p0: close v1\n"
      "p0: v1 = inet udp\n";
  EXPECT_EQ(PrintScenario(DecodeScenario(in)), text);
  std::string canonical = in;
  canonical[13] = 44;  // the encoder writes the first index of an op
  canonical[14] = 1;   // and the kind's own number
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), canonical);
}

}  // namespace
}  // namespace inflight
