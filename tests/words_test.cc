// The words of issue 16, each: text round trip, validation errors naming their place and
// bound, and the codec (the fuzzer can generate it; old inputs still decode as before).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "scenario/bounds.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {
namespace {

struct Bad {
  const char* text;
  uint32_t line, col;
  const char* message;  // a substring of the error
};

void ExpectErrors(const std::vector<Bad>& bad) {
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(b.text, "w.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
    }
  }
}

void ExpectRoundTrip(const std::string& canonical) {
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  auto bytes = EncodeScenario(s);
  ASSERT_TRUE(bytes.has_value()) << canonical;
  EXPECT_EQ(DecodeScenario(*bytes), CodecForm(s)) << canonical;
}

// --- word 10: a full-line comment before the first action ---------------------------

TEST(Words, CommentBeforeTheFirstActionBelongsToIt) {
  const std::string canonical =
      "scenario c\nref somewhere\n\n# why the graph starts so\np0: a b = socketpair stream\n";
  const Scenario s = ParseScenario(canonical);
  ASSERT_EQ(s.actions.size(), 1u);
  EXPECT_EQ(s.actions[0].comments, std::vector<std::string>{"why the graph starts so"});
  EXPECT_EQ(PrintScenario(s), canonical);
  // Right below the header lines too; the canonical form puts the empty line in.
  const Scenario t = ParseScenario(
      "scenario c\nref somewhere\n# why the graph starts so\np0: a b = socketpair stream\n");
  EXPECT_EQ(PrintScenario(t), canonical);
  EXPECT_EQ(t, s);
}

TEST(Words, HeaderLinesAfterAFirstActionCommentAreErrors) {
  ExpectErrors({
      {"scenario s\n# c\nabout x\np0: exit\n", 3, 1, "'about' belongs in the header"},
      {"scenario s\n\n# c\nref x\np0: exit\n", 4, 1, "'ref' belongs in the header"},
      {"scenario s\n# only a comment\n", 1, 1, "1 to 16 processes"},
  });
}


// --- word 2: SCM_RIGHTS messages with no descriptor ---------------------------------

TEST(Words, EmptyRightsMessagesRoundTrip) {
  ExpectRoundTrip(
      "scenario e\n\np0: a b = socketpair stream\np0: send a [] empty=1\n"
      "p0: send a [b] empty=2\np0: send a [b] cmsgs=3\np0: send a [a b] cmsgs=2 empty=14\n");
  const Scenario s = ParseScenario(
      "scenario e\n\np0: a b = socketpair stream\np0: send a [b] cmsgs=3 empty=2\n");
  EXPECT_EQ(s.actions[1].empty, 2);
  EXPECT_EQ(s.actions[1].cmsgs, 3);
  EXPECT_EQ(Scenario::RightsCount(s.actions[1]), 1u);
}

TEST(Words, EmptyRightsMessagesNameTheirBounds) {
  const std::string head = "scenario e\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: send a [] empty=17\n").c_str(), 4, 21, "empty is at most 16"},
      {(head + "p0: send a [b] cmsgs=4 empty=13\n").c_str(), 4, 5,
       "cmsgs and empty add up to at most 16"},
      {(head + "p0: send a [] cmsgs=2\n").c_str(), 4, 5, "empty=N sends messages with none"},
      {(head + "p0: x = recv a empty=1\n").c_str(), 4, 16, "'recv' does not take 'empty'"},
  });
}

// --- word 3: receive control buffers of exact bytes ---------------------------------

TEST(Words, ControlBufferBytesRoundTrip) {
  ExpectRoundTrip(
      "scenario c\n\np0: a b = socketpair stream\np0: send a [b*3]\n"
      "p0: recv b cbuf=16\np0: send a [b*3]\np0: x = recv b cbuf=22\np0: send a [b]\n"
      "p0: y = recv b peek cbuf=0 max=2\np0: recv b cbuf=4096\np0: recv b cbuf=63\n"
      "p0: recv b cbuf=64\n");
}

