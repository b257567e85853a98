// Names and the wire encoding of run results.
#include "run/run_types.h"

#include "base/wire.h"
#include "scenario/bounds.h"

namespace inflight {

const char* RunModeName(RunMode m) {
  return m == RunMode::kLockstep ? "lockstep" : "free";
}

const char* ActionStatusName(ActionStatus s) {
  switch (s) {
    case ActionStatus::kNotRun:
      return "not-run";
    case ActionStatus::kOk:
      return "ok";
    case ActionStatus::kFailed:
      return "failed";
    case ActionStatus::kSkipped:
      return "skipped";
  }
  return "?";
}

const char* ProcEndName(ProcEnd e) {
  switch (e) {
    case ProcEnd::kNeverStarted:
      return "never-started";
    case ProcEnd::kExited:
      return "exited";
    case ProcEnd::kKilledByScenario:
      return "killed";
    case ProcEnd::kKilledByWatchdog:
      return "killed-by-watchdog";
    case ProcEnd::kDiedUnexpectedly:
      return "died-unexpectedly";
  }
  return "?";
}

const char* RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kHang:
      return "hang";
    case RunStatus::kExecutorError:
      return "executor-error";
    case RunStatus::kSetupError:
      return "setup-error";
  }
  return "?";
}

const char* SettleResultName(SettleResult s) {
  switch (s) {
    case SettleResult::kCleanAtOnce:
      return "clean-at-once";
    case SettleResult::kCleanSettled:
      return "clean-after-settling";
    case SettleResult::kDirty:
      return "dirty";
    case SettleResult::kNotChecked:
      return "not-checked";
    case SettleResult::kUnsettled:
      return "unsettled";
  }
  return "?";
}

namespace {

constexpr uint32_t kMaxSockets = 1 << 20;
constexpr uint32_t kMaxEventsOnWire = 1 << 20;
constexpr uint32_t kMaxKernelPcsOnWire = 1 << 20;

// The field lists: one per message, for both directions (base/wire.h).
constexpr auto kCensusFields = [](auto& io, auto& c) {
  io.U8(c.method);
  io.I64(c.proto_inuse);
  io.I64(c.anonymous);
  io.List(c.sockets, kMaxSockets, [&](auto& s) {
    io.U64(s.ino);
    io.U8(s.type);
    io.U8(s.state);
    io.U8(s.listening);
    io.U8(s.peer_without_inode);
    io.U64(s.peer);
    io.U32(s.rqueue);
    io.U32(s.wqueue);
    io.Str(s.name);
    io.List(s.embryos, kMaxSockets, [&](auto& e) { io.U64(e); });
  });
};

constexpr auto kRunResultFields = [](auto& io, auto& res) {
  io.U64(res.id);
  io.U8(res.status);
  io.Str(res.error);
  io.List(res.actions, Bounds::kMaxActions, [&](auto& a) {
    io.U8(a.status);
    io.I32(a.err);
    io.I32(a.ret);
    io.U16(a.fds);
    io.U32(a.msg_flags);
    io.U16(a.installed);
    io.U8(a.creds);
    io.I32(a.cred_pid);
    io.U32(a.cred_uid);
    io.U32(a.cred_gid);
  });
  io.List(res.procs, Bounds::kMaxProcs, [&](auto& p) {
    io.U8(p.end);
    io.I32(p.wait_status);
    io.I32(p.action);
    io.I32(p.pid);
    io.U32(p.uid);
    io.U32(p.gid);
  });
  io.List(res.events, kMaxEventsOnWire, [&](auto& e) {
    io.U16(e.action);
    io.U8(e.type);
    io.Require(e.type <= EventType::kWitnessed);
    io.U8(e.index);
    io.U32(e.dev);
    io.U64(e.ino);
    io.U64(e.key);
    io.U32(e.mode);
    io.U32(e.tag);
  });
  io.U8(res.events_truncated);
  io.U8(res.settle);
  kCensusFields(io, res.baseline);
  kCensusFields(io, res.census);
  io.List(res.alive_objects, kMaxEventsOnWire, [&](auto& k) { io.U64(k); });
  io.I64(res.tmpfs_inodes_excess);
  io.List(res.kernel_log, 4096, [&](auto& l) { io.Str(l); });
  io.U32(res.uid);
  io.I32(res.accounting_deficit);
  io.I32(res.slot);
  io.I64(res.exec_us);
  io.I64(res.settle_us);
  io.I32(res.settle_polls);
  io.I32(res.settle_passes);
  io.U8(res.settle_stalled);
  io.Str(res.settle_why);
  StressOutcomeFields(io, res.stress);
  io.List(res.kernel_pcs, kMaxKernelPcsOnWire, [&](auto& pc) { io.U64(pc); });
  io.List(res.tickets, Bounds::kMaxActions, [&](auto& t) {
    io.U16(t.action);
    for (auto& w : t.tickets) io.U64(w);
  });
  io.Require(res.status <= RunStatus::kSetupError && res.settle <= SettleResult::kMaxValue);
};

}  // namespace

INFLIGHT_WIRE_CODEC(EncodeRunResult, DecodeRunResult, RunResult, kRunResultFields)

}  // namespace inflight
