// A scenario as a standalone C program (libc only) that a maintainer can attach to a bug
// report or turn into a selftest: it forks the same process graph in a network namespace
// of its own, runs the same steps in the file's order (lockstep: one process at a time,
// turns handed on through semaphores in shared memory), then checks the socket census
// itself (/proc/net/unix rows and /proc/net/protocols UNIX counts), settles by proof as
// the oracle does (probe/settle.h: collector witnesses, rounds, unsettled, stalled) and
// prints CLEAN, LEAK, HANG, FAULT, UNSETTLED, SKIP or ERROR. One .c file: the scenario's
// part, generated here, and the library in repro/c/ (embedded at build time, see
// repro/c_library.h), inlined. It compiles with `cc -Wall -Werror`.
#pragma once

#include <cstdint>
#include <string>

#include "scenario/scenario.h"

namespace inflight {

struct CsourceOptions {
  std::string source;            // where the scenario was read, for the header comment
  uint32_t settle_ms = 60'000;   // settling ceiling (as `inflight run --settle`)
  uint32_t timeout_ms = 10'000;  // watchdog for the graph (as `inflight run --timeout`)
};

// `s` must be valid (Validate). Free-run mode has no C form: the program is lockstep.
std::string EmitCSource(const Scenario& s, const CsourceOptions& opt);

}  // namespace inflight
