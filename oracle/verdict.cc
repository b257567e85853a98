// Verdict rules and leftover attribution.
#include "oracle/verdict.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "base/errno_names.h"
#include "oracle/free_loss.h"
#include "oracle/ruling.h"
#include "oracle/semantics.h"
#include "scenario/text.h"

namespace inflight {

const char* VerdictName(VerdictKind k) {
  switch (k) {
    case VerdictKind::kClean: return "clean";
    case VerdictKind::kFault: return "fault";
    case VerdictKind::kLeak: return "leak";
    case VerdictKind::kHang: return "hang";
    case VerdictKind::kError: return "error";
    case VerdictKind::kUnsettled: return "unsettled";
    case VerdictKind::kLoss: return "loss";
  }
  return "?";
}

std::optional<VerdictKind> VerdictFromName(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    if (name == VerdictName(static_cast<VerdictKind>(k))) return static_cast<VerdictKind>(k);
  return std::nullopt;
}

bool IsFinding(VerdictKind k) {
  return k == VerdictKind::kLeak || k == VerdictKind::kHang || k == VerdictKind::kFault ||
         k == VerdictKind::kLoss;
}

namespace {

std::string SockTypeText(uint8_t type) {
  switch (type) {
    case SOCK_STREAM:
      return "stream";
    case SOCK_DGRAM:
      return "dgram";
    case SOCK_SEQPACKET:
      return "seqpacket";
  }
  return fmt::format("type-{}", type);
}

}  // namespace

std::string SocketWhat(const SocketInfo& so) {
  return SockTypeText(so.type) + (so.listening ? " listener" : " socket");
}

std::string SocketDetail(const SocketInfo& so) {
  return fmt::format("state {} rqueue {} wqueue {}{}{}", so.state, so.rqueue, so.wqueue,
                     so.peer                 ? fmt::format(" peer {}", so.peer)
                     : so.peer_without_inode ? " peer closed or never accepted"
                                             : "",
                     so.name.empty() ? "" : " name " + so.name);
}

void AppendOutOfTableLeftovers(const CensusDelta& d, const Census& census,
                               const std::function<std::string(uint64_t)>& label,
                               std::vector<Leftover>& out) {
  for (const auto& e : d.new_embryos) {
    const SocketInfo* listener = census.Find(e.listener);
    for (uint64_t peer : e.added) {
      Leftover l;
      l.what = "embryo (connection never accepted)";
      l.where = fmt::format("pending on listener {}{}", label(e.listener),
                            listener && !listener->name.empty() ? " " + listener->name : "");
      l.detail = peer ? "connected from " + label(peer)
                      : "its connecting socket was closed and lives on as the embryo's peer";
      out.push_back(std::move(l));
    }
  }
  for (int64_t k = 0; k < d.new_anonymous; ++k) {
    Leftover l;
    l.what = "embryo (connection never accepted)";
    l.where = "listed without an inode by /proc/net/unix; its listener is not known";
    out.push_back(std::move(l));
  }
  if (d.proto_excess > 0) {
    // Closed sockets that a leftover still holds as its peer are alive but out of the
    // table: say so when the leftovers account for them.
    int64_t closed_peers = 0;
    for (const SocketInfo& so : d.new_sockets)
      if (so.peer_without_inode && !so.listening) ++closed_peers;
    Leftover l;
    l.what = "unix sockets outside the socket table";
    l.detail =
        fmt::format("{} more alive per /proc/net/protocols than the table and embryo lists explain",
                    d.proto_excess);
    if (closed_peers >= d.proto_excess)
      l.where = fmt::format("closed peers kept alive by {} leftover socket(s) above", closed_peers);
    out.push_back(std::move(l));
  }
}

std::string SettleEvidence(const RunResult& r) {
  if (r.settle_why.empty()) return fmt::format("{:.0f} ms of settling", r.settle_us / 1000.0);
  return fmt::format("{:.0f} ms of settling: {}", r.settle_us / 1000.0, r.settle_why);
}

std::string DescribeAction(const Scenario& s, int i) {
  if (i < 0 || static_cast<size_t>(i) >= s.actions.size()) return "?";
  const Action& a = s.actions[static_cast<size_t>(i)];
  return fmt::format("{}: {}", s.procs[a.proc], PrintAction(s, a));
}

namespace {

struct Index {
  std::map<uint64_t, const ObjectEvent*> created;         // first creation per inode
  std::map<uint64_t, const ObjectEvent*> created_by_key;  // per ObjectKey
  std::map<uint64_t, int> creations_per_ino;              // >1: an anonymous inode
  std::map<uint64_t, std::vector<int>> sent;              // inode -> send actions
  std::map<uint64_t, std::vector<int>> sent_by_key;       // ObjectKey -> send actions
  std::map<int, uint64_t> via;                            // send action -> socket it used
  std::map<uint64_t, WitnessKind> witnessed;              // ObjectKey -> how

