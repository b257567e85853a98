// peek: MSG_PEEK on queues that hold in-flight sockets, racing closes, receives and the
// collector. MSG_PEEK hands out new references to sockets the collector may be judging
// dead at that very moment: CVE-2021-0920 (the old collector) and CVE-2026-23394 (the
// new one, fixed by "af_unix: Give up GC if MSG_PEEK intervened.").
#include <sched.h>
#include <unistd.h>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t { kPeekers, kSharers, kChurners, kManyPermille };
constexpr StressOption kOptions[] = {
    {"peekers",
     "processes peeking sockets out of a dropped two-socket cycle, then checking "
     "that the cycle survived",
     2, 0, 16},
    {"sharers", "process pairs sharing one queue: one peeks while the other receives", 1, 0, 8},
    {"churners", "processes releasing self-references so that the collector runs all the time", 1,
     0, 8},
    {"many_permille", "peeker rounds that peek a message carrying up to 253 descriptors", 100, 0,
     1000},
};

enum Counter : size_t {
  kPeeks,
  kSccChecks,
  kPeekedFds,
  kManyPeeks,
  kOobPeeks,
  kSharedPeeks,
  kSharedRecvs,
  kTriggers,
  kSendFailed,
};
constexpr StressCounter kCounters[] = {
    {"peeks", "MSG_PEEK receives that returned descriptors"},
    {"scc_checks", "dropped cycles peeked and then proven intact (CVE-2026-23394 shape)"},
    {"peeked_fds", "descriptors installed by MSG_PEEK (and closed)"},
    {"many_peeks", "peeks of messages carrying many descriptors"},
    {"oob_peeks", "MSG_PEEK|MSG_OOB receives"},
    {"shared_peeks", "peeks racing a receiver on the same queue"},
    {"shared_recvs", "receives racing a peeker on the same queue"},
    {"gc_triggers", "collector runs forced"},
    {"send_failed", "sends refused (ETOOMANYREFS, EAGAIN, ...)"},
};

enum Label : uint16_t { kScc, kMany, kShared, kOob };
constexpr const char* kLabels[] = {
    "peek_scc (a in b's queue, b in a's, only b open; b peeked then closed)",
    "peek_many (a socket carrying itself up to 253 times, peeked)",
    "peek_shared (self-referencing sockets peeked and received concurrently)",
    "peek_oob (a socket carrying itself as the out-of-band byte)",
};
// The leak class of each label (stressors/stressor.h, label_classes).
constexpr const char* kLabelClasses[] = {
    "cycle(simple)",
    "cycle(self)",
    "cycle(self)",
    "cycle(self,oob)",
};
static_assert(sizeof kLabelClasses == sizeof kLabels);

void SendFailed(StressContext& ctx, const char* what) {
  const int err = errno;
  if (err == ETOOMANYREFS || err == EAGAIN || err == ENOBUFS || err == ENOMEM) {
    ctx.Add(kSendFailed);
    return;
  }
  ctx.Error("%s: %s", what, ErrName(err));
}

// The CVE-2026-23394 shape: sk-A in sk-B's queue and sk-B in sk-A's, only sk-B open.
// Peek sk-A out of sk-B's queue, close sk-B, and sk-A's queue must still hold sk-B: the
// peeked descriptor keeps the whole cycle alive, whenever the collector ran.
void SccRound(StressContext& ctx, int type) {
  int A[2], B[2];
  if (!Pair(type, A, true)) return SendFailed(ctx, "socketpair");
  if (!Pair(type, B, true)) {
    close(A[0]);
    close(A[1]);
    return SendFailed(ctx, "socketpair");
  }
  int a = A[0], sa = A[1], b = B[0], sb = B[1];
  ctx.Log(a, kScc);
  ctx.Log(b, kScc);
  const uint64_t b_ino = Inode(b);
  const bool sent = SendFd(sb, a, MSG_DONTWAIT) >= 0 && SendFd(sa, b, MSG_DONTWAIT) >= 0;
  const int send_err = errno;
  Close(a);
  Close(sa);
  Close(sb);
  if (!sent) {
    errno = send_err;
    Close(b);
    return SendFailed(ctx, "sendmsg(scc)");
  }
  ctx.SetOp("MSG_PEEK (scc)");
  int pa = -1;
  Received r = RecvFds(b, &pa, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r.bytes >= 0 && r.n == 0 && (r.msg_flags & MSG_CTRUNC)) {  // no room: not the kernel's fault
    ctx.Add(kSendFailed);
    Close(b);
    return;
  }
  if (r.bytes < 0 || r.n != 1) {
    ctx.Fault(
        "MSG_PEEK on a queue holding one in-flight socket returned %zd bytes and %d "
        "descriptors (%s)",
        r.bytes, r.n, r.bytes < 0 ? ErrName(r.err) : "no error");
    CloseAll(&pa, r.n);
    Close(b);
    return;
  }
  ctx.Add(kPeeks);
  ctx.Add(kPeekedFds);
  Close(b);  // now only the peeked descriptor keeps the cycle alive
  for (uint64_t k = ctx.Below(4); k > 0; --k) sched_yield();
  ctx.SetOp("recvmsg (scc check)");
  int bb = -1;
  r = RecvFds(pa, &bb, 1, MSG_DONTWAIT);
  if (r.bytes >= 0 && r.n == 0 && (r.msg_flags & MSG_CTRUNC)) {
    ctx.Add(kSendFailed);
  } else if (r.bytes < 0 || r.n != 1 || Inode(bb) != b_ino) {
    ctx.Loss(
        "a dropped cycle was collected while a peeked descriptor kept it alive: "
        "recvmsg on the peeked socket gave %zd bytes, %d descriptors (%s) "
        "(CVE-2026-23394 shape)",
        r.bytes, r.n, r.bytes < 0 ? ErrName(r.err) : "no error");
  } else {
    ctx.Add(kSccChecks);
  }
  CloseAll(&bb, r.n);
  Close(pa);
}

