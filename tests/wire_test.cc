// The sandbox protocol: frames, run requests and results survive the trip, and
// truncated or hostile bytes are rejected rather than misread.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "run/protocol.h"
#include "run/run_types.h"
#include "run/stress_types.h"

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
  RecvTickets t;
  t.action = 1;
  t.tickets = {1, 0, 1ull << 63, 5};  // tickets 0, 191, 192 and 194
  r.tickets = {t};
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

// Every wire message, every field set away from its default, survives Encode and Decode
// through its one field list; one byte less is rejected.
template <typename M, typename Enc, typename Dec>
void ExpectRoundTrip(const M& m, Enc encode, Dec decode) {
  ASSERT_FALSE(m == M{}) << "the sample must differ from the default";
  const std::string bytes = encode(m);
  M back;
  ASSERT_TRUE(decode(bytes, back));
  EXPECT_TRUE(back == m);
  EXPECT_EQ(encode(back), bytes);
  M cut;
  EXPECT_FALSE(decode(std::string_view(bytes).substr(0, bytes.size() - 1), cut));
}

TEST(Wire, EveryMessageRoundTripsThroughItsFieldList) {
  Hello h{true, "why", "sock_diag", true, true, 16, "6.1.0", true, "kmsg", true, "acct"};
  ExpectRoundTrip(h, EncodeHello, DecodeHello);

  RunRequest req;
  req.id = 1ull << 40;
  req.opt = {RunMode::kFree, 5, 6, 7, 8, true};
  req.scenario_text = "scenario s\n\np0: exit\n";
  ExpectRoundTrip(req, EncodeRunRequest, DecodeRunRequest);

  StressRequest sr{9, "cycles", {1, -2, 3}, 4, 5, 6, 7, -8, 9, 10, false};
  ExpectRoundTrip(sr, EncodeStressRequest, DecodeStressRequest);

  const std::vector<SlotAccounting> slots = {{1000, 3, -1, 2}, {1001, 4, 5, -6}};
  ExpectRoundTrip(slots, EncodeSummary, DecodeSummary);

  RunResult r = Sample();
  r.actions[0].installed = -1;
  r.actions[1].msg_flags = MSG_CTRUNC;
  r.actions[1].creds = 1;
  r.actions[1].cred_pid = 4242;
  r.actions[1].cred_uid = 1001;
  r.actions[1].cred_gid = 1002;
  r.procs[0].pid = 77;
  r.procs[0].uid = 1003;
  r.procs[0].gid = 1004;
  r.events[0].key = ObjectKey(1, 0);
  r.events.push_back({3, EventType::kWitnessed, 2, 0, ObjectKey(1, 0), 5});
  r.events_truncated = true;
  r.baseline = r.census;
  r.baseline.method = CensusMethod::kProcNetUnix;
  r.census.anonymous = 2;
  r.census.sockets[0].peer = 8;
  r.census.sockets[0].peer_without_inode = true;
  r.census.sockets[0].rqueue = 1;
  r.census.sockets[0].wqueue = 2;
  r.census.sockets[0].state = 10;
  r.alive_objects = {ObjectKey(1, 0)};
  r.tmpfs_inodes_excess = 3;
  r.kernel_log = {"WARNING: x", "BUG: y"};
  r.uid = 1000;
  r.accounting_deficit = 2;
  r.stress.stressor = "peek";
  r.stress.epoch = 3;
  r.stress.not_run = true;
  r.stress.skipped = "no";
  r.stress.run_us = 77;
  r.stress.counters = {1, 2};
  r.stress.faults = {"f"};
  r.stress.faults_total = 4;
  r.stress.notes = {"n"};
  r.stress.objects = {{11, 2, 255}};
  r.stress.log_truncated = true;
  r.kernel_pcs = {0xffffffff81000000ull, 0xffffffff81000010ull};
  ExpectRoundTrip(r, EncodeRunResult, DecodeRunResult);
}

TEST(Wire, RunCoverageRoundTripsInItsOwnFrame) {
  RunCoverage c{42, {0xffffffff81000000ull, 0xffffffff81000010ull, 0xffffffff81000000ull}};
  ExpectRoundTrip(c, EncodeRunCoverage, DecodeRunCoverage);
  RunCoverage empty{7, {}};
  ExpectRoundTrip(empty, EncodeRunCoverage, DecodeRunCoverage);
  FrameReader r;
  const std::string frame = EncodeFrame(MsgType::kCoverage, EncodeRunCoverage(c));
  r.Feed(frame.data(), frame.size());
  auto f = r.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->first, MsgType::kCoverage);
  RunCoverage back;
  ASSERT_TRUE(DecodeRunCoverage(f->second, back));
  EXPECT_EQ(back, c);
  EXPECT_FALSE(DecodeRunCoverage(f->second.substr(0, f->second.size() - 1), back));
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
