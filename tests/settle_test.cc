// The settling schedule, driven with a fake clock and a recording trigger.
#include <gtest/gtest.h>

#include <vector>

#include "oracle/settle.h"

namespace inflight {
namespace {

struct Recorder {
  std::vector<int64_t> since;
  SettleOptions Options(SettleOptions o = {}) {
    o.trigger = [this](int64_t s) { since.push_back(s); };
    return o;
  }
};

TEST(Settler, CleanAtTheFirstPollEndsAtOnce) {
  Recorder rec;
  Settler s(rec.Options());
  s.Start(10, 7);
  EXPECT_EQ(rec.since, std::vector<int64_t>{7}) << "triggered for garbage from the graph's end";
  EXPECT_EQ(s.NextPollAt(), 10 + SettleOptions{}.first_gap_us);
  EXPECT_EQ(s.OnCensus(true, s.NextPollAt()), Settler::Outcome::kClean);
  EXPECT_EQ(s.triggers(), 1);
}

TEST(Settler, RulesLeakOnlyAfterTheDeadlineATriggerAndTheFinalWindow) {
  Recorder rec;
  SettleOptions o;
  o.deadline_us = 1'000'000;
  o.final_window_us = 200'000;
  Settler s(rec.Options(o));
  s.Start(0, 0);
  int64_t now = 0, last_gap = 0;
  Settler::Outcome out = Settler::Outcome::kPending;
  int polls = 0;
  while (out == Settler::Outcome::kPending) {
    const int64_t next = s.NextPollAt();
    ASSERT_GT(next, now);
    const int64_t gap = next - now;
    EXPECT_LE(gap, o.max_gap_us) << "backoff is capped";
    if (now > 0 && now < o.deadline_us) EXPECT_GE(gap, last_gap) << "backoff grows";
    last_gap = gap;
    now = next;
    out = s.OnCensus(false, now);
    ASSERT_LT(++polls, 10000);
  }
  EXPECT_EQ(out, Settler::Outcome::kLeak);
  EXPECT_GE(now, o.deadline_us + o.final_window_us);
  EXPECT_LE(now, o.deadline_us + o.final_window_us + o.max_gap_us);
  EXPECT_EQ(s.polls(), polls);
  // Triggered at the start, again at the deadline, and regularly in between, so that a
  // collection already running when the garbage appeared cannot hide it.
  ASSERT_GE(rec.since.size(), 3u);
  bool at_deadline = false;
  for (size_t i = 1; i < rec.since.size(); ++i) {
    EXPECT_LE(rec.since[i] - rec.since[i - 1], o.retrigger_us + o.max_gap_us);
    at_deadline |= rec.since[i] >= o.deadline_us && rec.since[i] <= o.deadline_us + o.max_gap_us;
  }
  EXPECT_TRUE(at_deadline);
  EXPECT_EQ(s.triggers(), static_cast<int>(rec.since.size()));
}

TEST(Settler, CleanDuringTheFinalWindowIsClean) {
  Recorder rec;
  SettleOptions o;
  o.deadline_us = 1000;
  o.final_window_us = 100'000;
  Settler s(rec.Options(o));
  s.Start(0, 0);
  int64_t now = 0;
  while (now < o.deadline_us) {
    now = s.NextPollAt();
    ASSERT_EQ(s.OnCensus(false, now), Settler::Outcome::kPending);
  }
  EXPECT_EQ(rec.since.size(), 2u);
  EXPECT_EQ(s.OnCensus(true, s.NextPollAt()), Settler::Outcome::kClean);
}

}  // namespace
}  // namespace inflight