  explicit Index(const RunResult& r) {
    auto add = [](std::vector<int>& v, int action) {
      if (v.empty() || v.back() != action) v.push_back(action);
    };
    for (const ObjectEvent& e : r.events) {
      switch (e.type) {
        case EventType::kCreated:
          created.emplace(e.ino, &e);
          created_by_key.emplace(e.key, &e);
          ++creations_per_ino[e.ino];
          break;
        case EventType::kSent:
          add(sent[e.ino], e.action);
          if (e.key != ObjectEvent::kUnknownKey) add(sent_by_key[e.key], e.action);
          break;
        case EventType::kSentVia:
          via[e.action] = e.ino;
          break;
        case EventType::kWitnessed:
          witnessed[e.key] = static_cast<WitnessKind>(e.index);
          break;
        case EventType::kReceived:
        case EventType::kRecvVia:
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
  // The sends that passed an object: by key where the sender knew it, and by inode
  // where the inode is the object's own (not an anonymous inode shared with others).
  std::vector<int> SentBy(uint64_t key, uint64_t ino) const {
    std::vector<int> out;
    if (auto it = sent_by_key.find(key); it != sent_by_key.end()) out = it->second;
    auto n = creations_per_ino.find(ino);
    if (n != creations_per_ino.end() && n->second == 1)
      if (auto it = sent.find(ino); it != sent.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  std::string Where(const Scenario& s, const RunResult& r, const std::vector<int>& sends) const {
    if (sends.empty()) return "";
    auto v = via.find(sends.back());
    if (v == via.end()) return "";
    std::string where = fmt::format("last sent over {}", Label(s, v->second));
    const SocketInfo* through = r.census.Find(v->second);
    if (through && through->peer)
      where += fmt::format(", into the queue of its peer {}", Label(s, through->peer));
    return where;
  }
};

// What an object is, from the action that created it.
std::string ObjectKind(const Action& a, uint8_t out_index) {
  std::string kind = ObjectKindName(a, out_index);
  return kind.empty() ? std::string(OpName(a.op)) + " object" : kind;
}

}  // namespace

Verdict Rule(const Scenario& s, const RunOptions& opt, const RunResult& r) {
  // The object log is indexed only for a dirty run: clean runs are the hot path.
  std::optional<Index> index;
  auto idx_of = [&]() -> const Index& {
    if (!index) index.emplace(r);
    return *index;
  };
  RunRuling how;
  // Semantic faults (lockstep only: free-run results vary by design).
  how.faults = [&]() -> std::vector<std::string> {
    if (opt.mode == RunMode::kLockstep && r.status == RunStatus::kCompleted)
      return SemanticFaults(s, r);
    return {};
  };
  // Lost messages: in lockstep the order of sends and receives, and so what each receive
  // must get, is known (LostMessages); in free-run only what the send tickets prove
  // (oracle/free_loss.h).
  how.losses = [&]() -> std::vector<std::string> {
    if (r.status != RunStatus::kCompleted) return {};
    return opt.mode == RunMode::kLockstep ? LostMessages(s, r) : FreeRunLosses(s, r);
  };
  how.socket_leftovers = [&](const CensusDelta& d, std::vector<Leftover>& out) {
    const Index& idx = idx_of();
    for (const SocketInfo& so : d.new_sockets) {
      Leftover l;
      l.ino = so.ino;
      l.what = SocketWhat(so);
      l.object = idx.Name(s, so.ino);
      if (auto it = idx.created.find(so.ino); it != idx.created.end())
        l.created_by = it->second->action;
      const uint64_t key =
          l.created_by >= 0 ? idx.created.at(so.ino)->key : ObjectEvent::kUnknownKey;
      l.sent_by = idx.SentBy(key, so.ino);
      l.where = idx.Where(s, r, l.sent_by);
      l.detail = SocketDetail(so);
      out.push_back(std::move(l));
    }
  };
  how.label = [&](uint64_t ino) { return idx_of().Label(s, ino); };
  // Objects whose witness says their file is still alive (sockets already listed from the
  // census are not listed twice), and tmpfs inodes beyond them.
  how.more_leftovers = [&](std::vector<Leftover>& out) {
    const Index& idx = idx_of();
    std::set<uint64_t> listed;
    for (const Leftover& l : out)
      if (l.ino) listed.insert(l.ino);
    int64_t alive_files = 0;
    for (uint64_t key : r.alive_objects) {
      auto c = idx.created_by_key.find(key);
      if (c == idx.created_by_key.end() || c->second->action >= s.actions.size()) {
        Leftover l;
        l.what = "object with an unknown key";
        l.detail = fmt::format("witness key {:#x}", key);
        out.push_back(std::move(l));
        continue;
      }
      const ObjectEvent& e = *c->second;
      const Action& a = s.actions[e.action];
      if (a.op == Op::kFile) ++alive_files;
      const bool is_socket = a.op == Op::kSocketpair || a.op == Op::kSocket || a.op == Op::kAccept;
      if (is_socket && listed.count(e.ino)) continue;
      Leftover l;
      l.what = ObjectKind(a, e.index);
      l.ino = e.ino;
      l.object = e.index < a.out.size() ? s.vars[a.out[e.index]] : "";
      l.created_by = e.action;
      l.sent_by = idx.SentBy(key, e.ino);
      l.where = idx.Where(s, r, l.sent_by);
      auto w = idx.witnessed.find(key);
      l.detail = w != idx.witnessed.end() && w->second == WitnessKind::kLock
                     ? "its OFD lock is still held: the file was never released"
                     : "still registered in the witness epoll: the file was never released";
      out.push_back(std::move(l));
    }
    if (r.tmpfs_inodes_excess > alive_files) {
      Leftover l;
      l.what = "inodes in use on the run's tmpfs";
      l.detail = fmt::format(
          "{} more than the empty slot, beyond the {} alive witnessed file(s) and the paths "
          "still linked: a file, or a socket bound to a path since unlinked, never released",
          r.tmpfs_inodes_excess, alive_files);
      out.push_back(std::move(l));
    }
  };
  how.leak_summary = [&](const Verdict& v) {
    std::string names;
    for (const Leftover& l : v.leftovers) {
      if (!names.empty()) names += ", ";
      names += l.object.empty() ? l.what : fmt::format("{} '{}'", l.what, l.object);
    }
    return fmt::format("{} object(s) outlived the graph: {}; {}", v.leftovers.size(), names,
                       SettleEvidence(r));
  };
  how.fault_summary = [](const Verdict& v) {
    return fmt::format("{} semantic fault(s): {}", v.faults.size(), v.faults.front());
  };
  return RuleRun(r, how);
}

}  // namespace inflight
