// truncate: receives with short control buffers and nearly full descriptor tables. The
// kernel installs what fits and must release the rest (MSG_CTRUNC), sockets that carry
// themselves included, which then are the collector's. Every receive is checked exactly:
// installed == min(sent, room in the buffer, free slots under RLIMIT_NOFILE), and
// MSG_CTRUNC is set exactly when fewer were installed than sent.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "stressors/sock_ops.h"
#include "stressors/stressor.h"

namespace inflight {
namespace {

using namespace sockops;

enum Opt : size_t { kWorkers, kFreshPermille, kNofilePermille, kPeekPermille };
constexpr StressOption kOptions[] = {
    {"workers", "processes sending to themselves and receiving truncated", 2, 1, 16},
    {"fresh_permille", "descriptors in a message that are fresh sockets carrying themselves", 150,
     0, 1000},
    {"nofile_permille", "receives under a lowered RLIMIT_NOFILE (a nearly full table)", 400, 0,
     1000},
    {"peek_permille", "messages first peeked with a short buffer, then received in full", 150, 0,
     1000},
};

enum Counter : size_t {
  kMsgs,
  kTruncated,
  kSentFds,
  kInstalled,
  kDropped,
  kNofileLimited,
  kPeeks,
  kSendFailed,
};
constexpr StressCounter kCounters[] = {
    {"msgs", "messages received and checked"},
    {"ctrunc", "receives that came back with MSG_CTRUNC"},
    {"sent_fds", "descriptors sent"},
    {"installed_fds", "descriptors the kernel installed"},
    {"dropped_fds", "descriptors the kernel had to release (truncated away)"},
    {"nofile_limited", "receives under a lowered RLIMIT_NOFILE"},
    {"peeks", "short MSG_PEEK receives followed by a full one"},
    {"send_failed", "sends refused (ETOOMANYREFS, EAGAIN, ...)"},
};

enum Label : uint16_t { kChannel, kFresh };
constexpr const char* kLabels[] = {
    "truncate channel",
    "truncate fresh socket (carries itself; often truncated away)",
};
// The leak class of each label (stressors/stressor.h, label_classes).
constexpr const char* kLabelClasses[] = {
    "",
    "cycle(self)",
};
static_assert(sizeof kLabelClasses == sizeof kLabels);

constexpr int kFloor = 1000;  // every long-lived descriptor lives above this
constexpr int kPool = 8;

struct Truncator {
  StressContext& ctx;
  const int tmpfile;  // opened by the root in the slot's tmpfs, -1 if it could not
  int pool[kPool];
  int n_pool = 0;
  rlimit normal{};

  Truncator(StressContext& c, int tmp) : ctx(c), tmpfile(tmp) {}

  bool Setup() {
    // Everything we inherited goes above kFloor, so numbers below it are all free and a
    // lowered RLIMIT_NOFILE of f leaves exactly f slots.
    for (int fd = 0; fd < 64; ++fd) {
      if (fcntl(fd, F_GETFD) < 0) continue;
      const int lifted = Lift(fd, kFloor);
      if (fd == tmpfile) pool[n_pool++] = lifted;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      pool[n_pool++] = Lift(p[0], kFloor);
      pool[n_pool++] = Lift(p[1], kFloor);
    }
    const int mem = static_cast<int>(syscall(SYS_memfd_create, "inflight-truncate", MFD_CLOEXEC));
    if (mem >= 0) pool[n_pool++] = Lift(mem, kFloor);
    const int ev = eventfd(0, EFD_CLOEXEC);
    if (ev >= 0) pool[n_pool++] = Lift(ev, kFloor);
    const int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zero >= 0) pool[n_pool++] = Lift(zero, kFloor);
    int sv[2];
    if (Pair(SOCK_DGRAM, sv)) {
      pool[n_pool++] = Lift(sv[0], kFloor);
      close(sv[1]);
    }
    if (n_pool == 0) {
      ctx.Error("could not open any descriptor to send");
      return false;
    }
    getrlimit(RLIMIT_NOFILE, &normal);
    return true;
  }

  void SetNofile(rlim_t cur) {
    rlimit rl = normal;
    rl.rlim_cur = cur;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      ctx.Error("setrlimit(RLIMIT_NOFILE): %s", ErrName(errno));
  }

