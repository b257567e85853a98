// cycles: processes build and drop self-references and cycles of every socket type
// (through MSG_OOB, through listeners and their embryos), while others close unrelated
// sockets to keep the collector busy. Everything built is garbage only the collector
// can free; the checkpoint proves it did.
#include <time.h>
#include <unistd.h>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t {
  kBuilders,
  kChurners,
  kMaxRing,
  kNested,
  kOob,
  kListeners,
  kHoldPermille,
  kMidwayPermille,
  kLeakToHolder,
};
constexpr StressOption kOptions[] = {
    {"builders", "processes that build and drop shapes", 4, 1, 16},
    {"churners", "processes that close unrelated sockets to keep the collector busy", 1, 0, 8},
    {"max_ring", "largest ring, in sockets", 8, 2, 8},
    {"nested",
     "nested-cycle shapes (mixed lowpoints, figure-eights, random SCCs) per builder "
     "and epoch; 0: none. Kept few: a kernel that leaks them leaks them for good",
     1, 0, 64},
    {"oob", "1: send some edges with MSG_OOB (stream sockets)", 1, 0, 1},
    {"listeners", "1: shapes through listeners and their embryos", 1, 0, 1},
    {"hold_permille", "shapes that keep one socket open for a while (reachable, dropped later)",
     100, 0, 1000},
    {"midway_permille", "rings whose collector run is forced halfway through building them", 5, 0,
     1000},
    {"leak_to_holder",
     "TEST ONLY: once per epoch, send a ring into the sandbox's --hold "
     "listener, which never accepts; the checkpoint must rule it a leak",
     0, 0, 1},
};

enum Counter : size_t {
  kShapes,
  kSockets,
  kEdges,
  kNestedShapes,
  kListenerShapes,
  kOobSends,
  kTooManyRefs,
  kSendFailed,
  kChurnCloses,
  kTriggers,
  kHeldChecks,
};
constexpr StressCounter kCounters[] = {
    {"shapes", "shapes built and dropped (garbage for the collector)"},
    {"sockets", "sockets put in flight"},
    {"edges", "sendmsg calls that put a socket in another's queue"},
    {"nested", "nested-cycle shapes"},
    {"listener_shapes", "shapes through listeners and embryos"},
    {"oob_sends", "edges sent with MSG_OOB"},
    {"etoomanyrefs", "sends refused with ETOOMANYREFS (this uid's in-flight limit)"},
    {"send_failed", "sends refused otherwise (EAGAIN, ENOBUFS, ...)"},
    {"churn_closes", "unrelated sockets closed by the churners"},
    {"gc_triggers", "collector runs forced (self-referencing pairs released)"},
    {"held_checks",
     "held sockets whose queue still held every message sent to it when dropped (a "
     "message missing is data loss: the collector freed a queue a live process reached)"},
};

enum Label : uint16_t {
  kSelfRef,
  kSelfRefOob,
  kPairCycle,
  kRing,
  kRingOob,
  kRingCopies,
  kRingMixed,
  kListenerSelf,
  kListenerRing,
  kRingTails,
  kRingMidway,
  kNestedLowpoint,
  kNestedFigure8,
  kNestedFigure8Midway,
  kNestedRandom,
  kHolderLeak,
  kNumLabels,
};
constexpr const char* kLabels[] = {
    "self_ref",
    "self_ref_oob",
    "pair_cycle",
    "ring",
    "ring_oob",
    "ring_copies",
    "ring_mixed_types",
    "listener_self_ref (in its own embryo)",
    "listener_ring (through embryos)",
    "ring_with_tails",
    "ring_gc_midway",
    "nested_mixed_lowpoint (edges 0->1 1->2 2->1 1->0)",
    "nested_figure8 (0->1->2->0, 2->3->4->2)",
    "nested_figure8_gc_midway (collector run after two edges)",
    "nested_random",
    "leaked_to_holder (test only)",
};
// The leak class of each label (stressors/stressor.h, label_classes).
constexpr const char* kLabelClasses[] = {
    "cycle(self)",
    "cycle(self,oob)",
    "cycle(simple)",
    "cycle(simple)",
    "cycle(simple,oob)",
    "cycle(simple)",
    "cycle(simple)",
    "cycle(simple,embryo)",
    "cycle(simple,embryo)",
    "cycle(simple)",
    "cycle(simple)",
    "cycle(nested)",
    "cycle(nested)",
    "cycle(nested)",
    "cycle(random)",
    "",
};
static_assert(sizeof kLabelClasses == sizeof kLabels);
static_assert(sizeof kLabels / sizeof kLabels[0] == kNumLabels);

