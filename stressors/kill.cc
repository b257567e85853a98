// kill: small graphs whose processes are SIGKILLed at random points, mid-sendmsg and
// mid-recvmsg included. A sender blocked on a full queue with descriptors attached, a
// receiver installing descriptors, or either holding sockets that carry themselves: the
// kernel must release every reference whatever instant the signal lands.
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t { kKillers, kMaxDelayUs, kBigPermille };
constexpr StressOption kOptions[] = {
    {"killers", "processes each running graphs of a sender and a receiver and killing them", 2, 1,
     8},
    {"max_delay_us", "longest wait before the kill (uniformly random below it)", 3000, 0,
     1'000'000},
    {"big_permille", "sends with 64 KiB of payload (blocking on a full queue)", 300, 0, 1000},
};

enum Counter : size_t {
  kKills,
  kMidSend,
  kMidRecv,
  kRounds,
  kSends,
  kRecvs,
  kReceivedFds,
};
constexpr StressCounter kCounters[] = {
    {"kills", "processes SIGKILLed"},
    {"mid_sendmsg", "kills that landed while the victim was inside sendmsg"},
    {"mid_recvmsg", "kills that landed while the victim was inside recvmsg"},
    {"rounds", "graphs built and killed"},
    {"sends",
     "sendmsg calls with descriptors by victims (at least: a victim's last counts die with it)"},
    {"recvs", "recvmsg calls by victims (at least)"},
    {"received_fds", "descriptors victims received (at least)"},
};

enum Label : uint16_t { kChannel, kSelfCarrier, kFresh };
constexpr const char* kLabels[] = {
    "kill channel (the pair victims send and receive on)",
    "kill self-carrier (a socket in its own queue, sent by the victims)",
    "kill fresh socket (made by a sender victim, carrying itself)",
};
// The leak class of each label (stressors/stressor.h, label_classes).
constexpr const char* kLabelClasses[] = {
    "",
    "cycle(self)",
    "cycle(self)",
};
static_assert(sizeof kLabelClasses == sizeof kLabels);

enum VictimState : int64_t { kIdle = 0, kInSend = 1, kInRecv = 2 };

void SenderVictim(StressContext& ctx, int tx, int z, std::atomic<int64_t>& state) {
  int fds[kMaxFdsPerMsg];
  while (ctx.Running()) {
    int n = 1 + static_cast<int>(ctx.Below(ctx.Chance(100) ? kMaxFdsPerMsg : 8));
    for (int i = 0; i < n; ++i) fds[i] = z;
    int fresh[2] = {-1, -1};
    if (ctx.Chance(300) && Pair(TypeOf(ctx.Rand()), fresh, true)) {
      ctx.Log(fresh[0], kFresh);
      (void)SendFd(fresh[1], fresh[0], MSG_DONTWAIT);
      fds[0] = fresh[0];
    }
    const size_t bytes = ctx.Chance(static_cast<uint32_t>(ctx.Opt(kBigPermille))) ? 65536 : 1;
    ctx.SetOp("sendmsg");
    state.store(kInSend);
    const ssize_t r = SendFds(tx, fds, n, 0, bytes);
    state.store(kIdle);
    if (r >= 0) ctx.Add(kSends);
    CloseAll(fresh, 2);
  }
}

void ReceiverVictim(StressContext& ctx, int rx, std::atomic<int64_t>& state) {
  int held[64];
  int n_held = 0;
  int fds[kMaxFdsPerMsg];
  while (ctx.Running()) {
    const int flags = ctx.Chance(100) ? MSG_PEEK : 0;
    ctx.SetOp("recvmsg");
    state.store(kInRecv);
    Received r = RecvFds(rx, fds, kMaxFdsPerMsg, flags, ctx.Chance(500) ? 65536 : 1);
    state.store(kIdle);
    if (r.bytes >= 0) {
      ctx.Add(kRecvs);
      ctx.Add(kReceivedFds, static_cast<uint64_t>(r.n));
    }
    // Keep a few received descriptors open, so a kill leaves them to the process's exit.
    for (int i = 0; i < r.n; ++i) {
      if (n_held < 64 && ctx.Chance(100)) {
        held[n_held++] = fds[i];
      } else {
        close(fds[i]);
      }
    }
    if (n_held == 64) {
      CloseAll(held, n_held);
      n_held = 0;
    }
    if (ctx.Chance(200)) usleep(static_cast<useconds_t>(ctx.Below(500)));
  }
  CloseAll(held, n_held);
}

