// sockfd: the plain descriptor-passing throughput loop, the one stress-ng --sockfd
// measures: one process sends messages that each carry one descriptor, its peer
// receives them and closes what it got. Batched with sendmmsg/recvmmsg; every message
// still carries exactly one descriptor, so rates compare message for message.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t { kPairs, kBatch, kType, kOpenEach, kKind };
constexpr StressOption kOptions[] = {
    {"pairs", "sender/receiver process pairs", 1, 1, 8},
    {"batch", "messages per sendmmsg/recvmmsg call", 64, 1, 256},
    {"type", "socket type: 0 stream, 1 dgram, 2 seqpacket", 1, 0, 2},
    {"open_each",
     "1: open /dev/zero for every message and close it after sending, as "
     "stress-ng does; 0: send one descriptor opened once",
     0, 0, 1},
    {"kind", "what travels: 0 /dev/zero, 1 an AF_UNIX socket, 2 a pipe end, 3 a memfd", 0, 0, 3},
};

enum Counter : size_t { kFdMsgs, kSent, kCalls };
constexpr StressCounter kCounters[] = {
    {"fd_msgs", "messages received, each carrying one descriptor (closed at once)"},
    {"fd_sent", "messages sent"},
    {"calls", "sendmmsg and recvmmsg calls"},
};

constexpr const char* kLabels[] = {"sockfd carrier"};

constexpr int kSockFloor = 1000;  // the workers' own descriptors live above this
constexpr int kMaxBatch = 256;
constexpr char kEnd = 'E';

// One batch of one-byte messages with room for one descriptor each (on the stack of
// the process that uses it: about 26 KiB).
struct Msgs {
  mmsghdr m[kMaxBatch];
  iovec iov[kMaxBatch];
  char data[kMaxBatch];
  alignas(cmsghdr) char ctl[kMaxBatch][CMSG_SPACE(sizeof(int))];

  void Prepare(int batch) {
    for (int i = 0; i < batch; ++i) {
      iov[i] = {&data[i], 1};
      msghdr& h = m[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      h.msg_control = ctl[i];
      h.msg_controllen = sizeof ctl[i];
      m[i].msg_len = 0;
    }
  }
};

int TypeOpt(int64_t v) {
  return v == 0 ? SOCK_STREAM : v == 1 ? SOCK_DGRAM : SOCK_SEQPACKET;
}

// What the sender passes when it does not open a descriptor per message.
int MakeTraveller(StressContext& ctx, int64_t kind) {
  int fd = -1;
  switch (kind) {
    case 1: {
      int sv[2];
      if (Pair(SOCK_STREAM, sv)) {
        fd = sv[0];
        close(sv[1]);
      }
      break;
    }
    case 2: {
      int p[2];
      if (pipe2(p, O_CLOEXEC) == 0) {
        fd = p[0];
        close(p[1]);
      }
      break;
    }
    case 3:
      fd = static_cast<int>(syscall(SYS_memfd_create, "inflight-sockfd", MFD_CLOEXEC));
      break;
    default:
      fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
      break;
  }
  if (fd < 0) ctx.Error("cannot make the descriptor to send: %s", ErrName(errno));
  return fd < 0 ? -1 : Lift(fd, kSockFloor);
}

void Sender(StressContext& ctx, int sock) {
  const int batch = static_cast<int>(ctx.Opt(kBatch));
  const bool open_each = ctx.Opt(kOpenEach) != 0;
  const int fixed = open_each ? -1 : MakeTraveller(ctx, ctx.Opt(kKind));
  if (!open_each && fixed < 0) return;
  Msgs msgs;
  msgs.Prepare(batch);
  for (int i = 0; i < batch; ++i) {
    msgs.data[i] = 'M';
    cmsghdr* c = CMSG_FIRSTHDR(&msgs.m[i].msg_hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fixed, sizeof(int));
  }
  int opened[kMaxBatch];
  ctx.SetOp("sendmmsg");
  while (ctx.Running()) {
    if (open_each) {
      for (int i = 0; i < batch; ++i) {
        opened[i] = open("/dev/zero", O_RDWR | O_CLOEXEC);
        memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msgs.m[i].msg_hdr)), &opened[i], sizeof(int));
      }
    }
    const int r = sendmmsg(sock, msgs.m, static_cast<unsigned>(batch), MSG_NOSIGNAL);
    ctx.Add(kCalls);
    if (r > 0) ctx.Add(kSent, static_cast<uint64_t>(r));
    if (open_each) CloseAll(opened, batch);
    if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ENOBUFS) {
      ctx.Error("sendmmsg: %s", ErrName(errno));
      break;
    }
  }
  char end = kEnd;
  for (int tries = 0; tries < 50 && send(sock, &end, 1, MSG_NOSIGNAL) < 0 && errno == EAGAIN;
       ++tries)
    usleep(1000);
}

