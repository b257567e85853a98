// connect: connect() and accept() on listeners that are themselves in flight, racing
// the collector. A listener carried in its own embryo is garbage as soon as its last
// descriptor goes, yet still bound: connect() keeps queuing embryos on it, and sends
// into those embryos add edges, while the collector decides (CVE-2024-26923, "af_unix:
// Fix garbage collector racing against connect()").
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t { kPairs, kHoldIters, kAcceptPermille };
constexpr StressOption kOptions[] = {
    {"pairs", "owner/racer process pairs", 2, 1, 8},
    {"hold_iters", "most polls an owner makes while its listener is reachable", 8, 0, 64},
    {"accept_permille", "rounds in which the owner takes the listener back and accepts", 700, 0,
     1000},
};

enum Counter : size_t {
  kListeners,
  kConnects,
  kRefused,
  kEmbryoSends,
  kAccepts,
  kAcceptedFds,
  kSendFailed,
};
constexpr StressCounter kCounters[] = {
    {"listeners", "listeners put in flight in their own embryo, then dropped"},
    {"connects", "racer connects queuing an embryo on an in-flight listener"},
    {"refused", "racer connects refused (listener already collected, or backlog full)"},
    {"embryo_sends", "racer sends of descriptors into embryos"},
    {"accepts", "embryos accepted from a listener taken back out of flight"},
    {"accepted_fds", "descriptors received from accepted embryos"},
    {"send_failed", "sends refused (ETOOMANYREFS, EAGAIN, ...)"},
};

enum Label : uint16_t { kListener, kCarrier, kRacer };
constexpr const char* kLabels[] = {
    "listener in flight (in its own embryo and in a carrier)",
    "carrier of a listener (the first embryo's client, or the carrier pair)",
    "racer socket (connected to an in-flight listener, or sent into its embryo)",
};
// The leak class of each label (stressors/stressor.h, label_classes).
constexpr const char* kLabelClasses[] = {
    "cycle(simple,embryo)",
    "",
    "",
};
static_assert(sizeof kLabelClasses == sizeof kLabels);

int TypeForRound(uint64_t round) {
  return round % 3 == 0 ? SOCK_SEQPACKET : SOCK_STREAM;
}

Address NameFor(int pair, uint64_t round) {
  return Abstract("ifs.con.", static_cast<uint64_t>(pair), round);
}

void Failed(StressContext& ctx, const char* what) {
  const int err = errno;
  if (err == ETOOMANYREFS || err == EAGAIN || err == ENOBUFS || err == ENOMEM || err == EMFILE ||
      err == ECONNRESET || err == EPIPE || err == ECONNREFUSED) {
    ctx.Add(kSendFailed);
    return;
  }
  ctx.Error("%s: %s", what, ErrName(err));
}

