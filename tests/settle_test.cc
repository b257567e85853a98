// The settling rules, driven with a fake clock and a hand-kept witness log: a leak only
// after collector passes that started after the run freed nothing more; unsettled, never
// leak, while counts still change at the ceiling; a stalled collector said so.
#include "probe/settle.h"

#include <gtest/gtest.h>

namespace inflight {
namespace {

SettleFingerprint Fp(int64_t sockets) {
  SettleFingerprint f;
  f.sockets = sockets;
  f.proto_inuse = sockets;
  return f;
}

// A collector that completes a pass `pass_us` after each witness is made.
struct FakeCollector {
  WitnessLog log;
  uint64_t key = 1;
  int64_t pass_us = 5'000;
  bool works = true;
  std::vector<std::pair<uint64_t, int64_t>> pending;  // key, made_at

  void Need(int64_t since, int64_t now) {
    if (log.NewestMadeSince(since) == 0) Make(now);
  }
  void Make(int64_t now) {
    log.Made(key, now);
    pending.push_back({key++, now});
  }
  void Advance(int64_t now) {
    if (!works) return;
    for (auto it = pending.begin(); it != pending.end();) {
      if (now >= it->second + pass_us) {
        log.Freed(it->first, now);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }
};

// Drives one settler to its outcome; `fp_at(now)` gives the census at each poll.
template <typename F>
Settler::Outcome Drive(Settler& s, FakeCollector& c, int64_t start, int64_t garbage_since, F fp_at,
                       int64_t* end = nullptr, bool clean_when_zero = true) {
  s.Start(start, garbage_since);
  c.Need(s.NeedWitnessSince(), start);
  for (int i = 0; i < 1'000'000; ++i) {
    const int64_t now = s.NextPollAt();
    c.Advance(now);
    const SettleFingerprint f = fp_at(now);
    const auto out = s.OnCensus(clean_when_zero && f.sockets == 0, f, now, c.log);
    if (out != Settler::Outcome::kPending) {
      if (end) *end = now;
      return out;
    }
    c.Need(s.NeedWitnessSince(), now);
  }
  ADD_FAILURE() << "the settler never ended";
  return Settler::Outcome::kPending;
}

TEST(Settler, CleanAtTheFirstCensusEndsAtOnce) {
  FakeCollector c;
  Settler s;
  EXPECT_EQ(Drive(s, c, 10, 7, [](int64_t) { return Fp(0); }), Settler::Outcome::kClean);
  EXPECT_EQ(s.polls(), 1);
}

TEST(Settler, LeakOnlyAfterPassesThatFreedNothing) {
  FakeCollector c;
  SettleOptions o;
  Settler s(o);
  int64_t end = 0;
  EXPECT_EQ(Drive(
                s, c, 0, 0, [](int64_t) { return Fp(2); }, &end),
            Settler::Outcome::kLeak);
  EXPECT_EQ(s.rounds(), o.stable_rounds + 1)
      << "one pass to see where it stands, then " << o.stable_rounds << " that freed nothing";
  EXPECT_FALSE(s.stalled());
  EXPECT_GE(end, (o.stable_rounds + 1) * c.pass_us) << "each round waits for its own pass";
  EXPECT_LT(end, o.ceiling_us / 100) << "proof, not the ceiling";
  EXPECT_NE(s.Why().find("freed nothing"), std::string::npos) << s.Why();
}

TEST(Settler, SlowCollectorIsWaitedForNotTimed) {
  // Passes that take 10 s each (a storm under TCG): no leak before the proof.
  FakeCollector c;
  c.pass_us = 10'000'000;
  Settler s;
  int64_t end = 0;
  EXPECT_EQ(Drive(
                s, c, 0, 0, [](int64_t now) { return Fp(now < 9'000'000 ? 5 : 0); }, &end),
            Settler::Outcome::kClean);
  EXPECT_GE(end, 9'000'000);
  FakeCollector c2;
  c2.pass_us = 10'000'000;
  Settler s2;
  EXPECT_EQ(Drive(
                s2, c2, 0, 0, [](int64_t) { return Fp(5); }, &end),
            Settler::Outcome::kLeak);
  EXPECT_GE(end, 30'000'000) << "three passes of 10 s";
}

TEST(Settler, CountsStillFallingAtTheCeilingAreUnsettledNeverLeak) {
  FakeCollector c;
  SettleOptions o;
  o.ceiling_us = 2'000'000;
  Settler s(o);
  // One object freed per pass, far more objects than passes fit under the ceiling.
  auto falling = [&](int64_t now) { return Fp(100'000 - now / c.pass_us); };
  int64_t end = 0;
  EXPECT_EQ(Drive(s, c, 0, 0, falling, &end), Settler::Outcome::kUnsettled);
  EXPECT_GE(end, o.ceiling_us);
  EXPECT_GT(s.rounds(), 10);
  EXPECT_FALSE(s.stalled());
}

TEST(Settler, AWitnessOlderThanTheGarbageProvesNothing) {
  FakeCollector c;
  c.log.Made(99, 50);  // made before the run ended, freed after
  c.log.Freed(99, 200);
  Settler s;
  s.Start(150, 100);
  EXPECT_EQ(s.OnCensus(false, Fp(3), 300, c.log), Settler::Outcome::kPending);
  EXPECT_EQ(s.rounds(), 0);
  EXPECT_EQ(s.NeedWitnessSince(), 100);
}

TEST(Settler, NoPassAtAllIsAStalledCollectorLeakAtTheCeiling) {
  FakeCollector c;
  c.works = false;
  SettleOptions o;
  o.ceiling_us = 3'000'000;
  Settler s(o);
  int64_t end = 0;
  EXPECT_EQ(Drive(
                s, c, 0, 0, [](int64_t) { return Fp(4); }, &end),
            Settler::Outcome::kLeak);
  EXPECT_TRUE(s.stalled());
  EXPECT_GE(end, o.ceiling_us) << "a collector that is only slow gets the whole ceiling";
  EXPECT_NE(s.Why().find("stalled"), std::string::npos) << s.Why();
}

TEST(Settler, OnceTheCollectorIsKnownStalledLaterRunsNeedOnlyTheGrace) {
  FakeCollector c;
  c.works = false;
  SettleOptions o;
  o.ceiling_us = 30'000'000;
  c.log.Made(1, 0);  // alive since 0: stalled from 30 s on
  Settler s(o);
  int64_t end = 0;
  const int64_t start = 40'000'000;
  EXPECT_EQ(Drive(
                s, c, start, start, [](int64_t) { return Fp(4); }, &end),
            Settler::Outcome::kLeak);
  EXPECT_TRUE(s.stalled());
  EXPECT_GE(end - start, o.stall_grace_us);
  EXPECT_LT(end - start, o.stall_grace_us + o.max_gap_us * 2);
  // Not while its own census still changes.
  Settler moving(o);
  EXPECT_EQ(Drive(
                moving, c, start, start, [](int64_t now) { return Fp(now / 100'000); }, &end),
            Settler::Outcome::kUnsettled)
      << "counts still changing at the ceiling are never a leak";
  EXPECT_GE(end - start, o.ceiling_us);
}

TEST(Settler, AStalledCollectorNeedsNoWitnessOfEachRun) {
  // A stalled kernel keeps every witness, and the clock stops making them at its cap:
  // later runs still rule after the grace, with no witness of their own.
  struct Capped : FakeCollector {
    void Need(int64_t, int64_t) {}
  };
  SettleOptions o;
  o.ceiling_us = 30'000'000;
  Capped c;
  c.works = false;
  c.log.Made(1, 0);
  Settler s(o);
  const int64_t start = 40'000'000;
  s.Start(start, start);
  Settler::Outcome out = Settler::Outcome::kPending;
  int64_t now = start;
  while (out == Settler::Outcome::kPending && now < start + o.ceiling_us * 2) {
    now = s.NextPollAt();
    out = s.OnCensus(false, Fp(4), now, c.log);
  }
  EXPECT_EQ(out, Settler::Outcome::kLeak);
  EXPECT_TRUE(s.stalled());
  EXPECT_LT(now - start, o.stall_grace_us + o.max_gap_us * 2);
}

TEST(Settler, AWitnessFreedSinceTheRunEndsTheStall) {
  // The old witness lived a whole ceiling, but the collector freed one since this run
  // ended: it works again, so only proof or the ceiling rule, not the stall.
  SettleOptions o;
  o.ceiling_us = 30'000'000;
  WitnessLog log;
  log.Made(1, 0);
  log.Made(2, 39'000'000);
  log.Freed(2, 40'500'000);
  Settler s(o);
  const int64_t start = 40'000'000;
  s.Start(start, start);
  EXPECT_EQ(s.OnCensus(false, Fp(4), start + 2 * o.stall_grace_us, log),
            Settler::Outcome::kPending);
  EXPECT_FALSE(s.stalled());
}

TEST(Settler, PassesThatStillFreeRestartTheCount) {
  // Three passes free something each, then nothing: leak after the stable rounds that
  // follow the last change, not before.
  FakeCollector c;
  Settler s;
  int64_t end = 0;
  auto fp = [&](int64_t now) { return Fp(now < 4 * c.pass_us ? 10 - now / c.pass_us : 6); };
  EXPECT_EQ(Drive(s, c, 0, 0, fp, &end), Settler::Outcome::kLeak);
  EXPECT_GE(end, 4 * c.pass_us + 2 * c.pass_us);
}

TEST(WitnessLog, AnswersByTimeAndForgetsOnlyFreedOnes) {
  WitnessLog log;
  log.Made(1, 100);
  log.Made(2, 200);
  log.Made(3, 300);
  log.Freed(2, 250);
  EXPECT_EQ(log.FreedAfter(150), 250);
  EXPECT_EQ(log.FreedAfter(201), 0);
  EXPECT_EQ(log.NewestMadeSince(250), 300);
  EXPECT_EQ(log.NewestMadeSince(301), 0);
  EXPECT_EQ(log.OldestAliveSince(0), 100);
  EXPECT_EQ(log.OldestAliveSince(150), 300);
  EXPECT_EQ(log.Alive(), 2u);
  EXPECT_FALSE(log.Stalled(1000, 1000));
  EXPECT_TRUE(log.Stalled(1100, 1000));
  for (uint64_t k = 10; k < 10 + 2 * WitnessLog::kMaxKept; ++k) {
    log.Made(k, static_cast<int64_t>(k) * 1000);
    log.Freed(k, static_cast<int64_t>(k) * 1000 + 1);
  }
  EXPECT_LE(log.witnesses().size(), WitnessLog::kMaxKept);
  EXPECT_EQ(log.Alive(), 2u) << "alive witnesses are never forgotten";
}

}  // namespace
}  // namespace inflight
