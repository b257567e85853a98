// The graph processes: lockstep turns, free-run jitter, and one function per action.
// Everything from GraphProcess down runs after fork: no allocation, no exceptions.
#include "executor/graph.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "base/clock.h"
#include "base/scm.h"
#include "probe/accounting.h"
#include "probe/kcov.h"
#include "scenario/text.h"

namespace inflight {

namespace {

enum ProcRun : uint32_t {
  kProcNone = 0,
  kProcRunning,
  kProcExited,
  kProcKilled,
  kProcForkFailed,
};
constexpr uint32_t kNoStep = 0xffffffffu;
constexpr int64_t kKillWaitUs = 5'000'000;
constexpr int64_t kBarrierWaitUs = 2'000'000;
constexpr size_t kControlBytes = 4096;
// SO_PASSRIGHTS (Linux 6.16, include/uapi/asm-generic/socket.h), for older libc headers;
// kernels without it answer ENOPROTOOPT.
#ifdef SO_PASSRIGHTS
constexpr int kSoPassrights = SO_PASSRIGHTS;
#else
constexpr int kSoPassrights = 83;
#endif
// A send's control messages (descriptors plus a header and padding each, and one
// SCM_CREDENTIALS message) and recv cbuf=B.
static_assert(Bounds::kMaxRightsPerSend * sizeof(int) + Bounds::kMaxCmsgs * 2 * 16 +
                  CMSG_SPACE(sizeof(ucred)) <=
              kControlBytes);
static_assert(Bounds::kMaxCbuf <= kControlBytes);

void FutexWait(std::atomic<uint32_t>* addr, uint32_t val, int64_t timeout_us) {
  struct timespec ts;
  ts.tv_sec = timeout_us / 1000000;
  ts.tv_nsec = (timeout_us % 1000000) * 1000;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT, val, &ts, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>* addr, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

// Closes every descriptor but `keep` (-1: none).
void CloseAllFds(int keep) {
  if (keep < 0) {
    if (syscall(SYS_close_range, 0u, ~0u, 0u) == 0) return;
  } else if (syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u) == 0 &&
             syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u) == 0) {
    return;
  }
  for (int fd = 0; fd < 65536; ++fd)  // kernels before 5.9
    if (fd != keep) ::close(fd);
}

int PosixSockType(SockType t) {
  switch (t) {
    case SockType::kStream:
      return SOCK_STREAM;
    case SockType::kDgram:
      return SOCK_DGRAM;
    case SockType::kSeqpacket:
      return SOCK_SEQPACKET;
  }
  return SOCK_STREAM;
}

// The layout getdents64(2) fills in (glibc has no public struct for it).
struct linux_dirent64_view {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void SleepMicros(int64_t us) {
  struct timespec ts {
    static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)
  };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

struct alignas(64) SharedProc {
  std::atomic<uint32_t> go;     // lockstep: the step this process may run now
  std::atomic<uint32_t> state;  // ProcRun
  std::atomic<int32_t> pid;
  std::atomic<int32_t> current;    // action in progress, -1 between actions
  std::atomic<uint32_t> barriers;  // free-run: barriers reached
  std::atomic<uint32_t> uid, gid;  // its real uid and gid (what SCM_CREDENTIALS carries)
};

struct SharedAction {
  std::atomic<uint8_t> status;  // ActionStatus, stored last
  int32_t err;
  int32_t ret;
  uint16_t fds;
  uint32_t msg_flags;
  int16_t installed;
  uint8_t creds;  // recv: ActionOutcome::creds
  int32_t cred_pid;
  uint32_t cred_uid, cred_gid;
  uint8_t tagged;        // free-run recv: tickets holds the send tickets its bytes carried
  uint64_t tickets[4];   // a TicketSet (run/tickets.h)
};

struct Graph::Shared {
  std::atomic<uint32_t> step;
  std::atomic<uint32_t> epoch;  // free-run: bumped on every barrier arrival and exit
  std::atomic<uint32_t> n_events;
  std::atomic<uint32_t> kill_asks;  // bit p: kill process p for its killer (Graph::ServeAsks)
  SharedProc procs[Bounds::kMaxProcs];
  SharedAction actions[Bounds::kMaxActions];
  ObjectEvent events[Graph::kMaxEvents];
  std::atomic<uint32_t> n_pcs;  // kernel coverage (RunOptions::kcov), all processes
  uint64_t pcs[Graph::kMaxKernelPcs];
};

// One graph process. Lives on its process's stack; fork copies it, which is exactly
// the semantics of a variable: the child starts with the parent's descriptors.
struct GraphProcess {
  const Graph& g;
  Graph::Shared* sh;
  const Scenario& s;
  const bool lockstep;
  ProcId self = 0;
  uint64_t rng = 0;
  int fd[Bounds::kMaxVars];
  uint64_t key[Bounds::kMaxVars];  // the object each variable holds, when known
  KcovTrace kcov;                  // this process's kernel coverage, when asked
  alignas(cmsghdr) char control[kControlBytes];
  char payload[Bounds::kMaxBytes];

  GraphProcess(const Graph& graph, Graph::Shared* shared, const Scenario& scn, bool ls)
      : g(graph), sh(shared), s(scn), lockstep(ls) {
    for (int& f : fd) f = -1;
    for (uint64_t& k : key) k = ObjectEvent::kUnknownKey;
    memset(payload, 'x', sizeof payload);
  }

