// Free-run send tickets end to end on this kernel: the sandbox tags free-run payloads and
// reports which tickets each receive got (run/tickets.h), leaves lockstep untouched, and
// the free-run loss ruling (oracle/free_loss.h) reads them: silent on the real run, firing
// when a ticket is taken out of it.
#include <gtest/gtest.h>

#include "driver/sandbox_pool.h"
#include "oracle/free_loss.h"
#include "oracle/verdict.h"
#include "run/tickets.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

const char* kText = R"(scenario tickets
about test

p0: a b = socketpair stream
p0: c d = socketpair dgram
p0: send a [] bytes=3
p0: send c [] bytes=2
p0: send a [] bytes=2
p0: fork p1
p1: x = recv b
p1: y = recv d bytes=1
)";

RunResult RunIn(RunMode mode) {
  PoolOptions p;
  p.jobs = 1;
  p.slots = 2;
  p.sandbox_path = testing::SandboxPath();
  SandboxPool pool(p);
  pool.Start();
  RunRequest req;
  req.opt.mode = mode;
  req.scenario_text = PrintScenario(ParseScenario(kText));
  req.id = pool.Submit(req);
  auto r = pool.Next(60'000);
  pool.Finish();
  EXPECT_TRUE(r.has_value()) << "no result within 60 s";
  return r ? *r : RunResult{};
}

TEST(FreeRunTickets, ReceivesReportTheTicketsTheyGotAndTheRulingReadsThem) {
  INFLIGHT_REQUIRE_NAMESPACES();
  const Scenario s = ParseScenario(kText);
  const std::vector<uint8_t> ticket = SendTickets(s);
  RunResult r = RunIn(RunMode::kFree);
  ASSERT_EQ(r.status, RunStatus::kCompleted) << r.error;
  ASSERT_EQ(r.actions[6].status, ActionStatus::kOk);
  ASSERT_EQ(r.actions[6].ret, 5) << "both stream sends glued into one receive";
  ASSERT_EQ(r.actions[7].ret, 1) << "the datagram cut to one byte";
  std::map<int, TicketSet> got;
  for (const RecvTickets& t : r.tickets) got[t.action] = t.tickets;
  ASSERT_EQ(got.size(), 2u);
  TicketSet stream{}, dgram{};
  AddTicket(stream, ticket[2]);
  AddTicket(stream, ticket[4]);
  AddTicket(dgram, ticket[3]);
  EXPECT_EQ(got[6], stream);
  EXPECT_EQ(got[7], dgram);
  RunOptions opt;
  opt.mode = RunMode::kFree;
  EXPECT_TRUE(FreeRunLosses(s, r).empty());
  EXPECT_NE(Rule(s, opt, r).kind, VerdictKind::kLoss);
  // The first stream message taken out of what arrived: a later one came without it.
  for (RecvTickets& t : r.tickets)
    if (t.action == 6) t.tickets = TicketSet{};
  for (RecvTickets& t : r.tickets)
    if (t.action == 6) AddTicket(t.tickets, ticket[4]);
  const auto losses = FreeRunLosses(s, r);
  ASSERT_EQ(losses.size(), 1u);
  EXPECT_NE(losses[0].find("got the message of action 4, but the one action 2"), std::string::npos)
      << losses[0];
}

TEST(FreeRunTickets, LockstepPayloadsAreNotTagged) {
  INFLIGHT_REQUIRE_NAMESPACES();
  const RunResult r = RunIn(RunMode::kLockstep);
  ASSERT_EQ(r.status, RunStatus::kCompleted) << r.error;
  EXPECT_EQ(r.actions[6].ret, 5);
  EXPECT_TRUE(r.tickets.empty());
}

}  // namespace
}  // namespace inflight