constexpr int kMaxV = 8;
constexpr int kMaxE = 32;
constexpr int kHeld = 16;

struct Vertex {
  int r = -1;  // the socket that goes in flight
  int s = -1;  // sending on s queues into r (r's peer, or a client of listener r)
  int type = SOCK_STREAM;
  bool listener = false;
};
struct Edge {
  uint8_t from, to;  // from's socket goes into to's queue
  uint8_t copies;
  bool oob;
};
struct Shape {
  uint16_t label = kRing;
  int n = 0;
  Vertex v[kMaxV];
  int n_edges = 0;
  Edge e[kMaxE];
  int midway_after = -1;  // force a collection after this many edges
  // What Build's sends queued into each vertex's socket.
  int sent_into[kMaxV] = {};
  bool oob_into[kMaxV] = {};
};

// A socket a builder keeps open a while after dropping the rest of its shape. Its queue is
// reachable through the open descriptor, so it must still hold every message sent to it
// when it is dropped: `expect` messages (-1: not checked, e.g. an OOB edge went in).
struct Held {
  int fd = -1;
  int expect = -1;
  uint16_t label = 0;
};

struct Builder {
  StressContext& ctx;
  int worker;
  bool oob_ok = true;
  uint64_t listeners_made = 0;
  Held held[kHeld];
  int n_held = 0;
  int nested_left = 0;
  bool leaked = false;

  Builder(StressContext& c, int w) : ctx(c), worker(w) {}

  int RandomType() { return TypeOf(ctx.Rand()); }

  bool MakeVertex(Vertex& v, int type, bool listener) {
    v.type = type;
    v.listener = listener;
    if (listener) {
      const Address ad = Abstract("ifs.cyc.", static_cast<uint64_t>(worker), listeners_made++);
      v.r = Listener(type, ad, 16, true);
      if (v.r < 0) return Failed("listen");
      v.s = Connect(type, ad, true);
      if (v.s < 0) return Failed("connect");
      return true;
    }
    int sv[2];
    if (!Pair(type, sv, true)) return Failed("socketpair");
    v.r = sv[0];
    v.s = sv[1];
    return true;
  }

