// A finding's stable signature, for deduplicating fuzzer findings across workers and
// nights: the verdict kind, the kinds of what was left over, and the shape of the
// reference graph among the leftovers (which leftover sits in which leftover's queue,
// reduced to its strongly connected components). Independent of variable names,
// inode numbers, seeds and timing, and of the scenario's name.
//
// Pure logic, no syscalls.
#pragma once

#include <string>

#include "oracle/verdict.h"
#include "run/run_types.h"
#include "scenario/scenario.h"

namespace inflight {

// "leak|stream socket|scc(2n,2e) +held", "hang|recv", "fault|semantic|recv: ...".
std::string FindingSignatureOf(const Scenario& s, const RunResult& r, const Verdict& v);

// The reference shape among the leftovers alone: their strongly connected components
// with a cycle (nodes, edges), and whether they hold other leftovers or objects sit in
// embryos, e.g. "scc(3n,4e)+scc(1n,1e) +held"; "none" when no leftover has an inode.
std::string ReferenceShape(const Scenario& s, const RunResult& r, const Verdict& v);

}  // namespace inflight
