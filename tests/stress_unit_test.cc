// The stressor registry, option handling, the stress wire encodings, uids and the verdict
// on stress epochs: pure logic, no kernel.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <set>

#include "base/errors.h"
#include "base/wire.h"
#include "driver/stress_runner.h"
#include "executor/stress_run.h"
#include "oracle/stress_verdict.h"
#include "run/protocol.h"
#include "run/stress_types.h"
#include "scenario/text.h"
#include "stressors/registry.h"

namespace inflight {
namespace {

TEST(StressRegistry, EveryStressorIsComplete) {
  std::set<std::string> names;
  const std::set<std::string> required = {"cycles", "peek",     "connect", "storm",
                                          "kill",   "truncate", "sockfd"};
  for (const Stressor* s : AllStressors()) {
    SCOPED_TRACE(s->name);
    EXPECT_TRUE(names.insert(s->name).second) << "names are unique";
    EXPECT_EQ(FindStressor(s->name), s);
    EXPECT_GT(std::string(s->help).size(), 10u);
    EXPECT_GT(std::string(s->about).size(), 50u);
    EXPECT_NE(s->run, nullptr);
    EXPECT_LE(s->options.size(), kMaxStressOptions);
    EXPECT_GE(s->counters.size(), 1u);
    EXPECT_LE(s->counters.size(), kMaxStressCounters);
    EXPECT_GE(s->labels.size(), 1u);
    EXPECT_LE(s->labels.size(), kMaxStressLabels);
    EXPECT_EQ(s->counters[0].kind, CounterKind::kTotal) << "the headline is a rate";
    std::set<std::string> keys;
    for (const StressOption& o : s->options) {
      EXPECT_TRUE(keys.insert(o.name).second) << o.name;
      EXPECT_LE(o.min, o.def) << o.name;
      EXPECT_LE(o.def, o.max) << o.name;
      EXPECT_EQ(std::string(o.name).find_first_of(".= "), std::string::npos) << o.name;
    }
    std::set<std::string> counters;
    for (const StressCounter& c : s->counters)
      EXPECT_TRUE(counters.insert(c.name).second) << c.name;
  }
  for (const std::string& r : required) EXPECT_TRUE(names.count(r)) << r;
  EXPECT_EQ(FindStressor("nope"), nullptr);
}

TEST(StressOptions, DefaultsNamesAndRanges) {
  auto all = ChooseStressors({});
  EXPECT_EQ(all.size(), AllStressors().size());
  auto two = ChooseStressors({"storm", "cycles"});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_STREQ(two[0].stressor->name, "storm");
  EXPECT_THROW(ChooseStressors({"cycles", "cycles"}), UsageError);
  EXPECT_THROW(ChooseStressors({"frobnicate"}), UsageError);

  const Stressor& storm = *FindStressor("storm");
  size_t target = 0, fillers = 0;
  for (size_t i = 0; i < storm.options.size(); ++i) {
    if (std::string(storm.options[i].name) == "target") target = i;
    if (std::string(storm.options[i].name) == "fillers") fillers = i;
  }
  ApplyStressOptions(two, {"storm.target=5000", "fillers=2"});
  EXPECT_EQ(two[0].options[target], 5000);
  EXPECT_EQ(two[0].options[fillers], 2);
  EXPECT_THROW(ApplyStressOptions(two, {"storm.target=1"}), UsageError) << "below its minimum";
  EXPECT_THROW(ApplyStressOptions(two, {"target=lots"}), UsageError);
  EXPECT_THROW(ApplyStressOptions(two, {"nope=1"}), UsageError);
  EXPECT_THROW(ApplyStressOptions(two, {"cycles.target=5000"}), UsageError)
      << "cycles has no target";
  EXPECT_THROW(ApplyStressOptions(two, {"target"}), UsageError);
}

TEST(StressList, OneLineEachAndDetailsByName) {
  const std::string list = StressListText({});
  for (const Stressor* s : AllStressors()) EXPECT_NE(list.find(s->name), std::string::npos);
  const std::string storm = StressListText({"storm"});
  EXPECT_NE(storm.find("user_limit"), std::string::npos);
  EXPECT_NE(storm.find("peak_in_flight"), std::string::npos);
}

StressOutcome SampleOutcome() {
  StressOutcome o;
  o.stressor = "cycles";
  o.epoch = 3;
  o.run_us = 1'999'000;
  o.counters = {1, 2, 3};
  o.faults = {"a fault"};
  o.faults_total = 7;
  o.notes = {"a note"};
  o.objects = {{100, 11, 2}, {101, 0, 255}};
  o.log_truncated = true;
  return o;
}

TEST(StressWire, RequestAndOutcomeRoundTrip) {
  StressRequest req;
  req.id = 9;
  req.stressor = "storm";
  req.options = {1, -2, 300000};
  req.seed = 42;
  req.epoch = 5;
  req.worker = 1;
  req.epoch_ms = 1500;
  req.run_end_us = 123456789;
  req.timeout_ms = 1000;
  req.settle_ms = 20000;
  req.log_objects = false;
  StressRequest back;
  ASSERT_TRUE(DecodeStressRequest(EncodeStressRequest(req), back));
  EXPECT_EQ(back.stressor, "storm");
  EXPECT_EQ(back.options, req.options);
  EXPECT_EQ(back.seed, 42u);
  EXPECT_EQ(back.run_end_us, 123456789);
  EXPECT_FALSE(back.log_objects);
  const std::string enc = EncodeStressRequest(req);
  EXPECT_FALSE(DecodeStressRequest(enc.substr(0, enc.size() - 1), back));

  RunResult r;
  r.id = 3;
  r.stress = SampleOutcome();
  RunResult rb;
  ASSERT_TRUE(DecodeRunResult(EncodeRunResult(r), rb));
  EXPECT_EQ(rb.stress, r.stress);
  const std::string full = EncodeRunResult(r);
  for (size_t n = full.size() - 20; n < full.size(); ++n)
    EXPECT_FALSE(DecodeRunResult(full.substr(0, n), rb)) << n;

  FrameReader fr;
  const std::string frame = EncodeFrame(MsgType::kStress, enc);
  fr.Feed(frame.data(), frame.size());
  auto f = fr.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->first, MsgType::kStress);
}

TEST(StressUids, DistinctPerSlotAndSandboxAndNeverPrivileged) {
  std::set<uint32_t> seen;
  for (pid_t pid : {2, 3, 4194303}) {
    for (int slot = 0; slot < 64; ++slot) {
      const uint32_t base = StressUidBase(pid, slot);
      ASSERT_GE(base, 0x40000000u);
      ASSERT_LE(base + kUidsPerSlot - 1, 0x7fffffffu);
      for (uint32_t k = 0; k < kUidsPerSlot; ++k) EXPECT_TRUE(seen.insert(base + k).second);
    }
  }
  EXPECT_EQ(StressUidBase(2, 64), 0u) << "slots past 63 get no uids";
  EXPECT_EQ(StressUidBase(0, 0), 0u);
}

struct StressFixture {
  const Stressor& s = *FindStressor("cycles");
  RunResult r;
  StressFixture() {
    r.stress.stressor = "cycles";
    r.stress.epoch = 4;
    r.stress.counters.assign(s.counters.size(), 0);
    r.baseline.proto_inuse = 0;
    r.census = r.baseline;
    r.settle = SettleResult::kCleanAtOnce;
  }
  void Leak() {
    r.settle = SettleResult::kDirty;
    r.settle_us = 2'300'000;
    SocketInfo a, b, c;
    a.ino = 100;
    a.type = SOCK_STREAM;
    b.ino = 101;
    b.type = SOCK_STREAM;
    c.ino = 102;
    c.type = SOCK_DGRAM;
    r.census.sockets = {a, b, c};
    r.census.proto_inuse = 3;
    r.stress.objects = {{100, 11, 0}, {101, 11, 0}};  // 102 was not logged
  }
};

TEST(StressVerdict, CleanFaultLeakHangAndError) {
  {
    StressFixture f;
    Verdict v = RuleStress(f.s, f.r);
    EXPECT_EQ(v.kind, VerdictKind::kClean);
    EXPECT_EQ(v.summary, "clean");
  }
  {
    StressFixture f;
    f.r.stress.faults = {"recvmsg installed 3 of 2 descriptors"};
    f.r.stress.faults_total = 3;
    Verdict v = RuleStress(f.s, f.r);
    EXPECT_EQ(v.kind, VerdictKind::kFault);
    ASSERT_EQ(v.faults.size(), 2u);
    EXPECT_EQ(v.faults[1], "... and 2 more");
  }
  {
    StressFixture f;
    f.Leak();
    f.r.stress.faults = {"ignored for the kind: a leak is stronger"};
    f.r.stress.faults_total = 1;
    Verdict v = RuleStress(f.s, f.r);
    EXPECT_EQ(v.kind, VerdictKind::kLeak);
    ASSERT_EQ(v.leftovers.size(), 3u);
    EXPECT_EQ(v.leftovers[0].object, StressLabel(f.s, 11));
    EXPECT_NE(v.leftovers[0].object.find("nested_mixed_lowpoint"), std::string::npos);
    EXPECT_EQ(v.leftovers[0].where, "created by worker 0");
    EXPECT_EQ(v.leftovers[2].object, "");
    EXPECT_EQ(v.leftovers[2].what, "dgram socket");
    EXPECT_NE(v.summary.find("outlived epoch 4"), std::string::npos) << v.summary;
    EXPECT_NE(v.summary.find("2 x cycles: nested_mixed_lowpoint"), std::string::npos) << v.summary;
  }
  {
    StressFixture f;
    f.Leak();
    f.r.status = RunStatus::kHang;
    f.r.error = "stressor cycles: worker 1 (pid 9) still in 'sendmsg'";
    EXPECT_EQ(RuleStress(f.s, f.r).kind, VerdictKind::kHang);
  }
  {
    StressFixture f;
    f.r.status = RunStatus::kExecutorError;
    f.r.error = "stressor cycles: worker 0 died by SIGSEGV";
    Verdict v = RuleStress(f.s, f.r);
    EXPECT_EQ(v.kind, VerdictKind::kError);
    EXPECT_NE(v.summary.find("SIGSEGV"), std::string::npos);
  }
}

TEST(StressVerdict, KernelLogRecordsDuringAnEpochMakeAFault) {
  StressFixture f;
  f.r.kernel_log = {"[ 123.4] WARNING: CPU: 1 PID: 88 at net/unix/garbage.c:340 unix_gc"};
  Verdict v = RuleStress(f.s, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kFault);
  EXPECT_EQ(v.kernel_log, f.r.kernel_log) << "the record reaches the report";
  EXPECT_NE(v.summary.find("kernel fault: [ 123.4] WARNING:"), std::string::npos) << v.summary;
  f.Leak();
  v = RuleStress(f.s, f.r);
  EXPECT_EQ(v.kind, VerdictKind::kFault) << "as for a graph: the kernel's word comes first";
  EXPECT_EQ(v.leftovers.size(), 3u) << "leftovers are still listed";
}

// Graph runs and stress epochs go through one ruling sequence (oracle/ruling.h): for every
// mix of the evidence they share, both rule the same kind.
TEST(StressVerdict, GraphAndStressRuleSharedEvidenceAlike) {
  const Scenario graph = ParseScenario("scenario g\n\np0: a b = socketpair stream\n");
  const Stressor& s = *FindStressor("cycles");
  for (RunStatus status :
       {RunStatus::kCompleted, RunStatus::kHang, RunStatus::kExecutorError, RunStatus::kSetupError})
    for (bool kernel : {false, true})
      for (bool dirty : {false, true})
        for (bool deficit : {false, true}) {
          RunResult r;
          r.status = status;
          r.error = "what happened";
          r.actions.assign(1, ActionOutcome{ActionStatus::kOk, 0, 0, 0, 0});
          r.baseline.proto_inuse = 0;
          r.census = r.baseline;
          r.settle = dirty ? SettleResult::kDirty : SettleResult::kCleanAtOnce;
          if (dirty) {
            SocketInfo so;
            so.ino = 100;
            so.type = SOCK_STREAM;
            r.census.sockets = {so};
            r.census.proto_inuse = 1;
          }
          if (kernel) r.kernel_log = {"[ 1.0] BUG: KASAN: slab-use-after-free in unix_gc"};
          if (deficit) r.accounting_deficit = 2;
          RunResult stress = r;
          stress.stress.stressor = "cycles";
          const Verdict g = Rule(graph, RunOptions{}, r);
          const Verdict st = RuleStress(s, stress);
          EXPECT_EQ(VerdictName(g.kind), VerdictName(st.kind))
              << RunStatusName(status) << " kernel_log=" << kernel << " dirty=" << dirty
              << " deficit=" << deficit;
          EXPECT_EQ(g.kernel_log, st.kernel_log);
          EXPECT_EQ(g.leftovers.size(), st.leftovers.size());
        }
}

TEST(StressVerdict, EmbryosNameTheirConnectingSocket) {
  StressFixture f;
  f.r.settle = SettleResult::kDirty;
  SocketInfo holder;
  holder.ino = 50;
  holder.listening = true;
  holder.name = "@hold";
  f.r.baseline.sockets = {holder};
  f.r.baseline.proto_inuse = 1;
  holder.embryos = {77};
  SocketInfo client;
  client.ino = 77;
  client.type = SOCK_STREAM;
  f.r.census.sockets = {holder, client};
  f.r.census.proto_inuse = 3;
  f.r.stress.objects = {{77, 15, 0}};
  Verdict v = RuleStress(f.s, f.r);
  ASSERT_EQ(v.kind, VerdictKind::kLeak);
  bool embryo = false;
  for (const Leftover& l : v.leftovers) {
    if (l.what.rfind("embryo", 0) != 0) continue;
    embryo = true;
    EXPECT_NE(l.where.find("@hold"), std::string::npos) << l.where;
    EXPECT_NE(l.detail.find("leaked_to_holder"), std::string::npos) << l.detail;
  }
  EXPECT_TRUE(embryo);
}

}  // namespace
}  // namespace inflight
