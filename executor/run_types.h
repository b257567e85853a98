// What one scenario run produced, as plain data: per-action outcomes, per-process ends,
// the objects the graph created, sent and received (by inode), the census after
// settling, and timings. Produced by the sandbox, ruled on by oracle/verdict.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "executor/stress_types.h"
#include "oracle/census.h"

namespace inflight {

enum class RunMode : uint8_t { kLockstep, kFree, kMaxValue = kFree };
const char* RunModeName(RunMode m);

struct RunOptions {
  RunMode mode = RunMode::kLockstep;
  uint64_t seed = 0;
  uint32_t timeout_ms = 10'000;    // watchdog for the graph
  uint32_t settle_ms = 2'000;      // settling deadline
  uint32_t io_timeout_ms = 20;     // free-run: SO_RCVTIMEO/SO_SNDTIMEO on every socket
};

enum class ActionStatus : uint8_t {
  kNotRun = 0,   // its process was gone, or the run stopped before it
  kOk,
  kFailed,       // the call returned an error: see err
  kSkipped,      // an operand held no descriptor at run time (e.g. nothing was received)
};
const char* ActionStatusName(ActionStatus s);

struct ActionOutcome {
  ActionStatus status = ActionStatus::kNotRun;
  int32_t err = 0;        // errno when kFailed
  int32_t ret = 0;        // bytes sent/received, pid forked, ...
  uint16_t fds = 0;       // recv: descriptors installed
  uint32_t msg_flags = 0; // recv: msg_flags (MSG_CTRUNC, ...)
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
};

enum class EventType : uint8_t {
  kCreated,   // action created the object (index: which output)
  kSent,      // action passed the object in SCM_RIGHTS
  kReceived,  // action received it (index: position in the message)
  kSentVia,   // the socket a send went through (its peer's queue got the rights)
};

struct ObjectEvent {
  uint16_t action = 0;
  EventType type = EventType::kCreated;
  uint8_t index = 0;
  uint32_t dev = 0;   // st_dev (a socket's is sockfs)
  uint64_t ino = 0;
  bool operator==(const ObjectEvent&) const = default;
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
  kDirty,         // still not at baseline after the full settling protocol
  kNotChecked,    // the run did not complete, no census ruled
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
  int slot = -1;
  int64_t exec_us = 0;
  int64_t settle_us = 0;
  int32_t settle_polls = 0;
  int32_t settle_triggers = 0;
  StressOutcome stress;  // stress epochs only (stress.stressor is empty otherwise)
};

std::string EncodeRunResult(const RunResult& r);
bool DecodeRunResult(std::string_view data, RunResult& out);

}  // namespace inflight