  bool Failed(const char* what) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN) {
      ctx.Add(kSendFailed);
      return false;
    }
    ctx.Error("%s: %s", what, ErrName(err));
    return false;
  }

  void SendEdge(Shape& sh, const Edge& e) {
    const bool sent = SendEdgeOnce(sh, e);
    if (sent) ++sh.sent_into[e.to];
  }

  bool SendEdgeOnce(Shape& sh, const Edge& e) {
    int fds[kMaxFdsPerMsg];
    const int n = e.copies < 1 ? 1 : e.copies;
    for (int k = 0; k < n; ++k) fds[k] = sh.v[e.from].r;
    const bool oob = e.oob && oob_ok && sh.v[e.to].type == SOCK_STREAM;
    const ssize_t r = SendFds(sh.v[e.to].s, fds, n, MSG_DONTWAIT | (oob ? MSG_OOB : 0));
    if (oob) sh.oob_into[e.to] = true;  // a refused one may still have been half queued
    if (r >= 0) {
      ctx.Add(kEdges);
      if (oob) ctx.Add(kOobSends);
      return true;
    }
    if (errno == ETOOMANYREFS) {
      ctx.Add(kTooManyRefs);
    } else if (oob && errno == EOPNOTSUPP) {
      oob_ok = false;  // CONFIG_AF_UNIX_OOB=n
      ctx.Info("MSG_OOB on AF_UNIX stream sockets is not supported here; OOB edges skipped");
    } else if (errno == EAGAIN || errno == ENOBUFS || errno == ENOMEM || errno == ECONNREFUSED ||
               errno == ECONNRESET || errno == EPIPE) {
      ctx.Add(kSendFailed);
    } else {
      ctx.Error("sendmsg(edge %d->%d): %s", e.from, e.to, ErrName(errno));
    }
    return false;
  }

  void Hold(const Held& h) {
    if (n_held == kHeld) {
      Drop(held[0]);
      for (int i = 1; i < kHeld; ++i) held[i - 1] = held[i];
      n_held = kHeld - 1;
    }
    held[n_held++] = h;
  }

  // Receives what the held socket's queue holds, then closes it: fewer messages than were
  // sent to it is data loss (a correct collector never empties a queue that an open
  // descriptor reaches). Every message carries descriptors, so each receive takes one.
  void Drop(Held& h) {
    if (h.expect > 0) {
      ctx.SetOp("checking a held socket's queue");
      int fds[kMaxFdsPerMsg];
      int got = 0;
      Received r;
      while (got < h.expect) {
        r = RecvFds(h.fd, fds, kMaxFdsPerMsg, MSG_DONTWAIT);
        if (r.bytes <= 0 && r.n == 0) break;
        CloseAll(fds, r.n);
        ++got;
      }
      if (got < h.expect)
        ctx.Loss(
            "%s: a socket kept open after its shape was dropped had %d of the %d messages "
            "sent to it in its queue (the last receive: %zd bytes, %s): the collector freed a "
            "queue a live process still reached",
            kLabels[h.label], got, h.expect, r.bytes, r.bytes < 0 ? ErrName(r.err) : "end");
      else
        ctx.Add(kHeldChecks);
    }
    Close(h.fd);
    h.fd = -1;
  }

  void Build(Shape& sh) {
    ctx.SetOp("building a shape");
    for (int i = 0; i < kMaxV; ++i) {
      sh.sent_into[i] = 0;
      sh.oob_into[i] = false;
    }
    int made = 0;
    for (; made < sh.n; ++made) {
      if (!MakeVertex(sh.v[made], sh.v[made].type, sh.v[made].listener)) break;
      ctx.Log(sh.v[made].r, sh.label);
      if (sh.v[made].listener) ctx.Log(sh.v[made].s, sh.label);
    }
    if (made == sh.n) {
      for (int i = 0; i < sh.n_edges; ++i) {
        if (i == sh.midway_after) {
          if (TriggerCollector()) ctx.Add(kTriggers);
          timespec ts{0, 2'000'000};
          nanosleep(&ts, nullptr);
        }
        SendEdge(sh, sh.e[i]);
      }
      ctx.Add(kShapes);
      ctx.Add(kSockets, static_cast<uint64_t>(sh.n));
    }
    ctx.SetOp("dropping a shape");
    // Drop in a random order; sometimes keep one socket reachable a while longer.
    int order[2 * kMaxV];
    int n = 0;
    for (int i = 0; i < made; ++i) {
      order[n++] = sh.v[i].r;
      order[n++] = sh.v[i].s;
    }
    for (int i = n - 1; i > 0; --i) {
      const int j = static_cast<int>(ctx.Below(static_cast<uint64_t>(i) + 1));
      const int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    const bool hold = made > 0 && ctx.Chance(static_cast<uint32_t>(ctx.Opt(kHoldPermille)));
    for (int i = 0; i < n; ++i) {
      if (hold && i == 0) {
        Held h{order[i], -1, sh.label};
        for (int k = 0; k < made; ++k)  // the queue of an embryo is not the listener's
          if (sh.v[k].r == order[i] && !sh.v[k].listener && !sh.oob_into[k] && made == sh.n)
            h.expect = sh.sent_into[k];
        Hold(h);
      } else {
        close(order[i]);
      }
    }
  }

  void Ring(Shape& sh, int n, uint16_t label) {
    sh.label = label;
    sh.n = n;
    const int type = RandomType();
    for (int i = 0; i < n; ++i) {
      sh.v[i].type = label == kRingMixed ? RandomType() : label == kRingOob ? SOCK_STREAM : type;
      sh.v[i].listener = false;
    }
    sh.n_edges = n;
    for (int i = 0; i < n; ++i) {
      uint8_t copies = 1;
      if (label == kRingCopies)
        copies = ctx.Chance(100) ? 253 : static_cast<uint8_t>(2 + ctx.Below(8));
      sh.e[i] = {static_cast<uint8_t>(i), static_cast<uint8_t>((i + 1) % n), copies,
                 label == kRingOob && ctx.Chance(600)};
    }
  }

  // Picks the next shape. Rings, self-references and listener cycles are each one simple
  // cycle; nested shapes (several cycles sharing vertices) only while nested_left lasts.
  void Pick(Shape& sh) {
    sh = Shape{};
    const int max_ring = static_cast<int>(ctx.Opt(kMaxRing));
    if (nested_left > 0 && ctx.Chance(20)) {
      --nested_left;
      ctx.Add(kNestedShapes);
      const uint64_t kind =
          (ctx.epoch() + static_cast<uint64_t>(worker) + static_cast<uint64_t>(nested_left)) % 4;
      switch (kind) {
        case 0: {  // the kselftest mixed_lowpoint: 0->1, 1->2, 2->1, 1->0
          sh.label = kNestedLowpoint;
          sh.n = 3;
          const int type = RandomType();
          for (int i = 0; i < 3; ++i) sh.v[i].type = type;
          const Edge es[] = {
              {0, 1, 1, false}, {1, 2, 1, false}, {2, 1, 1, false}, {1, 0, 1, false}};
          sh.n_edges = 4;
          for (int i = 0; i < 4; ++i) sh.e[i] = es[i];
          return;
        }
        case 1:
        case 2: {  // two cycles sharing vertex 2; case 2 forces a collection midway
          const bool midway = kind == 2;
          sh.label = midway ? kNestedFigure8Midway : kNestedFigure8;
          sh.n = midway ? 6 : 5;
          for (int i = 0; i < sh.n; ++i) sh.v[i].type = SOCK_STREAM;
          const Edge plain[] = {{0, 1, 1, false}, {1, 2, 1, false}, {2, 0, 1, false},
                                {2, 3, 1, false}, {3, 4, 1, false}, {4, 2, 1, false}};
          // The corpus's nested_cycles_gc_midway order, with an outer path 0->5->4.
          const Edge mid[] = {{0, 1, 1, false}, {1, 2, 1, false}, {2, 0, 1, false},
                              {2, 3, 1, false}, {3, 4, 1, false}, {4, 2, 1, false},
                              {0, 5, 1, false}, {5, 4, 1, false}};
          if (midway) {
            sh.n_edges = 8;
            for (int i = 0; i < 8; ++i) sh.e[i] = mid[i];
            sh.midway_after = 2;
          } else {
            sh.n_edges = 6;
            for (int i = 0; i < 6; ++i) sh.e[i] = plain[i];
          }
          return;
        }
        default: {  // a random graph over 3..6 sockets
          sh.label = kNestedRandom;
          sh.n = 3 + static_cast<int>(ctx.Below(4));
          for (int i = 0; i < sh.n; ++i) sh.v[i].type = RandomType();
          sh.n_edges = sh.n + static_cast<int>(ctx.Below(static_cast<uint64_t>(sh.n) * 2));
          for (int i = 0; i < sh.n_edges; ++i)
            sh.e[i] = {static_cast<uint8_t>(ctx.Below(static_cast<uint64_t>(sh.n))),
                       static_cast<uint8_t>(ctx.Below(static_cast<uint64_t>(sh.n))), 1, false};
          return;
        }
      }
    }
    const bool listeners = ctx.Opt(kListeners) != 0;
    const bool oob = ctx.Opt(kOob) != 0 && oob_ok;
    switch (ctx.Below(12)) {
      case 0:
      case 1:
        sh.label = kSelfRef;
        sh.n = 1;
        sh.v[0].type = RandomType();
        sh.n_edges = 1;
        sh.e[0] = {0, 0, 1, false};
        return;
      case 2:
        if (oob) {
          sh.label = kSelfRefOob;
          sh.n = 1;
          sh.v[0].type = SOCK_STREAM;
          sh.n_edges = 1;
          sh.e[0] = {0, 0, 1, true};
          return;
        }
        return Ring(sh, 2, kPairCycle);
      case 3:
        return Ring(sh, 2, kPairCycle);
      case 4:
        if (ctx.Chance(static_cast<uint32_t>(ctx.Opt(kMidwayPermille)))) {
          Ring(sh, 2 + static_cast<int>(ctx.Below(static_cast<uint64_t>(max_ring) - 1)),
               kRingMidway);
          sh.midway_after = sh.n_edges / 2;
          return;
        }
        return Ring(sh, 2 + static_cast<int>(ctx.Below(static_cast<uint64_t>(max_ring) - 1)),
                    kRing);
      case 5:
        return Ring(sh, 2 + static_cast<int>(ctx.Below(static_cast<uint64_t>(max_ring) - 1)),
                    oob ? kRingOob : kRing);
      case 6:
        return Ring(sh, 2 + static_cast<int>(ctx.Below(static_cast<uint64_t>(max_ring) - 1)),
                    kRingCopies);
      case 7:
        return Ring(sh, 2 + static_cast<int>(ctx.Below(static_cast<uint64_t>(max_ring) - 1)),
                    kRingMixed);
      case 8:
      case 9:
        if (listeners) {
          const bool self = ctx.Chance(500);
          sh.label = self ? kListenerSelf : kListenerRing;
          sh.n = self ? 1 : 2 + static_cast<int>(ctx.Below(3));
          for (int i = 0; i < sh.n; ++i) {
            sh.v[i].type = ctx.Chance(700) ? SOCK_STREAM : SOCK_SEQPACKET;
            sh.v[i].listener = self || ctx.Chance(700);
          }
          sh.v[0].listener = true;
          sh.n_edges = sh.n;
          for (int i = 0; i < sh.n; ++i)
            sh.e[i] = {static_cast<uint8_t>(i), static_cast<uint8_t>((i + 1) % sh.n), 1, false};
          ctx.Add(kListenerShapes);
          return;
        }
        return Ring(sh, 3, kRing);
      default: {  // a ring with sockets hanging into it (in its members' queues)
        const int ring = 2 + static_cast<int>(ctx.Below(3));
        const int tails = 1 + static_cast<int>(ctx.Below(3));
        Ring(sh, ring, kRing);
        sh.label = kRingTails;
        sh.n = ring + tails;
        for (int t = 0; t < tails; ++t) {
          sh.v[ring + t].type = RandomType();
          sh.e[sh.n_edges++] = {static_cast<uint8_t>(ring + t),
                                static_cast<uint8_t>(ctx.Below(static_cast<uint64_t>(ring))), 1,
                                false};
        }
        return;
      }
    }
  }

  // TEST ONLY: a ring whose first socket also goes into an embryo of the sandbox's
  // holder, a listener outside the stressor that never accepts. The ring stays
  // reachable from there, so it must outlive the epoch and be ruled a leak.
  void LeakToHolder() {
    leaked = true;
    if (ctx.hold_addr()[0] == 0) {
      ctx.Info("leak_to_holder: the sandbox has no holder (--hold); nothing leaked");
      return;
    }
    Shape sh;
    Ring(sh, 3, kRing);
    sh.label = kHolderLeak;
    int made = 0;
    for (; made < sh.n; ++made) {
      if (!MakeVertex(sh.v[made], sh.v[made].type, false)) break;
      ctx.Log(sh.v[made].r, kHolderLeak);
    }
    if (made == sh.n) {
      for (int i = 0; i < sh.n_edges; ++i) SendEdge(sh, sh.e[i]);
      const int h = Connect(SOCK_STREAM, AbstractName(ctx.hold_addr()), true);
      if (h < 0) {
        ctx.Error("connect(holder @%s): %s", ctx.hold_addr(), ErrName(errno));
      } else {
        ctx.Log(h, kHolderLeak);
        if (SendFd(h, sh.v[0].r, MSG_DONTWAIT) < 0)
          ctx.Error("sendmsg(into the holder's embryo): %s", ErrName(errno));
        close(h);
      }
    }
    for (int i = 0; i < made; ++i) {
      close(sh.v[i].r);
      close(sh.v[i].s);
    }
  }

  void Loop() {
    nested_left = static_cast<int>(ctx.Opt(kNested));
    Shape sh;
    while (ctx.Running()) {
      if (worker == 0 && !leaked && ctx.Opt(kLeakToHolder) != 0) LeakToHolder();
      Pick(sh);
      Build(sh);
    }
    for (int i = 0; i < n_held; ++i) Drop(held[i]);
  }
};

