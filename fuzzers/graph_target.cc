// The graph fuzzer's engine: pipelined, synchronous and naive runs (see graph_target.h).
#include "fuzzers/graph_target.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "executor/sandbox.h"
#include "oracle/signature.h"
#include "reports/finding_signature.h"
#include "probe/kcov.h"
#include "run/protocol.h"
#include "scenario/codec.h"
#include "scenario/text.h"

namespace inflight {

const char* TargetModeName(TargetMode m) {
  switch (m) {
    case TargetMode::kPipelined: return "pipelined";
    case TargetMode::kGuided: return "guided";
    case TargetMode::kSynchronous: return "sync";
    case TargetMode::kNaive: return "naive";
  }
  return "?";
}

uint64_t TotalSleepMs(const Scenario& s) {
  uint64_t ms = 0;
  for (const Action& a : s.actions)
    if (a.op == Op::kSleep) ms += a.sleep_ms;
  return ms;
}

GraphTarget::GraphTarget(GraphTargetOptions opt) : opt_(std::move(opt)) {
  if (opt_.window == 0) opt_.window = opt_.slots + 1;
  if (opt_.mode != TargetMode::kSynchronous && opt_.mode != TargetMode::kGuided)
    opt_.kcov = false;
  // Guided runs always ask for coverage: it is what ends the wait for each input (empty
  // where the kernel has no KCOV).
  opt_.run.kcov = opt_.kcov || opt_.mode == TargetMode::kGuided;
}

GraphTarget::~GraphTarget() = default;

void GraphTarget::Start() {
  if (opt_.mode == TargetMode::kNaive) return;
  PoolOptions po;
  po.jobs = 1;
  po.slots = opt_.slots;
  po.sandbox_path = opt_.sandbox_path;
  po.hold_addr = opt_.hold_addr;
  if (opt_.run.kcov) po.on_coverage = [this](RunCoverage c) { OnCoverage(std::move(c)); };
  pool_ = std::make_unique<SandboxPool>(po);
  pool_->Start();
}

const Hello& GraphTarget::hello() const {
  return pool_ ? pool_->hello() : naive_hello_;
}

bool GraphTarget::Run(const uint8_t* data, size_t size) {
  ++stats_.inputs;
  Scenario s = DecodeScenario(data, size);
  if (TotalSleepMs(s) > opt_.max_sleep_ms) {
    ++stats_.skipped;
    return false;
  }
  RunRequest req;
  req.opt = opt_.run;
  // Free-run: every input its own jitter, so that a graph mutated back and forth does not
  // race the same way each time.
  if (req.opt.mode == RunMode::kFree) req.opt.seed ^= 0x9e3779b97f4a7c15ull * (stats_.inputs + 1);
  req.scenario_text = PrintScenario(s);
  Pending pending{std::string(reinterpret_cast<const char*>(data), size), std::move(s)};
  // The pool names each run; a naive run is named here.
  const uint64_t id = opt_.mode == TargetMode::kNaive ? next_id_ + 1 : pool_->Submit(req);
  req.id = next_id_ = id;
  pending_.emplace(id, std::move(pending));
  switch (opt_.mode) {
    case TargetMode::kNaive:
      Rule(RunNaive(req));
      break;
    case TargetMode::kSynchronous:
      while (pending_.count(id))
        if (auto r = pool_->Next(-1)) Rule(std::move(*r));
      break;
    case TargetMode::kGuided: {
      // Until this input's coverage is in (or its result, when it never ran a graph).
      const auto covered = [&] { return covered_id_ == id || !pending_.count(id); };
      while (!covered())
        if (auto r = pool_->Next(-1, covered)) Rule(std::move(*r));
      [[fallthrough]];
    }
    case TargetMode::kPipelined:
      while (auto r = pool_->Next(0)) Rule(std::move(*r));
      while (pool_->Pending() >= opt_.window)
        if (auto r = pool_->Next(-1)) Rule(std::move(*r));
      break;
  }
  return true;
}

void GraphTarget::Drain() {
  if (!pool_) return;
  while (pool_->Pending() > 0)
    if (auto r = pool_->Next(-1)) Rule(std::move(*r));
}

void GraphTarget::OnCoverage(RunCoverage c) {
  auto it = pending_.find(c.id);
  // Only the input being run is credited: coverage of a run retried after its sandbox
  // died would land on a later input's counters.
  if (c.id != next_id_ || it == pending_.end()) return;
  covered_id_ = c.id;
  ++stats_.covered;
  if (c.pcs.empty()) return;
  if (kernel_counters)
    FoldKernelPcs(c.pcs.data(), c.pcs.size(), kernel_counters, kernel_counters_size);
  if (on_kernel_pcs) on_kernel_pcs(c.pcs, it->second.input);
}

void GraphTarget::Rule(RunResult r) {
  auto it = pending_.find(r.id);
  if (it == pending_.end())
    throw InternalError(fmt::format("the sandbox answered an unknown run id {}", r.id));
  Pending p = std::move(it->second);
  pending_.erase(it);
  ++stats_.ruled;
  Verdict v = inflight::Rule(p.scenario, opt_.run, r);
  if (v.kind == VerdictKind::kClean) {
    ++stats_.clean;
    if (r.settle == SettleResult::kCleanSettled) ++stats_.settled;
    return;
  }
  ++stats_.findings;
  if (!on_finding) return;
  FuzzFinding f;
  f.id = r.id;
  f.current_id = next_id_;
  f.input = std::move(p.input);
  {
    // Named like the runs' findings (reports/finding_signature.h): one bug, one signature.
    RunRecord rec;
    rec.mode = opt_.run.mode;
    rec.result = r;
    rec.verdict = v;
    f.signature = RunSignature(p.scenario, rec);
    if (f.signature.empty()) f.signature = FindingSignatureOf(p.scenario, r, v);
  }
  f.scenario = std::move(p.scenario);
  f.result = std::move(r);
  f.verdict = std::move(v);
  on_finding(f);
}

RunResult GraphTarget::RunNaive(const RunRequest& req) {
  // The baseline a fuzzer without a fork server would use: fork this process per input,
  // give the child fresh PID, mount and network namespaces (a PID namespace needs its
  // init forked after unshare, so: fork, unshare, fork), run the graph, settle, answer.
  RunResult failed;
  failed.id = req.id;
  failed.status = RunStatus::kSetupError;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw EnvironmentError("pipe2 for a naive run");
  const pid_t pid = fork();
  if (pid < 0) throw EnvironmentError("fork for a naive run");
  if (pid == 0) {
    close(in[1]);
    close(out[0]);
    if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) != 0) _exit(kExitEnvironment);
    const pid_t init = fork();
    if (init < 0) _exit(kExitEnvironment);
    if (init == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!MountSandboxFilesystems()) _exit(kExitEnvironment);
      SandboxOptions so;
      so.slots = 1;
      so.accounting = false;
      so.hold_addr = opt_.hold_addr;
      auto sb = Sandbox::Create(so);
      if (!sb) _exit(kExitEnvironment);
      _exit((*sb)->Serve(in[0], out[1]));
    }
    close(in[0]);
    close(out[1]);
    int st = 0;
    while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : kExitInternal);
  }
  close(in[0]);
  close(out[1]);
  (void)WriteAll(in[1], EncodeFrame(MsgType::kRun, EncodeRunRequest(req)));
  close(in[1]);
  FrameReader reader;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      reader.Feed(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  close(out[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  RunResult res;
  while (auto f = reader.Next())
    if (f->first == MsgType::kResult && DecodeRunResult(f->second, res)) return res;
  failed.error = fmt::format("the naive sandbox gave no result (status {:#x})", st);
  return failed;
}

}  // namespace inflight