  uint32_t NumActions() const { return static_cast<uint32_t>(s.actions.size()); }
  uint32_t TotalSteps() const { return NumActions() + static_cast<uint32_t>(s.procs.size()); }
  ProcId Owner(uint32_t step) const {
    return step < NumActions() ? s.actions[step].proc : static_cast<ProcId>(step - NumActions());
  }
  SharedProc& Me() { return sh->procs[self]; }

  [[noreturn]] void Main(ProcId p) {
    self = p;
    uint32_t expected = kProcNone;
    Me().state.compare_exchange_strong(expected, kProcRunning);
    Me().pid.store(getpid());
    Me().uid.store(getuid());
    Me().gid.store(getgid());
    uint64_t seed = g.opt_.seed ^ (0x5bd1e995ull * (p + 1));
    rng = SplitMix(seed);
    if (g.opt_.kcov) {
      kcov.Forget();  // a forked child's copy of its parent's trace
      kcov.Start(Graph::kKcovFd);
    }
    for (uint16_t idx : g.proc_actions_[p]) {
      if (lockstep) {
        WaitTurn(idx);
      } else {
        Jitter();
      }
      Me().current.store(idx);
      Execute(idx);
      Me().current.store(-1);
      if (lockstep) HandOff(idx);
    }
    Finish(kNoStep);
  }

  void WaitTurn(uint32_t step) {
    for (;;) {
      uint32_t go = Me().go.load(std::memory_order_acquire);
      if (go == step) return;
      FutexWait(&Me().go, go, 1'000'000);
    }
  }

  void HandOff(uint32_t done) {
    uint32_t next = done + 1;
    const uint32_t total = TotalSteps();
    while (next < total && sh->procs[Owner(next)].state.load() != kProcRunning) ++next;
    sh->step.store(next);
    if (next < total) {
      SharedProc& o = sh->procs[Owner(next)];
      o.go.store(next, std::memory_order_release);
      FutexWake(&o.go, 1);
    }
  }

  void Jitter() {
    uint64_t r = SplitMix(rng);
    switch (r & 7) {
      case 3:
      case 4:
      case 5:
        for (uint64_t k = 0; k < (r & 7) - 2; ++k) sched_yield();
        break;
      case 6:
      case 7: {
        volatile uint64_t sink = 0;  // a busy wait the compiler keeps
        for (uint64_t k = 0; k < ((r >> 8) & 2047); ++k) sink = sink + k;
        (void)sink;
        break;
      }
      default:
        break;
    }
  }

  // Ends this process. `exit_step` is the explicit exit action, or kNoStep at the end
  // of its list (then, in lockstep, it waits for its ordered exit turn).
  [[noreturn]] void Finish(uint32_t exit_step) {
    if (lockstep) {
      uint32_t step = exit_step;
      if (step == kNoStep) {
        step = NumActions() + self;
        WaitTurn(step);
      }
      CloseAllFds(kcov.active() ? Graph::kKcovFd : -1);  // the next step sees them closed
      uint32_t expected = kProcRunning;
      Me().state.compare_exchange_strong(expected, kProcExited);
      HandOff(step);
    } else {
      uint32_t expected = kProcRunning;
      Me().state.compare_exchange_strong(expected, kProcExited);
      sh->epoch.fetch_add(1);
      FutexWake(&sh->epoch, INT32_MAX);
    }
    if (kcov.active()) {
      const uint32_t n = static_cast<uint32_t>(kcov.Count());
      const uint32_t at = sh->n_pcs.fetch_add(n);
      if (at < Graph::kMaxKernelPcs)
        kcov.Stop(&sh->pcs[at], std::min<size_t>(n, Graph::kMaxKernelPcs - at));
    }
    _exit(0);
  }

  // --- outcomes and the object log ---
  void Done(uint16_t idx, ActionStatus st, int32_t err, int32_t ret, uint16_t fds = 0,
            uint32_t msg_flags = 0) {
    SharedAction& r = sh->actions[idx];
    r.err = err;
    r.ret = ret;
    r.fds = fds;
    r.msg_flags = msg_flags;
    r.status.store(static_cast<uint8_t>(st), std::memory_order_release);
  }
  void Ok(uint16_t idx, int32_t ret = 0) { Done(idx, ActionStatus::kOk, 0, ret); }
  void Fail(uint16_t idx, int err) { Done(idx, ActionStatus::kFailed, err, -1); }
  void Skip(uint16_t idx) { Done(idx, ActionStatus::kSkipped, 0, 0); }
  void Returned(uint16_t idx, long r) {
    r < 0 ? Fail(idx, errno) : Ok(idx, static_cast<int32_t>(r));
  }

  void Log(uint16_t idx, EventType type, uint8_t index, int f,
           uint64_t object = ObjectEvent::kUnknownKey) {
    struct stat st;
    if (fstat(f, &st) != 0) return;
    uint32_t slot = sh->n_events.fetch_add(1);
    if (slot >= Graph::kMaxEvents) return;  // Collect() reports the truncation
    ObjectEvent& e = sh->events[slot];
    e.action = idx;
    e.type = type;
    e.index = index;
    e.dev = static_cast<uint32_t>(st.st_dev);
    e.ino = st.st_ino;
    e.key = object;
    e.mode = e.tag = 0;
    if (g.identities_ && (type == EventType::kCreated || type == EventType::kReceived))
      Identify(f, st, e);
  }