TEST(Words, ControlBufferBytesNameTheirBounds) {
  const std::string head = "scenario c\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: recv a cbuf=4097\n").c_str(), 4, 17, "cbuf is at most 4096"},
      {(head + "p0: recv a cbuf=-1\n").c_str(), 4, 17, "cbuf takes a decimal number"},
      {(head + "p0: recv a ctrunc=1 cbuf=16\n").c_str(), 4, 5, "ctrunc and cbuf"},
      {(head + "p0: send a [b] cbuf=16\n").c_str(), 4, 16, "'send' does not take 'cbuf'"},
  });
}

// --- word 7: beyond SCM_MAX_FD, deeper nesting ----------------------------------------

TEST(Words, SendsBeyondScmMaxFdAreTheKernelsToRefuse) {
  ExpectRoundTrip(
      "scenario m\n\np0: a b = socketpair stream\np0: send a [b*254] expect=EINVAL\n"
      "p0: send a [a*256 b*256] cmsgs=2\np0: send a [b*253]\n");
  const std::string head = "scenario m\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: send a [b*513]\n").c_str(), 4, 15, "a repeat count is at most 512"},
      {(head + "p0: send a [b*300 a*300]\n").c_str(), 4, 5,
       "one send lists at most 512 descriptors"},
      {(head + "p0: x = recv a max=254\n").c_str(), 4, 20, "max is at most 253"},
  });
}

// A chain of `levels` pairs, each carrying both ends of the one before: 4 actions a level.
std::string Chain(int levels) {
  std::string t = "scenario deep\n\np0: a b = socketpair stream\n";
  for (int i = 1; i < levels; ++i) {
    const bool odd = i % 2 == 1;
    const std::string x = odd ? "c" : "a", y = odd ? "d" : "b", px = odd ? "a" : "c",
                      py = odd ? "b" : "d";
    t += "p0: " + x + " " + y + " = socketpair stream\n";
    t += "p0: send " + x + " [" + px + " " + py + "]\n";
    t += "p0: close " + px + "\np0: close " + py + "\n";
  }
  return t;
}

TEST(Words, NestingDeeperThan63LevelsFitsTheActionBudget) {
  const Scenario s = ParseScenario(Chain(200));
  EXPECT_EQ(s.actions.size(), 1u + 4u * 199u);
  ExpectRoundTrip(Chain(200));
  // Bounds stay, named: 1024 actions, 1024 descriptors created.
  std::string too_long = Chain(200);
  for (int i = 0; i < 300; ++i) too_long += "p0: barrier\n";
  ExpectErrors({{too_long.c_str(), 3 + 1024, 1, "more than 1024 actions"}});
  // 15 children and the root create 32 pairs each (an exit closes them all): 1024
  // descriptors; one more is over the bound.
  std::string too_many = "scenario o\n\n";
  auto pairs = [&](const std::string& p) {
    for (int i = 0; i < 32; ++i)
      too_many += p + ": a" + std::to_string(i) + " b" + std::to_string(i) + " = socketpair stream\n";
  };
  for (int k = 1; k <= 15; ++k) {
    const std::string kid = "k" + std::to_string(k);
    too_many += "p0: fork " + kid + "\n";
    pairs(kid);
    too_many += kid + ": exit\n";
  }
  pairs("p0");
  too_many += "p0: close a0\n";
  EXPECT_NO_THROW(ParseScenario(too_many));
  const uint32_t line = static_cast<uint32_t>(std::count(too_many.begin(), too_many.end(), '\n')) + 1;
  too_many += "p0: a0 = memfd\n";
  ExpectErrors({{too_many.c_str(), line, 10, "at most 1024 descriptors created"}});
}


// --- word 8: expectations that depend on the kernel ---------------------------------

