// SandboxPool: Boost.Process launch, the request window, failure handling.
#include "executor/client.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <map>

#include "base/clock.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace bp = boost::process;

namespace inflight {

struct SandboxPool::Sandbox {
  int index = 0;
  bp::child child;
  UniqueFd to;    // its stdin
  UniqueFd from;  // its stdout
  FrameReader reader;
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
  sb.last_progress = NowMicros();
  fcntl(sb.from.Get(), F_SETFL, fcntl(sb.from.Get(), F_GETFL) | O_NONBLOCK);
}

void SandboxPool::Start() {
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
}

void SandboxPool::Submit(RunRequest req) {
  Enqueue({req.id, MsgType::kRun, EncodeRunRequest(req)},
          req.opt.timeout_ms + req.opt.settle_ms * 2);
}

void SandboxPool::SubmitStress(const StressRequest& req) {
  Enqueue({req.id, MsgType::kStress, EncodeStressRequest(req)},
          req.epoch_ms + req.timeout_ms + req.settle_ms * 2);
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
    if (!WriteAll(best->to.Get(), EncodeFrame(req.type, req.payload))) {
      queue_.push_front(std::move(req));
      OnDeath(*best, "its stdin closed");
      continue;
    }
    if (best->outstanding.empty()) best->last_progress = NowMicros();
    best->outstanding.emplace(req.id, std::move(req));
  }
}

void SandboxPool::OnDeath(Sandbox& sb, const std::string& why) {
  if (!sb.alive) return;
  sb.alive = false;
  const int st = KillAndReap(sb.child);
  const int status = st < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  sb.to.Reset();
  sb.from.Reset();
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
  std::vector<pollfd> fds;
  std::vector<Sandbox*> owners;
  for (auto& sb : sandboxes_) {
    if (!sb->alive) continue;
    fds.push_back({sb->from.Get(), POLLIN, 0});
    owners.push_back(sb.get());
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
  for (size_t k = 0; k < fds.size(); ++k) {
    Sandbox& sb = *owners[k];
    if (fds[k].revents == 0) {
      const int64_t budget = static_cast<int64_t>(max_budget_ms_ + opt_.stall_ms) * 1000;
      if (!sb.outstanding.empty() && now - sb.last_progress > budget)
        OnDeath(sb, "it stopped answering");
      continue;
    }
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
    if (!sb.alive) continue;
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
        break;
      }
      RunResult res;
      if (f->first != MsgType::kResult || !DecodeRunResult(f->second, res)) {
        OnDeath(sb, "it sent a malformed result");
        break;
      }
      sb.outstanding.erase(res.id);
      sb.last_progress = now;
      ready_.push_back(std::move(res));
    }
    if (sb.alive && sb.reader.error()) OnDeath(sb, "it sent a malformed frame");
  }
  Dispatch();
  return !ready_.empty();
}

std::optional<RunResult> SandboxPool::Next(int timeout_ms) {
  const int64_t end = timeout_ms < 0 ? INT64_MAX : NowMicros() + int64_t{timeout_ms} * 1000;
  while (ready_.empty()) {
    if (pending_ == 0) return std::nullopt;
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
  for (auto& sb : sandboxes_) {
    if (!sb->alive) continue;
    sb->to.Reset();  // end of input: the sandbox settles what is left, reports, exits
    char buf[65536];
    for (bool eof = false; !eof && NowMicros() < end;) {
      pollfd p{sb->from.Get(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::max<int64_t>(1, (end - NowMicros()) / 1000)));
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
