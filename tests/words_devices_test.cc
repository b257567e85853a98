// Issue 16, word 5: device files as passengers (devnull, pty): text round trip, errors
// naming their place, the object kinds reports name. The byte form is tested with the
// codec (words_test.cc).
#include <gtest/gtest.h>

#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {
namespace {

TEST(WordsDevices, DevicesRoundTrip) {
  const std::string canonical =
      "scenario d\n\np0: n = devnull expect=ok\np0: m t = pty expect=ok|ENODEV\n"
      "p0: a b = socketpair stream\np0: send a [n m t]\np0: close n\n";
  const Scenario s = ParseScenario(canonical);
  EXPECT_EQ(PrintScenario(s), canonical);
  EXPECT_EQ(s.actions[0].op, Op::kDevnull);
  EXPECT_EQ(s.actions[1].op, Op::kPty);
  EXPECT_EQ(s.actions[1].out.size(), 2u);
  EXPECT_EQ(ObjectKindName(s.actions[0], 0), "character device (/dev/null)");
  EXPECT_EQ(ObjectKindName(s.actions[1], 0), "pty master");
  EXPECT_EQ(ObjectKindName(s.actions[1], 1), "pty terminal");
  EXPECT_FALSE(Validate(s).has_value());
}

TEST(WordsDevices, DevicesNameTheirErrors) {
  struct Bad {
    const char* text;
    uint32_t line, col;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {"scenario d\n\np0: devnull\n", 3, 5, "'devnull' binds 1 variable(s)"},
      {"scenario d\n\np0: m = pty\n", 3, 9, "'pty' binds 2 variable(s)"},
      {"scenario d\n\np0: n = devnull x\n", 3, 17, "unknown option 'x' for 'devnull'"},
      {"scenario d\n\np0: n = devnull\np0: n = devnull\n", 4, 9, "'n' is still open"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.text);
    try {
      ParseScenario(b.text, "d.scn");
      ADD_FAILURE() << "parsed without error";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.col(), b.col) << e.what();
      EXPECT_NE(e.message().find(b.message), std::string::npos) << e.what();
    }
  }
  // The validator holds the same rules for scenarios no text made.
  Scenario s = ParseScenario("scenario d\n\np0: m t = pty\n");
  s.actions[0].bytes = 1;  // a field pty does not use
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("fields it does not use"), std::string::npos) << err->message;
}

}  // namespace
}  // namespace inflight
