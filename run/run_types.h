// What one scenario run produced, as plain data: per-action outcomes, per-process ends,
// the objects the graph created, sent and received (by inode), the census after
// settling, and timings. Produced by the sandbox, ruled on by oracle/verdict.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "probe/census.h"
#include "run/stress_types.h"
#include "run/tickets.h"

namespace inflight {

enum class RunMode : uint8_t { kLockstep, kFree, kMaxValue = kFree };
const char* RunModeName(RunMode m);

struct RunOptions {
  RunMode mode = RunMode::kLockstep;
  uint64_t seed = 0;
  uint32_t timeout_ms = 10'000;  // watchdog for the graph
  uint32_t settle_ms = 60'000;   // settling ceiling (probe/settle.h): a clean or
                                 // provably leaking run needs far less
  uint32_t io_timeout_ms = 20;   // free-run: SO_RCVTIMEO/SO_SNDTIMEO on every socket
  bool kcov = false;             // trace kernel coverage of the graph (probe/kcov.h)
  bool operator==(const RunOptions&) const = default;
};

enum class ActionStatus : uint8_t {
  kNotRun = 0,  // its process was gone, or the run stopped before it
  kOk,
  kFailed,   // the call returned an error: see err
  kSkipped,  // an operand held no descriptor at run time (e.g. nothing was received)
};
const char* ActionStatusName(ActionStatus s);

struct ActionOutcome {
  ActionStatus status = ActionStatus::kNotRun;
  int32_t err = 0;         // errno when kFailed
  int32_t ret = 0;         // bytes sent/received, pid forked, ...
  uint16_t fds = 0;        // recv: descriptors in the control messages
  uint32_t msg_flags = 0;  // recv: msg_flags (MSG_CTRUNC, ...)
  int16_t installed = -1;  // recv in lockstep: descriptors the fd table gained; -1 unmeasured
  // recv: the SCM_CREDENTIALS message (SO_PASSCRED): 0 none arrived, 1 one arrived whole
  // (its pid, uid, gid below, as the receiver sees them), 2 one cut short by MSG_CTRUNC.
  uint8_t creds = 0;
  int32_t cred_pid = 0;
  uint32_t cred_uid = 0, cred_gid = 0;
  bool operator==(const ActionOutcome&) const = default;
};

enum class ProcEnd : uint8_t {
  kNeverStarted = 0,  // its fork failed or never ran
  kExited,            // ran to its end (or `exit`)
  kKilledByScenario,  // SIGKILLed by a `kill` action
  kKilledByWatchdog,  // the graph hung and was killed
  kDiedUnexpectedly,  // any other death: a signal, a non-zero status
};
const char* ProcEndName(ProcEnd e);

struct ProcOutcome {
  ProcEnd end = ProcEnd::kNeverStarted;
  int32_t wait_status = 0;
  int32_t action = -1;  // the action it was running when it ended, -1 if none
  // Who it was (for recv creds=PROC): its pid, and its real uid and gid as it ended.
  int32_t pid = 0;
  uint32_t uid = 0, gid = 0;
  bool operator==(const ProcOutcome&) const = default;
};

// How an object's liveness is witnessed (ObjectEvent::index of a kWitnessed event).
enum class WitnessKind : uint8_t {
  kNone = 0,   // no exact signal: only the census (sockets) or global counts see it
  kEpoll = 1,  // an item in the witness epoll, keyed by the object
  kLock = 2,   // an OFD write lock on the object, seen through a probe open of its inode
};

// The key an object is known by in witnesses: its creating action and output index.
inline uint64_t ObjectKey(uint16_t action, uint8_t out_index) {
  return (static_cast<uint64_t>(action) << 8) | out_index;
}

enum class EventType : uint8_t {
  kCreated,    // action created the object (index: which output)
  kSent,       // action passed the object in SCM_RIGHTS
  kReceived,   // action received it (index: position in the message)
  kSentVia,    // the socket a send went through (its peer's queue got the rights)
  kRecvVia,    // the socket a successful receive read from
  kWitnessed,  // the object (ino: its ObjectKey) is watched; index: WitnessKind
};

struct ObjectEvent {
  uint16_t action = 0;
  EventType type = EventType::kCreated;
  uint8_t index = 0;
  uint32_t dev = 0;  // st_dev (a socket's is sockfs)
  uint64_t ino = 0;
  // The object's ObjectKey when the process knows it (it created the object, or holds a
  // dup of it); kUnknownKey for descriptors it received. Anonymous-inode objects
  // (eventfd, epoll, ...) share one inode, so only the key tells them apart.
  uint64_t key = kUnknownKey;
  // For is= (recv identity checks), on kCreated and kReceived events of scenarios that
  // have one, else 0: the file type bits of st_mode with the open file's access mode
  // (O_ACCMODE: a pipe's two ends share one inode), and for anonymous-inode objects a
  // hash of their /proc/self/fd link ("anon_inode:[eventfd]": one inode serves every
  // eventfd, epoll, timerfd, ... so it tells their kinds apart, not two of a kind).
  uint32_t mode = 0;
  uint32_t tag = 0;
  static constexpr uint64_t kUnknownKey = ~0ull;
  bool operator==(const ObjectEvent&) const = default;
};

// A free-run receive's payload read as send tickets (run/tickets.h): which sends' bytes
// it got. Only successful receives that got bytes into a readable buffer have one.
struct RecvTickets {
  uint16_t action = 0;
  TicketSet tickets{};
  bool operator==(const RecvTickets&) const = default;
};

enum class RunStatus : uint8_t {
  kCompleted,      // the graph ran to its end
  kHang,           // the watchdog killed it
  kExecutorError,  // a bug of ours, or a graph process died unexpectedly
  kSetupError,     // the run could not start (the message says why)
};
const char* RunStatusName(RunStatus s);

enum class SettleResult : uint8_t {
  kCleanAtOnce,   // census back to baseline right after the graph; no wait
  kCleanSettled,  // back to baseline while settling
  kDirty,         // not at baseline after collector passes that freed nothing more
                  // (or with the collector stalled): a leak
  kNotChecked,    // the run did not complete, no census ruled
  kUnsettled,     // at the ceiling, still changing: neither clean nor proven a leak
  kMaxValue = kUnsettled,
};
const char* SettleResultName(SettleResult s);

struct RunResult {
  uint64_t id = 0;
  RunStatus status = RunStatus::kCompleted;
  std::string error;  // for kExecutorError / kSetupError, and hang details
  std::vector<ActionOutcome> actions;
  std::vector<ProcOutcome> procs;
  std::vector<ObjectEvent> events;
  bool events_truncated = false;
  SettleResult settle = SettleResult::kNotChecked;
  Census baseline;
  Census census;  // the last census taken
  // Object liveness after settling (docs/design.md): keys of scenario objects whose
  // files are still alive per their witness, and inodes the slot's tmpfs still uses
  // beyond its baseline.
  std::vector<uint64_t> alive_objects;
  int64_t tmpfs_inodes_excess = 0;
  // Alarming kernel log records (KASAN, WARNING, BUG, ...) seen during the run or its
  // settling, with context. Several slots run at once, so a record may belong to a run
  // that ran at the same time.
  std::vector<std::string> kernel_log;
  // Per-user in-flight accounting of the slot's own uid (probe/accounting.h): checked
  // after this run when the sandbox measured it; -1 when not measured.
  uint32_t uid = 0;
  int32_t accounting_deficit = -1;  // descriptors still counted in flight after settling
  int slot = -1;
  int64_t exec_us = 0;
  int64_t settle_us = 0;
  int32_t settle_polls = 0;
  int32_t settle_passes = 0;    // collector passes proven while settling (probe/settle.h)
  bool settle_stalled = false;  // kDirty with no collector pass completed at all
  std::string settle_why;       // the settler's account of its outcome
  StressOutcome stress;         // stress epochs only (stress.stressor is empty otherwise)
  // Kernel PCs the graph's processes reached (RunOptions::kcov), process after process.
  // Sent to the driver in their own frame as the graph ends (MsgType::kCoverage), so a
  // result on the wire comes without them.
  std::vector<uint64_t> kernel_pcs;
  std::vector<RecvTickets> tickets;  // free-run only, in action order
  bool operator==(const RunResult&) const = default;
};

// The accounting of one slot at the end of a sandbox's work (sent before it exits).
struct SlotAccounting {
  uint32_t uid = 0;
  uint32_t runs = 0;      // runs since the slot's last check
  int32_t baseline = 0;   // allowance of the uid before its first run
  int32_t allowance = 0;  // allowance now
  bool operator==(const SlotAccounting&) const = default;
};

std::string EncodeRunResult(const RunResult& r);
bool DecodeRunResult(std::string_view data, RunResult& out);

}  // namespace inflight
