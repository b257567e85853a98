// The free-run loss ruling (oracle/free_loss.h) fires on constructed lost messages and
// stays silent on every way free-run has for a message never to be received legitimately.
// Results are built by hand, as the sandbox reports them: outcomes, the object log, and
// per receive the send tickets its bytes carried (run/tickets.h).
#include "oracle/free_loss.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <initializer_list>
#include <map>

#include "oracle/signature.h"
#include "oracle/verdict.h"
#include "run/tickets.h"
#include "scenario/text.h"

namespace inflight {
namespace {

// A scenario and the run a correct kernel could give for it: every action succeeded,
// every send sent all its bytes; socketpair ends get inodes 100, 101, 102, ... in order,
// and every receive read the socket its operand names (variables are named once per
// scenario here, so a name is a socket). Tests then say what each receive got.
struct Case {
  Scenario s;
  RunResult r;
  std::map<std::string, uint64_t> ino;
  std::vector<uint8_t> ticket;

  explicit Case(const std::string& body) : s(ParseScenario("scenario t\nabout test\n\n" + body)) {
    ticket = SendTickets(s);
    r.procs.assign(s.procs.size(), ProcOutcome{ProcEnd::kExited});
    r.actions.assign(s.actions.size(), ActionOutcome{ActionStatus::kOk, 0, 0, 0, 0, -1});
    uint64_t next = 100;
    for (size_t i = 0; i < s.actions.size(); ++i) {
      const Action& a = s.actions[i];
      if (a.op == Op::kSocketpair) {
        for (uint8_t k = 0; k < 2; ++k) {
          ino[s.vars[a.out[k]]] = next;
          r.events.push_back(Ev(i, EventType::kCreated, k, next++));
        }
      }
      if (a.op == Op::kSend) r.actions[i].ret = a.bytes;
      if (a.op == Op::kRecv) Nothing(i);  // until a test says what it got
    }
  }
  static ObjectEvent Ev(size_t action, EventType t, uint8_t index, uint64_t ino) {
    ObjectEvent e;
    e.action = static_cast<uint16_t>(action);
    e.type = t;
    e.index = index;
    e.dev = 8;
    e.ino = ino;
    return e;
  }
  uint64_t Target(size_t i) const { return ino.at(s.vars[s.actions[i].target]); }
  void Forget(size_t i) {
    std::erase_if(r.events, [&](const ObjectEvent& e) {
      return e.action == i && e.type == EventType::kRecvVia;
    });
    std::erase_if(r.tickets, [&](const RecvTickets& t) { return t.action == i; });
  }
  // Receive i got EAGAIN.
  void Nothing(size_t i) {
    Forget(i);
    r.actions[i] = {ActionStatus::kFailed, EAGAIN, -1, 0, 0, -1};
  }
  // Receive i got `bytes` bytes carrying the tickets of `sends`, and `fds` descriptors.
  void Got(size_t i, std::initializer_list<size_t> sends, int32_t bytes = -1, uint16_t fds = 0,
           uint32_t flags = 0) {
    Forget(i);
    RecvTickets t;
    t.action = static_cast<uint16_t>(i);
    for (size_t k : sends) AddTicket(t.tickets, ticket[k]);
    if (bytes < 0) bytes = static_cast<int32_t>(sends.size());
    r.actions[i] = {ActionStatus::kOk, 0, bytes, fds, flags, -1};
    r.events.push_back(Ev(i, EventType::kRecvVia, 0, Target(i)));
    if (bytes > 0 && !(s.actions[i].flags & kFlagFaultData)) r.tickets.push_back(t);
  }
  std::vector<std::string> Losses() const { return FreeRunLosses(s, r); }
};

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& l : v) out += l + "\n";
  return out;
}

// --- evidence -------------------------------------------------------------------------

// Two datagrams from one process to one queue; the receiver got the second, never the
// first.
const char* kTwoDatagrams = R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: fork p1
p1: x = recv b
p1: y = recv b
)";

TEST(FreeLoss, ACorrectRunIsSilent) {
  Case run(kTwoDatagrams);
  run.Got(4, {1});
  run.Got(5, {2});
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
}

TEST(FreeLoss, ALaterMessageWithoutAnEarlierOneIsALoss) {
  Case run(kTwoDatagrams);
  run.Got(4, {2});  // the first receive already gets the second datagram
  const auto losses = run.Losses();
  ASSERT_EQ(losses.size(), 1u) << Joined(losses);
  EXPECT_NE(losses[0].find("action 4"), std::string::npos) << losses[0];
  EXPECT_NE(losses[0].find("got the message of action 2, but the one action 1"), std::string::npos)
      << losses[0];
}

