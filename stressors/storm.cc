// storm: push far past the collector's triggers (tens of thousands of descriptors in
// flight at once, a few of them in cycles), hold, then drain three ways: receive
// everything, close the carriers, or make the carriers garbage so that only the collector
// can free it all. And per-user limits: ETOOMANYREFS must come exactly when a user's
// in-flight count passes its RLIMIT_NOFILE, and go once those are received.
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "base/clock.h"
#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t {
  kFillers,
  kTarget,
  kCopies,
  kCarriers,
  kCyclicPermille,
  kHoldMs,
  kDrain,
  kFinalDrain,
  kLimitWorker,
  kUserLimit,
};
constexpr StressOption kOptions[] = {
    {"fillers", "processes filling, each as a uid of its own", 3, 1, 8},
    {"target",
     "descriptors each filler puts in flight per round (its uid's RLIMIT_NOFILE "
     "caps it)",
     15000, 253, 200000},
    {"copies", "references per socket in flight (each message carries each socket this often)", 1,
     1, 253},
    {"carriers", "socket pairs whose queues hold a filler's descriptors", 8, 1, 64},
    {"cyclic_permille", "sockets in flight that also carry themselves (cycles for the collector)",
     10, 0, 1000},
    {"hold_ms", "how long a filler waits for the others to fill before draining", 1000, 0, 10000},
    {"drain",
     "0 random, 1 receive everything, 2 close the carriers, 3 leave it all to the "
     "collector (carriers carry themselves)",
     0, 0, 3},
    {"final_drain",
     "drain at the epoch's end: 0 as chosen by 'drain', else 1-3 as for "
     "'drain' (3 makes the checkpoint's settle time the collector's time for "
     "the whole storm)",
     0, 0, 3},
    {"limit", "1: one process checks ETOOMANYREFS coming and going at its uid's limit", 1, 0, 1},
    {"user_limit", "RLIMIT_NOFILE of the limit checker, so its in-flight limit", 64, 16, 4096},
};

enum Counter : size_t {
  kInFlight,
  kPeak,
  kRounds,
  kSockets,
  kSends,
  kDrainedRecv,
  kDrainedClose,
  kDrainedGc,
  kFullStops,
  kCame,
  kWent,
  kLimitSkipped,
  kFillerRefused,
  kAtFinalDrain,
};
constexpr StressCounter kCounters[] = {
    {"in_flight", "descriptors put in flight (summed over rounds)"},
    {"peak_in_flight", "most descriptors in flight at once in one slot (all fillers)",
     CounterKind::kMax},
    {"rounds", "fill, hold and drain rounds"},
    {"sockets", "sockets created and put in flight"},
    {"sends", "sendmsg calls carrying descriptors"},
    {"drained_recv",
     "rounds drained by receiving everything (every message sent to a carrier must come "
     "back: one missing is data loss)"},
    {"drained_close", "rounds drained by closing the carriers"},
    {"drained_gc", "rounds left to the collector"},
    {"full_stops", "fills stopped early: every carrier full (or no memory)"},
    {"etoomanyrefs_came", "times ETOOMANYREFS came exactly past the user's limit"},
    {"etoomanyrefs_went", "times it went once the user's descriptors were received"},
    {"limit_skipped", "limit checks skipped (no uid of our own: unprivileged sandbox)"},
    {"filler_refused", "fills stopped by ETOOMANYREFS at the filler uid's RLIMIT_NOFILE"},
    {"at_final_drain",
     "descriptors in flight in the slot when the epoch's last drain began "
     "(what the checkpoint's settle time covers)",
     CounterKind::kMax},
};

enum Label : uint16_t { kStormSocket, kCarrier, kLimitCarrier };
constexpr const char* kLabels[] = {
    "storm socket (in flight in a carrier's queue)",
    "storm carrier",
    "limit checker's carrier",
};

enum Scratch : size_t { kNowInFlight, kFilling };

struct Filler {
  StressContext& ctx;
  int carriers[64][2];
  int n_carriers;
  int64_t mine = 0;  // what this filler has in flight now
  int64_t messages = 0;  // messages sent to the carriers this round

  explicit Filler(StressContext& c) : ctx(c), n_carriers(static_cast<int>(c.Opt(kCarriers))) {
    for (auto& p : carriers) p[0] = p[1] = -1;
  }