TEST(Words, ExpectAlternativesRoundTrip) {
  const std::string canonical =
      "scenario k\n\np0: a b = socketpair stream\np0: send a [b] expect=ok|ETOOMANYREFS\n"
      "p0: recv b expect=EAGAIN|ok|EINVAL|EPERM\np0: close a expect=ok\n";
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  ASSERT_TRUE(s.actions[1].expect.has_value());
  EXPECT_EQ(*s.actions[1].expect, 0);
  EXPECT_EQ(s.actions[1].expect_or, std::vector<int>{ETOOMANYREFS});
  EXPECT_EQ(ExpectedOutcomes(s.actions[2]), (std::vector<int>{EAGAIN, 0, EINVAL, EPERM}));
  EXPECT_TRUE(s.actions[3].expect_or.empty());
  // Any listed outcome is accepted, nothing else; an unchecked action accepts anything.
  EXPECT_TRUE(ExpectAccepts(s.actions[1], 0));
  EXPECT_TRUE(ExpectAccepts(s.actions[1], ETOOMANYREFS));
  EXPECT_FALSE(ExpectAccepts(s.actions[1], EINVAL));
  EXPECT_TRUE(ExpectAccepts(s.actions[0], EINVAL));
  // The codec drops expectations, alternatives too (a fuzzed scenario has none).
  auto bytes = EncodeScenario(s);
  ASSERT_TRUE(bytes.has_value());
  const Scenario d = DecodeScenario(*bytes);
  EXPECT_EQ(d, CodecForm(s));
  for (const Action& a : d.actions) EXPECT_TRUE(ExpectedOutcomes(a).empty());
}

TEST(Words, ExpectAlternativesNameTheirBounds) {
  const std::string head = "scenario k\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: send a [b] expect=ok|EPERM|EINVAL|EAGAIN|EBADF\n").c_str(), 4, 46,
       "expect= lists at most 4 alternatives"},
      {(head + "p0: send a [b] expect=ok|EPERM|ok\n").c_str(), 4, 32, "'ok' listed twice"},
      {(head + "p0: send a [b] expect=EPERM|EPERM\n").c_str(), 4, 29, "'EPERM' listed twice"},
      {(head + "p0: send a [b] expect=ok||EPERM\n").c_str(), 4, 26, "an empty alternative"},
      {(head + "p0: send a [b] expect=ok|\n").c_str(), 4, 26, "an empty alternative"},
      {(head + "p0: send a [b] expect=ok|ENOTANERRNO\n").c_str(), 4, 26,
       "unknown errno name 'ENOTANERRNO'"},
  });
  // The validator holds the same bounds for scenarios no text made.
  Scenario s = ParseScenario(head + "p0: send a [b] expect=ok\n");
  s.actions[1].expect_or = {EPERM, EINVAL, EAGAIN, EBADF};
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("at most 4 alternatives"), std::string::npos) << err->message;
  s.actions[1].expect_or = {EPERM, 0};
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("listed twice"), std::string::npos) << err->message;
  s.actions[1].expect_or = {EPERM};
  s.actions[1].expect.reset();
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("without a first one"), std::string::npos) << err->message;
  s.actions[1].expect = 0;
  s.actions[1].expect_or = {EPERM, EINVAL, EAGAIN};
  EXPECT_FALSE(Validate(s).has_value());
}

// --- word 6: setsockopt --------------------------------------------------------------

TEST(Words, SetsockoptRoundTrips) {
  ExpectRoundTrip(
      "scenario o\n\np0: a b = socketpair stream\n"
      "p0: setsockopt a passrights=0 expect=ok|ENOPROTOOPT\np0: setsockopt a passrights=1\n"
      "p0: setsockopt b sndbuf=1\np0: setsockopt b rcvbuf=65536\np0: r w = pipe\n"
      "p0: setsockopt r sndbuf=4096 expect=ENOTSOCK\n");
  const Scenario s = ParseScenario(
      "scenario o\n\np0: a b = socketpair dgram\np0: setsockopt b rcvbuf=2048\n");
  EXPECT_EQ(s.actions[1].op, Op::kSetsockopt);
  EXPECT_EQ(s.actions[1].sockopt, SockOpt::kRcvbuf);
  EXPECT_EQ(s.actions[1].optval, 2048u);
}

