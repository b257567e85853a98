// SandboxPool: Boost.Process launch, the request window, failure handling.
#include "driver/sandbox_pool.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <map>

#include "base/clock.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/out_buffer.h"
#include "base/unique_fd.h"

namespace bp = boost::process;

namespace inflight {

struct SandboxPool::Sandbox {
  int index = 0;
  bp::child child;
  UniqueFd to;    // its stdin (non-blocking)
  UniqueFd from;  // its stdout (non-blocking)
  OutBuffer out;  // requests queued for its stdin, written as the pipe takes them
  FrameReader reader;
  uint64_t generation = 0;  // launches: tells a restarted sandbox from the one polled
  bool hello_seen = false;
  bool alive = false;
  std::map<uint64_t, SandboxPool::Queued> outstanding;  // sent, not answered
  std::map<uint64_t, int> retries;
  int64_t last_progress = 0;
  int restarts = 0;
};

constexpr int kMaxRestarts = 5;

namespace {

// Boost.Process 1.74's terminate() only polls once with WNOHANG and then believes the
// child gone, leaving a zombie (or a live process) behind; kill and reap it ourselves.
// Returns the exit status as waitpid(2) gives it, or -1.
int KillAndReap(bp::child& child) {
  if (!child.valid()) return -1;
  const pid_t pid = child.id();
  child.detach();
  if (pid <= 0) return -1;
  kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return st;
}

}  // namespace

namespace {
std::atomic<bool> collector_stalled{false};
}  // namespace

bool CollectorSeenStalled() {
  return collector_stalled.load();
}

std::string DefaultSandboxPath() {
  if (const char* env = getenv("INFLIGHT_SANDBOX"); env && *env) return env;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "inflight-sandbox";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "inflight-sandbox";
}

SandboxPool::SandboxPool(PoolOptions opt) : opt_(std::move(opt)) {
  if (opt_.sandbox_path.empty()) opt_.sandbox_path = DefaultSandboxPath();
}

SandboxPool::~SandboxPool() {
  Stop();
}

void SandboxPool::Launch(Sandbox& sb) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw EnvironmentError(fmt::format("pipe2: {}", strerror(errno)));
  UniqueFd child_in(in[0]), child_out(out[1]);
  sb.to.Reset(in[1]);
  sb.from.Reset(out[0]);
  std::vector<std::string> args = {"--slots", std::to_string(opt_.slots)};
  if (!opt_.hold_addr.empty()) args.insert(args.end(), {"--hold", opt_.hold_addr});
  if (!opt_.use_sock_diag) args.push_back("--no-sock-diag");
  if (CollectorSeenStalled()) args.push_back("--collector-stalled");
  if (opt_.accounting_every == 0)
    args.push_back("--no-accounting");
  else
    args.insert(args.end(), {"--accounting-every", std::to_string(opt_.accounting_every)});
  if (access(opt_.sandbox_path.c_str(), X_OK) != 0)
    throw EnvironmentError(fmt::format("cannot run the sandbox '{}': {} (set INFLIGHT_SANDBOX?)",
                                       opt_.sandbox_path, strerror(errno)));
  const int parent = getpid();
  try {
    sb.child = bp::child(
        bp::exe = opt_.sandbox_path, bp::args = args,
        bp::posix::fd.bind(STDIN_FILENO, child_in.Get()),
        bp::posix::fd.bind(STDOUT_FILENO, child_out.Get()),
        bp::extend::on_exec_setup = [parent](auto&) {
          setpgid(0, 0);                     // Ctrl-C reaches the driver only
          prctl(PR_SET_PDEATHSIG, SIGKILL);  // and the sandbox dies with it
          if (getppid() != parent) _exit(kExitEnvironment);
        });
  } catch (const std::exception& e) {
    throw EnvironmentError(fmt::format("cannot start '{}': {}", opt_.sandbox_path, e.what()));
  }
  sb.alive = true;
  sb.hello_seen = false;
  sb.reader = FrameReader();
  sb.out.Clear();
  ++sb.generation;
  sb.last_progress = NowMicros();
  // Neither side ever blocks on the other: a full pipe leaves the rest in `out`.
  fcntl(sb.from.Get(), F_SETFL, fcntl(sb.from.Get(), F_GETFL) | O_NONBLOCK);
  fcntl(sb.to.Get(), F_SETFL, fcntl(sb.to.Get(), F_GETFL) | O_NONBLOCK);
}