  void Account(int64_t delta) {
    mine += delta;
    const int64_t now = ctx.Scratch(kNowInFlight).fetch_add(delta) + delta;
    if (now > 0) ctx.Max(kPeak, static_cast<uint64_t>(now));
  }

  bool OpenCarriers() {
    messages = 0;
    for (int i = 0; i < n_carriers; ++i) {
      if (!Pair(SOCK_STREAM, carriers[i], true)) {
        ctx.Error("socketpair(carrier): %s", ErrName(errno));
        return false;
      }
      carriers[i][0] = Lift(carriers[i][0], 1000);
      carriers[i][1] = Lift(carriers[i][1], 1000);
      ctx.Log(carriers[i][0], kCarrier);
    }
    return true;
  }

  // Creates up to `room` sockets (some carrying themselves) into fds[]; returns how many.
  int MakeBatch(int* fds, int room) {
    int n = 0;
    const uint32_t cyclic = static_cast<uint32_t>(ctx.Opt(kCyclicPermille));
    for (; n < room; ++n) {
      if (cyclic && ctx.Chance(cyclic)) {
        int sv[2];
        if (!Pair(TypeOf(ctx.Rand()), sv, true)) break;
        if (SendFd(sv[1], sv[0], MSG_DONTWAIT) >= 0) Account(1);
        close(sv[1]);
        fds[n] = sv[0];
      } else {
        fds[n] = socket(AF_UNIX, TypeOf(ctx.Rand()) | SOCK_CLOEXEC, 0);
        if (fds[n] < 0) break;
      }
      ctx.Log(fds[n], kStormSocket);
    }
    if (n < room && errno != EMFILE && errno != ENFILE && errno != ENOMEM && errno != ENOBUFS)
      ctx.Error("socket: %s", ErrName(errno));
    return n;
  }

