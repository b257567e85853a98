// The verdict: rules on one run from its outcome and its census, and names every
// leftover with the scenario object it is and the actions that put it in flight.
//
// Pure logic, no syscalls: it runs in the driver on data the sandbox sent back.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "run/run_types.h"
#include "scenario/scenario.h"

namespace inflight {

enum class VerdictKind : uint8_t {
  kClean,      // census back to baseline, no fault
  kFault,      // a kernel fault (KASAN, WARNING, BUG in the kernel log) or a semantic fault
               // (an errno or a received object differs from what the kernel must do)
  kLeak,       // objects outlived the graph and the full settling protocol
  kHang,       // the watchdog killed the graph
  kError,      // our own failure (executor error, setup error): says nothing about the kernel
  kUnsettled,  // at the settling ceiling counts were still changing: neither clean nor a
               // proven leak; not a finding, counted and shown (probe/settle.h)
  kLoss,       // a receive got fewer descriptors or bytes than its socket was sent (or
               // nothing): the kernel freed what a live process still reached
               // (lockstep: oracle/semantics.h, LostMessages; free-run: what the send
               // tickets prove, oracle/free_loss.h)
  kMaxValue = kLoss,
};
const char* VerdictName(VerdictKind k);
// The kind a report names (report.json's "verdict"), or nullopt for a name this build
// does not know.
std::optional<VerdictKind> VerdictFromName(std::string_view name);
bool IsFinding(VerdictKind k);  // leak, hang, fault, loss

struct Leftover {
  std::string what;          // "stream socket", "embryo", ...
  uint64_t ino = 0;          // 0 when the object has no inode (embryos)
  std::string object;        // the scenario's name for it, "" if not the scenario's
  int created_by = -1;       // action index
  std::vector<int> sent_by;  // actions that passed it in SCM_RIGHTS
  std::string where;         // which queue or listener holds it, when known
  std::string detail;        // census facts
};

struct Verdict {
  VerdictKind kind = VerdictKind::kClean;
  std::string summary;  // one line
  std::vector<Leftover> leftovers;
  std::vector<std::string> faults;   // one line per semantic fault
  std::vector<std::string> losses;   // one line per receive that lost messages
  std::vector<std::string> kernel_log;  // alarming kernel log records: a kernel fault
};

// Rules on a run. Expected errnos are checked in lockstep mode only: free-run races
// make results vary by design. Losses are ruled in both modes.
Verdict Rule(const Scenario& s, const RunOptions& opt, const RunResult& r);

// How settling ended, for summaries: "12 ms of settling: 3 collector passes ...".
std::string SettleEvidence(const RunResult& r);

// "p0: send b [a]" for action i, for reports.
std::string DescribeAction(const Scenario& s, int i);

// For leftovers read off a census: "stream socket", "seqpacket listener", ...; and the
// census facts of the socket ("state 1 rqueue 1 wqueue 0 peer 123 name @x").
std::string SocketWhat(const SocketInfo& s);
std::string SocketDetail(const SocketInfo& s);

// The leftovers of a census delta that are not sockets in the table: each new embryo
// (`label` names a socket by inode for the reader), embryos listed without an inode, and
// sockets alive per /proc/net/protocols beyond what the table explains (saying when
// closed peers of leftover sockets account for them). Shared by graph and stress
// verdicts.
void AppendOutOfTableLeftovers(const CensusDelta& d, const Census& census,
                               const std::function<std::string(uint64_t)>& label,
                               std::vector<Leftover>& out);

}  // namespace inflight