bool SandboxPool::Start() {
  // A sandbox that dies must not take the driver with it: a write to its stdin then fails
  // with EPIPE (and its runs are retried) instead of raising SIGPIPE.
  struct sigaction pipe_action {};
  if (sigaction(SIGPIPE, nullptr, &pipe_action) == 0 && pipe_action.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  for (uint32_t j = 0; j < std::max<uint32_t>(1, opt_.jobs); ++j) {
    auto sb = std::make_unique<Sandbox>();
    sb->index = static_cast<int>(j);
    Launch(*sb);
    sandboxes_.push_back(std::move(sb));
  }
  // Wait for every hello: a sandbox that cannot start says why.
  const Deadline deadline(30'000'000);
  for (auto& sb : sandboxes_) {
    while (!sb->hello_seen) {
      if (Stopping()) return false;
      if (deadline.Passed()) throw EnvironmentError("the sandbox did not start within 30 s");
      pollfd p{sb->from.Get(), POLLIN, 0};
      poll(&p, 1, 100);
      char buf[4096];
      ssize_t n = read(sb->from.Get(), buf, sizeof buf);
      if (n == 0) {
        sb->child.wait();
        throw EnvironmentError(fmt::format("the sandbox exited before it was ready (status {})",
                                           sb->child.exit_code()));
      }
      if (n > 0) sb->reader.Feed(buf, static_cast<size_t>(n));
      if (auto f = sb->reader.Next()) {
        Hello h;
        if (f->first != MsgType::kHello || !DecodeHello(f->second, h))
          throw InternalError("the sandbox sent a malformed hello");
        if (!h.ok) throw EnvironmentError("cannot build the sandbox here: " + h.error);
        hello_ = h;
        sb->hello_seen = true;
      }
    }
  }
  return true;
}

uint64_t SandboxPool::Submit(RunRequest req) {
  req.id = ++last_id_;
  Enqueue({req.id, MsgType::kRun, EncodeRunRequest(req)},
          req.opt.timeout_ms + req.opt.settle_ms * 2);
  return req.id;
}

uint64_t SandboxPool::SubmitStress(StressRequest req) {
  req.id = ++last_id_;
  Enqueue({req.id, MsgType::kStress, EncodeStressRequest(req)},
          req.epoch_ms + req.timeout_ms + req.settle_ms * 2);
  return req.id;
}

void SandboxPool::Enqueue(Queued q, uint32_t budget_ms) {
  max_budget_ms_ = std::max(max_budget_ms_, budget_ms);
  queue_.push_back(std::move(q));
  ++pending_;
  Dispatch();
}

void SandboxPool::Dispatch() {
  // Each run goes to the least busy sandbox; each keeps its slots busy and one more
  // queued behind them.
  while (!queue_.empty()) {
    Sandbox* best = nullptr;
    for (auto& sb : sandboxes_) {
      if (!sb->alive || !sb->hello_seen || sb->outstanding.size() >= opt_.slots + 1) continue;
      if (!best || sb->outstanding.size() < best->outstanding.size()) best = sb.get();
    }
    if (!best) return;
    Queued req = std::move(queue_.front());
    queue_.pop_front();
    // Outstanding from here on: if the sandbox dies before it read all of it, the run is
    // retried like any other it did not answer.
    best->out.Append(EncodeFrame(req.type, req.payload));
    if (best->outstanding.empty()) best->last_progress = NowMicros();
    best->outstanding.emplace(req.id, std::move(req));
    Flush(*best);  // what the pipe takes now; Pump writes the rest when it has room
  }
}

bool SandboxPool::Flush(Sandbox& sb) {
  if (!sb.alive || sb.out.empty()) return sb.alive;
  if (auto s = sb.out.Flush(sb.to.Get()); !s) {
    // Its stdin is closed, so it has exited or is exiting: take the results it wrote
    // first, then count it dead.
    const uint64_t gen = sb.generation;
    Read(sb, NowMicros());
    if (sb.alive && sb.generation == gen) OnDeath(sb, "its stdin closed");
    return false;
  }
  return true;
}

void SandboxPool::OnDeath(Sandbox& sb, const std::string& why) {
  if (!sb.alive) return;
  sb.alive = false;
  const int st = KillAndReap(sb.child);
  const int status = st < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  sb.to.Reset();
  sb.from.Reset();
  sb.out.Clear();
  LogWarn("sandbox {} died ({}, status {}); {} unanswered run(s)", sb.index, why, status,
          sb.outstanding.size());
  // Runs it never answered: retry each once elsewhere, then report it as our error.
  for (auto& [id, req] : sb.outstanding) {
    if (sb.retries[id]++ == 0) {
      queue_.push_front(std::move(req));
    } else {
      RunResult r;
      r.id = id;
      r.status = RunStatus::kExecutorError;
      r.error = fmt::format("the sandbox died twice while this run was queued ({})", why);
      ready_.push_back(std::move(r));
    }
  }
  sb.outstanding.clear();
  if (++sb.restarts > kMaxRestarts) {
    LogError("sandbox {} died {} times; not restarting it", sb.index, sb.restarts - 1);
    return;
  }
  try {
    Launch(sb);
  } catch (const std::exception& e) {
    LogError("cannot restart sandbox {}: {}", sb.index, e.what());
  }
}

bool SandboxPool::Pump(int timeout_ms) {
  // One poll for every sandbox's results and, where requests wait, room in its stdin.
  struct Polled {
    Sandbox* sb;
    size_t in;
    size_t out;  // SIZE_MAX: nothing to write
  };
  std::vector<pollfd> fds;
  std::vector<Polled> polled;
  for (auto& sb : sandboxes_) {
    if (!sb->alive) continue;
    Polled p{sb.get(), fds.size(), SIZE_MAX};
    fds.push_back({sb->from.Get(), POLLIN, 0});
    if (!sb->out.empty()) {
      p.out = fds.size();
      fds.push_back({sb->to.Get(), POLLOUT, 0});
    }
    polled.push_back(p);
  }
  if (fds.empty()) {
    // No sandbox is left: fail what is queued rather than wait forever.
    while (!queue_.empty()) {
      RunResult r;
      r.id = queue_.front().id;
      r.status = RunStatus::kExecutorError;
      r.error = "no sandbox is running";
      ready_.push_back(std::move(r));
      queue_.pop_front();
    }
    return !ready_.empty();
  }
  const int n = poll(fds.data(), fds.size(), timeout_ms);
  if (n < 0 && errno != EINTR) throw InternalError(fmt::format("poll: {}", strerror(errno)));
  const int64_t now = NowMicros();
  for (const Polled& p : polled) {
    Sandbox& sb = *p.sb;
    const uint64_t gen = sb.generation;
    if (fds[p.in].revents == 0) {
      const int64_t budget = static_cast<int64_t>(max_budget_ms_ + opt_.stall_ms) * 1000;
      if (!sb.outstanding.empty() && now - sb.last_progress > budget) {
        OnDeath(sb, "it stopped answering");
        continue;
      }
    } else {
      Read(sb, now);  // results first: a sandbox that ended leaves them in the pipe
    }
    if (!sb.alive || sb.generation != gen) continue;
    if (p.out != SIZE_MAX && fds[p.out].revents != 0) Flush(sb);
  }
  Dispatch();
  return !ready_.empty();
}

void SandboxPool::Read(Sandbox& sb, int64_t now) {
  char buf[65536];
  for (;;) {
    ssize_t r = read(sb.from.Get(), buf, sizeof buf);
    if (r > 0) {
      sb.reader.Feed(buf, static_cast<size_t>(r));
      continue;
    }
    if (r == 0) {
      // Take whatever complete results it sent before it went.
      while (auto f = sb.reader.Next()) {
        RunResult res;
        if (f->first == MsgType::kResult && DecodeRunResult(f->second, res)) {
          sb.outstanding.erase(res.id);
          ready_.push_back(std::move(res));
        }
      }
      OnDeath(sb, "end of its output");
    }
    break;
  }
  if (!sb.alive) return;
  while (auto f = sb.reader.Next()) {
    if (f->first == MsgType::kHello) {  // a restarted sandbox says it is ready
      Hello h;
      if (DecodeHello(f->second, h) && h.ok) {
        sb.hello_seen = true;
        continue;
      }
      LogError("sandbox {} cannot restart: {}", sb.index, h.error);
      sb.restarts = kMaxRestarts;
      OnDeath(sb, "it could not start again");
      return;
    }
    if (f->first == MsgType::kCoverage) {
      RunCoverage c;
      if (!DecodeRunCoverage(f->second, c)) {
        OnDeath(sb, "it sent malformed coverage");
        return;
      }
      sb.last_progress = now;
      if (opt_.on_coverage) opt_.on_coverage(std::move(c));
      continue;
    }
    RunResult res;
    if (f->first != MsgType::kResult || !DecodeRunResult(f->second, res)) {
      OnDeath(sb, "it sent a malformed result");
      return;
    }
    sb.outstanding.erase(res.id);
    sb.last_progress = now;
    if (res.settle_stalled) collector_stalled = true;
    ready_.push_back(std::move(res));
  }
  if (sb.reader.error()) OnDeath(sb, "it sent a malformed frame");
}

size_t SandboxPool::Unwritten() const {
  size_t n = 0;
  for (const auto& sb : sandboxes_) n += sb->out.size();
  return n;
}

std::optional<RunResult> SandboxPool::Next(int timeout_ms, const std::function<bool()>& until) {
  const int64_t end = timeout_ms < 0 ? INT64_MAX : NowMicros() + int64_t{timeout_ms} * 1000;
  while (ready_.empty()) {
    if (pending_ == 0 || (until && until())) return std::nullopt;
    const int64_t left = end == INT64_MAX ? 1000 : (end - NowMicros()) / 1000;
    if (left < 0) return std::nullopt;
    Pump(static_cast<int>(std::min<int64_t>(left, 1000)));
    if (end != INT64_MAX && NowMicros() >= end && ready_.empty()) return std::nullopt;
  }
  RunResult r = std::move(ready_.front());
  ready_.pop_front();
  --pending_;
  return r;
}

void SandboxPool::Finish(int timeout_ms) {
  const int64_t end = NowMicros() + int64_t{timeout_ms} * 1000;
  // Requests still queued for a pipe go first (none, after a run that got every answer).
  auto unwritten = [this] {
    return std::any_of(sandboxes_.begin(), sandboxes_.end(),
                       [](const auto& sb) { return sb->alive && !sb->out.empty(); });
  };
  while (unwritten() && NowMicros() < end && !Stopping()) Pump(100);
  for (auto& sb : sandboxes_) {
    if (!sb->alive) continue;
    sb->to.Reset();  // end of input: the sandbox settles what is left, reports, exits
    char buf[65536];
    for (bool eof = false; !eof && NowMicros() < end && !Stopping();) {
      pollfd p{sb->from.Get(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::clamp<int64_t>((end - NowMicros()) / 1000, 1, 100)));
      for (;;) {
        ssize_t r = read(sb->from.Get(), buf, sizeof buf);
        if (r > 0) {
          sb->reader.Feed(buf, static_cast<size_t>(r));
          continue;
        }
        eof = r == 0;
        break;
      }
    }
    while (auto f = sb->reader.Next()) {
      if (f->first == MsgType::kSummary) {
        std::vector<SlotAccounting> slots;
        if (DecodeSummary(f->second, slots))
          accounting_.insert(accounting_.end(), slots.begin(), slots.end());
      }
    }
  }
  Stop();
}

void SandboxPool::Stop() {
  for (auto& sb : sandboxes_) {
    sb->alive = false;
    KillAndReap(sb->child);
    sb->to.Reset();
    sb->from.Reset();
  }
  sandboxes_.clear();
  queue_.clear();
  pending_ = 0;
}

}  // namespace inflight
