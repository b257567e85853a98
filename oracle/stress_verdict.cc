// Verdicts on stress epochs and the names of their leftovers.
#include "oracle/stress_verdict.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <map>
#include <unordered_map>

#include "oracle/ruling.h"

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
  const StressOutcome& o = r.stress;
  std::unordered_map<uint64_t, const StressObject*> logged;
  for (const StressObject& ob : o.objects) logged.emplace(ob.ino, &ob);
  auto name = [&](uint64_t ino, std::string* who) -> std::string {
    auto it = logged.find(ino);
    if (it == logged.end()) return "";
    if (who) *who = Who(it->second->worker);
    return StressLabel(s, it->second->label);
  };
  RunRuling how;
  how.faults = [&] {
    std::vector<std::string> faults = o.faults;
    if (o.faults_total > o.faults.size())
      faults.push_back(fmt::format("... and {} more", o.faults_total - o.faults.size()));
    return faults;
  };
  how.losses = [&] {
    std::vector<std::string> losses = o.losses;
    if (o.losses_total > o.losses.size())
      losses.push_back(fmt::format("... and {} more", o.losses_total - o.losses.size()));
    return losses;
  };
  how.socket_leftovers = [&](const CensusDelta& d, std::vector<Leftover>& out) {
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
      out.push_back(std::move(l));
    }
  };
  how.label = [&](uint64_t ino) {
    const std::string n = name(ino, nullptr);
    return fmt::format("socket {}{}", ino, n.empty() ? "" : " (" + n + ")");
  };
  how.leak_summary = [&](const Verdict& v) {
    // Group by what the stressor called them: "6 x cycles: nested_mixed_lowpoint".
    std::map<std::string, size_t> groups;
    for (const Leftover& l : v.leftovers) ++groups[l.object.empty() ? l.what : l.object];
    std::string names;
    for (const auto& [n, count] : groups)
      names += fmt::format("{}{} x {}", names.empty() ? "" : ", ", count, n);
    return fmt::format("{} object(s) outlived epoch {}: {}; {}", v.leftovers.size(), o.epoch, names,
                       SettleEvidence(r));
  };
  how.fault_summary = [&](const Verdict& v) {
    return fmt::format("{} fault(s) seen by the stressor: {}", o.faults_total, v.faults.front());
  };
  return RuleRun(r, how);
}

}  // namespace inflight