  void Fill() {
    ctx.SetOp("filling");
    const int64_t target = ctx.Opt(kTarget);
    const int copies = static_cast<int>(ctx.Opt(kCopies));
    const int per_msg = kMaxFdsPerMsg / copies;
    int batch[kMaxFdsPerMsg], msg[kMaxFdsPerMsg];
    int c = 0;
    while (mine < target && ctx.Running()) {
      const int want =
          static_cast<int>(std::min<int64_t>(per_msg, (target - mine + copies - 1) / copies));
      const int n = MakeBatch(batch, want);
      if (n == 0) {
        ctx.Info("storm: could not create sockets: %s", ErrName(errno));
        ctx.Add(kFullStops);
        return;
      }
      int k = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < copies; ++j) msg[k++] = batch[i];
      bool sent = false;
      for (int tries = 0; tries < n_carriers && !sent; ++tries, c = (c + 1) % n_carriers) {
        if (SendFds(carriers[c][1], msg, k, MSG_DONTWAIT) >= 0) {
          sent = true;
        } else if (errno != EAGAIN) {
          break;
        }
      }
      const int err = errno;
      CloseAll(batch, n);
      if (!sent) {
        if (err != EAGAIN && err != ETOOMANYREFS && err != ENOBUFS && err != ENOMEM)
          ctx.Error("sendmsg(storm): %s", ErrName(err));
        ctx.Add(err == ETOOMANYREFS ? kFillerRefused : kFullStops);
        return;
      }
      ctx.Add(kSends);
      ++messages;
      ctx.Add(kSockets, static_cast<uint64_t>(n));
      ctx.Add(kInFlight, static_cast<uint64_t>(k));
      Account(k);
    }
  }

  // Waits (a bounded while) for the other fillers, so that their storms overlap.
  void Hold(int fillers) {
    ctx.SetOp("holding");
    ctx.Scratch(kFilling).fetch_add(1);
    const int64_t until = NowMicros() + ctx.Opt(kHoldMs) * 1000;
    while (NowMicros() < until && ctx.Running() && ctx.Scratch(kFilling).load() % fillers != 0)
      sched_yield();
    if (ctx.Chance(300)) (void)TriggerCollector();  // a collection over the whole storm
  }

  void Drain(int64_t mode) {
    if (mode == 0) mode = 1 + static_cast<int64_t>(ctx.Below(3));
    switch (mode) {
      case 1: {
        ctx.SetOp("draining by receive");
        int fds[kMaxFdsPerMsg];
        int64_t got = 0;  // each message carries descriptors, so each receive takes one
        for (int i = 0; i < n_carriers; ++i) {
          for (;;) {
            Received r = RecvFds(carriers[i][0], fds, kMaxFdsPerMsg, MSG_DONTWAIT);
            if (r.bytes <= 0) break;
            ++got;
            if (r.n > 0 && fds[r.n - 1] - fds[0] == r.n - 1 && fds[r.n - 1] < 1000)
              syscall(SYS_close_range, static_cast<unsigned>(fds[0]),
                      static_cast<unsigned>(fds[r.n - 1]), 0u);
            else
              CloseAll(fds, r.n);
          }
          Close(carriers[i][0]);
          Close(carriers[i][1]);
        }
        // The carriers stayed open all along: nothing may have taken their messages.
        if (got < messages)
          ctx.Loss("storm: %lld of the %lld messages sent to this filler's open carriers came "
                   "back when drained: the collector freed queues a live process still reached",
                   static_cast<long long>(got), static_cast<long long>(messages));
        ctx.Add(kDrainedRecv);
        break;
      }
      case 2:
        ctx.SetOp("draining by close");
        for (int i = 0; i < n_carriers; ++i) {
          Close(carriers[i][0]);
          Close(carriers[i][1]);
        }
        ctx.Add(kDrainedClose);
        break;
      default:
        ctx.SetOp("leaving it to the collector");
        // Each carrier's receiving end goes into its own queue: one self-reference per
        // carrier holds the whole storm, and only the collector can free it.
        for (int i = 0; i < n_carriers; ++i) {
          if (SendFd(carriers[i][1], carriers[i][0], MSG_DONTWAIT) < 0 && errno != ETOOMANYREFS &&
              errno != EAGAIN)
            ctx.Error("sendmsg(carrier into itself): %s", ErrName(errno));
          Close(carriers[i][0]);
          Close(carriers[i][1]);
        }
        ctx.Add(kDrainedGc);
        break;
    }
    Account(-mine);
  }

  void Loop(int fillers) {
    while (ctx.Running()) {
      if (!OpenCarriers()) return;
      Fill();
      Hold(fillers);
      ctx.Add(kRounds);
      const bool last = !ctx.Running();
      if (last)
        ctx.Max(kAtFinalDrain,
                static_cast<uint64_t>(std::max<int64_t>(0, ctx.Scratch(kNowInFlight).load())));
      Drain(last && ctx.Opt(kFinalDrain) != 0 ? ctx.Opt(kFinalDrain) : ctx.Opt(kDrain));
    }
  }
};

