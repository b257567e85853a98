// The sandbox protocol: frames, run requests and results survive the trip, and
// truncated or hostile bytes are rejected rather than misread.
#include <gtest/gtest.h>

#include "run/protocol.h"
#include "run/run_types.h"

namespace inflight {
namespace {

RunResult Sample() {
  RunResult r;
  r.id = 42;
  r.status = RunStatus::kHang;
  r.error = "watchdog";
  r.actions = {{ActionStatus::kOk, 0, 1, 2, 8}, {ActionStatus::kFailed, EAGAIN, -1, 0, 0}};
  r.procs = {{ProcEnd::kExited, 0, -1}, {ProcEnd::kKilledByWatchdog, 9, 3}};
  r.events = {{1, EventType::kCreated, 0, 8, 1234}, {2, EventType::kSent, 1, 8, 1234}};
  r.settle = SettleResult::kDirty;
  SocketInfo s;
  s.ino = 7;
  s.type = 1;
  s.listening = true;
  s.name = "@x";
  s.embryos = {0, 9};
  r.census.sockets = {s};
  r.census.proto_inuse = 3;
  r.baseline.proto_inuse = 0;
  r.slot = 3;
  r.exec_us = 100;
  r.settle_us = 2000;
  r.settle_polls = 5;
  r.settle_passes = 2;
  r.settle_stalled = true;
  r.settle_why = "no collector pass completed";
  return r;
}

TEST(Wire, RunResultRoundTrips) {
  const RunResult r = Sample();
  RunResult back;
  ASSERT_TRUE(DecodeRunResult(EncodeRunResult(r), back));
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.status, r.status);
  EXPECT_EQ(back.error, r.error);
  ASSERT_EQ(back.actions.size(), 2u);
  EXPECT_EQ(back.actions[1].err, EAGAIN);
  EXPECT_EQ(back.procs[1].end, ProcEnd::kKilledByWatchdog);
  EXPECT_EQ(back.events, r.events);
  EXPECT_EQ(back.census.sockets, r.census.sockets);
  EXPECT_EQ(back.census.proto_inuse, 3);
  EXPECT_EQ(back.settle_passes, 2);
  EXPECT_TRUE(back.settle_stalled);
  EXPECT_EQ(back.settle_why, r.settle_why);
}

TEST(Wire, EveryTruncationIsRejected) {
  const std::string full = EncodeRunResult(Sample());
  for (size_t n = 0; n < full.size(); ++n) {
    RunResult back;
    EXPECT_FALSE(DecodeRunResult(full.substr(0, n), back)) << n;
  }
  RunResult back;
  EXPECT_FALSE(DecodeRunResult(full + "x", back)) << "trailing bytes";
}

TEST(Wire, HostileCountsDoNotAllocate) {
  std::string bytes = EncodeRunResult(Sample());
  // The action count sits after id (8), status (1) and the error string (4 + 8).
  const size_t at = 8 + 1 + 4 + 8;
  uint32_t huge = 0xffffffffu;
  memcpy(bytes.data() + at, &huge, 4);
  RunResult back;
  EXPECT_FALSE(DecodeRunResult(bytes, back));
}

TEST(Wire, RunRequestRoundTripsAndRejectsBadMode) {
  RunRequest req;
  req.id = 7;
  req.opt.mode = RunMode::kFree;
  req.opt.seed = 99;
  req.opt.timeout_ms = 1234;
  req.scenario_text = "scenario s\n\np0: exit\n";
  RunRequest back;
  const std::string enc = EncodeRunRequest(req);
  ASSERT_TRUE(DecodeRunRequest(enc, back));
  EXPECT_EQ(back.id, 7u);
  EXPECT_EQ(back.opt.mode, RunMode::kFree);
  EXPECT_EQ(back.opt.seed, 99u);
  EXPECT_EQ(back.scenario_text, req.scenario_text);
  std::string bad = enc;
  bad[8] = 9;  // mode
  EXPECT_FALSE(DecodeRunRequest(bad, back));
}

TEST(Wire, FramesSplitAnywhereReassemble) {
  const std::string a = EncodeFrame(MsgType::kResult, "hello");
  const std::string b = EncodeFrame(MsgType::kRun, std::string(1000, 'z'));
  const std::string both = a + b;
  for (size_t cut = 0; cut <= both.size(); ++cut) {
    FrameReader r;
    r.Feed(both.data(), cut);
    std::vector<std::string> got;
    while (auto f = r.Next()) got.push_back(f->second);
    r.Feed(both.data() + cut, both.size() - cut);
    while (auto f = r.Next()) got.push_back(f->second);
    ASSERT_EQ(got.size(), 2u) << cut;
    EXPECT_EQ(got[0], "hello");
    EXPECT_EQ(got[1], std::string(1000, 'z'));
    EXPECT_FALSE(r.error());
  }
}

TEST(Wire, OversizedOrUnknownFramesLatchAnError) {
  FrameReader r;
  const uint32_t len = kMaxFrameBytes + 1;
  std::string f(4, '\0');
  memcpy(f.data(), &len, 4);
  r.Feed(f.data(), f.size());
  EXPECT_FALSE(r.Next().has_value());
  EXPECT_TRUE(r.error());
  FrameReader u;
  const std::string unknown = std::string("\x02\x00\x00\x00\x63x", 6);
  u.Feed(unknown.data(), unknown.size());
  EXPECT_FALSE(u.Next().has_value());
  EXPECT_TRUE(u.error());
}

}  // namespace
}  // namespace inflight