TEST(Words, SetsockoptNamesItsBounds) {
  const std::string head = "scenario o\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: setsockopt a passrights=2\n").c_str(), 4, 29, "passrights is at most 1"},
      {(head + "p0: setsockopt a sndbuf=65537\n").c_str(), 4, 25, "sndbuf is at most 65536"},
      {(head + "p0: setsockopt a rcvbuf=0\n").c_str(), 4, 25, "rcvbuf is at least 1"},
      {(head + "p0: setsockopt a rcvbuf=x\n").c_str(), 4, 25, "rcvbuf takes a decimal number"},
      {(head + "p0: setsockopt a passsec=1\n").c_str(), 4, 18,
       "setsockopt takes one of passrights=0|1, sndbuf=N, rcvbuf=N"},
      {(head + "p0: setsockopt a\n").c_str(), 4, 17, "expected an option"},
      {(head + "p0: setsockopt a sndbuf=8 rcvbuf=8\n").c_str(), 4, 27, "sets one option"},
      {(head + "p0: send a [b] sndbuf=8\n").c_str(), 4, 16, "'send' does not take 'sndbuf'"},
      {(head + "p0: setsockopt c sndbuf=8\n").c_str(), 4, 5, "'c' is not an open descriptor"},
  });
  // The validator holds the same bounds for scenarios no text made.
  Scenario s = ParseScenario(head + "p0: setsockopt a passrights=1\n");
  s.actions[1].optval = 2;
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("passrights is 0 or 1"), std::string::npos) << err->message;
  s.actions[1].sockopt = SockOpt::kSndbuf;
  s.actions[1].optval = Bounds::kMaxSockBuf + 1;
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("sndbuf is 1 to 65536 bytes"), std::string::npos) << err->message;
  s.actions[0].optval = 1;  // a field socketpair does not use
  s.actions[1].optval = 8;
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
}


// --- word 9: identity assertions on receive (is=) ---------------------------------------

TEST(Words, IsRoundTripsAndStaysOutOfTheCodec) {
  const std::string canonical =
      "scenario i\n\np0: a b = socketpair stream\np0: r w = pipe\np0: e = eventfd\n"
      "p0: send a [w r e] bytes=3\np0: close w\n"
      "p0: x y z = recv b max=3 bytes=3 is=w,-,e expect=ok\n"
      "p0: w = memfd\np0: send a [w]\np0: v = recv b is=w\n";
  ExpectRoundTrip(canonical);
  const Scenario s = ParseScenario(canonical);
  const Action& recv = s.actions[5];
  ASSERT_EQ(recv.same.size(), 3u);
  EXPECT_EQ(s.vars[recv.same[0]], "w");
  EXPECT_EQ(recv.same[1], kNoVar);
  // The last creation above names the object: the pipe's write end at action 5, the
  // memfd that took the name over at action 8.
  auto c = CreationOf(s, 5, recv.same[0]);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->action, 1);
  EXPECT_EQ(c->out_index, 1);
  c = CreationOf(s, 8, s.actions[8].same[0]);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->action, 6);
  // An assertion like expect=: the fuzzer's form has none.
  for (const Action& a : CodecForm(s).actions) EXPECT_TRUE(a.same.empty());
}

TEST(Words, IsNamesItsBounds) {
  const std::string head = "scenario i\n\np0: a b = socketpair stream\n";
  std::string many = head + "p0: x = recv b is=";
  for (int k = 0; k < 254; ++k) many += k ? ",a" : "a";
  many += "\n";
  ExpectErrors({
      {(head + "p0: x = recv b is=\n").c_str(), 4, 19, "is= lists variable names or '-'"},
      {(head + "p0: x y = recv b is=a,,b\n").c_str(), 4, 23, "is= lists variable names or '-'"},
      {(head + "p0: x = recv b is=zz\n").c_str(), 4, 9, "no action above creates 'zz'"},
      {(head + "p0: x = recv b is=a,b\n").c_str(), 4, 9,
       "is= names 2 slot(s), recv binds 1 variable(s)"},
      {(head + "p0: send a [b] is=a\n").c_str(), 4, 16, "'send' does not take 'is'"},
      {(head + "p0: x = recv b is=a is=b\n").c_str(), 4, 21, "'is' given twice"},
      {(head + "p0: c = dup a\np0: x = recv b is=c\n").c_str(), 5, 9,
       "no action above creates 'c'"},
      {(head + "p0: x = recv b is=m\np0: m = memfd\n").c_str(), 4, 9,
       "no action above creates 'm'"},
      {many.c_str(), 4, 19 + 2 * 253, "is= names at most 253 slots"},
  });
  // The validator holds the same bounds for scenarios no text made.
  Scenario s = ParseScenario(head + "p0: x = recv b is=a\np0: close a\n");
  s.actions[2].same = {0};  // close takes no is=
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
  s.actions[2].same.clear();
  s.actions[1].same.assign(Bounds::kMaxSameSlots + 1, kNoVar);
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("is= names at most 253 slots"), std::string::npos) << err->message;
}