void Receiver(StressContext& ctx, int sock) {
  const int batch = static_cast<int>(ctx.Opt(kBatch));
  ctx.SetOp("recvmmsg");
  Msgs msgs;
  for (;;) {
    msgs.Prepare(batch);
    const int r = recvmmsg(sock, msgs.m, static_cast<unsigned>(batch),
                           MSG_WAITFORONE | MSG_CMSG_CLOEXEC, nullptr);
    ctx.Add(kCalls);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        // The receive timeout: past the deadline with nothing left, the sender is gone.
        if (!ctx.Running()) break;
        continue;
      }
      ctx.Error("recvmmsg: %s", ErrName(errno));
      break;
    }
    if (r == 0) break;
    int lo = 1 << 30, hi = -1, got = 0;
    bool end = false;
    int fds[kMaxBatch];
    for (int i = 0; i < r; ++i) {
      msghdr& h = msgs.m[i].msg_hdr;
      if (msgs.m[i].msg_len == 1 && msgs.data[i] == kEnd) end = true;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t j = 0; j < k && got < kMaxBatch; ++j) {
          int fd;
          memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
          fds[got++] = fd;
          lo = fd < lo ? fd : lo;
          hi = fd > hi ? fd : hi;
        }
      }
    }
    // Received descriptors take the lowest free numbers; ours all live above kSockFloor.
    if (got > 0 && hi - lo + 1 == got && hi < kSockFloor) {
      syscall(SYS_close_range, static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0u);
    } else {
      CloseAll(fds, got);
    }
    ctx.Add(kFdMsgs, static_cast<uint64_t>(got));
    if (end) break;
  }
}

constexpr int kMaxPairs = 8;

void Worker(StressContext& ctx, int index, int (&pairs)[kMaxPairs][2]) {
  const int pair = index / 2;
  const bool sender = index % 2 == 0;
  // Keep only this worker's end, lifted out of the way of received descriptors.
  for (int p = 0; p < kMaxPairs; ++p) {
    for (int e = 0; e < 2; ++e) {
      if (pairs[p][e] < 0) continue;
      if (p == pair && e == (sender ? 0 : 1)) continue;
      Close(pairs[p][e]);
    }
  }
  int sock = Lift(pairs[pair][sender ? 0 : 1], kSockFloor);
  SetTimeouts(sock, 100'000);
  ctx.Log(sock, 0);
  if (sender) {
    Sender(ctx, sock);
  } else {
    Receiver(ctx, sock);
  }
  close(sock);
}

void Run(StressContext& ctx) {
  const int n = static_cast<int>(ctx.Opt(kPairs));
  int pairs[kMaxPairs][2];
  for (auto& p : pairs) p[0] = p[1] = -1;
  for (int p = 0; p < n; ++p) {
    if (!Pair(TypeOpt(ctx.Opt(kType)), pairs[p])) {
      ctx.Error("socketpair: %s", ErrName(errno));
      return;
    }
  }
  ctx.RunWorkers(2 * n, [&](StressContext& c, int i) { Worker(c, i, pairs); });
  for (auto& p : pairs) {
    Close(p[0]);
    Close(p[1]);
  }
}

}  // namespace

extern const Stressor kSockfdStressor = {
    "sockfd",
    "the plain fd-passing throughput loop (one descriptor per message), as stress-ng --sockfd",
    "A sender passes one descriptor per message over an AF_UNIX socket pair and its peer "
    "receives and closes each one: the kernel's fget, scm_fp_list, skb and fd_install "
    "paths at full speed. Messages are batched with sendmmsg/recvmmsg, but every message "
    "carries exactly one descriptor, so fd_msgs compares one for one with stress-ng's "
    "sockfd bogo ops. open_each=1 also opens /dev/zero for every message, as stress-ng does.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
};

}  // namespace inflight
