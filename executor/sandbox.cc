// The fork server: namespaces, slots, the request loop, the reaper and the watchdog.
#include "executor/sandbox.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <variant>

#include "base/clock.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "executor/stress_run.h"
#include "probe/accounting.h"
#include "scenario/text.h"

namespace inflight {

namespace {

constexpr const char* kSlotRoot = "/tmp";
constexpr int64_t kKillGraceUs = 10'000'000;
// At the end, how long the driver gets to read the last results (it reads all the time;
// a driver that does not is stuck, and will kill us anyway).
constexpr int64_t kLastWordsUs = 60'000'000;

// The reaper's view of a scenario graph.
class GraphReap : public Reapable {
 public:
  explicit GraphReap(Graph& g) : g_(g) {}
  bool OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why) override {
    return g_.OnReaped(pid, status, watchdog_fired, why);
  }
  std::string DescribeAlive() const override { return g_.DescribeAlive(); }
  int AsksFd() const override { return g_.AsksFd(); }
  void ServeAsks() override { g_.ServeAsks(); }

 private:
  Graph& g_;
};

Status WriteFile(const char* path, const std::string& text) {
  UniqueFd f(::open(path, O_WRONLY | O_CLOEXEC));
  if (!f) return Errno(fmt::format("open({})", path));
  if (::write(f.Get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return Errno(fmt::format("write({})", path));
  return {};
}

Status EnterUserNamespace() {
  const uid_t uid = getuid();
  const gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER) != 0)
    return Errno("unshare(CLONE_NEWUSER): not root, and unprivileged user namespaces are off");
  if (auto s = WriteFile("/proc/self/setgroups", "deny"); !s && s.error().err != ENOENT) return s;
  if (auto s = WriteFile("/proc/self/uid_map", fmt::format("0 {} 1", uid)); !s) return s;
  if (auto s = WriteFile("/proc/self/gid_map", fmt::format("0 {} 1", gid)); !s) return s;
  return {};
}

}  // namespace