TEST(FreeLoss, NothingWhereAMessageWasProvablyQueuedIsALoss) {
  // As gc_spares_live_cycles: one process queues a socket in its own queue, the collector
  // runs, and the receive finds the queue empty.
  Case run(R"(p0: a b = socketpair stream
p0: send b [a]
p0: x y = socketpair stream
p0: send y [x]
p0: close x
p0: close y
p0: a2 = recv a
)");
  run.Got(6, {1}, 1, 1);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  run.Nothing(6);
  auto losses = run.Losses();
  ASSERT_EQ(losses.size(), 1u) << Joined(losses);
  EXPECT_NE(losses[0].find("action 6"), std::string::npos) << losses[0];
  EXPECT_NE(losses[0].find("got EAGAIN while 1 message(s) sent before it into this queue (by "
                           "action(s) 1) were never received"),
            std::string::npos)
      << losses[0];
  // A stream's end (0 bytes into a buffer) says the same.
  run.r.actions[6] = {ActionStatus::kOk, 0, 0, 0, 0, -1};
  run.r.events.push_back(Case::Ev(6, EventType::kRecvVia, 0, run.ino["a"]));
  losses = run.Losses();
  ASSERT_EQ(losses.size(), 1u) << Joined(losses);
  EXPECT_NE(losses[0].find("got end of file"), std::string::npos) << losses[0];
}

TEST(FreeLoss, FewerDescriptorsThanTheDatagramCarriedIsALoss) {
  Case run(R"(p0: a b = socketpair dgram
p0: r w = pipe
p0: send a [r w]
p0: fork p1
p1: x y = recv b
)");
  run.Got(4, {2}, 1, 2);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  run.Got(4, {2}, 1, 1);
  const auto losses = run.Losses();
  ASSERT_EQ(losses.size(), 1u) << Joined(losses);
  EXPECT_NE(losses[0].find("1 descriptor(s) lost: the message of action 2 carried 2, 1 arrived"),
            std::string::npos)
      << losses[0];
}

TEST(FreeLoss, FewerDescriptorsThanTheStreamMessageCarriedIsALoss) {
  // Stream bytes glue: one receive takes a data-only message and the next one with rights.
  Case run(R"(p0: a b = socketpair stream
p0: r w = pipe
p0: send a [] bytes=3
p0: send a [r] bytes=2
p0: fork p1
p1: x = recv b
)");
  run.Got(5, {2, 3}, 5, 1);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  run.Got(5, {2, 3}, 5, 0);
  const auto losses = run.Losses();
  ASSERT_EQ(losses.size(), 1u) << Joined(losses);
  EXPECT_NE(losses[0].find("1 descriptor(s) lost"), std::string::npos) << losses[0];
}

TEST(FreeLoss, TheVerdictIsALossWithItsSignatureInFreeRunOnly) {
  Case run(kTwoDatagrams);
  run.Got(4, {2});
  RunOptions opt;
  opt.mode = RunMode::kFree;
  run.r.settle = SettleResult::kCleanAtOnce;
  Verdict v = Rule(run.s, opt, run.r);
  EXPECT_EQ(v.kind, VerdictKind::kLoss) << v.summary;
  EXPECT_EQ(FindingSignatureOf(run.s, run.r, v), "loss|recv|messages");
  // Descriptors: the signature says so.
  Case d(R"(p0: a b = socketpair dgram
p0: r w = pipe
p0: send a [r]
p0: x = recv b
)");
  d.Got(3, {2}, 1, 0);
  d.r.settle = SettleResult::kCleanAtOnce;
  v = Rule(d.s, opt, d.r);
  EXPECT_EQ(v.kind, VerdictKind::kLoss) << v.summary;
  EXPECT_EQ(FindingSignatureOf(d.s, d.r, v), "loss|recv|descriptors");
  // Lockstep has its own model (oracle/semantics.h): the free-run ruling does not run
  // there, the lockstep one does.
  opt.mode = RunMode::kLockstep;
  v = Rule(run.s, opt, run.r);
  EXPECT_EQ(v.summary.find("got the message of action"), std::string::npos) << v.summary;
  EXPECT_NE(v.summary.find("queued message(s)"), std::string::npos) << v.summary;
}

// --- legitimate ways for a message never to be received: silence ----------------------

