// The one validator: bounds and structure, for parsed and built scenarios alike.
#include "scenario/validate.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "scenario/bounds.h"
#include "scenario/text.h"

namespace inflight {
namespace {

std::string Fails(const std::string& body) {
  try {
    ParseScenario("scenario s\n\n" + body);
  } catch (const ParseError& e) {
    return e.message();
  }
  return "";
}

TEST(Validate, ProcessBound) {
  std::string ok, over;
  for (size_t i = 1; i < Bounds::kMaxProcs; ++i) ok += fmt::format("p0: fork p{}\n", i);
  EXPECT_EQ(Fails(ok), "");
  over = ok + fmt::format("p0: fork p{}\n", Bounds::kMaxProcs);
  EXPECT_NE(Fails(over).find("more than 16 process names"), std::string::npos) << Fails(over);
}

TEST(Validate, ActionBound) {
  std::string body;
  for (size_t i = 0; i < Bounds::kMaxActions; ++i) body += "p0: barrier\n";
  EXPECT_EQ(Fails(body), "");
  EXPECT_NE(Fails(body + "p0: barrier\n").find("more than 1024 actions"), std::string::npos);
}

TEST(Validate, VariableBound) {
  std::string body;
  for (size_t i = 0; i < Bounds::kMaxVars / 2; ++i)
    body += fmt::format("p0: a{} b{} = socketpair stream\n", i, i);
  EXPECT_EQ(Fails(body), "");
  EXPECT_NE(Fails(body + "p0: z = memfd\n").find("more than 64 variable names"), std::string::npos);
}

TEST(Validate, ObjectBound) {
  // 64 names, but closing and re-creating makes more objects than the bound allows.
  std::string body;
  for (size_t i = 0; i < Bounds::kMaxObjects / 2; ++i)
    body += "p0: a b = socketpair stream\np0: close a\np0: close b\n";
  EXPECT_NE(Fails(body), "");  // 1536 actions: over the action bound first
  std::string objects;
  for (size_t i = 0; i < 341; ++i)
    objects += "p0: a b = socketpair stream\np0: close a\np0: close b\n";
  EXPECT_EQ(Fails(objects), "");  // 682 objects, 1023 actions
  objects += "p0: x = memfd\n";   // 683 objects, 1024 actions: fine
  EXPECT_EQ(Fails(objects), "");
}

TEST(Validate, RightsPerSendAndTotal) {
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: send a [b*253]\n"), "");
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: send a [b*253 a]\n"), "")
      << "beyond SCM_MAX_FD is the kernel's to refuse (EINVAL)";
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: send a [b*512 a]\n").find("at most 512"),
            std::string::npos);
  std::string body = "p0: a b = socketpair stream\n";
  for (int i = 0; i < 32; ++i) body += "p0: send a [b*253]\n";  // 8096
  EXPECT_EQ(Fails(body), "");
  EXPECT_NE(Fails(body + "p0: send a [b*97]\n").find("at most 8192"), std::string::npos);
}

TEST(Validate, CmsgsAndBytes) {
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: send a [b*4] cmsgs=4\n"), "");
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: send a [b] cmsgs=2\n"), "")
      << "more messages than descriptors: the last ones are empty";
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: send a [] cmsgs=2\n").find("empty=N"),
            std::string::npos);
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: send a [b] cmsgs=17\n").find("at most 16"),
            std::string::npos);
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: send a [] bytes=4097\n").find("at most 4096"),
            std::string::npos);
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: x = recv a max=2 ctrunc=2\n").find("ctrunc"),
            std::string::npos);
  EXPECT_NE(Fails("p0: a b = socketpair stream\np0: x y z = recv a max=2\n").find("more variables"),
            std::string::npos);
}

TEST(Validate, ForkCopiesTheParentsDescriptors) {
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: fork p1\np1: send a [b]\n"), "");
  // Created after the fork: the child does not have it.
  EXPECT_NE(Fails("p0: fork p1\np0: a b = socketpair stream\np1: send a [b]\n")
                .find("not an open descriptor in process 'p1'"),
            std::string::npos);
  // Closing in the parent does not close the child's copy.
  EXPECT_EQ(Fails("p0: a b = socketpair stream\np0: fork p1\np0: close a\np1: close a\n"), "");
}

TEST(Validate, EveryProcessIsForked) {
  Scenario s = ParseScenario("scenario s\n\np0: exit\n");
  s.procs.push_back("ghost");
  auto err = Validate(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("'ghost' is never forked"), std::string::npos);
}

TEST(Validate, LimitNofileIsBoundedAndOnlyForRecvAndLimit) {
  Scenario s = ParseScenario("scenario s\n\np0: limit nofile=8\np0: dropcaps\np0: setuid second\n");
  EXPECT_FALSE(Validate(s).has_value());
  Scenario bad = s;
  bad.actions[0].nofile = 0;
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("limit nofile is 1 to 1024"), std::string::npos);
  bad.actions[0].nofile = 1025;
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("limit nofile is 1 to 1024"), std::string::npos);
  bad = s;
  bad.actions[1].nofile = 4;  // dropcaps takes no limit
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("fields it does not use"), std::string::npos);
  bad = s;
  bad.actions[2].target = 0;  // setuid takes no descriptor
  ASSERT_TRUE(Validate(bad).has_value());
}

TEST(Validate, BoundsOfNamesAndCommentsSayTheBound) {
  Scenario s = ParseScenario("scenario s\n\np0: exit\n");
  Scenario bad = s;
  bad.procs[0] = std::string(65, 'p');
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("at most 64 bytes"), std::string::npos);
  bad = s;
  bad.actions[0].note = std::string(401, 'x');
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("at most 400 bytes"), std::string::npos);
  bad = s;
  bad.about.push_back(std::string(401, 'x'));
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("at most 400"), std::string::npos);
}

TEST(Validate, RejectsWhatNoTextCanSay) {
  Scenario s = ParseScenario("scenario s\n\np0: a b = socketpair stream\np0: close a\n");
  Scenario bad = s;
  bad.actions[1].op = static_cast<Op>(200);
  EXPECT_TRUE(Validate(bad).has_value());
  bad = s;
  bad.actions[1].bytes = 5;  // close does not use bytes
  ASSERT_TRUE(Validate(bad).has_value());
  EXPECT_NE(Validate(bad)->message.find("fields it does not use"), std::string::npos);
  bad = s;
  bad.actions[0].type = static_cast<SockType>(9);
  EXPECT_TRUE(Validate(bad).has_value());
  bad = s;
  bad.actions[1].target = 40;  // out of range
  EXPECT_TRUE(Validate(bad).has_value());
  bad = s;
  bad.name = "";
  EXPECT_TRUE(Validate(bad).has_value());
  bad = s;
  bad.vars.push_back("a");  // duplicate name
  EXPECT_TRUE(Validate(bad).has_value());
  EXPECT_FALSE(Validate(s).has_value());
}

}  // namespace
}  // namespace inflight
