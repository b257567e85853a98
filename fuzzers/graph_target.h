// The graph fuzzer's engine, shared by graph_fuzzer (libFuzzer) and bench/fuzz_exec_bench:
// decodes each input into a scenario, runs it in a sandbox, rules the result, and hands
// every finding over with the input that found it.
//
// Modes:
//  - pipelined: submit input i to a SandboxPool started early (a small fork server with
//    reused network namespaces) and go on with input i+1; results come back later and in
//    any order, so recent inputs are kept by id until their result is ruled.
//  - guided: wait for each input's kernel coverage, which the sandbox sends as soon as
//    the graph ended (MsgType::kCoverage), so that it is credited to the input that
//    produced it; its result (settling, the ruling) comes later, as in pipelined mode.
//  - synchronous: wait for each input's result.
//  - naive: fork per input from this (large) process, fresh namespaces, no slots; the
//    benchmark's baseline.
//
// Threading: single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "run/run_types.h"
#include "scenario/scenario.h"

namespace inflight {

enum class TargetMode { kPipelined, kGuided, kSynchronous, kNaive };

struct GraphTargetOptions {
  TargetMode mode = TargetMode::kPipelined;
  std::string sandbox_path;  // empty: DefaultSandboxPath()
  std::string hold_addr;     // set only by test builds (graph_fuzzer_hold_test)
  uint32_t slots = 16;
  uint32_t window = 0;          // runs in flight at most; 0: slots + 1
  RunOptions run;               // mode, watchdog, settling
  uint32_t max_sleep_ms = 200;  // inputs whose sleeps add up to more are skipped
  bool kcov = false;  // fold kernel coverage (guided and synchronous modes only)
};

struct FuzzFinding {
  uint64_t id = 0;          // the guilty input's number (1-based, in order of arrival)
  uint64_t current_id = 0;  // the input being run when its result came back
  std::string input;        // the guilty input's bytes
  Scenario scenario;
  RunResult result;
  Verdict verdict;
  std::string signature;  // oracle/signature.h
};

struct TargetStats {
  uint64_t inputs = 0;   // Run() calls
  uint64_t skipped = 0;  // inputs sleeping too long
  uint64_t ruled = 0;    // results ruled
  uint64_t clean = 0;
  uint64_t settled = 0;   // clean after settling
  uint64_t findings = 0;  // handed to on_finding
  uint64_t covered = 0;   // guided: inputs whose coverage came back before their result
};

class GraphTarget {
 public:
  explicit GraphTarget(GraphTargetOptions opt);
  ~GraphTarget();
  GraphTarget(const GraphTarget&) = delete;
  GraphTarget& operator=(const GraphTarget&) = delete;

  // Starts the sandbox (pipelined and synchronous modes). Call before the process grows.
  // Throws EnvironmentError when this machine cannot run one.
  void Start();

  // Runs one input. Returns false when the input was skipped (libFuzzer's -1: keep it out
  // of the corpus). Results that came back meanwhile are ruled; findings go to on_finding.
  bool Run(const uint8_t* data, size_t size);

  // Waits for every result still out and rules it.
  void Drain();

  // Called for every leak, hang, fault or error; it may end the process.
  std::function<void(const FuzzFinding&)> on_finding;

  // Where kernel coverage is folded (guided and synchronous modes, RunOptions::kcov), while
  // the input that produced it is the one being run.
  uint8_t* kernel_counters = nullptr;
  size_t kernel_counters_size = 0;
  // Called with each run's kernel PCs (when it has any) and the input that ran, as its
  // coverage frame comes (results carry no PCs: the sandbox sends them in that frame).
  std::function<void(const std::vector<uint64_t>& pcs, const std::string& input)> on_kernel_pcs;

  const TargetStats& stats() const { return stats_; }
  const Hello& hello() const;
  uint64_t last_id() const { return next_id_; }

 private:
  struct Pending {
    std::string input;
    Scenario scenario;
  };
  void Rule(RunResult r);
  void OnCoverage(RunCoverage c);
  RunResult RunNaive(const RunRequest& req);

  GraphTargetOptions opt_;
  std::unique_ptr<SandboxPool> pool_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 0;
  uint64_t covered_id_ = 0;  // guided: the last run whose coverage came back
  TargetStats stats_;
  Hello naive_hello_;
};

// The mode's name as INFLIGHT_FUZZ_MODE spells it.
const char* TargetModeName(TargetMode m);

// Total sleep of a scenario, in ms.
uint64_t TotalSleepMs(const Scenario& s);

}  // namespace inflight