  // What an is= check compares besides the inode (ObjectEvent::mode, tag).
  static void Identify(int f, const struct stat& st, ObjectEvent& e) {
    const int fl = fcntl(f, F_GETFL);
    e.mode = static_cast<uint32_t>(st.st_mode & S_IFMT) |
             static_cast<uint32_t>(fl >= 0 ? (fl & O_ACCMODE) : 0);
    char path[48], link[128];
    snprintf(path, sizeof path, "/proc/self/fd/%d", f);
    const ssize_t n = readlink(path, link, sizeof link);
    constexpr char kAnon[] = "anon_inode:";
    if (n > 0 && static_cast<size_t>(n) >= sizeof kAnon - 1 &&
        memcmp(link, kAnon, sizeof kAnon - 1) == 0) {
      uint32_t h = 2166136261u;  // FNV-1a
      for (ssize_t k = 0; k < n; ++k) h = (h ^ static_cast<uint8_t>(link[k])) * 16777619u;
      e.tag = h | 1u;  // never 0, the "not recorded" value
    }
  }
  void Bind(uint16_t idx, uint8_t out_index, int f) {
    const VarId v = s.actions[idx].out[out_index];
    fd[v] = f;
    key[v] = ObjectKey(idx, out_index);
    Log(idx, EventType::kCreated, out_index, f, key[v]);
    Witness(idx, out_index, f);
  }

  // Registers a new object with the sandbox's witnesses; the kWitnessed event says how.
  void Witness(uint16_t idx, uint8_t out_index, int f) {
    const uint64_t key = ObjectKey(idx, out_index);
    WitnessKind how = WitnessKind::kNone;
    struct stat st;
    if (fstat(f, &st) == 0 && S_ISREG(st.st_mode)) {
      // Regular files and memfds cannot be polled. The object keeps an OFD write lock
      // (dropped only when its file is released); the sandbox gets a second, read-only
      // open of the inode to test for that lock.
      struct flock lk {};
      lk.l_type = F_WRLCK;
      lk.l_whence = SEEK_SET;
      char path[48];
      snprintf(path, sizeof path, "/proc/self/fd/%d", f);
      int probe = -1;
      if (fcntl(f, F_OFD_SETLK, &lk) == 0 &&
          (probe = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) >= 0) {
        if (SendProbe(probe, key)) how = WitnessKind::kLock;
        close(probe);
      }
    } else {
      epoll_event ev{};
      ev.events = 0;
      ev.data.u64 = key;
      if (epoll_ctl(Graph::kWitnessFd, EPOLL_CTL_ADD, f, &ev) == 0) how = WitnessKind::kEpoll;
    }
    uint32_t slot = sh->n_events.fetch_add(1);
    if (slot >= Graph::kMaxEvents) return;
    ObjectEvent& e = sh->events[slot];
    e.action = idx;
    e.type = EventType::kWitnessed;
    e.index = static_cast<uint8_t>(how);
    e.dev = 0;
    e.ino = 0;
    e.key = key;
    e.mode = e.tag = 0;
  }

  bool SendProbe(int probe, uint64_t key) {
    return SendWithFds(Graph::kProbeFd, &probe, 1, &key, sizeof key) == sizeof key;
  }

  // Open descriptors of this process (lockstep receives compare it before and after).
  int CountFds() {
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    int n = 0;
    alignas(8) char buf[4096];
    for (;;) {
      long got = syscall(SYS_getdents64, dir, buf, sizeof buf);
      if (got <= 0) break;
      for (long off = 0; off < got;) {
        auto* d = reinterpret_cast<struct linux_dirent64_view*>(buf + off);
        if (d->d_name[0] != '.') ++n;
        off += d->d_reclen;
      }
    }
    close(dir);
    return n - 1;  // the directory's own descriptor
  }