void Churner(StressContext& ctx) {
  ctx.SetOp("churning");
  uint64_t i = 0;
  while (ctx.Running()) {
    int sv[2];
    if (++i % 8 == 0) {
      if (TriggerCollector()) ctx.Add(kTriggers);
      continue;
    }
    if (!Pair(TypeOf(i), sv)) {
      ctx.Add(kSendFailed);
      continue;
    }
    close(sv[0]);
    close(sv[1]);
    ctx.Add(kChurnCloses, 2);
  }
}

void Worker(StressContext& ctx, int index) {
  if (index >= ctx.Opt(kBuilders)) return Churner(ctx);
  Builder b(ctx, index);
  b.Loop();
}

void Run(StressContext& ctx) {
  const int builders = static_cast<int>(ctx.Opt(kBuilders));
  const int n = builders + static_cast<int>(ctx.Opt(kChurners));
  // Builders share uid 0 of the slot; churners get uid 1, so that the garbage they make
  // does not count against the builders' in-flight limit.
  uint8_t uids[kMaxStressProcs] = {};
  for (int i = builders; i < n; ++i) uids[i] = 1;
  ctx.RunWorkers(n, Worker, uids);
}

}  // namespace

extern const Stressor kCyclesStressor = {
    "cycles",
    "build and drop self-references and cycles of every kind (OOB, listeners, nested) while "
    "churners keep the collector busy",
    "Builders make sockets that carry themselves or each other in cycles: self-references, "
    "pairs, rings of up to 8 sockets of one or mixed types (stream, dgram, seqpacket), rings "
    "with many copies of each descriptor, rings through MSG_OOB, listeners in their own "
    "embryos and rings through embryos, rings with sockets hanging into them, rings whose "
    "collection is forced halfway through building, and a few nested cycles per epoch "
    "(mixed lowpoints, figure-eights, random graphs). Then they close everything, so only "
    "the collector can free it, while churners release unrelated sockets and self-references "
    "so that the collector runs all the time, often while shapes are half built.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
    kLabelClasses,
};

}  // namespace inflight
