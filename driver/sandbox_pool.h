// The driver's side of the sandbox: starts inflight-sandbox processes with
// Boost.Process, keeps each busy with up to `slots` runs, collects results in any order,
// and replaces a sandbox that dies or stops answering.
//
// Threading: single-threaded; one SandboxPool per driver. Every sandbox is in its own
// process group (terminal signals reach only the driver) and dies with the driver
// (PR_SET_PDEATHSIG), and its PID namespace takes every graph process with it.
//
// I/O: no call blocks on a sandbox's pipes. Requests queue in a buffer per sandbox and are
// written as its stdin takes them, from the same poll that reads results, so a sandbox
// that is itself waiting to write its results can never hold the driver up (and the
// sandbox does the same on its side: docs/design.md).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run/protocol.h"
#include "run/run_types.h"
#include "run/stress_types.h"

namespace inflight {

struct PoolOptions {
  uint32_t jobs = 1;         // sandbox processes
  uint32_t slots = 16;       // network namespaces per sandbox
  std::string sandbox_path;  // empty: inflight-sandbox next to this executable
  std::string hold_addr;     // positive control (see SandboxOptions)
  bool use_sock_diag = true;
  uint32_t accounting_every = 32;  // 0: no per-user accounting checks
  uint32_t stall_ms = 60'000;      // a sandbox silent this long past its runs' budget dies
  // Asked to stop (SIGINT/SIGTERM): Start() and Finish() give up waiting at once. Polled
  // at least every 100 ms.
  std::function<bool()> stop;
  // The kernel coverage of each run with RunOptions::kcov, as soon as its graph ended
  // (before its result, which comes without it). Called from inside Next(). A run that is
  // retried after its sandbox died may be covered twice.
  std::function<void(RunCoverage)> on_coverage;
};

// A fact about the running kernel that any pool of this process may learn: a run was ruled
// with the kernel's collector stalled (RunResult::settle_stalled). Sandboxes started after
// that are told (--collector-stalled), so that each does not wait a whole settling ceiling
// to learn it again (probe/settle.h).
bool CollectorSeenStalled();

// Path of inflight-sandbox: $INFLIGHT_SANDBOX, else next to /proc/self/exe.
std::string DefaultSandboxPath();

class SandboxPool {
 public:
  explicit SandboxPool(PoolOptions opt);
  ~SandboxPool();
  SandboxPool(const SandboxPool&) = delete;
  SandboxPool& operator=(const SandboxPool&) = delete;

  // Starts the sandboxes. Throws EnvironmentError with the sandbox's reason when this
  // machine cannot run one (not root and no user namespaces, no /proc, ...). Returns
  // false when asked to stop (PoolOptions::stop) before every sandbox was ready. Ignores
  // SIGPIPE (process-wide) when it is at its default, so that a sandbox's death is an
  // EPIPE here rather than the driver's.
  bool Start();
  const Hello& hello() const { return hello_; }

  // Queues a run; it goes to a sandbox when one has room. The pool names every run and
  // epoch it is given by a fresh id (1, 2, ... over the pool's life, whatever req.id held):
  // the result that comes back from Next() carries it.
  uint64_t Submit(RunRequest req);
  // Queues one stress epoch; its result comes back from Next() like a run's.
  uint64_t SubmitStress(StressRequest req);
  // The next finished run, waiting at most timeout_ms (-1: until one is ready), or none as
  // soon as `until` (checked after each batch of what the sandboxes sent) says so.
  std::optional<RunResult> Next(int timeout_ms, const std::function<bool()>& until = {});
  // Runs submitted and not yet returned by Next().
  size_t Pending() const { return pending_; }
  // Request bytes queued for the sandboxes' stdin and not yet written (diagnostics, tests).
  size_t Unwritten() const;

  // Kills every sandbox now; unanswered runs are dropped.
  void Stop();
  // Ends every sandbox's input, waits (up to timeout_ms) for its last word (per-slot
  // accounting, see SlotAccounting), then stops them. For a run that finished normally.
  void Finish(int timeout_ms = 30'000);
  const std::vector<SlotAccounting>& accounting() const { return accounting_; }

 private:
  struct Sandbox;
  // A request as sent: its frame's type and payload, so that it can be sent again.
  struct Queued {
    uint64_t id = 0;
    MsgType type = MsgType::kRun;
    std::string payload;
  };
  void Enqueue(Queued q, uint32_t budget_ms);
  void Launch(Sandbox& sb);
  void Dispatch();
  // Writes what sb's stdin takes of its queued requests; false when it died of it.
  bool Flush(Sandbox& sb);
  // Reads what sb sent: results into ready_, a restarted sandbox's hello, its end.
  void Read(Sandbox& sb, int64_t now);
  void OnDeath(Sandbox& sb, const std::string& why);
  bool Pump(int timeout_ms);
  bool Stopping() const { return opt_.stop && opt_.stop(); }

  PoolOptions opt_;
  Hello hello_;
  std::vector<std::unique_ptr<Sandbox>> sandboxes_;
  std::deque<Queued> queue_;
  std::deque<RunResult> ready_;
  size_t pending_ = 0;
  uint64_t last_id_ = 0;
  uint32_t max_budget_ms_ = 0;
  std::vector<SlotAccounting> accounting_;
};

}  // namespace inflight
