// Verdict rules and leftover attribution.
#include "oracle/verdict.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>

#include "base/errno_names.h"
#include "scenario/text.h"

namespace inflight {

const char* VerdictName(VerdictKind k) {
  switch (k) {
    case VerdictKind::kClean: return "clean";
    case VerdictKind::kFault: return "fault";
    case VerdictKind::kLeak: return "leak";
    case VerdictKind::kHang: return "hang";
    case VerdictKind::kError: return "error";
  }
  return "?";
}

bool IsFinding(VerdictKind k) {
  return k == VerdictKind::kLeak || k == VerdictKind::kHang || k == VerdictKind::kFault;
}

std::string DescribeAction(const Scenario& s, int i) {
  if (i < 0 || static_cast<size_t>(i) >= s.actions.size()) return "?";
  const Action& a = s.actions[static_cast<size_t>(i)];
  return fmt::format("{}: {}", s.procs[a.proc], PrintAction(s, a));
}

namespace {

std::string SockTypeText(uint8_t type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
  }
  return fmt::format("type-{}", type);
}

struct Index {
  std::map<uint64_t, const ObjectEvent*> created;       // first creation per inode
  std::map<uint64_t, std::vector<int>> sent;            // inode -> send actions
  std::map<int, uint64_t> via;                          // send action -> socket it used

  explicit Index(const RunResult& r) {
    for (const ObjectEvent& e : r.events) {
      switch (e.type) {
        case EventType::kCreated:
          created.emplace(e.ino, &e);
          break;
        case EventType::kSent: {
          auto& v = sent[e.ino];
          if (v.empty() || v.back() != e.action) v.push_back(e.action);
          break;
        }
        case EventType::kSentVia:
          via[e.action] = e.ino;
          break;
        case EventType::kReceived:
          break;
      }
    }
  }

  std::string Name(const Scenario& s, uint64_t ino) const {
    auto it = created.find(ino);
    if (it == created.end()) return "";
    const Action& a = s.actions[it->second->action];
    if (it->second->index >= a.out.size()) return "";
    return s.vars[a.out[it->second->index]];
  }
  std::string Label(const Scenario& s, uint64_t ino) const {
    std::string n = Name(s, ino);
    return n.empty() ? fmt::format("socket {}", ino) : fmt::format("'{}' (ino {})", n, ino);
  }
};

std::string ExpectText(int e) { return e == 0 ? "success" : ErrnoName(e); }

}  // namespace

Verdict Rule(const Scenario& s, const RunOptions& opt, const RunResult& r) {
  Verdict v;
  if (r.status == RunStatus::kSetupError || r.status == RunStatus::kExecutorError) {
    v.kind = VerdictKind::kError;
    v.summary = fmt::format("{}: {}", RunStatusName(r.status), r.error);
    return v;
  }

  // Semantic faults: expected errnos (lockstep only).
  if (opt.mode == RunMode::kLockstep && r.status == RunStatus::kCompleted) {
    for (size_t i = 0; i < s.actions.size() && i < r.actions.size(); ++i) {
      const Action& a = s.actions[i];
      const ActionOutcome& o = r.actions[i];
      if (!a.expect || o.status == ActionStatus::kNotRun) continue;
      std::string got;
      if (o.status == ActionStatus::kSkipped) {
        got = "skipped (an operand held no descriptor)";
      } else {
        const int err = o.status == ActionStatus::kOk ? 0 : o.err;
        if (err == *a.expect) continue;
        got = ExpectText(err);
      }
      v.faults.push_back(fmt::format("action {} ({}): expected {}, got {}", i,
                                     DescribeAction(s, static_cast<int>(i)),
                                     ExpectText(*a.expect), got));
    }
  }

  // Leftovers after settling.
  if (r.settle == SettleResult::kDirty) {
    const Index idx(r);
    const CensusDelta d = DiffCensus(r.baseline, r.census);
    for (const SocketInfo& so : d.new_sockets) {
      Leftover l;
      l.ino = so.ino;
      l.what = SockTypeText(so.type) + (so.listening ? " listener" : " socket");
      l.object = idx.Name(s, so.ino);
      if (auto it = idx.created.find(so.ino); it != idx.created.end())
        l.created_by = it->second->action;
      if (auto it = idx.sent.find(so.ino); it != idx.sent.end()) {
        l.sent_by = it->second;
        if (auto via = idx.via.find(l.sent_by.back()); via != idx.via.end()) {
          const SocketInfo* through = r.census.Find(via->second);
          l.where = fmt::format("last sent over {}", idx.Label(s, via->second));
          if (through && through->peer)
            l.where += fmt::format(", into the queue of its peer {}", idx.Label(s, through->peer));
        }
      }
      l.detail = fmt::format("state {} rqueue {} wqueue {}{}{}", so.state, so.rqueue, so.wqueue,
                             so.peer         ? fmt::format(" peer {}", so.peer)
                             : so.peer_without_inode ? " peer closed or never accepted"
                                              : "",
                             so.name.empty() ? "" : " name " + so.name);
      v.leftovers.push_back(std::move(l));
    }
    for (const auto& e : d.new_embryos) {
      const SocketInfo* listener = r.census.Find(e.listener);
      for (uint64_t peer : e.added) {
        Leftover l;
        l.what = "embryo (connection never accepted)";
        l.where = fmt::format("pending on listener {}{}", idx.Label(s, e.listener),
                              listener && !listener->name.empty() ? " " + listener->name : "");
        if (peer) {
          l.object = "";
          l.detail = fmt::format("connected from {}", idx.Label(s, peer));
        } else {
          l.detail = "its connecting socket was closed and lives on as the embryo's peer";
        }
        v.leftovers.push_back(std::move(l));
      }
    }
    for (int64_t k = 0; k < d.new_anonymous; ++k) {
      Leftover l;
      l.what = "embryo (connection never accepted)";
      l.where = "listed without an inode by /proc/net/unix; its listener is not known";
      v.leftovers.push_back(std::move(l));
    }
    if (d.proto_excess > 0) {
      Leftover l;
      l.what = "unix sockets outside the socket table";
      l.detail = fmt::format(
          "{} more alive per /proc/net/protocols than the table and embryo lists explain",
          d.proto_excess);
      v.leftovers.push_back(std::move(l));
    }
  }

  if (r.status == RunStatus::kHang) {
    v.kind = VerdictKind::kHang;
    v.summary = r.error;
  } else if (r.settle == SettleResult::kDirty) {
    v.kind = VerdictKind::kLeak;
    std::string names;
    for (const Leftover& l : v.leftovers) {
      if (!names.empty()) names += ", ";
      names += l.object.empty() ? l.what : fmt::format("{} '{}'", l.what, l.object);
    }
    v.summary = fmt::format("{} object(s) outlived the graph and {:.0f} ms of settling: {}",
                            v.leftovers.size(), r.settle_us / 1000.0, names);
  } else if (!v.faults.empty()) {
    v.kind = VerdictKind::kFault;
    v.summary = fmt::format("{} semantic fault(s): {}", v.faults.size(), v.faults.front());
  } else {
    v.kind = VerdictKind::kClean;
    v.summary = r.settle == SettleResult::kCleanSettled
                    ? fmt::format("clean after {:.1f} ms of settling", r.settle_us / 1000.0)
                    : "clean";
  }
  return v;
}

}  // namespace inflight
