// Issue 16, word 5 (second part): filesystem paths. bind and connect to ./NAME and
// unlink ./NAME: text round trip, errors naming their place, the validator's rules for
// scenarios no text made, and the byte form (its pinned bytes are in codec_test.cc).
#include <gtest/gtest.h>

#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {
namespace {

TEST(WordsPaths, PathsRoundTrip) {
  const std::string canonical =
      "scenario p\n\np0: l = socket stream\np0: bind l ./gc expect=ok\np0: listen l\n"
      "p0: c = socket stream\np0: connect c ./gc expect=ok\np0: bind c @gc\n"
      "p0: unlink ./gc expect=ok|ENOENT\np0: connect c ./gc-2.x_Y expect=ENOENT\n";
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  EXPECT_EQ(s.actions[1].op, Op::kBind);
  EXPECT_EQ(s.actions[1].addr, "gc");
  EXPECT_TRUE(s.actions[1].flags & kFlagPath);
  EXPECT_FALSE(s.actions[5].flags & kFlagPath) << "@gc is the abstract name, another address";
  EXPECT_EQ(s.actions[6].op, Op::kUnlink);
  EXPECT_EQ(s.actions[6].target, kNoVar);
  EXPECT_EQ(AddressText(s.actions[6]), "./gc");
  EXPECT_EQ(AddressText(s.actions[5]), "@gc");
  EXPECT_FALSE(Validate(s).has_value());
  // The byte form keeps which addresses are paths.
  auto bytes = EncodeScenario(s);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(DecodeScenario(*bytes), CodecForm(s));
}

TEST(WordsPaths, PathsNameTheirErrors) {
  struct Bad {
    const char* text;
    uint32_t line, col;
    const char* message;
  };
  const std::string head = "scenario p\n\np0: s = socket stream\n";
  const std::vector<Bad> bad = {
      {"p0: bind s ./\n", 4, 14, "a path is './' and 1 to 32"},
      {"p0: bind s ./..\n", 4, 14, "not starting with '.'"},
      {"p0: bind s ./.hidden\n", 4, 14, "not starting with '.'"},
      {"p0: connect s ./a/b\n", 4, 17, "a path is './'"},
      {"p0: bind s ./aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 4, 14, "1 to 32"},  // 33 bytes
      {"p0: bind s /tmp/x\n", 4, 12, "or a path './'"},
      {"p0: unlink @a\n", 4, 12, "unlink takes a path in the run's own directory"},
      {"p0: unlink\n", 4, 11, "expected a path: ./name"},
      {"p0: unlink s ./a\n", 4, 12, "unlink takes a path"},
      {"p0: unlink ./a x\n", 4, 16, "unknown option 'x' for 'unlink'"},
      {"p0: x = unlink ./a\n", 4, 9, "'unlink' binds no variables"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(head + b.text, "p.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.file(), "p.scn");
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
    }
  }
}

TEST(WordsPaths, TheValidatorHoldsTheSameRules) {
  const Scenario good = ParseScenario(
      "scenario p\n\np0: s = socket stream\np0: bind s ./a\np0: unlink ./a\np0: close s\n");
  auto expect_error = [](const Scenario& s, const char* what) {
    auto err = Validate(s);
    ASSERT_TRUE(err.has_value()) << what;
    EXPECT_NE(err->message.find(what), std::string::npos) << err->message;
  };
  Scenario s = good;
  s.actions[2].flags = 0;  // an unlink of an abstract name
  expect_error(s, "unlink takes a path");
  s = good;
  s.actions[1].addr = "..";
  expect_error(s, "not starting with '.'");
  s = good;
  s.actions[1].addr = "a/b";
  expect_error(s, "a path is ./ and 1 to 32");
  s = good;
  s.actions[3].flags = kFlagPath;  // close has no address
  expect_error(s, "a path address is for bind, connect and unlink");
  s = good;
  s.actions[2].target = 0;
  expect_error(s, "'unlink' takes no descriptor");
  s = good;
  s.actions[2].bytes = 1;
  expect_error(s, "fields it does not use");
  // An abstract name may start with '.': only paths may not.
  s = good;
  s.actions[1].flags = 0;
  s.actions[1].addr = "..";
  s.actions[2].addr = "b";
  EXPECT_FALSE(Validate(s).has_value());
}

}  // namespace
}  // namespace inflight
