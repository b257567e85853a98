// The sandbox: the fork server that runs scenario graphs, started by the driver as
// inflight-sandbox. It is pid 1 of its own PID namespace (so that when it dies the
// kernel kills every graph process), in its own mount namespace (a private /proc and
// tmpfs) and network namespace, and it holds N *slots*: reused network namespaces,
// each with its own tmpfs and census. A graph runs in a free slot; if the slot's census
// is not back to its baseline afterwards, the slot settles while other slots run, so
// one wait for the kernel's deferred work serves many runs.
//
// Threading: single-threaded. Signals: SIGCHLD is blocked and taken through a signalfd.
//
// I/O: the sandbox never blocks on the driver. Results queue in an outbound buffer that
// is written whenever stdout has room, and requests are read whenever they come, both
// from the request loop and while a graph runs (the reaper polls the signalfd together
// with both pipes). If the driver stops reading, the buffer grows up to
// SandboxOptions::max_outbound_bytes, and then the sandbox exits with status 4.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "base/out_buffer.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "executor/graph.h"
#include "executor/reapable.h"
#include "executor/stress_run.h"
#include "probe/census.h"
#include "probe/kernel_log.h"
#include "probe/liveness.h"
#include "probe/settle.h"
#include "run/protocol.h"
#include "run/stress_types.h"

namespace inflight {

struct SandboxOptions {
  uint32_t slots = 16;
  bool use_sock_diag = true;       // false: force the /proc/self/net/unix fallback
  std::string hold_addr;           // positive control: a listener at @hold_addr in every slot,
                                   // outside any scenario, that never accepts
  uint32_t nofile = 4096;          // RLIMIT_NOFILE of the sandbox and its graphs
  bool accounting = true;          // run graphs as per-slot uids and check their accounting
  uint32_t accounting_every = 32;  // check a slot's uid after this many clean runs
  pid_t host_pid = 0;              // the launcher's pid before the namespaces: names the uids
                                   // stressors switch to (executor/stress_run.h)
  bool user_namespace = false;     // unprivileged: stressors cannot switch uids
  bool collector_stalled = false;  // another sandbox of this driver saw this kernel's
                                   // collector stalled (SettleOptions::known_stalled)
  // Results the driver has not read yet, at most: past this the driver is taken to be
  // stuck and the sandbox exits with kExitInternal, saying so on stderr.
  size_t max_outbound_bytes = size_t{256} << 20;
};

// Enters the namespaces. Returns in the sandbox proper (pid 1 of the new PID namespace);
// the process that called it stays outside, waits, and exits with the sandbox's status.
// On failure returns the reason; the caller reports it in its Hello and exits 3.
Status EnterSandboxNamespaces(const SandboxOptions& opt, bool& user_namespace);

// The part of EnterSandboxNamespaces inside the new namespaces: a private /proc and the
// tmpfs the slots live on. For callers that made the namespaces themselves (the naive
// fork-per-input baseline of the fuzzer benchmark).
Status MountSandboxFilesystems();

class Sandbox {
 public:
  static Result<std::unique_ptr<Sandbox>> Create(const SandboxOptions& opt);
  ~Sandbox();

  Hello Describe(bool user_namespace) const;

  // Serves requests from `in` and writes results to `out` until `in` reaches EOF and
  // all work is done. Makes both descriptors non-blocking. Returns the process exit
  // status once every result is written (or the driver is gone).
  int Serve(int in_fd, int out_fd);

 private:
  struct Slot {
    int index = 0;
    UniqueFd netns;
    UniqueFd dir;
    std::string dir_path;
    std::unique_ptr<CensusSource> census;
    UniqueFd holder;
    Census baseline;
    int64_t inodes_baseline = 0;  // used inodes of the slot's tmpfs when empty
    dev_t dev = 0;                // the slot tmpfs's device
    enum class State { kFree, kSettling } state = State::kFree;
    Settler settler;
    RunResult pending;
    std::unique_ptr<ObjectWitness> witness;  // of the pending run
    uint32_t uid = 0;                        // its graphs' uid (0: accounting off)
    int allowance_baseline = 0;              // the uid's allowance before its first run
    // The graphs' second uid (`setuid second`), checked the same way (0: not measurable).
    uint32_t uid2 = 0;
    int allowance_baseline2 = 0;
    uint32_t runs_since_check = 0;
    std::unique_ptr<StressArea> stress;  // mapped at the slot's first stress epoch
  };

  explicit Sandbox(const SandboxOptions& opt) : opt_(opt) {}
  Status MakeSlot(Slot& slot);
  void RetireSlot(Slot& slot);
  Slot* FreeSlot();
  // Runs one request in `slot`: either finishes it (result written) or leaves the slot
  // settling. Returns false if the sandbox cannot continue.
  bool RunOne(const RunRequest& req, Slot& slot);
  // The same for one stress epoch (executor/sandbox_stress.cc).
  bool RunStress(const StressRequest& req, Slot& slot);
  // After a workload ended at `ended_at`: rules the slot clean at once or starts settling.
  bool CheckOrSettle(Slot& slot, RunResult res, int64_t ended_at, uint32_t settle_ms);
  void ServiceSettling(int64_t now);
  // Takes the slot's census into `census` and the liveness of the run's objects into
  // `res`; true when the slot is back to its baseline and no object is alive. While
  // settling the protocol counts are always read (they are part of the fingerprint).
  Result<bool> CheckSlot(Slot& slot, Census& census, RunResult& res, bool settling = false);
  void Finish(Slot& slot, SettleResult settle, Census census, int64_t now);
  bool Reap(Reapable& workload, int64_t deadline_us, RunResult& res);
  int64_t NextDue() const;
  // Queues a result for the driver and writes what stdout takes now.
  void Emit(const RunResult& r);
  void Send(MsgType type, const std::string& payload);
  // Reads what the driver sent into reader_; sets in_eof_ at its end.
  void ReadInput();
  // Writes what stdout takes of out_; exits when the driver is gone.
  void FlushOutput();
  // Waits until `until_us` (INT64_MAX: no limit) or until input comes, stdout has room
  // for queued results, or (with `child`) SIGCHLD or `asks_fd` (a workload's requests,
  // Reapable::AsksFd) is readable; reads and writes what it can.
  void Wait(int64_t until_us, bool child, int asks_fd = -1);
  // Writes every queued result (waiting for the driver to read, within a bound) and
  // returns `status`.
  int ExitWith(int status);
  // After a clean run in `slot`: measures its uid's allowance when due.
  void MaybeCheckAccounting(Slot& slot, RunResult& res, bool force);

  SandboxOptions opt_;
  UniqueFd home_netns_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Graph> graph_;
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool in_eof_ = false;
  FrameReader reader_;  // requests read and not yet taken by Serve
  OutBuffer out_;       // results not yet written
  UniqueFd sigchld_;    // signalfd for the blocked SIGCHLD
  bool fatal_ = false;
  std::unique_ptr<CollectorClock> clock_;  // witnesses of collector passes, for all slots
  std::unique_ptr<KernelLog> kmsg_;        // null when /dev/kmsg cannot be read
  std::string kmsg_why_;
  bool accounting_ = false;
  std::string accounting_why_;
};

}  // namespace inflight