  // --- sockets ---
  int SockFlags() const { return SOCK_CLOEXEC | (lockstep ? SOCK_NONBLOCK : 0); }
  void Tune(int f) {
    if (lockstep) return;
    struct timeval tv {
      static_cast<time_t>(g.opt_.io_timeout_ms / 1000),
          static_cast<suseconds_t>((g.opt_.io_timeout_ms % 1000) * 1000)
    };
    setsockopt(f, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(f, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  socklen_t Address(const Action& a, sockaddr_un& sun) {
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (a.flags & kFlagPath) {  // relative: the graph runs in its slot's tmpfs directory
      memcpy(sun.sun_path, a.addr.data(), a.addr.size());
      return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.addr.size() + 1);
    }
    memcpy(sun.sun_path + 1, a.addr.data(), a.addr.size());  // abstract: leading NUL
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a.addr.size());
  }
  int IoFlags(const Action& a) const {
    int f = 0;
    if (a.flags & kFlagOob) f |= MSG_OOB;
    if ((a.flags & kFlagDontwait) || lockstep) f |= MSG_DONTWAIT;
    return f;
  }

  void Execute(uint16_t idx) {
    const Action& a = s.actions[idx];
    const int t = HasTarget(a.op) ? fd[a.target] : -1;
    if (HasTarget(a.op) && t < 0) return Skip(idx);
    switch (a.op) {
      case Op::kSocketpair: {
        int sv[2];
        if (socketpair(AF_UNIX, PosixSockType(a.type) | SockFlags(), 0, sv) != 0)
          return Fail(idx, errno);
        Tune(sv[0]);
        Tune(sv[1]);
        Bind(idx, 0, sv[0]);
        Bind(idx, 1, sv[1]);
        return Ok(idx);
      }
      case Op::kSocket: {
        int f = socket(AF_UNIX, PosixSockType(a.type) | SockFlags(), 0);
        if (f < 0) return Fail(idx, errno);
        Tune(f);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kBind: {
        sockaddr_un sun;
        socklen_t len = Address(a, sun);
        return Returned(idx, bind(t, reinterpret_cast<sockaddr*>(&sun), len));
      }
      case Op::kUnlink:  // relative to the slot's tmpfs, as bind and connect
        return Returned(idx, unlink(a.addr.c_str()));
      case Op::kListen:
        return Returned(idx, listen(t, a.backlog));
      case Op::kConnect: {
        sockaddr_un sun;
        socklen_t len = Address(a, sun);
        return Returned(idx, connect(t, reinterpret_cast<sockaddr*>(&sun), len));
      }
      case Op::kAccept: {
        int f = accept4(t, nullptr, nullptr, SockFlags());
        if (f < 0) return Fail(idx, errno);
        Tune(f);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kPipe: {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Fail(idx, errno);
        Bind(idx, 0, p[0]);
        Bind(idx, 1, p[1]);
        return Ok(idx);
      }
      case Op::kFile: {
        int f = open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kMemfd: {
        int f = static_cast<int>(syscall(SYS_memfd_create, "inflight", MFD_CLOEXEC));
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kEventfd: {
        int f = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kSend:
        return Send(idx, a, t);
      case Op::kRecv:
        return Recv(idx, a, t);
      case Op::kClose: {
        int r = close(t);
        int err = errno;
        fd[a.target] = -1;
        key[a.target] = ObjectEvent::kUnknownKey;
        return r == 0 ? Ok(idx) : Fail(idx, err);
      }
      case Op::kShutdown: {
        int how = a.how == ShutHow::kRd ? SHUT_RD : a.how == ShutHow::kWr ? SHUT_WR : SHUT_RDWR;
        return Returned(idx, shutdown(t, how));
      }
      case Op::kDup: {
        int f = fcntl(t, F_DUPFD_CLOEXEC, 0);
        if (f < 0) return Fail(idx, errno);
        fd[a.out[0]] = f;  // the same object: no new entry in the object log
        key[a.out[0]] = key[a.target];
        return Ok(idx);
      }
      case Op::kFork:
        return Fork(idx, a);
      case Op::kExit:
        Ok(idx);
        Finish(idx);
      case Op::kKill:
        return Kill(idx, a);
      case Op::kBarrier:
        return Barrier(idx);
      case Op::kSleep:
        SleepMicros(static_cast<int64_t>(a.sleep_ms) * 1000);
        return Ok(idx);
      case Op::kEpoll: {
        int f = epoll_create1(EPOLL_CLOEXEC);
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kEpollAdd: {
        const int x = fd[a.target2];
        if (x < 0) return Skip(idx);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = ObjectKey(idx, 0);
        return Returned(idx, epoll_ctl(t, EPOLL_CTL_ADD, x, &ev));
      }
      case Op::kPidfd: {
        const pid_t pid = sh->procs[a.other].pid.load();
        if (pid <= 0) return Skip(idx);
        int f = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (f < 0) return Fail(idx, errno);
        fcntl(f, F_SETFD, FD_CLOEXEC);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kIoUring: {
        io_uring_params p{};
        int f = static_cast<int>(syscall(SYS_io_uring_setup, 1, &p));
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kDevnull: {
        int f = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kPty: {
        // The master from /dev/ptmx, unlocked, and its peer by TIOCGPTPEER (no path: the
        // terminal's /dev/pts name may not be visible here).
        int m = open("/dev/ptmx", O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (m < 0) return Fail(idx, errno);
        int unlock = 0;
        int peer = -1;
        if (ioctl(m, TIOCSPTLCK, &unlock) != 0 ||
            (peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
          const int err = errno;
          close(m);
          return Fail(idx, err);
        }
        Bind(idx, 0, m);
        Bind(idx, 1, peer);
        return Ok(idx);
      }
      case Op::kInet: {
        // Unbound and unconnected: the run's network namespace has only its loopback,
        // down, so these sockets go nowhere; `listen` autobinds an ephemeral port.
        const bool v6 = a.inet == InetKind::kTcp6 || a.inet == InetKind::kUdp6;
        const bool tcp = a.inet == InetKind::kTcp || a.inet == InetKind::kTcp6;
        int f = socket(v6 ? AF_INET6 : AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SockFlags(), 0);
        if (f < 0) return Fail(idx, errno);
        Tune(f);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kTimerfd: {
        int f = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (f < 0) return Fail(idx, errno);
        Bind(idx, 0, f);
        return Ok(idx);
      }
      case Op::kSetuid: {
        const uid_t second = SecondUid();
        if (!BecomeUidKeepingCaps(second, second)) return Fail(idx, errno);
        Me().uid.store(getuid());
        Me().gid.store(getgid());
        return Ok(idx);
      }
      case Op::kDropCaps: {
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct none[2] = {};
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
          return Fail(idx, errno);
        return Returned(idx, static_cast<int>(syscall(SYS_capset, &hdr, none)));
      }
      case Op::kSetsockopt: {
        int val = static_cast<int>(a.optval);
        const int name = a.sockopt == SockOpt::kSndbuf     ? SO_SNDBUF
                         : a.sockopt == SockOpt::kRcvbuf   ? SO_RCVBUF
                         : a.sockopt == SockOpt::kPasscred ? SO_PASSCRED
                                                           : kSoPassrights;
        return Returned(idx, setsockopt(t, SOL_SOCKET, name, &val, sizeof val));
      }
      case Op::kLimit: {
        rlimit lim{};
        if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return Fail(idx, errno);
        lim.rlim_cur = a.nofile;
        if (lim.rlim_max < lim.rlim_cur) lim.rlim_max = lim.rlim_cur;
        return Returned(idx, setrlimit(RLIMIT_NOFILE, &lim));
      }
    }
  }

  // The run's second uid (`setuid second`): the slot's uid with a high bit set, so that it
  // is the slot's alone too; a graph that runs as root takes its network namespace's inode.
  static uid_t SecondUid() {
    uid_t u = getuid();
    if (u == 0) {
      struct stat st{};
      u = stat("/proc/self/ns/net", &st) == 0 ? static_cast<uid_t>(st.st_ino & 0x0fffffffu) : 1u;
    }
    return SecondUidOf(u);
  }

  void Send(uint16_t idx, const Action& a, int t) {
    const uint32_t n = Scenario::RightsCount(a);
    for (const Right& r : a.rights)
      if (fd[r.var] < 0) return Skip(idx);
    // Free-run: every payload byte is this send's ticket (run/tickets.h).
    if (!lockstep) memset(payload, g.send_tickets_[idx], a.bytes);
    iovec iov{payload, a.bytes};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (n > 0 || a.empty > 0 || a.creds != CredsAt::kNone) {
      // a.empty SCM_RIGHTS messages with no descriptor first, then n descriptors split into
      // a.cmsgs messages, the first ones one longer (more messages than descriptors: the
      // last ones carry none); creds=before|after: this process's own credentials in an
      // SCM_CREDENTIALS message before or after all of them.
      const uint32_t chunks = n > 0 ? a.cmsgs : 0, base = n > 0 ? n / chunks : 0,
                     extra = n > 0 ? n % chunks : 0;
      size_t ri = 0, rc = 0, off = 0;
      if (a.creds == CredsAt::kBefore) off = PutCreds(off);
      for (uint32_t c = 0; c < a.empty; ++c) {
        auto* h = reinterpret_cast<cmsghdr*>(control + off);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(0);
        off += CMSG_SPACE(0);
      }
      for (uint32_t c = 0; c < chunks; ++c) {
        const uint32_t k = base + (c < extra ? 1 : 0);
        auto* h = reinterpret_cast<cmsghdr*>(control + off);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(k * sizeof(int));
        int* out = reinterpret_cast<int*>(CMSG_DATA(h));
        for (uint32_t j = 0; j < k; ++j) {
          out[j] = fd[a.rights[ri].var];
          if (++rc == a.rights[ri].count) {
            ++ri;
            rc = 0;
          }
        }
        off += CMSG_SPACE(k * sizeof(int));
      }
      if (a.creds == CredsAt::kAfter) off = PutCreds(off);
      msg.msg_control = control;
      msg.msg_controllen = off;
    }
    ssize_t r = sendmsg(t, &msg, IoFlags(a) | MSG_NOSIGNAL);
    if (r < 0) return Fail(idx, errno);
    if (n > 0) Log(idx, EventType::kSentVia, 0, t);
    for (size_t k = 0; k < a.rights.size(); ++k) {
      bool seen = false;  // one entry per distinct descriptor
      for (size_t j = 0; j < k; ++j) seen |= fd[a.rights[j].var] == fd[a.rights[k].var];
      if (!seen)
        Log(idx, EventType::kSent, static_cast<uint8_t>(k), fd[a.rights[k].var],
            key[a.rights[k].var]);
    }
    Ok(idx, static_cast<int32_t>(r));
  }

  // Writes an SCM_CREDENTIALS message with this process's pid, uid and gid at `off` of the
  // control buffer; returns the offset after it.
  size_t PutCreds(size_t off) {
    auto* h = reinterpret_cast<cmsghdr*>(control + off);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_CREDENTIALS;
    h->cmsg_len = CMSG_LEN(sizeof(ucred));
    ucred me{getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(h), &me, sizeof me);
    return off + CMSG_SPACE(sizeof(ucred));
  }

  void Recv(uint16_t idx, const Action& a, int t) {
    iovec iov{payload, a.bytes};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // CMSG_LEN, not CMSG_SPACE: the kernel installs (controllen - header) / 4 fds, and
    // CMSG_SPACE's alignment padding would make room for one more than asked. cbuf=B is
    // exactly B bytes (a header-only buffer, or a size that ends mid-descriptor).
    const uint32_t room = a.ctrunc >= 0 ? static_cast<uint32_t>(a.ctrunc) : a.max;
    const size_t controllen = a.cbuf >= 0 ? static_cast<size_t>(a.cbuf)
                              : room > 0  ? CMSG_LEN(room * sizeof(int))
                                          : 0;
    if (controllen > 0) {
      msg.msg_control = (a.flags & kFlagFaultCbuf) ? g.fault_page_ : control;
      msg.msg_controllen = controllen;
    }
    if (a.flags & kFlagFaultData) iov.iov_base = g.fault_page_;
    const int before = lockstep ? CountFds() : -1;
    rlimit old{};
    if (a.nofile) {
      getrlimit(RLIMIT_NOFILE, &old);
      rlimit low = old;
      low.rlim_cur = a.nofile;
      setrlimit(RLIMIT_NOFILE, &low);
    }
    ssize_t r =
        recvmsg(t, &msg, IoFlags(a) | (a.flags & kFlagPeek ? MSG_PEEK : 0) | MSG_CMSG_CLOEXEC);
    const int err = errno;
    if (a.nofile) setrlimit(RLIMIT_NOFILE, &old);
    if (r < 0) return Fail(idx, err);
    // Take every installed descriptor, also under MSG_CTRUNC: the named outputs first;
    // the rest stay open in this process until it exits.
    uint16_t got = 0;
    SharedAction& out = sh->actions[idx];
    out.creds = 0;
    // A faulting control buffer cannot be read back: what the kernel installed anyway
    // shows in the descriptor count (`installed`).
    if (msg.msg_controllen > 0 && !(a.flags & kFlagFaultCbuf)) {
      for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
          // The kernel puts it first; MSG_CTRUNC may have cut it short.
          if (h->cmsg_len < CMSG_LEN(sizeof(ucred))) {
            out.creds = 2;
            continue;
          }
          ucred c;
          memcpy(&c, CMSG_DATA(h), sizeof c);
          out.creds = 1;
          out.cred_pid = c.pid;
          out.cred_uid = c.uid;
          out.cred_gid = c.gid;
          continue;
        }
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        const size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int* in = reinterpret_cast<const int*>(CMSG_DATA(h));
        for (size_t j = 0; j < k; ++j, ++got) {
          if (got < a.out.size()) {
            fd[a.out[got]] = in[j];
            key[a.out[got]] = ObjectEvent::kUnknownKey;
          }
          Log(idx, EventType::kReceived, static_cast<uint8_t>(got < 255 ? got : 255), in[j]);
        }
      }
    }
    Log(idx, EventType::kRecvVia, 0, t);
    // Free-run: which sends' bytes arrived, by their tickets (a faulting buffer holds none).
    if (!lockstep && r > 0 && !(a.flags & kFlagFaultData)) {
      for (ssize_t k = 0; k < r && k < a.bytes; ++k) {
        const uint8_t b = static_cast<uint8_t>(payload[k]);
        out.tickets[b >> 6] |= uint64_t{1} << (b & 63);
      }
      out.tagged = 1;
    }
    // The kernel echoes MSG_CMSG_CLOEXEC back in msg_flags; it says nothing about the message.
    Done(idx, ActionStatus::kOk, 0, static_cast<int32_t>(r), got,
         static_cast<uint32_t>(msg.msg_flags) & ~static_cast<uint32_t>(MSG_CMSG_CLOEXEC));
    if (before >= 0) {
      const int after = CountFds();
      sh->actions[idx].installed = static_cast<int16_t>(after >= 0 ? after - before : -1);
    }
  }

  void Fork(uint16_t idx, const Action& a) {
    SharedProc& child = sh->procs[a.other];
    pid_t pid = fork();
    if (pid == 0) Main(a.other);  // the child runs its own actions with a copy of ours
    if (pid < 0) {
      child.state.store(kProcForkFailed);
      return Fail(idx, errno);
    }
    child.pid.store(pid);
    uint32_t expected = kProcNone;
    child.state.compare_exchange_strong(expected, kProcRunning);
    Ok(idx, pid);
  }

  void Kill(uint16_t idx, const Action& a) {
    SharedProc& victim = sh->procs[a.other];
    const pid_t pid = victim.pid.load();
    // Marked before the signal, so that the reaper knows this SIGKILL was ours.
    uint32_t expected = kProcRunning;
    if (pid <= 0 || !victim.state.compare_exchange_strong(expected, kProcKilled)) return Skip(idx);
    int pidfd = lockstep ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1;
    if (kill(pid, SIGKILL) != 0) {
      int err = errno;
      // Not ours to signal (a capless killer, a victim of another uid): the sandbox kills
      // it for us (Graph::AsksFd).
      if (err != EPERM || !AskSandboxToKill(a.other)) {
        if (pidfd >= 0) close(pidfd);
        expected = kProcKilled;  // it was not killed: it runs on to its end
        victim.state.compare_exchange_strong(expected, kProcRunning);
        return Fail(idx, err);
      }
    }
    if (lockstep) WaitDead(pid, pidfd);  // the next step sees its descriptors closed
    sh->epoch.fetch_add(1);
    FutexWake(&sh->epoch, INT32_MAX);
    Ok(idx);
  }

  bool AskSandboxToKill(ProcId victim) {
    sh->kill_asks.fetch_or(1u << victim);
    const uint64_t one = 1;
    return write(Graph::kAsksFd, &one, sizeof one) == static_cast<ssize_t>(sizeof one);
  }

  void WaitDead(pid_t pid, int pidfd) {
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(kKillWaitUs / 1000));
      close(pidfd);
      return;
    }
    // No pidfd (Linux < 5.3): poll the state letter in /proc/<pid>/stat.
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    const int64_t end = NowMicros() + kKillWaitUs;
    while (NowMicros() < end) {
      int f = open(path, O_RDONLY | O_CLOEXEC);
      if (f < 0) return;
      ssize_t n = read(f, buf, sizeof buf - 1);
      close(f);
      if (n <= 0) return;
      buf[n] = 0;
      const char* rp = strrchr(buf, ')');
      if (!rp || rp[1] == 0 || rp[2] == 'Z' || rp[2] == 'X') return;
      SleepMicros(50);
    }
  }

  void Barrier(uint16_t idx) {
    if (lockstep) return Ok(idx);  // the global order already is a barrier
    const uint32_t mine = Me().barriers.fetch_add(1) + 1;
    sh->epoch.fetch_add(1);
    FutexWake(&sh->epoch, INT32_MAX);
    const int64_t end = NowMicros() + kBarrierWaitUs;
    for (;;) {
      const uint32_t epoch = sh->epoch.load();
      bool all = true;
      for (size_t q = 0; q < s.procs.size(); ++q) {
        if (q == self) continue;
        const SharedProc& o = sh->procs[q];
        if (o.state.load() == kProcRunning && o.barriers.load() < mine) all = false;
      }
      if (all) return Ok(idx);
      const int64_t left = end - NowMicros();
      if (left <= 0) return Fail(idx, ETIMEDOUT);
      FutexWait(&sh->epoch, epoch, left);
    }
  }
};

static_assert(Bounds::kMaxProcs <= 32, "Shared::kill_asks holds one bit per process");

Graph::Graph() {
  asks_.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!asks_) throw std::bad_alloc();
  shared_size_ = (sizeof(Shared) + 4095) & ~size_t{4095};
  void* p = mmap(nullptr, shared_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  shared_ = new (p) Shared();
  // recv fault=cbuf|data: a buffer the kernel cannot write (EFAULT), not a wild pointer.
  fault_page_ = mmap(nullptr, kControlBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fault_page_ == MAP_FAILED) throw std::bad_alloc();
}

Graph::~Graph() {
  if (shared_) {
    shared_->~Shared();
    munmap(shared_, shared_size_);
  }
  if (fault_page_) munmap(fault_page_, kControlBytes);
}

void Graph::Prepare(const Scenario& s, const RunOptions& opt) {
  s_ = &s;
  opt_ = opt;
  proc_actions_.assign(s.procs.size(), {});
  for (size_t i = 0; i < s.actions.size(); ++i)
    proc_actions_[s.actions[i].proc].push_back(static_cast<uint16_t>(i));
  ends_.assign(s.procs.size(), ProcOutcome{});
  identities_ = false;
  for (const Action& a : s.actions) identities_ |= !a.same.empty();
  Shared& sh = *shared_;
  sh.step.store(0);
  sh.epoch.store(0);
  sh.n_events.store(0);
  sh.kill_asks.store(0);
  sh.n_pcs.store(0);
  for (size_t p = 0; p < Bounds::kMaxProcs; ++p) {
    SharedProc& sp = sh.procs[p];
    sp.go.store(p == 0 ? 0 : kNoStep);
    sp.state.store(kProcNone);
    sp.pid.store(0);
    sp.current.store(-1);
    sp.barriers.store(0);
    sp.uid.store(0);
    sp.gid.store(0);
  }
  for (size_t i = 0; i < s.actions.size(); ++i) {
    SharedAction& a = sh.actions[i];
    a.status.store(static_cast<uint8_t>(ActionStatus::kNotRun));
    a.err = a.ret = 0;
    a.fds = 0;
    a.msg_flags = 0;
    a.installed = -1;
    a.creds = 0;
    a.cred_pid = 0;
    a.cred_uid = a.cred_gid = 0;
    a.tagged = 0;
    for (uint64_t& w : a.tickets) w = 0;
  }
  send_tickets_ = SendTickets(s);
}

Result<pid_t> Graph::Start(const GraphPlace& place) {
  pid_t pid = fork();
  if (pid < 0) return Errno("fork(graph root)");
  if (pid > 0) {
    shared_->procs[0].pid.store(pid);
    uint32_t expected = kProcNone;
    shared_->procs[0].state.compare_exchange_strong(expected, kProcRunning);
    return pid;
  }
  // The root of the graph: enter the slot, drop every descriptor of the sandbox.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (place.netns_fd >= 0 && setns(place.netns_fd, CLONE_NEWNET) != 0) _exit(kSetupFailedStatus);
  if (place.dir_fd >= 0 && fchdir(place.dir_fd) != 0) _exit(kSetupFailedStatus);
  if (place.uid != 0 && !BecomeUidKeepingCaps(place.uid, place.uid)) _exit(kSetupFailedStatus);
  // Keep only the witnesses, at fixed high numbers; drop every other sandbox descriptor.
  if (place.witness_fd >= 0 && dup2(place.witness_fd, kWitnessFd) != kWitnessFd)
    _exit(kSetupFailedStatus);
  if (place.probe_fd >= 0 && dup2(place.probe_fd, kProbeFd) != kProbeFd) _exit(kSetupFailedStatus);
  if (dup2(asks_.Get(), kAsksFd) != kAsksFd) _exit(kSetupFailedStatus);
  static_assert(kProbeFd == kWitnessFd + 1 && kAsksFd == kProbeFd + 1);
  if (syscall(SYS_close_range, 0u, static_cast<unsigned>(kWitnessFd - 1), 0u) != 0 ||
      syscall(SYS_close_range, static_cast<unsigned>(kAsksFd + 1), ~0u, 0u) != 0) {
    for (int f = 0; f < 65536; ++f)
      if (f != kWitnessFd && f != kProbeFd && f != kAsksFd) close(f);
  }
  GraphProcess gp(*this, shared_, *s_, opt_.mode == RunMode::kLockstep);
  gp.Main(0);
}

bool Graph::OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why) {
  for (size_t p = 0; p < s_->procs.size(); ++p) {
    SharedProc& sp = shared_->procs[p];
    if (sp.pid.load() != pid) continue;
    ProcOutcome& e = ends_[p];
    e.wait_status = status;
    e.action = sp.current.load();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      e.end = ProcEnd::kExited;
      return true;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      if (sp.state.load() == kProcKilled) {
        e.end = ProcEnd::kKilledByScenario;
        return true;
      }
      if (watchdog_fired) {
        e.end = ProcEnd::kKilledByWatchdog;
        return true;
      }
    }
    e.end = ProcEnd::kDiedUnexpectedly;
    std::string how;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kSetupFailedStatus)
      how = "could not enter its slot (setns or fchdir failed)";
    else if (WIFEXITED(status))
      how = fmt::format("exited with status {}", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
      how = fmt::format("died by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
      how = fmt::format("ended with wait status {:#x}", status);
    std::string where =
        e.action >= 0 ? fmt::format(" during action {} ({})", e.action,
                                    PrintAction(*s_, s_->actions[static_cast<size_t>(e.action)]))
                      : std::string();
    *why = fmt::format("graph process '{}' {}{}", s_->procs[p], how, where);
    return false;
  }
  *why = fmt::format("reaped an unknown process {} (status {:#x})", pid, status);
  return false;
}

void Graph::ServeAsks() {
  uint64_t n = 0;
  while (::read(asks_.Get(), &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
  }
  uint32_t asks = shared_->kill_asks.exchange(0);
  for (size_t p = 0; asks != 0 && p < s_->procs.size(); ++p, asks >>= 1) {
    if (!(asks & 1u)) continue;
    const SharedProc& sp = shared_->procs[p];
    const pid_t pid = sp.pid.load();
    // Still ours to kill: marked killed by its killer, and not reaped (its pid is not
    // free for another process yet).
    if (pid > 1 && sp.state.load() == kProcKilled && ends_[p].end == ProcEnd::kNeverStarted)
      ::kill(pid, SIGKILL);
  }
}

std::string Graph::DescribeAlive() const {
  std::string out;
  for (size_t p = 0; p < s_->procs.size(); ++p) {
    const SharedProc& sp = shared_->procs[p];
    if (sp.pid.load() <= 0 || ends_[p].end != ProcEnd::kNeverStarted) continue;
    const int cur = sp.current.load();
    if (!out.empty()) out += "; ";
    if (cur >= 0) {
      out += fmt::format("{} in action {} ({})", s_->procs[p], cur,
                         PrintAction(*s_, s_->actions[static_cast<size_t>(cur)]));
    } else {
      out += fmt::format("{} between actions", s_->procs[p]);
    }
  }
  return out;
}

void Graph::Collect(RunResult& out) const {
  const Shared& sh = *shared_;
  out.actions.resize(s_->actions.size());
  out.tickets.clear();
  for (size_t i = 0; i < s_->actions.size(); ++i) {
    const SharedAction& a = sh.actions[i];
    ActionOutcome& o = out.actions[i];
    o.status = static_cast<ActionStatus>(a.status.load(std::memory_order_acquire));
    o.err = a.err;
    o.ret = a.ret;
    o.fds = a.fds;
    o.msg_flags = a.msg_flags;
    o.installed = a.installed;
    o.creds = a.creds;
    o.cred_pid = a.cred_pid;
    o.cred_uid = a.cred_uid;
    o.cred_gid = a.cred_gid;
    if (a.tagged) {
      RecvTickets rt;
      rt.action = static_cast<uint16_t>(i);
      for (size_t w = 0; w < rt.tickets.size(); ++w) rt.tickets[w] = a.tickets[w];
      out.tickets.push_back(rt);
    }
  }
  out.procs = ends_;
  for (size_t p = 0; p < out.procs.size() && p < Bounds::kMaxProcs; ++p) {
    out.procs[p].pid = sh.procs[p].pid.load();
    out.procs[p].uid = sh.procs[p].uid.load();
    out.procs[p].gid = sh.procs[p].gid.load();
  }
  const uint32_t n = sh.n_events.load();
  out.events_truncated = n > kMaxEvents;
  out.events.assign(sh.events, sh.events + std::min<size_t>(n, kMaxEvents));
  const uint32_t pcs = sh.n_pcs.load();
  out.kernel_pcs.assign(sh.pcs, sh.pcs + std::min<size_t>(pcs, kMaxKernelPcs));
}

}  // namespace inflight
