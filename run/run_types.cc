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

void PutCensus(WireWriter& w, const Census& c) {
  w.U8(static_cast<uint8_t>(c.method));
  w.I64(c.proto_inuse);
  w.I64(c.anonymous);
  w.U32(static_cast<uint32_t>(c.sockets.size()));
  for (const SocketInfo& s : c.sockets) {
    w.U64(s.ino);
    w.U8(s.type);
    w.U8(s.state);
    w.U8(s.listening);
    w.U8(s.peer_without_inode);
    w.U64(s.peer);
    w.U32(s.rqueue);
    w.U32(s.wqueue);
    w.Str(s.name);
    w.U32(static_cast<uint32_t>(s.embryos.size()));
    for (uint64_t e : s.embryos) w.U64(e);
  }
}

void GetCensus(WireReader& r, Census& c) {
  c.method = static_cast<CensusMethod>(r.U8());
  c.proto_inuse = r.I64();
  c.anonymous = r.I64();
  uint32_t n = r.Count(kMaxSockets);
  c.sockets.resize(n);
  for (SocketInfo& s : c.sockets) {
    s.ino = r.U64();
    s.type = r.U8();
    s.state = r.U8();
    s.listening = r.U8() != 0;
    s.peer_without_inode = r.U8() != 0;
    s.peer = r.U64();
    s.rqueue = r.U32();
    s.wqueue = r.U32();
    s.name = r.Str();
    uint32_t k = r.Count(kMaxSockets);
    s.embryos.resize(k);
    for (uint64_t& e : s.embryos) e = r.U64();
    if (!r.ok()) return;
  }
}

}  // namespace

std::string EncodeRunResult(const RunResult& res) {
  WireWriter w;
  w.U64(res.id);
  w.U8(static_cast<uint8_t>(res.status));
  w.Str(res.error);
  w.U32(static_cast<uint32_t>(res.actions.size()));
  for (const ActionOutcome& a : res.actions) {
    w.U8(static_cast<uint8_t>(a.status));
    w.I32(a.err);
    w.I32(a.ret);
    w.U16(a.fds);
    w.U32(a.msg_flags);
    w.U16(static_cast<uint16_t>(a.installed));
  }
  w.U32(static_cast<uint32_t>(res.procs.size()));
  for (const ProcOutcome& p : res.procs) {
    w.U8(static_cast<uint8_t>(p.end));
    w.I32(p.wait_status);
    w.I32(p.action);
  }
  w.U32(static_cast<uint32_t>(res.events.size()));
  for (const ObjectEvent& e : res.events) {
    w.U16(e.action);
    w.U8(static_cast<uint8_t>(e.type));
    w.U8(e.index);
    w.U32(e.dev);
    w.U64(e.ino);
    w.U64(e.key);
  }
  w.U8(res.events_truncated);
  w.U8(static_cast<uint8_t>(res.settle));
  PutCensus(w, res.baseline);
  PutCensus(w, res.census);
  w.U32(static_cast<uint32_t>(res.alive_objects.size()));
  for (uint64_t k : res.alive_objects) w.U64(k);
  w.I64(res.tmpfs_inodes_excess);
  w.U32(static_cast<uint32_t>(res.kernel_log.size()));
  for (const auto& l : res.kernel_log) w.Str(l);
  w.U32(res.uid);
  w.I32(res.accounting_deficit);
  w.I32(res.slot);
  w.I64(res.exec_us);
  w.I64(res.settle_us);
  w.I32(res.settle_polls);
  w.I32(res.settle_passes);
  w.U8(res.settle_stalled);
  w.Str(res.settle_why);
  PutStressOutcome(w, res.stress);
  w.U32(static_cast<uint32_t>(res.kernel_pcs.size()));
  for (uint64_t pc : res.kernel_pcs) w.U64(pc);
  return w.Take();
}

bool DecodeRunResult(std::string_view data, RunResult& res) {
  WireReader r(data);
  res.id = r.U64();
  res.status = static_cast<RunStatus>(r.U8());
  res.error = r.Str();
  res.actions.resize(r.Count(Bounds::kMaxActions));
  for (ActionOutcome& a : res.actions) {
    a.status = static_cast<ActionStatus>(r.U8());
    a.err = r.I32();
    a.ret = r.I32();
    a.fds = r.U16();
    a.msg_flags = r.U32();
    a.installed = static_cast<int16_t>(r.U16());
  }
  res.procs.resize(r.Count(Bounds::kMaxProcs));
  for (ProcOutcome& p : res.procs) {
    p.end = static_cast<ProcEnd>(r.U8());
    p.wait_status = r.I32();
    p.action = r.I32();
  }
  res.events.resize(r.Count(kMaxEventsOnWire));
  for (ObjectEvent& e : res.events) {
    e.action = r.U16();
    const uint8_t type = r.U8();
    if (type > static_cast<uint8_t>(EventType::kWitnessed)) return false;
    e.type = static_cast<EventType>(type);
    e.index = r.U8();
    e.dev = r.U32();
    e.ino = r.U64();
    e.key = r.U64();
    if (!r.ok()) return false;
  }
  res.events_truncated = r.U8() != 0;
  res.settle = static_cast<SettleResult>(r.U8());
  GetCensus(r, res.baseline);
  GetCensus(r, res.census);
  res.alive_objects.resize(r.Count(kMaxEventsOnWire));
  for (uint64_t& k : res.alive_objects) k = r.U64();
  res.tmpfs_inodes_excess = r.I64();
  res.kernel_log.resize(r.Count(4096));
  for (auto& l : res.kernel_log) l = r.Str();
  res.uid = r.U32();
  res.accounting_deficit = r.I32();
  res.slot = r.I32();
  res.exec_us = r.I64();
  res.settle_us = r.I64();
  res.settle_polls = r.I32();
  res.settle_passes = r.I32();
  res.settle_stalled = r.U8() != 0;
  res.settle_why = r.Str();
  GetStressOutcome(r, res.stress);
  res.kernel_pcs.resize(r.Count(kMaxKernelPcsOnWire));
  for (uint64_t& pc : res.kernel_pcs) pc = r.U64();
  return r.ok() && r.AtEnd() && res.status <= RunStatus::kSetupError &&
         res.settle <= SettleResult::kMaxValue;
}

}  // namespace inflight
