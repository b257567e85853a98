// The one exit-status table every inflight binary uses.
#pragma once

namespace inflight {

enum ExitCode : int {
  kExitClean = 0,          // every run clean
  kExitFinding = 1,        // a leak, hang or fault was found
  kExitUsage = 2,          // bad usage or bad input (the message says file:line:col)
  kExitEnvironment = 3,    // this machine cannot run it; the message says why (a skip)
  kExitInternal = 4,       // a bug of ours
  kExitNoBoot = 5,         // inflight vm/gate: the kernel never started the suite's init
  kExitTimeout = 6,        // inflight vm/gate: --timeout passed while the VM was still working
  kExitIncomplete = 7,     // inflight compare/gate: B (the candidate) does not cover what A ran:
                           // interrupted, no runs, scenarios missing or far fewer runs, runs
                           // without a decided verdict, or its report did not come back
  kExitInterrupted = 130,  // SIGINT/SIGTERM: partial results were written, then stopped
  // Only under `inflight --kselftest` (cli/main.cc): kselftest's KSFT_SKIP, which replaces
  // kExitEnvironment there (and kExitInternal becomes kExitFinding, never a skip).
  kKselftestSkip = 4,
};

}  // namespace inflight
