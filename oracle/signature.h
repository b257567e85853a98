// A finding's stable signature, for deduplicating fuzzer findings across workers and
// nights: the verdict kind, the kinds of what was left over, and the shape of the
// reference graph among the leftovers (which leftover sits in which leftover's queue,
// reduced to its strongly connected components). Independent of variable names,
// inode numbers, seeds and timing, and of the scenario's name.
//
// Pure logic, no syscalls.
#pragma once

#include <string>

#include "executor/run_types.h"
#include "oracle/verdict.h"
#include "scenario/scenario.h"

namespace inflight {

// "leak|stream socket|scc(2n,2e) held 1", "hang|recv", "fault|semantic: ...".
std::string FindingSignatureOf(const Scenario& s, const RunResult& r, const Verdict& v);

// The reference shape among the leftovers alone, e.g. "scc(3n,4e)+scc(1n,1e) held 2";
// "none" when no leftover holds another.
std::string ReferenceShape(const Scenario& s, const RunResult& r, const Verdict& v);

}  // namespace inflight