// A socket that carries itself `copies` times, peeked `times` times.
void ManyRound(StressContext& ctx, int type) {
  int sv[2];
  if (!Pair(type, sv, true)) return SendFailed(ctx, "socketpair");
  ctx.Log(sv[0], kMany);
  const int copies = 1 + static_cast<int>(ctx.Below(kMaxFdsPerMsg));
  int fds[kMaxFdsPerMsg];
  for (int i = 0; i < copies; ++i) fds[i] = sv[0];
  if (SendFds(sv[1], fds, copies, MSG_DONTWAIT) < 0) {
    SendFailed(ctx, "sendmsg(many)");
  } else {
    ctx.SetOp("MSG_PEEK (many)");
    for (uint64_t t = 1 + ctx.Below(3); t > 0; --t) {
      Received r = RecvFds(sv[0], fds, kMaxFdsPerMsg, MSG_PEEK | MSG_DONTWAIT);
      if (r.bytes < 0) {
        ctx.Fault("MSG_PEEK of a queued message failed: %s", ErrName(r.err));
        break;
      }
      if (r.n > copies || (r.n < copies && !(r.msg_flags & MSG_CTRUNC)))
        ctx.Fault("MSG_PEEK installed %d of %d descriptors without MSG_CTRUNC", r.n, copies);
      ctx.Add(kPeeks);
      ctx.Add(kManyPeeks);
      ctx.Add(kPeekedFds, static_cast<uint64_t>(r.n));
      CloseAll(fds, r.n);
    }
  }
  close(sv[0]);
  close(sv[1]);
}

// A stream socket carrying itself as the out-of-band byte, peeked both ways.
void OobRound(StressContext& ctx) {
  int sv[2];
  if (!Pair(SOCK_STREAM, sv, true)) return SendFailed(ctx, "socketpair");
  ctx.Log(sv[0], kOob);
  if (SendFd(sv[1], sv[0], MSG_DONTWAIT | MSG_OOB) < 0) {
    if (errno != EOPNOTSUPP) SendFailed(ctx, "sendmsg(oob)");
  } else {
    ctx.SetOp("MSG_PEEK|MSG_OOB");
    char byte;
    if (recv(sv[0], &byte, 1, MSG_PEEK | MSG_OOB | MSG_DONTWAIT) >= 0) ctx.Add(kOobPeeks);
    int fds[kMaxFdsPerMsg];
    Received r = RecvFds(sv[0], fds, kMaxFdsPerMsg, MSG_PEEK | MSG_DONTWAIT);
    if (r.bytes >= 0) {
      ctx.Add(kPeeks);
      ctx.Add(kPeekedFds, static_cast<uint64_t>(r.n));
    }
    CloseAll(fds, r.n);
  }
  close(sv[0]);
  close(sv[1]);
}

void Peeker(StressContext& ctx) {
  const uint32_t many = static_cast<uint32_t>(ctx.Opt(kManyPermille));
  while (ctx.Running()) {
    const uint64_t pick = ctx.Below(1000);
    if (pick < many) {
      ManyRound(ctx, TypeOf(ctx.Rand()));
    } else if (pick < many + 50) {
      OobRound(ctx);
    } else {
      SccRound(ctx, TypeOf(ctx.Rand()));
    }
  }
}

constexpr int kMaxSharers = 8;

