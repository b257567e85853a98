// The nightly fuzzing job behind `inflight fuzz`: N graph_fuzzer workers (libFuzzer, each
// with its own sandbox) on one shared corpus, their logs read back (run/fuzz_log.h), a
// worker restarted after a finding, findings deduplicated by signature keeping the
// smallest input, each re-run for its leak rate, report.json and a one-screen summary.
// Every finding is on disk the moment it is seen.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "driver/run_args.h"

namespace inflight {

struct FuzzOptions {
  std::string out;
  uint32_t duration_ms = 0;
  uint32_t jobs = 1;
  bool resume = false;
  uint32_t repro = 20;
  // After the re-runs, each finding that reproduced is minimized (at most this long, 0:
  // not at all) into findings/ID/repro.scn, and repro.c is written from it (csource).
  uint32_t minimize_ms = 60'000;
  std::vector<std::string> seeds;
  std::vector<std::string> exclude;
  std::string fuzzer;
  std::string hold;
  uint32_t settle_ms = 60'000;
  uint32_t slots = 16;
  // How the workers run each graph: lockstep (one action at a time, the same result every
  // time) or free (each process at its own pace: races with the collector, ruled by what
  // free-run can prove). The re-runs and the minimization use the same mode.
  RunMode run_mode = RunMode::kLockstep;
  bool quiet = false;
  bool stop_at_first = false;  // end at the first new finding (time-to-first benchmarks)
  std::vector<std::string> libfuzzer_args;
  // --known FILE (reports/known.h): findings with these signatures are expected; they do
  // not stop the workers and alone do not make the exit status 1.
  std::string known;
  // Polled; true stops the workers (a short grace, then they are killed) and the job
  // ends with what it found (exit status 130).
  std::function<bool()> stop;
};

// $INFLIGHT_GRAPH_FUZZER, else graph_fuzzer beside this executable or in ../fuzzers/.
std::string DefaultFuzzerPath();

// Runs the job; returns the exit status (base/exit_codes.h). Throws UsageError and
// EnvironmentError before anything is written into opt.out.
int RunFuzzJob(const FuzzOptions& opt, const std::vector<std::string>& argv,
               const CommonRunArgs& common);

}  // namespace inflight
