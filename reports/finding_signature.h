// A finding's signature from the leak itself: what outlived the run, classified on the
// reference graph at the ruling (reports/ref_graph.h), so that one kernel bug is one
// signature whichever scenario, stress shape or fuzz input showed it. run, stress, fuzz,
// minimize, repro, compare and gate all name findings by it (docs/triage.md).
//
//   leak|cycle(nested)|socket        a garbage SCC with more edges than nodes
//   leak|cycle(simple)|socket        a ring (as many edges as nodes, >= 2 nodes)
//   leak|cycle(self)|socket          a socket in its own queue
//   leak|cycle(simple,embryo)|...    a cycle through an embryo (listener in its embryo)
//   leak|cycle(self,oob)|socket      a cycle whose edge rides an OOB skb
//   leak|chain|dgram socket          acyclic: leftovers hold leftovers, no cycle; kinds
//                                    are those of the chain's heads
//   leak|orphan|pipe read end        was in flight, no leftover queue holds it now
//   leak|never-in-flight|memfd       never passed in SCM_RIGHTS, yet outlived the run
//   leak|accounting|                 only the in-flight count was not given back
//   loss|recv|descriptors  hang|recv  fault|kernel|<console title>  fault|semantic|...
//
// A cycle's kinds are coarse ("socket", "listener", "embryo", or a non-socket kind): the
// collector treats every AF_UNIX socket type alike. What cycles carry (passengers) is not
// part of a signature: the same bug leaves whatever the input loaded.
//
// Pure logic, no syscalls.
#pragma once

#include <string>
#include <vector>

#include "reports/ref_graph.h"
#include "reports/report.h"
#include "scenario/scenario.h"

namespace inflight {

// The leak class of a leak verdict's leftovers on `g`: "cycle(nested)|socket", ...
// (several cycle classes of one run are joined with '+').
std::string LeakClassOf(const RefGraph& g, const Verdict& v);

// The signature of a run ruled a finding (any verdict kind); "" for clean, unsettled and
// error runs. `s` is the run's scenario. Stable function name: fleet calls it.
std::string RunSignature(const Scenario& s, const RunRecord& r);

// The same, parsing r.scenario_text (a record without text gets the verdict's own part,
// oracle/signature.h).
std::string RunSignature(const RunRecord& r);

// The signature of a stress leftover by the leak class its stressor logged it under
// ("cycle(nested)"), and its kind: "leak|cycle(nested)|socket". An empty class (the
// stressor does not know the shape) gives "leak|stress(LABEL)|KIND".
std::string StressLeakSignature(const std::string& leak_class, const std::string& label,
                                const std::string& what);

// "stream socket" -> "socket", "seqpacket listener" -> "listener"; others unchanged.
std::string CoarseKind(const std::string& what);

}  // namespace inflight
