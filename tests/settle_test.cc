// The settling schedule, driven with a fake clock.
#include <gtest/gtest.h>

#include "oracle/settle.h"

namespace inflight {
namespace {

TEST(Settler, CleanAtTheFirstPollEndsAtOnce) {
  Settler s;
  s.Start(0);
  EXPECT_EQ(s.triggers(), 1);
  EXPECT_EQ(s.NextPollAt(), 100);
  EXPECT_EQ(s.OnCensus(true, 100), Settler::Outcome::kClean);
}

TEST(Settler, BacksOffAndRulesLeakOnlyAfterTheDeadlineAndASecondTrigger) {
  SettleOptions o;
  o.deadline_us = 1'000'000;
  o.final_window_us = 200'000;
  Settler s(o);
  s.Start(0);
  int64_t now = 0, last_gap = 0;
  Settler::Outcome out = Settler::Outcome::kPending;
  int polls = 0;
  while (out == Settler::Outcome::kPending) {
    const int64_t next = s.NextPollAt();
    ASSERT_GT(next, now);
    const int64_t gap = next - now;
    if (now < o.deadline_us) EXPECT_GE(gap, std::min<int64_t>(last_gap, o.max_gap_us));
    EXPECT_LE(gap, o.max_gap_us);
    last_gap = gap;
    now = next;
    out = s.OnCensus(false, now);
    ++polls;
    ASSERT_LT(polls, 10000);
  }
  EXPECT_EQ(out, Settler::Outcome::kLeak);
  EXPECT_GE(now, o.deadline_us + o.final_window_us);
  EXPECT_LE(now, o.deadline_us + o.final_window_us + o.max_gap_us);
  EXPECT_EQ(s.triggers(), 2);
  EXPECT_EQ(s.polls(), polls);
}

TEST(Settler, CleanDuringTheFinalWindowIsClean) {
  SettleOptions o;
  o.deadline_us = 1000;
  o.final_window_us = 100'000;
  Settler s(o);
  s.Start(0);
  int64_t now = 0;
  while (now < o.deadline_us) {
    now = s.NextPollAt();
    ASSERT_EQ(s.OnCensus(false, now), Settler::Outcome::kPending);
  }
  EXPECT_EQ(s.triggers(), 2);
  EXPECT_EQ(s.OnCensus(true, s.NextPollAt()), Settler::Outcome::kClean);
}

}  // namespace
}  // namespace inflight
