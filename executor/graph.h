// Graph: runs one scenario's process graph. Prepare() and Start() run in the sandbox
// process; everything after fork runs in the graph's own processes, which share one
// anonymous MAP_SHARED region for lockstep turns, outcomes and the object log.
//
// After fork the graph code neither allocates nor throws: it only reads the prepared
// plan, makes syscalls, and writes into the shared region and its own static buffers.
// Every blocking call is bounded (non-blocking sockets in lockstep, SO_RCVTIMEO and
// SO_SNDTIMEO in free-run), so on a correct kernel a graph always ends by itself; the
// sandbox's watchdog is for kernels that hang.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "run/run_types.h"
#include "scenario/bounds.h"
#include "scenario/scenario.h"

namespace inflight {

// Where a graph runs: the slot's network namespace and its tmpfs directory, and the two
// witnesses the sandbox watches objects through (see docs/design.md, "Object liveness"):
// an epoll instance every pollable object is registered in (its items vanish when the
// object's file is released), and a socket that carries, for each regular file
// and memfd, a second open of the same inode to the sandbox.
struct GraphPlace {
  int netns_fd = -1;
  int dir_fd = -1;
  int witness_fd = -1;  // epoll
  int probe_fd = -1;    // stream socket; its peer stays with the sandbox
  uint32_t uid = 0;     // nonzero: the graph runs as this uid (and gid), keeping its
                        // capabilities, so that its in-flight accounting is its own
};

class Graph {
 public:
  static constexpr size_t kMaxEvents = 16384;
  // _exit() status of a graph process whose own setup failed (a bug or a broken host).
  static constexpr int kSetupFailedStatus = 121;
  // Where graph processes keep the witnesses: high, so that the scenario's own
  // descriptors (and nofile= limits) see the same low numbers as without them.
  static constexpr int kWitnessFd = 1020;
  static constexpr int kProbeFd = 1021;
  static constexpr int kKcovFd = 1019;              // a graph process's own KCOV trace (kcov.h)
  // Where graph processes ask the sandbox to act for them (an eventfd; see AsksFd()).
  static constexpr int kAsksFd = 1022;
  static constexpr size_t kMaxKernelPcs = 1 << 16;  // per run, all processes together

  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Resets the shared region and builds the plan. `s` must be validated and outlive the run.
  void Prepare(const Scenario& s, const RunOptions& opt);

  // Forks the root process into `place`. Returns its pid.
  Result<pid_t> Start(const GraphPlace& place);

  // Reaper side: a graph process ended with `status`. Returns false if its end was
  // unexpected (the run must be aborted), with the reason in *why.
  bool OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why);

  // Text naming the processes still alive and the action each is in (for hang reports).
  std::string DescribeAlive() const;

  // `kill NAME` by a process without the privilege for it: a process that dropped its
  // capabilities may not signal one of another uid (`setuid second`), and the kernel
  // says EPERM. The scenario means the victim dies at that step whatever uids and
  // capabilities its processes took, so the killer asks the sandbox (pid 1 of the run's
  // PID namespace, with every capability there) through this eventfd, and waits for the
  // death as after a kill of its own. ServeAsks() kills every victim asked for that is
  // still marked killed and not yet reaped (so its pid cannot have been reused).
  int AsksFd() const { return asks_.Get(); }
  void ServeAsks();

  // Copies outcomes, process ends and the object log into `out`.
  void Collect(RunResult& out) const;

  // Handle for the graph processes (public only for the .cc's free functions).
  struct Shared;

 private:
  friend struct GraphProcess;
  Shared* shared_ = nullptr;
  UniqueFd asks_;  // eventfd; the graph processes hold it as kAsksFd
  size_t shared_size_ = 0;
  const Scenario* s_ = nullptr;
  RunOptions opt_;
  std::vector<std::vector<uint16_t>> proc_actions_;  // per process: its action indices
  std::vector<ProcOutcome> ends_;                    // filled by OnReaped
  void* fault_page_ = nullptr;  // PROT_NONE: recv fault=cbuf|data points a buffer here
  bool identities_ = false;  // some recv has is=: log what identifies created and received objects
  std::vector<uint8_t> send_tickets_;  // free-run: each send's payload byte (run/tickets.h)
};

}  // namespace inflight