Status EnterSandboxNamespaces(const SandboxOptions& /*opt*/, bool& user_namespace) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  user_namespace = false;
  if (geteuid() != 0) {
    if (auto s = EnterUserNamespace(); !s) return s;
    user_namespace = true;
  }
  if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) != 0)
    return Errno("unshare(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET)");
  int life[2];
  if (pipe2(life, O_CLOEXEC) != 0) return Errno("pipe2(lifeline)");
  pid_t pid = fork();
  if (pid < 0) return Errno("fork(sandbox init)");
  if (pid > 0) {
    // Outside: hand the channel to the sandbox, then wait and pass its status on.
    close(life[0]);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      close(null);
    } else {
      close(STDIN_FILENO);
      close(STDOUT_FILENO);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
  // Inside: pid 1 of the new PID namespace. Die with the process outside.
  close(life[1]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd lp{life[0], POLLIN, 0};
  if (poll(&lp, 1, 0) > 0) _exit(kExitEnvironment);  // it is already gone
  close(life[0]);
  return MountSandboxFilesystems();
}

Status MountSandboxFilesystems() {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return Errno("mount(/, MS_REC|MS_PRIVATE)");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return Errno("mount(proc, /proc)");
  mkdir(kSlotRoot, 0700);
  if (mount("inflight", kSlotRoot, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=1m,mode=0700") != 0)
    return Errno(fmt::format("mount(tmpfs, {})", kSlotRoot));
  return {};
}

Result<std::unique_ptr<Sandbox>> Sandbox::Create(const SandboxOptions& opt) {
  std::unique_ptr<Sandbox> sb(new Sandbox(opt));
  sb->home_netns_.Reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!sb->home_netns_) return Errno("open(/proc/self/ns/net)");
  // The soft limit only: stressors raise theirs up to the hard one (a uid's in-flight
  // limit is its RLIMIT_NOFILE), which cannot be raised again once lowered.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = std::min<rlim_t>(opt.nofile, nofile.rlim_max);
  setrlimit(RLIMIT_NOFILE, &nofile);
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  rlimit fsize{64u << 20, 64u << 20};
  setrlimit(RLIMIT_FSIZE, &fsize);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sb->sigchld_.Reset(signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sb->sigchld_) return Errno("signalfd(SIGCHLD)");
  sb->graph_ = std::make_unique<Graph>();
  sb->accounting_ = opt.accounting && geteuid() == 0;
  if (!opt.accounting)
    sb->accounting_why_ = "turned off";
  else if (geteuid() != 0)
    sb->accounting_why_ = "needs root (per-slot uids)";
  if (auto k = KernelLog::Open())
    sb->kmsg_ = std::make_unique<KernelLog>(std::move(*k));
  else
    sb->kmsg_why_ = k.error().Text();
  if (opt.slots == 0 || opt.slots > 256) return SysError{EINVAL, "slots must be 1..256"};
  auto clock = CollectorClock::Create();
  if (!clock) return clock.error();
  sb->clock_ = std::make_unique<CollectorClock>(std::move(*clock));
  for (uint32_t k = 0; k < opt.slots; ++k) {
    auto slot = std::make_unique<Slot>();
    slot->index = static_cast<int>(k);
    if (auto s = sb->MakeSlot(*slot); !s) return s.error();
    sb->slots_.push_back(std::move(slot));
  }
  return sb;
}

Sandbox::~Sandbox() = default;

Status Sandbox::MakeSlot(Slot& slot) {
  slot.dir_path = fmt::format("{}/slot{}", kSlotRoot, slot.index);
  mkdir(slot.dir_path.c_str(), 0700);
  if (mount("inflight-slot", slot.dir_path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=8m,nr_inodes=4096,mode=0700") != 0)
    return Errno(fmt::format("mount(tmpfs, {})", slot.dir_path));
  slot.dir.Reset(::open(slot.dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!slot.dir) return Errno(fmt::format("open({})", slot.dir_path));
  struct stat dst {};
  if (fstat(slot.dir.Get(), &dst) != 0) return Errno("fstat(slot tmpfs)");
  slot.dev = dst.st_dev;
  auto used = UsedInodes(slot.dir.Get());
  if (!used) return used.error();
  slot.inodes_baseline = *used;
  if (unshare(CLONE_NEWNET) != 0) return Errno("unshare(CLONE_NEWNET) for a slot");
  // From here on we are inside the slot's namespace; always go home before returning.
  auto result = [&]() -> Status {
    slot.netns.Reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!slot.netns) return Errno("open(/proc/self/ns/net) for a slot");
    // The slot's own uid: derived from its namespace's inode, which no other live
    // namespace (of any sandbox on this host) shares; a retired slot's successor gets a
    // new namespace and so a fresh uid.
    struct stat nst {};
    if (fstat(slot.netns.Get(), &nst) != 0) return Errno("fstat(slot netns)");
    slot.uid = accounting_ ? 0x20000000u | static_cast<uint32_t>(nst.st_ino & 0x0fffffffu) : 0;
    slot.runs_since_check = 0;
    auto census = CensusSource::Open(opt_.use_sock_diag);
    if (!census) return census.error();
    slot.census = std::make_unique<CensusSource>(std::move(*census));
    if (!opt_.hold_addr.empty()) {
      slot.holder.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!slot.holder) return Errno("socket(holder)");
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      memcpy(sun.sun_path + 1, opt_.hold_addr.data(), opt_.hold_addr.size());
      socklen_t len =
          static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + opt_.hold_addr.size());
      if (bind(slot.holder.Get(), reinterpret_cast<sockaddr*>(&sun), len) != 0)
        return Errno("bind(holder)");
      if (listen(slot.holder.Get(), 128) != 0) return Errno("listen(holder)");
    }
    auto base = slot.census->Take();
    if (!base) return base.error();
    slot.baseline = std::move(*base);
    return {};
  }();
  if (result && slot.uid) {
    auto a = MeasureInflightAllowance(slot.uid, slot.uid);
    if (a) {
      slot.allowance_baseline = *a;
      auto a2 = MeasureInflightAllowance(SecondUidOf(slot.uid), SecondUidOf(slot.uid));
      slot.uid2 = a2 ? SecondUidOf(slot.uid) : 0;
      slot.allowance_baseline2 = a2 ? *a2 : 0;
    } else {
      accounting_ = false;
      accounting_why_ = a.error().Text();
      slot.uid = 0;
    }
  }
  if (setns(home_netns_.Get(), CLONE_NEWNET) != 0) {
    // Without our home namespace we cannot tell slots apart any more.
    LogError("setns(home): {}", strerror(errno));
    _exit(kExitInternal);
  }
  slot.state = Slot::State::kFree;
  return result;
}

void Sandbox::RetireSlot(Slot& slot) {
  // Closing the holder releases what it kept in flight; a real leak stays with the old
  // namespace, which only the leaked objects keep alive.
  slot.holder.Reset();
  slot.census.reset();
  slot.netns.Reset();
  slot.dir.Reset();
  umount2(slot.dir_path.c_str(), MNT_DETACH);
  if (auto s = MakeSlot(slot); !s) {
    LogError("cannot recreate slot {}: {}", slot.index, s.error().Text());
    fatal_ = true;
  }
}

Hello Sandbox::Describe(bool user_namespace) const {
  Hello h;
  h.ok = true;
  h.census_method = CensusMethodName(slots_.front()->census->method());
  h.protocols_check = slots_.front()->census->has_protocols();
  h.user_namespace = user_namespace;
  h.slots = static_cast<uint32_t>(slots_.size());
  h.kernel_log = kmsg_ != nullptr;
  h.kernel_log_why = kmsg_why_;
  h.accounting = accounting_;
  h.accounting_why = accounting_why_;
  utsname u{};
  if (uname(&u) == 0) h.kernel = u.release;
  return h;
}

Sandbox::Slot* Sandbox::FreeSlot() {
  for (auto& s : slots_)
    if (s->state == Slot::State::kFree && s->census) return s.get();
  return nullptr;
}

void Sandbox::Emit(const RunResult& r) {
  Send(MsgType::kResult, EncodeRunResult(r));
}

void Sandbox::Send(MsgType type, const std::string& payload) {
  out_.Append(EncodeFrame(type, payload));
  FlushOutput();
  if (out_.size() > opt_.max_outbound_bytes) {
    LogError(
        "the driver has not read {} bytes of results (more than the limit of {}): it is "
        "stuck; giving up",
        out_.size(), opt_.max_outbound_bytes);
    _exit(kExitInternal);  // pid 1: the kernel kills every graph process with us
  }
}

void Sandbox::FlushOutput() {
  if (!out_.Flush(out_fd_)) {
    _exit(kExitInternal);  // the driver is gone; the kernel cleans up our namespaces
  }
}

void Sandbox::ReadInput() {
  char buf[65536];
  while (!in_eof_) {
    const ssize_t n = ::read(in_fd_, buf, sizeof buf);
    if (n > 0) {
      reader_.Feed(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      in_eof_ = true;  // the driver closed our input (or it broke): finish and exit
    }
  }
}

void Sandbox::Wait(int64_t until_us, bool child, int asks_fd) {
  pollfd fds[4];
  nfds_t n = 0;
  int in = -1, out = -1, chld = -1;
  if (!in_eof_) {
    in = static_cast<int>(n);
    fds[n++] = {in_fd_, POLLIN, 0};
  }
  if (!out_.empty()) {
    out = static_cast<int>(n);
    fds[n++] = {out_fd_, POLLOUT, 0};
  }
  if (child) {
    chld = static_cast<int>(n);
    fds[n++] = {sigchld_.Get(), POLLIN, 0};
  }
  if (asks_fd >= 0) fds[n++] = {asks_fd, POLLIN, 0};  // served by the caller
  timespec ts{}, *tsp = nullptr;
  if (until_us != INT64_MAX) {
    const int64_t wait = std::max<int64_t>(0, until_us - NowMicros());
    ts.tv_sec = static_cast<time_t>(wait / 1000000);
    ts.tv_nsec = static_cast<long>((wait % 1000000) * 1000);
    tsp = &ts;
  }
  if (ppoll(fds, n, tsp, nullptr) <= 0) return;
  if (in >= 0 && fds[in].revents) ReadInput();
  if (out >= 0 && fds[out].revents) FlushOutput();
  if (chld >= 0 && fds[chld].revents) {
    signalfd_siginfo si;  // drained; the caller reaps with waitpid
    while (::read(sigchld_.Get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    }
  }
}

int Sandbox::ExitWith(int status) {
  const int64_t end = NowMicros() + kLastWordsUs;
  while (!out_.empty() && NowMicros() < end) {
    pollfd p{out_fd_, POLLOUT, 0};
    poll(&p, 1, 100);
    FlushOutput();
  }
  return status;
}

bool Sandbox::Reap(Reapable& workload, int64_t deadline, RunResult& res) {
  bool watchdog = false, aborted = false;
  int64_t kill_deadline = 0;
  for (;;) {
    // What the workload's processes asked for first (a kill on behalf of a process without
    // the privilege for it): the one asking waits on it.
    if (!watchdog && !aborted) workload.ServeAsks();
    int st = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
      std::string why;
      if (!workload.OnReaped(pid, st, watchdog, &why) && !aborted && !watchdog) {
        aborted = true;
        res.status = RunStatus::kExecutorError;
        res.error = why;
        kill(-1, SIGKILL);  // pid 1 of the namespace: every graph process
        kill_deadline = NowMicros() + kKillGraceUs;
      }
    }
    if (pid < 0 && errno == ECHILD) return true;
    const int64_t now = NowMicros();
    if (!watchdog && !aborted && now >= deadline) {
      watchdog = true;
      res.status = RunStatus::kHang;
      res.error =
          fmt::format("watchdog: the graph did not finish in time; {}", workload.DescribeAlive());
      kill(-1, SIGKILL);
      kill_deadline = now + kKillGraceUs;
    }
    if ((watchdog || aborted) && now >= kill_deadline) {
      res.error += "; graph processes did not die after SIGKILL (stuck in the kernel)";
      return false;
    }
    // Other slots keep settling while this graph runs, and the driver's requests and
    // our results keep flowing.
    ServiceSettling(now);
    const int64_t until = std::min(watchdog || aborted ? kill_deadline : deadline, NextDue());
    Wait(std::max(until, NowMicros() + 1), /*child=*/true, workload.AsksFd());
  }
}

bool Sandbox::RunOne(const RunRequest& req, Slot& slot) {
  RunResult res;
  res.id = req.id;
  res.slot = slot.index;
  res.baseline = slot.baseline;
  Scenario s;
  try {
    s = ParseScenario(req.scenario_text, "<request>");
  } catch (const ParseError& e) {
    res.status = RunStatus::kSetupError;
    res.error = e.what();
    Emit(res);
    return true;
  }
  // The paths the last run left linked (it ended clean: a dirty slot is made anew), so
  // that this one's bind ./NAME finds its name free.
  if (auto st = ClearDirectory(slot.dir.Get()); !st) {
    res.status = RunStatus::kSetupError;
    res.error = st.error().Text();
    Emit(res);
    return true;
  }
  auto witness = ObjectWitness::Create();
  if (!witness) {
    res.status = RunStatus::kSetupError;
    res.error = witness.error().Text();
    Emit(res);
    return true;
  }
  slot.witness = std::make_unique<ObjectWitness>(std::move(*witness));
  graph_->Prepare(s, req.opt);
  const int64_t t0 = NowMicros();
  auto pid = graph_->Start(GraphPlace{slot.netns.Get(), slot.dir.Get(), slot.witness->epoll_fd(),
                                      slot.witness->graph_probe_fd(), slot.uid});
  res.uid = slot.uid;
  slot.witness->CloseGraphEnd();
  if (!pid) {
    res.status = RunStatus::kSetupError;
    res.error = pid.error().Text();
    Emit(res);
    return true;
  }
  GraphReap reap(*graph_);
  const bool can_continue = Reap(reap, t0 + static_cast<int64_t>(req.opt.timeout_ms) * 1000, res);
  const int64_t t1 = NowMicros();
  res.exec_us = t1 - t0;
  graph_->Collect(res);
  if (req.opt.kcov) {
    // The coverage now, the verdict after settling: the driver can go on with its next
    // input while this one settles and still credit the PCs to the input that made them.
    Send(MsgType::kCoverage, EncodeRunCoverage({res.id, std::move(res.kernel_pcs)}));
    res.kernel_pcs.clear();
  }
  if (kmsg_) res.kernel_log = kmsg_->TakeNew();
  if (!can_continue) {
    Emit(res);
    return false;
  }
  if (auto st = slot.witness->CollectProbes(); !st) LogWarn("probes: {}", st.error().Text());
  return CheckOrSettle(slot, std::move(res), t1, req.opt.settle_ms);
}

bool Sandbox::CheckOrSettle(Slot& slot, RunResult res, int64_t t1, uint32_t settle_ms) {
  Census census;
  auto clean = CheckSlot(slot, census, res);
  if (!clean) {
    res.status = RunStatus::kSetupError;
    res.error = "census: " + clean.error().Text();
    Emit(res);
    RetireSlot(slot);
    return !fatal_;
  }
  if (*clean) {
    res.settle = SettleResult::kCleanAtOnce;
    res.census = std::move(census);
    slot.witness.reset();
    if (res.stress.stressor.empty()) MaybeCheckAccounting(slot, res, false);
    Emit(res);
    return true;
  }
  SettleOptions so;
  so.ceiling_us = std::max<int64_t>(static_cast<int64_t>(settle_ms) * 1000, 1000);
  so.known_stalled = opt_.collector_stalled;
  slot.settler = Settler(so);
  slot.pending = std::move(res);
  slot.state = Slot::State::kSettling;
  const int64_t now = NowMicros();
  slot.settler.Start(now, t1);
  clock_->Need(slot.settler.NeedWitnessSince(), now);
  return true;
}

Result<bool> Sandbox::CheckSlot(Slot& slot, Census& census, RunResult& res, bool settling) {
  // The table first: while it differs, the protocol counts (twice its cost) cannot
  // make the slot clean, so they are read only to confirm a clean table.
  auto table = slot.census->Take(/*with_protocols=*/false);
  if (!table) return table.error();
  census = std::move(*table);
  bool clean = DiffCensus(slot.baseline, census).Empty();
  if (clean || settling) {
    if (auto s = slot.census->AddProtocols(census); !s) return s.error();
    clean = DiffCensus(slot.baseline, census).Empty();
  }
  // Then every object the scenario created, through its witness.
  if (slot.witness) {
    auto alive = slot.witness->Alive();
    if (!alive) return alive.error();
    res.alive_objects = std::move(*alive);
    clean = clean && res.alive_objects.empty();
  }
  auto used = UsedInodes(slot.dir.Get());
  if (!used) return used.error();
  const int64_t ours = slot.witness ? static_cast<int64_t>(slot.witness->ProbesOn(slot.dev)) : 0;
  // Paths still linked (bind ./NAME) hold an inode each, expected whatever their socket
  // did; an unlinked path's inode stays in use only while its socket lives.
  auto linked = LinkedEntries(slot.dir.Get());
  if (!linked) return linked.error();
  res.tmpfs_inodes_excess = *used - slot.inodes_baseline - ours - *linked;
  return clean && res.tmpfs_inodes_excess <= 0;
}

void Sandbox::Finish(Slot& slot, SettleResult settle, Census census, int64_t now) {
  RunResult& r = slot.pending;
  if (kmsg_) {  // the collector runs after the graph: its complaints come while settling
    auto more = kmsg_->TakeNew();
    r.kernel_log.insert(r.kernel_log.end(), more.begin(), more.end());
  }
  r.settle = settle;
  r.census = std::move(census);
  r.settle_us = now - slot.settler.started_at();
  r.settle_polls = slot.settler.polls();
  r.settle_passes = slot.settler.rounds();
  r.settle_why = slot.settler.Why();
  slot.witness.reset();  // our probes go before the accounting is measured
  if (settle == SettleResult::kCleanSettled && r.stress.stressor.empty())
    MaybeCheckAccounting(slot, r, false);
  if ((settle == SettleResult::kDirty || settle == SettleResult::kUnsettled) &&
      !r.stress.stressor.empty() && slot.stress)
    NameStressLeftovers(*slot.stress->shared(), r.baseline, r.census, r.stress);
  Emit(r);
  slot.pending = RunResult{};
  slot.witness.reset();
  slot.state = Slot::State::kFree;
}

namespace {

SettleFingerprint Fingerprint(const Census& c, const RunResult& r) {
  SettleFingerprint f;
  f.sockets = static_cast<int64_t>(c.sockets.size());
  for (const SocketInfo& so : c.sockets) {
    f.queued += so.rqueue;
    f.embryos += static_cast<int64_t>(so.embryos.size());
  }
  f.embryos += c.anonymous;
  f.proto_inuse = c.proto_inuse;
  f.objects = static_cast<int64_t>(r.alive_objects.size());
  f.tmpfs = r.tmpfs_inodes_excess;
  return f;
}

}  // namespace

void Sandbox::ServiceSettling(int64_t now) {
  bool polled = false;
  for (auto& sp : slots_) {
    Slot& slot = *sp;
    if (slot.state != Slot::State::kSettling || now < slot.settler.NextPollAt()) continue;
    if (!polled) {  // the witnesses first, so that a census follows the passes it counts
      if (auto st = clock_->Poll(NowMicros()); !st)
        LogWarn("collector witnesses: {}", st.error().Text());
      polled = true;
    }
    Census census;
    auto clean = CheckSlot(slot, census, slot.pending, /*settling=*/true);
    if (!clean) {
      slot.pending.status = RunStatus::kSetupError;
      slot.pending.error = "census while settling: " + clean.error().Text();
      Finish(slot, SettleResult::kNotChecked, Census{}, now);
      RetireSlot(slot);
      continue;
    }
    const int64_t at = NowMicros();
    switch (slot.settler.OnCensus(*clean, Fingerprint(census, slot.pending), at, clock_->log())) {
      case Settler::Outcome::kPending:
        clock_->Need(slot.settler.NeedWitnessSince(), at);
        break;
      case Settler::Outcome::kClean:
        Finish(slot, SettleResult::kCleanSettled, std::move(census), NowMicros());
        break;
      case Settler::Outcome::kLeak:
        slot.pending.settle_stalled = slot.settler.stalled();
        Finish(slot, SettleResult::kDirty, std::move(census), NowMicros());
        RetireSlot(slot);
        break;
      case Settler::Outcome::kUnsettled:
        // Not a finding, but the slot is not back to its baseline: a fresh one serves
        // the next run.
        Finish(slot, SettleResult::kUnsettled, std::move(census), NowMicros());
        RetireSlot(slot);
        break;
    }
  }
}

void Sandbox::MaybeCheckAccounting(Slot& slot, RunResult& res, bool force) {
  if (!accounting_ || !slot.uid) return;
  ++slot.runs_since_check;
  if (!force && slot.runs_since_check < opt_.accounting_every) return;
  auto a = MeasureInflightAllowance(slot.uid, slot.uid);
  if (!a) {
    LogWarn("accounting of uid {:#x}: {}", slot.uid, a.error().Text());
    return;
  }
  res.accounting_deficit = slot.allowance_baseline - *a;
  if (slot.uid2) {
    auto a2 = MeasureInflightAllowance(slot.uid2, slot.uid2);
    if (a2 && slot.allowance_baseline2 - *a2 > res.accounting_deficit) {
      res.accounting_deficit = slot.allowance_baseline2 - *a2;
      res.uid = slot.uid2;  // the ruling names the uid that is short
    }
  }
  slot.runs_since_check = 0;
}

int64_t Sandbox::NextDue() const {
  int64_t due = INT64_MAX;
  for (const auto& s : slots_)
    if (s->state == Slot::State::kSettling) due = std::min(due, s->settler.NextPollAt());
  return due;
}

int Sandbox::Serve(int in_fd, int out_fd) {
  in_fd_ = in_fd;
  out_fd_ = out_fd;
  in_eof_ = false;
  fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
  std::deque<std::variant<RunRequest, StressRequest>> queue;
  // Whole requests read so far (also while graphs ran) into the queue; false on garbage.
  auto take_requests = [&]() -> bool {
    while (auto frame = reader_.Next()) {
      if (frame->first == MsgType::kStress) {
        StressRequest req;
        if (!DecodeStressRequest(frame->second, req)) {
          LogError("malformed stress request from the driver");
          return false;
        }
        queue.push_back(std::move(req));
        continue;
      }
      RunRequest req;
      if (frame->first != MsgType::kRun || !DecodeRunRequest(frame->second, req)) {
        LogError("malformed request from the driver");
        return false;
      }
      queue.push_back(std::move(req));
    }
    if (reader_.error()) {
      LogError("malformed frame from the driver");
      return false;
    }
    return true;
  };
  for (;;) {
    ReadInput();
    if (!take_requests()) return ExitWith(kExitInternal);
    ServiceSettling(NowMicros());
    while (!queue.empty()) {
      Slot* slot = FreeSlot();
      if (!slot) break;
      const bool go_on = std::holds_alternative<RunRequest>(queue.front())
                             ? RunOne(std::get<RunRequest>(queue.front()), *slot)
                             : RunStress(std::get<StressRequest>(queue.front()), *slot);
      if (!go_on) return ExitWith(kExitInternal);
      queue.pop_front();
      ServiceSettling(NowMicros());
      // What came in while it ran, so that nothing read waits for more input below.
      if (!take_requests()) return ExitWith(kExitInternal);
    }
    if (fatal_) return ExitWith(kExitInternal);
    const int64_t due = NextDue();
    if (in_eof_ && queue.empty() && due == INT64_MAX) {
      // The last word: the accounting of every slot that ran since its last check.
      std::vector<SlotAccounting> summary;
      for (auto& sp : slots_) {
        Slot& slot = *sp;
        if (!accounting_ || !slot.uid || slot.runs_since_check == 0) continue;
        auto a = MeasureInflightAllowance(slot.uid, slot.uid);
        if (!a) continue;
        summary.push_back({slot.uid, slot.runs_since_check, slot.allowance_baseline, *a});
        if (!slot.uid2) continue;
        auto a2 = MeasureInflightAllowance(slot.uid2, slot.uid2);
        if (a2) summary.push_back({slot.uid2, slot.runs_since_check, slot.allowance_baseline2, *a2});
      }
      Send(MsgType::kSummary, EncodeSummary(summary));
      return ExitWith(kExitClean);
    }
    if (due != INT64_MAX && due <= NowMicros()) continue;
    Wait(due, /*child=*/false);
  }
}

}  // namespace inflight