TEST(FreeLoss, TheReceiverClosingWithDataQueuedIsSilent) {
  Case run(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: fork p1
p1: close b
p0: close b
)");
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
}

TEST(FreeLoss, AReceiveThatMayHaveRunBeforeTheSendIsSilent) {
  // p1 was forked before p0 sent: its receive may have timed out before the send.
  Case run(R"(p0: a b = socketpair stream
p0: fork p1
p0: send a []
p1: x = recv b
p1: y = recv b dontwait
)");
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
}

TEST(FreeLoss, AProcessKilledWhileReceivingIsSilent) {
  // p1 was killed inside its receive: it may have taken the first datagram unseen.
  Case run(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: fork p1
p1: x = recv b
p0: kill p1
p0: y = recv b
)");
  run.Got(6, {2});
  ASSERT_FALSE(run.Losses().empty()) << "the control: p1's receive finished, got nothing";
  run.r.actions[4] = ActionOutcome{};  // kNotRun: it never reported
  run.r.procs[1] = ProcOutcome{ProcEnd::kKilledByScenario, 9, 4};
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
}

TEST(FreeLoss, APeekDoesNotConsume) {
  Case run(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: x = recv b peek
p0: y = recv b
p0: z = recv b
)");
  run.Got(3, {1});
  run.Got(4, {1});
  run.Got(5, {2});
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // Peeked and never taken: still queued when the socket closed, not lost.
  run.Nothing(4);
  run.Nothing(5);
  run.r.actions[4] = ActionOutcome{ActionStatus::kNotRun};
  run.r.actions[5] = ActionOutcome{ActionStatus::kNotRun};
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // A peek is not a receive: a real one that then gets the second is a loss of the first.
  run.r.actions[4] = ActionOutcome{ActionStatus::kOk};
  run.Got(4, {2});
  EXPECT_FALSE(run.Losses().empty());
}

TEST(FreeLoss, ATruncatedDatagramIsTakenWhole) {
  Case run(R"(p0: a b = socketpair seqpacket
p0: send a [] bytes=300
p0: send a [] bytes=300
p0: x = recv b bytes=1
p0: y = recv b
)");
  run.Got(3, {1}, 1);
  run.Got(4, {2}, 256);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // A datagram taken into no buffer at all is taken unseen: no ruling on that queue.
  Case z(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: x = recv b bytes=0
p0: y = recv b
)");
  z.Got(3, {}, 0);
  z.Got(4, {2});
  EXPECT_TRUE(z.Losses().empty()) << Joined(z.Losses());
}

TEST(FreeLoss, GluedAndSplitStreamBytesAreSilent) {
  Case run(R"(p0: a b = socketpair stream
p0: r w = pipe
p0: send a [] bytes=3
p0: send a [r] bytes=3
p0: send a [] bytes=3
p0: x = recv b bytes=4
p0: y = recv b bytes=1
p0: z = recv b
)");
  run.Got(5, {2, 3}, 4, 1);  // 3 + 1: the rights came with the first byte of action 3
  run.Got(6, {3}, 1, 0);
  run.Got(7, {3, 4}, 4, 0);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // Several receives got bytes of the rights message: which took its rights is not sure
  // from the tickets alone, so no descriptor ruling.
  run.Got(5, {2, 3}, 4, 0);
  run.Got(6, {3}, 1, 1);
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // A stream receive into no buffer takes the rights at the head and no byte.
  Case nb(R"(p0: a b = socketpair stream
p0: r w = pipe
p0: send a [r] bytes=2
p0: x = recv b bytes=0
p0: y = recv b
)");
  nb.Got(3, {}, 0, 1);
  nb.Got(4, {2}, 2, 0);
  EXPECT_TRUE(nb.Losses().empty()) << Joined(nb.Losses());
}

TEST(FreeLoss, ADatagramDroppedByAFaultingBufferIsSilent) {
  Case run(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: x = recv b fault=data
p0: y = recv b
)");
  run.r.actions[3] = {ActionStatus::kFailed, EFAULT, -1, 0, 0, -1};
  run.Got(4, {2});
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
}

TEST(FreeLoss, SharedEndsAreSilent) {
  // Two processes hold b: each takes one datagram, in either order.
  Case run(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: fork p1
p0: fork p2
p1: x = recv b
p2: y = recv b
)");
  run.Got(5, {2});
  run.Got(6, {1});
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  // Two senders share a: their messages interleave in any order.
  Case two(R"(p0: a b = socketpair dgram
p0: fork p1
p1: send a []
p0: send a []
p0: x = recv b
p0: y = recv b
)");
  two.Got(4, {3});
  two.Got(5, {2});
  EXPECT_TRUE(two.Losses().empty()) << Joined(two.Losses());
}