  void Round() {
    ctx.SetOp("sending");
    int ch[2];
    const int type = TypeOf(ctx.Rand());
    if (!Pair(type, ch, true)) {
      ctx.Add(kSendFailed);
      return;
    }
    const int rx = Lift(ch[0], kFloor), tx = Lift(ch[1], kFloor);
    ctx.Log(rx, kChannel);
    const int k = 1 + static_cast<int>(ctx.Below(ctx.Chance(200) ? kMaxFdsPerMsg : 16));
    int msg[kMaxFdsPerMsg], fresh[kMaxFdsPerMsg];
    int n_fresh = 0;
    const uint32_t fresh_permille = static_cast<uint32_t>(ctx.Opt(kFreshPermille));
    for (int i = 0; i < k; ++i) {
      int sv[2];
      if (ctx.Chance(fresh_permille) && n_fresh < 16 && Pair(TypeOf(ctx.Rand()), sv, true)) {
        ctx.Log(sv[0], kFresh);
        (void)SendFd(sv[1], sv[0], MSG_DONTWAIT);  // it carries itself
        close(sv[1]);
        fresh[n_fresh++] = sv[0];
        msg[i] = sv[0];
      } else {
        msg[i] = pool[ctx.Below(static_cast<uint64_t>(n_pool))];
      }
    }
    const ssize_t sent = SendFds(tx, msg, k, MSG_DONTWAIT);
    const int send_err = errno;
    CloseAll(fresh, n_fresh);  // in flight now, or gone
    if (sent < 0) {
      if (send_err != ETOOMANYREFS && send_err != EAGAIN && send_err != ENOBUFS &&
          send_err != ENOMEM)
        ctx.Error("sendmsg(%d descriptors): %s", k, ErrName(send_err));
      ctx.Add(kSendFailed);
      close(rx);
      close(tx);
      return;
    }
    ctx.Add(kSentFds, static_cast<uint64_t>(k));

    if (ctx.Chance(static_cast<uint32_t>(ctx.Opt(kPeekPermille)))) {
      // A short peek must leave the message whole for the next receive.
      const int room = static_cast<int>(ctx.Below(static_cast<uint64_t>(k)));
      Check(rx, k, room, -1, MSG_PEEK);
      ctx.Add(kPeeks);
      Check(rx, k, kMaxFdsPerMsg, -1, 0);
    } else {
      // Room in the control buffer: none at all (-1), or 0..k+1 descriptors.
      const int room =
          ctx.Chance(100) ? -1 : static_cast<int>(ctx.Below(static_cast<uint64_t>(k) + 2));
      const int free_slots = ctx.Chance(static_cast<uint32_t>(ctx.Opt(kNofilePermille)))
                                 ? static_cast<int>(ctx.Below(static_cast<uint64_t>(k) + 2))
                                 : -1;
      Check(rx, k, room, free_slots, 0);
    }
    close(rx);
    close(tx);
  }

  // One receive of a message of k descriptors with `room` in the control buffer (-1:
  // none) and `free_slots` under a lowered RLIMIT_NOFILE (-1: not lowered).
  void Check(int rx, int k, int room, int free_slots, int flags) {
    ctx.SetOp("recvmsg (truncated)");
    int fds[kMaxFdsPerMsg];
    if (free_slots >= 0) {
      SetNofile(static_cast<rlim_t>(free_slots));
      ctx.Add(kNofileLimited);
    }
    Received r = RecvFds(rx, fds, room, flags | MSG_DONTWAIT);
    if (free_slots >= 0) SetNofile(normal.rlim_cur);
    int expect = std::min(k, std::max(room, 0));
    if (free_slots >= 0) expect = std::min(expect, free_slots);
    if (r.bytes != 1) {
      ctx.Fault("recvmsg of a queued 1-byte message with %d descriptors returned %zd (%s)", k,
                r.bytes, r.bytes < 0 ? ErrName(r.err) : "short");
    } else if (r.n != expect) {
      ctx.Fault(
          "recvmsg installed %d of %d descriptors with room for %d and %d free slots "
          "(expected %d)%s",
          r.n, k, room, free_slots, expect, flags & MSG_PEEK ? " under MSG_PEEK" : "");
    } else if (((r.msg_flags & MSG_CTRUNC) != 0) != (r.n < k)) {
      ctx.Fault("recvmsg installed %d of %d descriptors but MSG_CTRUNC was %s%s", r.n, k,
                r.msg_flags & MSG_CTRUNC ? "set" : "not set",
                flags & MSG_PEEK ? " under MSG_PEEK" : "");
    }
    for (int i = 0; i < r.n; ++i) {
      if (fds[i] >= kFloor || fcntl(fds[i], F_GETFD) < 0)
        ctx.Fault("recvmsg gave descriptor %d, which is not a fresh open descriptor", fds[i]);
    }
    if (flags == 0 && r.bytes == 1) {
      ctx.Add(kMsgs);
      ctx.Add(kInstalled, static_cast<uint64_t>(r.n));
      ctx.Add(kDropped, static_cast<uint64_t>(k - r.n));
      if (r.msg_flags & MSG_CTRUNC) ctx.Add(kTruncated);
    }
    CloseAll(fds, r.n);
  }

  void Loop() {
    if (!Setup()) return;
    while (ctx.Running()) Round();
    for (int i = 0; i < n_pool; ++i) close(pool[i]);
  }
};

void Run(StressContext& ctx) {
  // A regular file of the slot's tmpfs travels too; the workers lift it with the rest.
  const int tmpfile = open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  ctx.RunWorkers(static_cast<int>(ctx.Opt(kWorkers)), [&](StressContext& c, int) {
    Truncator t(c, tmpfile);
    t.Loop();
  });
  if (tmpfile >= 0) close(tmpfile);
}

}  // namespace

extern const Stressor kTruncateStressor = {
    "truncate",
    "receives with short control buffers and nearly full descriptor tables (MSG_CTRUNC)",
    "Workers send themselves messages of 1 to 253 descriptors (pipes, memfd, eventfd, "
    "/dev/zero, a socket, a file of the slot's tmpfs, and fresh sockets that carry "
    "themselves), then receive them with no control buffer, with room for 0 to k+1 "
    "descriptors, under an RLIMIT_NOFILE that leaves 0 to k+1 free slots, or peek them "
    "short first. The kernel installs what fits and releases the rest; each receive is "
    "checked exactly (installed == min(sent, room, free slots); MSG_CTRUNC exactly when "
    "fewer were installed), and what was released must be gone at the checkpoint.",
    kOptions,
    kCounters,
    kLabels,
    0,
    Run,
    kLabelClasses,
};

}  // namespace inflight