// --- word 4: receive buffers that fault (fault=cbuf|data) -------------------------------

TEST(Words, FaultingBuffersRoundTrip) {
  const std::string canonical =
      "scenario f\n\np0: a b = socketpair stream\np0: m = memfd\np0: send a [m] bytes=16\n"
      "p0: x = recv b bytes=16 fault=cbuf expect=ok\np0: recv b cbuf=24 fault=cbuf\n"
      "p0: recv b ctrunc=1 fault=cbuf,data\np0: y = recv b peek fault=data is=m\n";
  ExpectRoundTrip(canonical);  // the fuzzer's form too (codec format 5)
  const Scenario s = ParseScenario(
      "scenario f\n\np0: a b = socketpair stream\np0: recv b fault=data,cbuf\n");
  EXPECT_EQ(s.actions[1].flags, kFlagFaultCbuf | kFlagFaultData);
  EXPECT_EQ(PrintAction(s, s.actions[1]), "recv b fault=cbuf,data");
}

TEST(Words, FaultingBuffersNameTheirBounds) {
  const std::string head = "scenario f\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: recv a fault=\n").c_str(), 4, 18, "fault= is cbuf, data or cbuf,data"},
      {(head + "p0: recv a fault=ctrl\n").c_str(), 4, 18, "fault= is cbuf, data or cbuf,data"},
      {(head + "p0: recv a fault=cbuf,cbuf\n").c_str(), 4, 23, "'cbuf' listed twice in fault="},
      {(head + "p0: recv a fault=cbuf fault=data\n").c_str(), 4, 23, "'fault' given twice"},
      {(head + "p0: send a [b] fault=data\n").c_str(), 4, 16, "'send' does not take 'fault'"},
      {(head + "p0: recv a ctrunc=0 fault=cbuf\n").c_str(), 4, 5,
       "fault=cbuf needs a control buffer"},
      {(head + "p0: recv a cbuf=0 fault=cbuf\n").c_str(), 4, 5, "fault=cbuf needs a control buffer"},
      {(head + "p0: recv a bytes=0 fault=data\n").c_str(), 4, 5, "fault=data needs a data buffer"},
  });
  Scenario s = ParseScenario(head + "p0: close a\n");
  s.actions[1].flags = kFlagFaultCbuf;  // only recv has buffers to fault
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("'fault' is for recv"), std::string::npos) << err->message;
}

// --- word 1: credentials beside rights -----------------------------------------------

TEST(Words, CredentialsRoundTrip) {
  const std::string canonical =
      "scenario c\n\np0: a b = socketpair stream\np0: setsockopt b passcred=1 expect=ok\n"
      "p0: setsockopt a passcred=0\np0: fork p1\np1: send a [b] creds=before\n"
      "p1: send a [a*2] cmsgs=2 empty=1 creds=after bytes=8\np1: send a [] creds=before\n"
      "p0: x = recv b creds=p1 expect=ok\np0: recv b cbuf=20 creds=p0\n";
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  EXPECT_EQ(s.actions[1].sockopt, SockOpt::kPasscred);
  EXPECT_EQ(s.actions[1].optval, 1u);
  EXPECT_EQ(s.actions[4].creds, CredsAt::kBefore);
  EXPECT_EQ(s.actions[5].creds, CredsAt::kAfter);
  EXPECT_EQ(s.actions[7].cred_proc, 1);
  EXPECT_EQ(s.actions[8].cred_proc, 0);
}

