// The one ruling sequence of graph runs and stress epochs: our own errors first, then a
// hang, kernel evidence, leftovers after settling (census, out-of-table sockets, the
// in-flight accounting), the run's own faults, clean. Rule() (graphs) and RuleStress()
// (stress epochs) supply only what is theirs: how leftovers are named, which faults the
// run saw, and the wording of the summary.
//
// Pure logic, no syscalls.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "oracle/verdict.h"
#include "run/run_types.h"

namespace inflight {

// What one kind of run adds to the shared sequence. Every member may be empty.
struct RunRuling {
  // The faults the run saw itself: a graph's semantic faults, the rules of the kernel a
  // stressor saw broken. Called only for runs that are not our own error.
  std::function<std::vector<std::string>()> faults;
  // Receives that lost messages (a graph in lockstep). Called like `faults`.
  std::function<std::vector<std::string>()> losses;
  // Leftovers of a dirty run among the sockets of the census delta (d.new_sockets).
  std::function<void(const CensusDelta& d, std::vector<Leftover>& out)> socket_leftovers;
  // A socket's name for readers, for leftovers outside the table ("socket 7 (cycles: ring)").
  std::function<std::string(uint64_t ino)> label;
  // Leftovers a dirty run has beyond the census (a graph's witnessed objects); `out`
  // already holds the census ones.
  std::function<void(std::vector<Leftover>& out)> more_leftovers;
  // Summaries of a leak (v.leftovers is complete) and of a run with only its own faults.
  std::function<std::string(const Verdict& v)> leak_summary;
  std::function<std::string(const Verdict& v)> fault_summary;
};

// Rules on a run in the shared order:
//   error (setup or executor error: says nothing about the kernel, nothing else is read)
//   > hang > fault (kernel log records) > leak (dirty after settling, or an accounting
//   deficit) > loss (receives that lost messages) > fault (the run's own faults) > unsettled (not proven either way within the
//   settling ceiling: not a finding) > clean.
// Leftovers, faults and kernel log records are listed whatever the kind.
Verdict RuleRun(const RunResult& r, const RunRuling& how);

}  // namespace inflight
