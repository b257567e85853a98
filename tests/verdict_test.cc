// The verdict: every rule fires on data that calls for it and stays silent otherwise,
// and leftovers are named by the scenario's own words.
#include "oracle/verdict.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "scenario/text.h"

namespace inflight {
namespace {

const char* kText = R"(scenario v
about test

p0: a b = socketpair stream
p0: send b [a]
p0: c = socket stream
p0: connect c @hold
p0: send c [a b] expect=ok
)";

struct Fixture {
  Scenario s = ParseScenario(kText);
  RunOptions opt;
  RunResult r;
  Fixture() {
    r.actions.assign(5, ActionOutcome{ActionStatus::kOk, 0, 0, 0, 0});
    r.events = {
        {0, EventType::kCreated, 0, 8, 100}, {0, EventType::kCreated, 1, 8, 101},
        {1, EventType::kSentVia, 0, 8, 101}, {1, EventType::kSent, 0, 8, 100},
        {2, EventType::kCreated, 0, 8, 102}, {4, EventType::kSentVia, 0, 8, 102},
        {4, EventType::kSent, 0, 8, 100},    {4, EventType::kSent, 1, 8, 101},
    };
    SocketInfo holder;
    holder.ino = 50;
    holder.listening = true;
    holder.state = 10;
    holder.name = "@hold";
    r.baseline.sockets = {holder};
    r.baseline.proto_inuse = 1;
    r.census = r.baseline;
  }
  void Leak() {
    r.settle = SettleResult::kDirty;
    SocketInfo a, b;
    a.ino = 100;
    a.type = SOCK_STREAM;
    a.peer = 101;
    b.ino = 101;
    b.type = SOCK_STREAM;
    b.peer = 100;
    r.census.sockets = {r.baseline.sockets[0], a, b};
    r.census.sockets[0].embryos = {0};
    r.census.proto_inuse = 1 + 2 + 2;  // holder, a, b, the embryo and its closed peer
  }
};

TEST(Verdict, CleanWhenTheCensusIsBackToBaseline) {
  Fixture f;
  f.r.settle = SettleResult::kCleanAtOnce;
  Verdict v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kClean);
  EXPECT_TRUE(v.leftovers.empty());
  f.r.settle = SettleResult::kCleanSettled;
  f.r.settle_us = 8000;
  v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kClean);
  EXPECT_NE(v.summary.find("after 8.0 ms"), std::string::npos);
}

TEST(Verdict, LeakNamesEachObjectAndWhoSentIt) {
  Fixture f;
  f.Leak();
  Verdict v = Rule(f.s, f.opt, f.r);
  ASSERT_EQ(v.kind, VerdictKind::kLeak);
  ASSERT_EQ(v.leftovers.size(), 3u);
  EXPECT_EQ(v.leftovers[0].object, "a");
  EXPECT_EQ(v.leftovers[0].what, "stream socket");
  EXPECT_EQ(v.leftovers[0].created_by, 0);
  EXPECT_EQ(v.leftovers[0].sent_by, (std::vector<int>{1, 4}));
  EXPECT_NE(v.leftovers[0].where.find("'c'"), std::string::npos);
  EXPECT_EQ(v.leftovers[1].object, "b");
  EXPECT_EQ(v.leftovers[1].sent_by, (std::vector<int>{4}));
  EXPECT_EQ(v.leftovers[2].what.rfind("embryo", 0), 0u);
  EXPECT_NE(v.leftovers[2].where.find("@hold"), std::string::npos);
  EXPECT_NE(v.summary.find("stream socket 'a'"), std::string::npos);
}

TEST(Verdict, UnexplainedProtocolCountIsALeftoverToo) {
  Fixture f;
  f.r.settle = SettleResult::kDirty;
  f.r.census.proto_inuse = 2;  // one socket alive that no table entry explains
  Verdict v = Rule(f.s, f.opt, f.r);
  ASSERT_EQ(v.kind, VerdictKind::kLeak);
  ASSERT_EQ(v.leftovers.size(), 1u);
  EXPECT_EQ(v.leftovers[0].what, "unix sockets outside the socket table");
}

TEST(Verdict, SocketsNotFromTheScenarioAreNamelessButListed) {
  Fixture f;
  f.r.settle = SettleResult::kDirty;
  SocketInfo stranger;
  stranger.ino = 999;
  stranger.type = SOCK_DGRAM;
  f.r.census.sockets.push_back(stranger);
  f.r.census.proto_inuse = 2;
  Verdict v = Rule(f.s, f.opt, f.r);
  ASSERT_EQ(v.leftovers.size(), 1u);
  EXPECT_EQ(v.leftovers[0].object, "");
  EXPECT_EQ(v.leftovers[0].ino, 999u);
  EXPECT_EQ(v.leftovers[0].created_by, -1);
}

TEST(Verdict, ExpectedErrnoMismatchIsASemanticFaultInLockstepOnly) {
  Fixture f;
  f.r.settle = SettleResult::kCleanAtOnce;
  f.r.actions[4] = {ActionStatus::kFailed, ENOTCONN, -1, 0, 0};
  Verdict v = Rule(f.s, f.opt, f.r);
  ASSERT_EQ(v.kind, VerdictKind::kFault);
  ASSERT_EQ(v.faults.size(), 1u);
  EXPECT_NE(v.faults[0].find("action 4"), std::string::npos);
  EXPECT_NE(v.faults[0].find("expected success, got ENOTCONN"), std::string::npos);
  f.opt.mode = RunMode::kFree;
  EXPECT_EQ(Rule(f.s, f.opt, f.r).kind, VerdictKind::kClean);
  // Matching expectation: silent.
  f.opt.mode = RunMode::kLockstep;
  f.r.actions[4] = {ActionStatus::kOk, 0, 1, 0, 0};
  EXPECT_EQ(Rule(f.s, f.opt, f.r).kind, VerdictKind::kClean);
  // Not run (its process was gone): not a fault.
  f.r.actions[4] = {ActionStatus::kNotRun, 0, 0, 0, 0};
  EXPECT_EQ(Rule(f.s, f.opt, f.r).kind, VerdictKind::kClean);
}

TEST(Verdict, KernelLogRecordsMakeAFaultAndOutrankALeak) {
  Fixture f;
  f.r.settle = SettleResult::kCleanAtOnce;
  f.r.kernel_log = {"[  99.1] WARNING: CPU: 0 PID: 7 at net/unix/garbage.c:123 unix_gc"};
  Verdict v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kFault);
  EXPECT_EQ(v.kernel_log, f.r.kernel_log);
  EXPECT_NE(v.summary.find("kernel fault: [  99.1] WARNING:"), std::string::npos) << v.summary;
  f.Leak();
  v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kFault) << "the kernel's own word comes first";
  EXPECT_EQ(v.leftovers.size(), 3u) << "leftovers are still listed";
  f.r.kernel_log.clear();
  EXPECT_EQ(Rule(f.s, f.opt, f.r).kind, VerdictKind::kLeak);
}

TEST(Verdict, HangAndErrorsTakePrecedence) {
  Fixture f;
  f.Leak();
  f.r.status = RunStatus::kHang;
  f.r.error = "watchdog: p0 in action 3";
  Verdict v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kHang);
  EXPECT_EQ(v.leftovers.size(), 3u) << "leftovers are still listed";
  f.r.status = RunStatus::kExecutorError;
  f.r.error = "graph process 'p0' died by signal 11";
  v = Rule(f.s, f.opt, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_FALSE(IsFinding(v.kind));
  EXPECT_NE(v.summary.find("signal 11"), std::string::npos);
}

}  // namespace
}  // namespace inflight