TEST(Words, CredentialsNameTheirBounds) {
  const std::string head = "scenario c\n\np0: a b = socketpair stream\n";
  ExpectErrors({
      {(head + "p0: send a [b] creds=middle\n").c_str(), 4, 22,
       "a send's creds= is 'before' or 'after'"},
      {(head + "p0: send a [b] creds=\n").c_str(), 4, 22, "a send's creds= is 'before' or 'after'"},
      {(head + "p0: send a [b] creds=before creds=after\n").c_str(), 4, 29, "'creds' given twice"},
      {(head + "p0: recv b creds=p1\n").c_str(), 4, 18, "creds=p1 names no process of the graph"},
      {(head + "p0: recv b creds=p0 creds=p0\n").c_str(), 4, 21, "'creds' given twice"},
      {(head + "p0: close a creds=before\n").c_str(), 4, 13, "unknown option 'creds' for 'close'"},
      {(head + "p0: setsockopt a passcred=2\n").c_str(), 4, 27, "passcred is at most 1"},
      {(head + "p0: setsockopt a passcred\n").c_str(), 4, 18, "setsockopt takes one of"},
  });
  // The validator holds the same rules for scenarios no text made.
  Scenario s = ParseScenario(head + "p0: setsockopt a passcred=1\np0: send a [b] creds=after\n"
                                    "p0: recv b creds=p0\n");
  EXPECT_FALSE(Validate(s).has_value());
  s.actions[1].optval = 2;
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("passcred is 0 or 1"), std::string::npos) << err->message;
  s.actions[1].optval = 1;
  s.actions[2].creds = static_cast<CredsAt>(3);
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("creds is before or after"), std::string::npos) << err->message;
  s.actions[2].creds = CredsAt::kAfter;
  s.actions[3].cred_proc = 1;  // no such process
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("has not started"), std::string::npos) << err->message;
  s.actions[3].cred_proc = kNoProc;
  s.actions[2].cred_proc = 0;  // a send does not assert credentials
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
  s.actions[2].cred_proc = kNoProc;
  s.actions[3].creds = CredsAt::kBefore;  // a receive does not send credentials
  err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
}

// The fuzzer reaches the credentials words through format 6's entries only; format 4's
// setsockopt still chooses among its three options.
TEST(Words, CredentialsAreInTheByteForm) {
  // socketpair | format 6 send: target v1, one entry v0 once, no mods, no empty message,
  // creds after | format 6 setsockopt: target v1, option 3 (passcred), value 1 | format 4
  // setsockopt with the same bytes: option 3 % 3 is passrights.
  const std::string in = {0, 0, 37, 1, 1, 0, 0, 0, 0, 2, 38, 1, 3, 1, 35, 1, 3, 1};
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 v1 = socketpair stream\n"
      "p0: send v1 [v0] creds=after\n"
      "p0: setsockopt v1 passcred=1\n"
      "p0: setsockopt v1 passrights=1\n";
  EXPECT_EQ(PrintScenario(DecodeScenario(in)), text);
  std::string canonical = in;
  canonical[16] = 0;  // the encoder writes passrights as option 0
  EXPECT_EQ(EncodeScenario(ParseScenario(text)), canonical);
}


TEST(Words, CredentialsRoundTripThroughTheByteForm) {
  const std::string canonical =
      "scenario c\n\np0: a b = socketpair stream\np0: setsockopt b passcred=1 expect=ok\n"
      "p0: fork p1\np1: send a [b] creds=before\np1: send a [a*2] cmsgs=2 empty=1 creds=after\n"
      "p0: x = recv b creds=p1 expect=ok\n";
  ExpectRoundTrip(canonical);
  // creds=PROC is an assertion: the byte form drops it, and keeps where credentials go.
  const Scenario d = DecodeScenario(*EncodeScenario(ParseScenario(canonical)));
  EXPECT_EQ(d.actions[5].cred_proc, kNoProc);
  EXPECT_EQ(d.actions[3].creds, CredsAt::kBefore);
  EXPECT_EQ(d.actions[4].creds, CredsAt::kAfter);
  EXPECT_EQ(d.actions[1].sockopt, SockOpt::kPasscred);
}

// Format 6 also makes device files: devnull binds one descriptor, pty two.
TEST(Words, DevicesAreInTheByteForm) {
  const std::string in = {39, 40, 0, 0, 2, 4, 1, 1, static_cast<char>(240), 2, 0};
  const std::string text =
      "scenario decoded\n\n"
      "p0: v0 = devnull\n"
      "p0: v1 v2 = pty\n"
      "p0: v3 v4 = socketpair stream\n"
      "p0: send v4 [v1*3]\n";
  EXPECT_EQ(PrintScenario(DecodeScenario(in)), text);
  ExpectRoundTrip(text);
}

}  // namespace
}  // namespace inflight