void Owner(StressContext& ctx, int pair) {
  uint64_t round = 0;
  while (ctx.Running()) {
    ++round;
    ctx.SetOp("making an in-flight listener");
    const int type = TypeForRound(round);
    const Address ad = NameFor(pair, round);
    int l = Listener(type, ad, 64, true);
    if (l < 0) {
      Failed(ctx, "listen");
      continue;
    }
    ctx.Log(l, kListener);
    const uint64_t l_ino = Inode(l);
    int c0 = Connect(type, ad, true);
    int hg[2] = {-1, -1};
    if (c0 < 0 || !Pair(SOCK_STREAM, hg, true)) {
      Failed(ctx, "connect/socketpair");
      Close(c0);
      Close(l);
      CloseAll(hg, 2);
      continue;
    }
    ctx.Log(c0, kCarrier);
    ctx.Log(hg[0], kCarrier);
    // The listener rides in its own first embryo, and in h's queue to stay reachable.
    if (SendFd(c0, l, MSG_DONTWAIT) < 0 || SendFd(hg[1], l, MSG_DONTWAIT) < 0) {
      Failed(ctx, "sendmsg(listener)");
      Close(c0);
      Close(l);
      CloseAll(hg, 2);
      continue;
    }
    Close(hg[1]);
    Close(l);
    ctx.Add(kListeners);
    ctx.Scratch(static_cast<size_t>(pair)).store(static_cast<int64_t>(round));
    int ll = -1;
    if (ctx.Chance(static_cast<uint32_t>(ctx.Opt(kAcceptPermille)))) {
      ctx.SetOp("taking the listener back");
      Received r = RecvFds(hg[0], &ll, 1, MSG_DONTWAIT);
      if (r.bytes < 0 || r.n != 1) {
        if (!(r.bytes >= 0 && (r.msg_flags & MSG_CTRUNC)))
          ctx.Fault(
              "a listener sent into a live carrier was not there to receive (%zd bytes, "
              "%d descriptors, %s)",
              r.bytes, r.n, r.bytes < 0 ? ErrName(r.err) : "ok");
        CloseAll(&ll, r.n);
        ll = -1;
      }
    }
    bool first = true;
    for (uint64_t it = ctx.Below(static_cast<uint64_t>(ctx.Opt(kHoldIters)) + 1); it > 0; --it) {
      if (ll < 0) {
        sched_yield();
        continue;
      }
      ctx.SetOp("accept on a listener in flight");
      int e = accept4(ll, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (e < 0) {
        sched_yield();
        continue;
      }
      ctx.Add(kAccepts);
      int fds[kMaxFdsPerMsg];
      Received r = RecvFds(e, fds, kMaxFdsPerMsg, MSG_DONTWAIT);
      if (r.bytes >= 0) ctx.Add(kAcceptedFds, static_cast<uint64_t>(r.n));
      // The first embryo is c0's: it must still carry the listener, which is alive.
      if (first && !(r.bytes >= 0 && (r.msg_flags & MSG_CTRUNC)) &&
          (r.bytes < 0 || r.n != 1 || Inode(fds[0]) != l_ino))
        ctx.Fault(
            "the first embryo of a live listener lost the listener it carried "
            "(%zd bytes, %d descriptors, %s)",
            r.bytes, r.n, r.bytes < 0 ? ErrName(r.err) : "ok");
      first = false;
      CloseAll(fds, r.n);
      close(e);
    }
    // Drop everything in a random order: the listener becomes garbage while racers connect.
    int drop[3] = {hg[0], c0, ll};
    for (int i = 2; i > 0; --i) {
      const int j = static_cast<int>(ctx.Below(static_cast<uint64_t>(i) + 1));
      const int t = drop[i];
      drop[i] = drop[j];
      drop[j] = t;
    }
    CloseAll(drop, 3);
  }
}

void Racer(StressContext& ctx, int pair) {
  while (ctx.Running()) {
    const int64_t current = ctx.Scratch(static_cast<size_t>(pair)).load();
    if (current <= 0) {
      sched_yield();
      continue;
    }
    const uint64_t round = static_cast<uint64_t>(current) - ctx.Below(2);
    ctx.SetOp("connect to an in-flight listener");
    int s = Connect(TypeForRound(round), NameFor(pair, round), true);
    if (s < 0) {
      if (errno == ECONNREFUSED || errno == EAGAIN || errno == ENOENT) {
        ctx.Add(kRefused);
        continue;
      }
      Failed(ctx, "connect");
      continue;
    }
    ctx.Add(kConnects);
    ctx.Log(s, kRacer);
    // Into the new embryo: a fresh socket (sometimes carrying itself), or s itself.
    int v = -1;
    if (ctx.Chance(700)) {
      int sv[2];
      if (Pair(TypeOf(ctx.Rand()), sv, true)) {
        v = sv[0];
        ctx.Log(v, kRacer);
        if (ctx.Chance(500) && SendFd(sv[1], v, MSG_DONTWAIT) < 0) Failed(ctx, "sendmsg(self)");
        close(sv[1]);
      }
    }
    const int what = v >= 0 ? v : s;
    if (SendFd(s, what, MSG_DONTWAIT) >= 0) {
      ctx.Add(kEmbryoSends);
    } else {
      Failed(ctx, "sendmsg(into an embryo)");
    }
    Close(v);
    close(s);
  }
}

void Worker(StressContext& ctx, int index) {
  if (index % 2 == 0) return Owner(ctx, index / 2);
  Racer(ctx, index / 2);
}

void Run(StressContext& ctx) {
  ctx.RunWorkers(2 * static_cast<int>(ctx.Opt(kPairs)), Worker);
}

}  // namespace

extern const Stressor kConnectStressor = {
    "connect",
    "connect/accept on listeners that are themselves in flight, racing the collector "
    "(CVE-2024-26923)",
    "Owners bind a listener, connect to it once and send the listener into that embryo (and "
    "into a carrier that keeps it reachable), then close it: an in-flight listener that is "
    "still bound. Racers keep connecting to it and sending sockets (some carrying "
    "themselves) into the new embryos, while the owner takes the listener back, accepts "
    "embryos and receives what they carry, and finally drops everything in a random order, "
    "so that the collector judges the listener while embryos are being queued on it. The "
    "first embryo of a live listener must still carry the listener.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
    kLabelClasses,
};

}  // namespace inflight
