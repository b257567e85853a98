// The lockstep semantic checks (see semantics.h).
#include "oracle/semantics.h"

#include <fmt/core.h>

#include <map>
#include <set>

#include "base/errno_names.h"
#include "oracle/verdict.h"

namespace inflight {

namespace {

std::string ExpectText(int e) {
  return e == 0 ? "success" : ErrnoName(e);
}

struct Log {
  std::map<uint64_t, uint64_t> peer;                    // socketpair ends, both ways
  std::map<uint64_t, int> creations_per_ino;            // >1: an anonymous inode
  std::map<int, uint64_t> sent_via, recv_via;           // action -> socket inode
  std::map<int, std::vector<uint64_t>> sent, received;  // action -> object inodes, in order

  explicit Log(const Scenario& s, const RunResult& r) {
    std::map<int, std::map<uint8_t, uint64_t>> pairs;  // socketpair action -> index -> ino
    for (const ObjectEvent& e : r.events) {
      switch (e.type) {
        case EventType::kCreated:
          ++creations_per_ino[e.ino];
          if (e.action < s.actions.size() && s.actions[e.action].op == Op::kSocketpair)
            pairs[e.action][e.index] = e.ino;
          break;
        case EventType::kSentVia:
          sent_via[e.action] = e.ino;
          break;
        case EventType::kRecvVia:
          recv_via[e.action] = e.ino;
          break;
        case EventType::kSent:
          sent[e.action].push_back(e.ino);
          break;
        case EventType::kReceived: {
          auto& v = received[e.action];
          if (v.size() <= e.index) v.resize(e.index + 1u, 0);
          v[e.index] = e.ino;
          break;
        }
        case EventType::kWitnessed:
          break;
      }
    }
    for (auto& [action, ends] : pairs) {
      if (ends.size() != 2) continue;
      peer[ends[0]] = ends[1];
      peer[ends[1]] = ends[0];
    }
  }
  bool Distinct(uint64_t ino) const {
    auto it = creations_per_ino.find(ino);
    return ino != 0 && (it == creations_per_ino.end() || it->second == 1);
  }
};

}  // namespace

std::vector<std::string> SemanticFaults(const Scenario& s, const RunResult& r) {
  std::vector<std::string> faults;
  const size_t n = std::min(s.actions.size(), r.actions.size());
  auto fault = [&](size_t i, const std::string& what) {
    faults.push_back(
        fmt::format("action {} ({}): {}", i, DescribeAction(s, static_cast<int>(i)), what));
  };

  for (size_t i = 0; i < n; ++i) {  // expected errnos
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (!a.expect || o.status == ActionStatus::kNotRun) continue;
    if (o.status == ActionStatus::kSkipped) {
      fault(i, fmt::format("expected {}, got skipped (an operand held no descriptor)",
                           ExpectText(*a.expect)));
      continue;
    }
    const int err = o.status == ActionStatus::kOk ? 0 : o.err;
    if (err != *a.expect)
      fault(i, fmt::format("expected {}, got {}", ExpectText(*a.expect), ExpectText(err)));
  }

  if (r.events_truncated) return faults;  // the object log is incomplete
  const Log log(s, r);
  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (a.op != Op::kRecv || o.status != ActionStatus::kOk) continue;
    // Cut-off descriptors must not be installed.
    if (o.installed >= 0 && o.installed != o.fds)
      fault(i, fmt::format("the descriptor table gained {} descriptor(s), the control "
                           "messages carried {}{}",
                           o.installed, o.fds, (o.msg_flags & 0x8) ? " (MSG_CTRUNC was set)" : ""));
    // Received objects must have been sent toward this socket.
    auto via = log.recv_via.find(static_cast<int>(i));
    auto got = log.received.find(static_cast<int>(i));
    if (via == log.recv_via.end() || got == log.received.end()) continue;
    if (auto peer = log.peer.find(via->second); peer != log.peer.end()) {
      std::set<uint64_t> sent_here;
      for (const auto& [action, sock] : log.sent_via) {
        if (action >= static_cast<int>(i) || sock != peer->second) continue;
        if (auto it = log.sent.find(action); it != log.sent.end())
          sent_here.insert(it->second.begin(), it->second.end());
      }
      for (uint64_t ino : got->second)
        if (log.Distinct(ino) && !sent_here.count(ino))
          fault(i, fmt::format("received inode {}, which was never sent toward this socket", ino));
    }
    // A peek and the next real receive from the same socket get the same objects.
    if (!(a.flags & kFlagPeek)) continue;
    for (size_t j = i + 1; j < n; ++j) {
      const Action& b = s.actions[j];
      if (b.op != Op::kRecv || (b.flags & kFlagPeek) || r.actions[j].status != ActionStatus::kOk)
        continue;
      auto jvia = log.recv_via.find(static_cast<int>(j));
      if (jvia == log.recv_via.end() || jvia->second != via->second) continue;
      auto jgot = log.received.find(static_cast<int>(j));
      if (jgot != log.received.end() && !(b.flags & kFlagOob) && !(a.flags & kFlagOob)) {
        const size_t m = std::min(jgot->second.size(), got->second.size());
        for (size_t k = 0; k < m; ++k)
          if (log.Distinct(got->second[k]) && got->second[k] != jgot->second[k])
            fault(i, fmt::format("MSG_PEEK installed inode {} as descriptor {}, but action {} "
                                 "received inode {} there",
                                 got->second[k], k, j, jgot->second[k]));
      }
      break;  // only the very next successful receive from this socket
    }
  }
  return faults;
}

}  // namespace inflight