void Killer(StressContext& ctx, int index) {
  std::atomic<int64_t>& send_state = ctx.Scratch(static_cast<size_t>(2 * index));
  std::atomic<int64_t>& recv_state = ctx.Scratch(static_cast<size_t>(2 * index + 1));
  while (ctx.Running()) {
    ctx.SetOp("building a graph");
    int ch[2], zz[2];
    if (!Pair(ctx.Chance(700) ? SOCK_STREAM : SOCK_SEQPACKET, ch)) {
      ctx.Error("socketpair: %s", ErrName(errno));
      return;
    }
    if (!Pair(TypeOf(ctx.Rand()), zz, true)) {
      ctx.Error("socketpair: %s", ErrName(errno));
      CloseAll(ch, 2);
      return;
    }
    ctx.Log(ch[0], kChannel);
    ctx.Log(zz[0], kSelfCarrier);
    (void)SendFd(zz[1], zz[0], MSG_DONTWAIT);  // z carries itself
    SetTimeouts(ch[0], 20'000);
    SetTimeouts(ch[1], 20'000);
    send_state.store(kIdle);
    recv_state.store(kIdle);
    const pid_t s = ctx.Fork();
    if (s == 0) {
      close(ch[0]);
      SenderVictim(ctx, ch[1], zz[0], send_state);
      ctx.Exit();
    }
    const pid_t r = s > 0 ? ctx.Fork() : -1;
    if (r == 0) {
      close(ch[1]);
      ReceiverVictim(ctx, ch[0], recv_state);
      ctx.Exit();
    }
    // The graph's own descriptors are the victims' now.
    CloseAll(ch, 2);
    CloseAll(zz, 2);
    if (s < 0 || r < 0) {
      if (s > 0) {
        kill(s, SIGKILL);
        ctx.Reap(s, true);
      }
      if (errno != EAGAIN) ctx.Error("fork(victim): %s", ErrName(errno));
      timespec ts{0, 1'000'000};
      nanosleep(&ts, nullptr);
      continue;
    }
    ctx.SetOp("waiting to kill");
    const int64_t delay =
        static_cast<int64_t>(ctx.Below(static_cast<uint64_t>(ctx.Opt(kMaxDelayUs)) + 1));
    timespec ts{static_cast<time_t>(delay / 1'000'000),
                static_cast<long>((delay % 1'000'000) * 1000)};
    nanosleep(&ts, nullptr);
    // Kill them in a random order; note where each one was.
    const bool sender_first = ctx.Chance(500);
    for (int k = 0; k < 2; ++k) {
      const bool sender = (k == 0) == sender_first;
      const int64_t where = (sender ? send_state : recv_state).load();
      kill(sender ? s : r, SIGKILL);
      ctx.Add(kKills);
      if (where == kInSend) ctx.Add(kMidSend);
      if (where == kInRecv) ctx.Add(kMidRecv);
      if (k == 0 && ctx.Chance(300)) sched_yield();  // let the survivor run a little
    }
    ctx.SetOp("reaping");
    ctx.Reap(s, true);
    ctx.Reap(r, true);
    ctx.Add(kRounds);
  }
}

void Run(StressContext& ctx) {
  ctx.RunWorkers(static_cast<int>(ctx.Opt(kKillers)), Killer);
}

}  // namespace

extern const Stressor kKillStressor = {
    "kill",
    "graphs whose processes are SIGKILLed at random points, mid-sendmsg and mid-recvmsg",
    "Each killer builds a small graph (a channel pair and a socket that carries itself) and "
    "forks a sender, which sends messages of up to 253 descriptors (some 64 KiB long, so it "
    "blocks on a full queue with its descriptors attached) and sometimes fresh sockets that "
    "carry themselves, and a receiver, which receives and peeks them, keeping some open. "
    "After a random delay it SIGKILLs both, in a random order, counting kills that landed "
    "inside sendmsg and recvmsg. Whatever instant the signal lands, the kernel must release "
    "every reference: the checkpoint proves it.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
    kLabelClasses,
};

}  // namespace inflight