// ETOOMANYREFS must come exactly when this uid's in-flight count passes RLIMIT_NOFILE,
// and go once the count is back under it (too_many_unix_fds(): root with
// CAP_SYS_RESOURCE or CAP_SYS_ADMIN is exempt, so this runs as a uid of the slot's own).
void LimitChecker(StressContext& ctx, bool own_uid) {
  if (!own_uid) {
    ctx.Add(kLimitSkipped);
    ctx.Info("per-user limit checks skipped: no uid of our own (unprivileged sandbox)");
    while (ctx.Running()) usleep(10'000);
    return;
  }
  const int64_t limit = ctx.Opt(kUserLimit);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = static_cast<rlim_t>(limit);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    ctx.Error("setrlimit(RLIMIT_NOFILE, %lld): %s", static_cast<long long>(limit), ErrName(errno));
    return;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    ctx.Error("pipe2: %s", ErrName(errno));
    return;
  }
  while (ctx.Running()) {
    ctx.SetOp("checking ETOOMANYREFS");
    int sv[2];
    if (!Pair(SOCK_STREAM, sv, true)) {
      ctx.Error("socketpair(limit carrier): %s", ErrName(errno));
      break;
    }
    ctx.Log(sv[0], kLimitCarrier);
    int fds[kMaxFdsPerMsg];
    const int k = 1 + static_cast<int>(ctx.Below(32));
    for (int i = 0; i < k; ++i) fds[i] = p[0];
    int64_t in_flight = 0;  // this uid's descriptors in flight: only ours
    int64_t msgs = 0;
    bool came = false;
    while (ctx.Running() && in_flight <= limit + 2 * kMaxFdsPerMsg) {
      const bool over = in_flight > limit;
      const ssize_t r = SendFds(sv[1], fds, k, MSG_DONTWAIT);
      if (r >= 0) {
        if (over) {
          ctx.Fault(
              "ETOOMANYREFS did not come: a send of %d descriptors passed with %lld in "
              "flight for a uid whose RLIMIT_NOFILE is %lld",
              k, static_cast<long long>(in_flight), static_cast<long long>(limit));
          break;
        }
        in_flight += k;
        ++msgs;
        continue;
      }
      if (errno != ETOOMANYREFS) {
        if (errno != EAGAIN && errno != ENOBUFS && errno != ENOMEM)
          ctx.Error("sendmsg(limit): %s", ErrName(errno));
        break;
      }
      if (!over)
        ctx.Fault("ETOOMANYREFS came early: %lld in flight for a uid whose RLIMIT_NOFILE is %lld",
                  static_cast<long long>(in_flight), static_cast<long long>(limit));
      else
        came = true;
      break;
    }
    if (came) {
      ctx.Add(kCame);
      // Receive messages until the count is back under the limit: the next send must pass.
      while (in_flight > limit && msgs > 0) {
        int got[kMaxFdsPerMsg];
        Received r = RecvFds(sv[0], got, kMaxFdsPerMsg, MSG_DONTWAIT);
        CloseAll(got, r.n);
        if (r.bytes <= 0) break;
        in_flight -= k;  // a received message leaves flight whole, truncated or not
        --msgs;
      }
      if (in_flight <= limit) {
        if (SendFds(sv[1], fds, k, MSG_DONTWAIT) >= 0) {
          ctx.Add(kWent);
        } else if (errno == ETOOMANYREFS) {
          ctx.Fault("ETOOMANYREFS did not go: %lld in flight for a uid whose RLIMIT_NOFILE is %lld",
                    static_cast<long long>(in_flight), static_cast<long long>(limit));
        }
      }
    }
    close(sv[0]);  // whatever is still queued leaves flight with the carrier
    close(sv[1]);
  }
  close(p[0]);
  close(p[1]);
}

void Run(StressContext& ctx) {
  const int fillers = static_cast<int>(ctx.Opt(kFillers));
  const bool limit = ctx.Opt(kLimitWorker) != 0;
  // Each filler and the limit checker get a uid of their own: per-user in-flight counts
  // (ETOOMANYREFS, the collector's per-user penalty) then belong to one process each.
  uint8_t uids[kMaxStressProcs] = {};
  for (int i = 0; i < fillers; ++i) uids[i] = static_cast<uint8_t>(i);
  uids[fillers] = kUidsPerSlot - 1;
  const bool own_uid = ctx.uid_base() != 0;  // RunWorkers switches each worker to its uid
  ctx.RunWorkers(
      fillers + (limit ? 1 : 0),
      [&](StressContext& c, int i) {
        if (i < fillers) {
          Filler f(c);
          f.Loop(fillers);
        } else {
          LimitChecker(c, own_uid);
        }
      },
      uids);
}

}  // namespace

extern const Stressor kStormStressor = {
    "storm",
    "tens of thousands of descriptors in flight at once, then drained; ETOOMANYREFS must "
    "come and go at the per-user limit",
    "Fillers (each a uid of its own) create sockets, a few of which carry themselves, and "
    "send them in messages of up to 253 descriptors into carrier sockets until each holds "
    "`target` descriptors in flight: far past the collector's triggers (its per-user penalty "
    "at 2024, its global ones at 16000 sockets). They hold until all have filled, sometimes "
    "force a collection over the whole storm, then drain by receiving everything, by closing "
    "the carriers, or by making the carriers carry themselves so that only the collector can "
    "free the storm. A limit checker runs as a uid of its own with a low RLIMIT_NOFILE: "
    "ETOOMANYREFS must refuse a send exactly when the uid has more descriptors in flight "
    "than that limit, and must pass the next one once they are received.",
    kOptions,
    kCounters,
    kLabels,
    20'000,
    Run,
};

}  // namespace inflight