TEST(FreeLoss, CutDescriptorsAreSilent) {
  const char* text = R"(p0: a b = socketpair dgram
p0: r w = pipe
p0: send a [r w]
p0: x = recv b %s
)";
  // Each reason alone, and MSG_CTRUNC (a control buffer for max=1 descriptor) alone.
  const std::pair<const char*, uint32_t> cases[] = {
      {"ctrunc=1", 0}, {"cbuf=16", 0}, {"nofile=4", 0}, {"fault=cbuf", 0}, {"max=1", MSG_CTRUNC}};
  for (const auto& [how, flags] : cases) {
    char body[256];
    snprintf(body, sizeof body, text, how);
    Case run(body);
    run.Got(3, {2}, 1, 1, flags);
    EXPECT_TRUE(run.Losses().empty()) << how << ": " << Joined(run.Losses());
  }
  Case control(R"(p0: a b = socketpair dgram
p0: r w = pipe
p0: send a [r w]
p0: x = recv b
)");
  control.Got(3, {2}, 1, 1);
  EXPECT_FALSE(control.Losses().empty()) << "the control: nothing cut it";
  // A process whose descriptor table was limited for good.
  Case lim(R"(p0: a b = socketpair dgram
p0: r w = pipe
p0: send a [r w]
p0: limit nofile=8
p0: x = recv b
)");
  lim.Got(4, {2}, 1, 1);
  EXPECT_TRUE(lim.Losses().empty()) << Joined(lim.Losses());
}

TEST(FreeLoss, QueuesTheKernelMayPurgeOrReorderAreNotRuled) {
  // A datagram send to a closed peer fails and purges the sender's own queue.
  Case purge(R"(p0: a b = socketpair dgram
p0: send a []
p0: close a
p0: send b []
p0: x = recv b
)");
  purge.r.actions[3] = {ActionStatus::kFailed, EAGAIN, -1, 0, 0, -1};
  EXPECT_FALSE(purge.Losses().empty()) << "the control: a full peer purges nothing";
  purge.r.actions[3] = {ActionStatus::kFailed, ECONNREFUSED, -1, 0, 0, -1};
  EXPECT_TRUE(purge.Losses().empty()) << Joined(purge.Losses());
  // Out-of-band data leaves the stream.
  Case oob(R"(p0: a b = socketpair stream
p0: send a [] oob
p0: x = recv b
)");
  EXPECT_TRUE(oob.Losses().empty()) << Joined(oob.Losses());
  // A shutdown on either end.
  Case shut(R"(p0: a b = socketpair stream
p0: send a []
p0: shutdown b rd
p0: x = recv b
)");
  EXPECT_TRUE(shut.Losses().empty()) << Joined(shut.Losses());
  // A receive error other than EAGAIN.
  Case err(R"(p0: a b = socketpair dgram
p0: send a []
p0: send a []
p0: x = recv b
p0: y = recv b
)");
  err.r.actions[3] = {ActionStatus::kFailed, ECONNRESET, -1, 0, 0, -1};
  err.Got(4, {2});
  EXPECT_TRUE(err.Losses().empty()) << Joined(err.Losses());
}

TEST(FreeLoss, SharedTicketsNameNoSend) {
  // 257 sends: the first and the last share ticket 0, so bytes of ticket 0 name neither.
  std::string body = "p0: a b = socketpair dgram\n";
  for (int k = 0; k < 257; ++k) body += "p0: send a []\n";
  body += "p0: x = recv b\n";
  Case run(body);
  ASSERT_EQ(run.ticket[1], run.ticket[257]);
  run.Got(258, {257});  // the last send's ticket is the first one's too
  EXPECT_TRUE(run.Losses().empty()) << Joined(run.Losses());
  run.Got(258, {256});  // ticket 255 is the 256th send's alone: 1..254 never arrived
  EXPECT_FALSE(run.Losses().empty());
}

TEST(FreeLoss, AnIncompleteRunIsNotRuled) {
  Case run(kTwoDatagrams);
  run.Got(4, {2});
  run.r.events_truncated = true;
  EXPECT_TRUE(run.Losses().empty());
  run.r.events_truncated = false;
  run.r.status = RunStatus::kHang;
  EXPECT_TRUE(run.Losses().empty());
}

}  // namespace
}  // namespace inflight
