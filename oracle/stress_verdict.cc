// Verdicts on stress epochs and the names of their leftovers.
#include "oracle/stress_verdict.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <map>
#include <unordered_map>

namespace inflight {

namespace {

std::string Who(uint8_t worker) {
  return worker == 255 ? "the stressor's root" : fmt::format("worker {}", worker);
}

}  // namespace

std::string StressLabel(const Stressor& s, uint16_t label) {
  if (label >= s.labels.size()) return "";
  return fmt::format("{}: {}", s.name, s.labels[label]);
}

Verdict RuleStress(const Stressor& s, const RunResult& r) {
  Verdict v;
  const StressOutcome& o = r.stress;
  if (r.status == RunStatus::kSetupError || r.status == RunStatus::kExecutorError) {
    v.kind = VerdictKind::kError;
    v.summary = fmt::format("{}: {}", RunStatusName(r.status), r.error);
    return v;
  }
  for (const std::string& f : o.faults) v.faults.push_back(f);
  if (o.faults_total > o.faults.size())
    v.faults.push_back(fmt::format("... and {} more", o.faults_total - o.faults.size()));

  if (r.settle == SettleResult::kDirty || r.settle == SettleResult::kUnsettled) {
    std::unordered_map<uint64_t, const StressObject*> logged;
    for (const StressObject& ob : o.objects) logged.emplace(ob.ino, &ob);
    auto name = [&](uint64_t ino, std::string* who) -> std::string {
      auto it = logged.find(ino);
      if (it == logged.end()) return "";
      if (who) *who = Who(it->second->worker);
      return StressLabel(s, it->second->label);
    };
    const CensusDelta d = DiffCensus(r.baseline, r.census);
    for (const SocketInfo& so : d.new_sockets) {
      Leftover l;
      l.ino = so.ino;
      l.what = SocketWhat(so);
      std::string who;
      l.object = name(so.ino, &who);
      l.where = who.empty() ? (o.log_truncated ? "not in the object log (it was full)"
                                               : "not logged by the stressor")
                            : "created by " + who;
      l.detail = SocketDetail(so);
      v.leftovers.push_back(std::move(l));
    }
    AppendOutOfTableLeftovers(
        d, r.census,
        [&](uint64_t ino) {
          const std::string n = name(ino, nullptr);
          return fmt::format("socket {}{}", ino, n.empty() ? "" : " (" + n + ")");
        },
        v.leftovers);
  }

  if (r.status == RunStatus::kHang) {
    v.kind = VerdictKind::kHang;
    v.summary = r.error;
  } else if (r.settle == SettleResult::kDirty) {
    v.kind = VerdictKind::kLeak;
    // Group by what the stressor called them: "6 x cycles: nested_mixed_lowpoint".
    std::map<std::string, size_t> groups;
    for (const Leftover& l : v.leftovers) ++groups[l.object.empty() ? l.what : l.object];
    std::string names;
    for (const auto& [n, count] : groups)
      names += fmt::format("{}{} x {}", names.empty() ? "" : ", ", count, n);
    v.summary = fmt::format("{} object(s) outlived epoch {}: {}; {}", v.leftovers.size(), o.epoch,
                            names, SettleEvidence(r));
  } else if (!v.faults.empty()) {
    v.kind = VerdictKind::kFault;
    v.summary =
        fmt::format("{} fault(s) seen by the stressor: {}", o.faults_total, v.faults.front());
  } else if (r.settle == SettleResult::kUnsettled) {
    v.kind = VerdictKind::kUnsettled;
    v.summary =
        fmt::format("epoch {} unsettled, neither clean nor proven a leak: {} object(s) left, {}",
                    o.epoch, v.leftovers.size(), SettleEvidence(r));
  } else {
    v.kind = VerdictKind::kClean;
    v.summary = r.settle == SettleResult::kCleanSettled
                    ? fmt::format("clean after {:.1f} ms of settling", r.settle_us / 1000.0)
                    : "clean";
  }
  return v;
}

}  // namespace inflight