// Sharer pairs: the even one feeds the queue and receives from it, the odd one peeks it.
void Sharer(StressContext& ctx, const int (&queue)[2], bool feeder) {
  int q = queue[0], in = queue[1];
  int fds[kMaxFdsPerMsg];
  while (ctx.Running()) {
    if (feeder) {
      ctx.SetOp("feeding a shared queue");
      int sv[2];
      if (!Pair(TypeOf(ctx.Rand()), sv, true)) {
        SendFailed(ctx, "socketpair");
        continue;
      }
      ctx.Log(sv[0], kShared);
      const int copies = 1 + static_cast<int>(ctx.Below(8));
      for (int i = 0; i < copies; ++i) fds[i] = sv[0];
      // sv[0] carries itself and rides in the shared queue as well.
      bool full = false;
      if (SendFd(sv[1], sv[0], MSG_DONTWAIT) < 0 || SendFds(in, fds, copies, MSG_DONTWAIT) < 0) {
        full = errno == EAGAIN;
        if (!full) SendFailed(ctx, "sendmsg(shared)");
      }
      close(sv[0]);
      close(sv[1]);
      ctx.SetOp("receiving from a shared queue");
      // One out per one in keeps the queue a few messages long, racing the peeker.
      for (int k = full ? 8 : 1; k > 0; --k) {
        Received r = RecvFds(q, fds, kMaxFdsPerMsg, MSG_DONTWAIT);
        if (r.bytes >= 0) ctx.Add(kSharedRecvs);
        CloseAll(fds, r.n);
        if (r.bytes < 0) break;
      }
    } else {
      ctx.SetOp("peeking a shared queue");
      Received r = RecvFds(q, fds, kMaxFdsPerMsg, MSG_PEEK | MSG_DONTWAIT);
      if (r.bytes >= 0 && r.n > 0) {
        ctx.Add(kSharedPeeks);
        ctx.Add(kPeekedFds, static_cast<uint64_t>(r.n));
      } else {
        sched_yield();
      }
      CloseAll(fds, r.n);
    }
  }
  // Drain what is left so the queue's own descriptors go now, not with the pair.
  if (feeder) {
    for (int i = 0; i < 4096; ++i) {
      Received r = RecvFds(q, fds, kMaxFdsPerMsg, MSG_DONTWAIT);
      CloseAll(fds, r.n);
      if (r.bytes < 0) break;
    }
  }
}

void Churner(StressContext& ctx) {
  ctx.SetOp("churning");
  while (ctx.Running()) {
    if (TriggerCollector()) ctx.Add(kTriggers);
    sched_yield();
  }
}

void Worker(StressContext& ctx, int index, int (&shared)[kMaxSharers][2]) {
  const int peekers = static_cast<int>(ctx.Opt(kPeekers));
  const int sharers = 2 * static_cast<int>(ctx.Opt(kSharers));
  for (int p = 0; p < kMaxSharers; ++p) {
    const bool mine = index >= peekers && index < peekers + sharers && (index - peekers) / 2 == p;
    if (!mine) {
      Close(shared[p][0]);
      Close(shared[p][1]);
    }
  }
  if (index < peekers) return Peeker(ctx);
  if (index < peekers + sharers)
    return Sharer(ctx, shared[(index - peekers) / 2], (index - peekers) % 2 == 0);
  Churner(ctx);
}

void Run(StressContext& ctx) {
  const int peekers = static_cast<int>(ctx.Opt(kPeekers));
  const int sharers = 2 * static_cast<int>(ctx.Opt(kSharers));
  const int churners = static_cast<int>(ctx.Opt(kChurners));
  int shared[kMaxSharers][2];
  for (auto& p : shared) p[0] = p[1] = -1;
  for (int p = 0; p < sharers / 2; ++p) {
    if (!Pair(TypeOf(static_cast<uint64_t>(p)), shared[p], true)) {
      ctx.Error("socketpair: %s", ErrName(errno));
      return;
    }
  }
  // Churners and sharers on uids of their own: what they keep in flight must not throttle
  // the peekers (the collector makes a uid with 2024 descriptors in flight wait for it).
  uint8_t uids[kMaxStressProcs] = {};
  for (int i = peekers; i < peekers + sharers; ++i) uids[i] = 2;
  for (int i = peekers + sharers; i < peekers + sharers + churners; ++i) uids[i] = 1;
  ctx.RunWorkers(
      peekers + sharers + churners, [&](StressContext& c, int i) { Worker(c, i, shared); }, uids);
  for (auto& p : shared) {
    Close(p[0]);
    Close(p[1]);
  }
}

}  // namespace

extern const Stressor kPeekStressor = {
    "peek",
    "MSG_PEEK of in-flight sockets racing closes, receives and the collector "
    "(CVE-2021-0920, CVE-2026-23394)",
    "Peekers drop a two-socket cycle down to one open socket, peek the other out of its "
    "queue, close the first and check that the cycle is intact (a collector that missed the "
    "peek frees it: CVE-2026-23394, and CVE-2021-0920 in the old collector); they also peek "
    "messages carrying up to 253 copies of a socket that carries itself, and out-of-band "
    "bytes that carry descriptors. Sharer pairs peek and receive the same queue at once. "
    "Churners release self-references so that collections overlap the peeks.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
    kLabelClasses,
};

}  // namespace inflight
