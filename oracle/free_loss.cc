// The free-run loss ruling (see free_loss.h).
#include "oracle/free_loss.h"

#include <fmt/core.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <map>
#include <set>

#include "oracle/verdict.h"
#include "run/tickets.h"

namespace inflight {

namespace {

bool Attempted(const ActionOutcome& o) {
  return o.status != ActionStatus::kNotRun && o.status != ActionStatus::kSkipped;
}

int Count(const TicketSet& t) {
  int n = 0;
  for (uint64_t w : t) n += __builtin_popcountll(w);
  return n;
}

// What the run's object log says about sockets and descriptor slots.
struct Facts {
  std::map<uint64_t, uint64_t> peer;  // socketpair ends, both ways
  std::map<uint64_t, SockType> type;  // socketpair ends
  std::map<int, uint64_t> recv_via;   // successful receive -> the socket it read
  std::vector<uint64_t> target;       // per action: its operand's inode, 0 unknown

  Facts(const Scenario& s, const RunResult& r, size_t n) {
    std::map<int, std::vector<const ObjectEvent*>> by_action;
    for (const ObjectEvent& e : r.events) {
      if (e.type == EventType::kCreated || e.type == EventType::kReceived)
        by_action[e.action].push_back(&e);
      if (e.type == EventType::kRecvVia) recv_via[e.action] = e.ino;
    }
    for (size_t i = 0; i < n; ++i) {
      if (s.actions[i].op != Op::kSocketpair) continue;
      uint64_t ends[2] = {0, 0};
      for (const ObjectEvent* e : by_action[static_cast<int>(i)])
        if (e->type == EventType::kCreated && e->index < 2) ends[e->index] = e->ino;
      if (ends[0] == 0 || ends[1] == 0 || ends[0] == ends[1]) continue;
      peer[ends[0]] = ends[1];
      peer[ends[1]] = ends[0];
      type[ends[0]] = type[ends[1]] = s.actions[i].type;
    }
    // Descriptor slots to inodes, per process: the global order restricted to one
    // process is its own order, and a fork copies the parent's slots as they were.
    target.assign(n, 0);
    std::vector<std::map<VarId, uint64_t>> vars(s.procs.size());
    for (size_t i = 0; i < n; ++i) {
      const Action& a = s.actions[i];
      const ActionOutcome& o = r.actions[i];
      auto& v = vars[a.proc];
      if (HasTarget(a.op))
        if (auto it = v.find(a.target); it != v.end()) target[i] = it->second;
      if (o.status == ActionStatus::kOk) {
        for (const ObjectEvent* e : by_action[static_cast<int>(i)])
          if (e->index < a.out.size()) v[a.out[e->index]] = e->ino;
        if (a.op == Op::kDup && v.count(a.target)) v[a.out[0]] = v[a.target];
        if (a.op == Op::kFork && a.other < vars.size()) vars[a.other] = v;
      }
      if (a.op == Op::kClose) v.erase(a.target);
    }
  }
  uint64_t PeerOf(uint64_t ino) const {
    auto it = peer.find(ino);
    return it == peer.end() ? 0 : it->second;
  }
};

}  // namespace

std::vector<std::string> FreeRunLosses(const Scenario& s, const RunResult& r) {
  std::vector<std::string> out;
  if (r.status != RunStatus::kCompleted || r.events_truncated) return out;
  const size_t n = std::min(s.actions.size(), r.actions.size());
  const Facts f(s, r, n);

  // Queues (by their receiving end) that are not ruled on, and whether none is.
  std::set<uint64_t> spoiled;
  bool all_spoiled = false;
  std::set<uint64_t> no_fd_rule;  // a stream receive into no buffer took rights unseen
  auto spoil = [&](uint64_t ino) {
    if (ino == 0) {
      all_spoiled = true;
      return;
    }
    spoiled.insert(ino);
    if (const uint64_t p = f.PeerOf(ino)) spoiled.insert(p);
  };
  auto via_of = [&](size_t i) {
    auto it = f.recv_via.find(static_cast<int>(i));
    return it != f.recv_via.end() ? it->second : f.target[i];
  };
  std::map<int, const TicketSet*> got;  // receive action -> the tickets it got
  for (const RecvTickets& t : r.tickets) got[t.action] = &t.tickets;
  bool limits = false;  // a `limit` action: descriptor installs may fail by design

  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (!Attempted(o)) continue;
    switch (a.op) {
      case Op::kConnect:
      case Op::kBind:
      case Op::kListen:
      case Op::kAccept:
      case Op::kShutdown:
        spoil(f.target[i]);
        break;
      case Op::kSetsockopt:
        if (a.sockopt != SockOpt::kSndbuf && a.sockopt != SockOpt::kRcvbuf) spoil(f.target[i]);
        break;
      case Op::kLimit:
        limits = true;
        break;
      case Op::kSend:
        if ((a.flags & kFlagOob) ||
            (o.status == ActionStatus::kFailed && o.err != EAGAIN && o.err != ETOOMANYREFS))
          spoil(f.target[i]);
        break;
      case Op::kRecv: {
        const uint64_t via = via_of(i);
        const auto t = f.type.find(via);
        const bool stream = t != f.type.end() && t->second == SockType::kStream;
        if ((a.flags & (kFlagOob | kFlagFaultData)) ||
            (o.status == ActionStatus::kFailed && o.err != EAGAIN)) {
          spoil(via);
        } else if (o.status == ActionStatus::kOk && !(a.flags & kFlagPeek)) {
          if (!stream && a.bytes == 0) spoil(via);                       // a datagram taken unseen
          if (o.ret > 0 && !got.count(static_cast<int>(i))) spoil(via);  // not reported
          if (stream && a.bytes == 0) no_fd_rule.insert(via);
        }
        break;
      }
      default:
        break;
    }
  }
  // A process killed in the middle of an action: what it did to its operand is unknown.
  for (const ProcOutcome& p : r.procs) {
    if (p.end == ProcEnd::kExited || p.end == ProcEnd::kNeverStarted) continue;
    if (p.action < 0 || static_cast<size_t>(p.action) >= n) continue;
    const Action& a = s.actions[static_cast<size_t>(p.action)];
    if (HasTarget(a.op)) spoil(f.target[static_cast<size_t>(p.action)]);
  }
  if (all_spoiled) return out;

  // Tickets: the one send each names, or -1 (no send, or several).
  const std::vector<uint8_t> ticket = SendTickets(s);
  std::array<int, 256> owner;
  owner.fill(-1);
  std::array<int, 256> holders{};
  for (size_t i = 0; i < n; ++i) {
    if (s.actions[i].op != Op::kSend) continue;
    owner[ticket[i]] = ++holders[ticket[i]] == 1 ? static_cast<int>(i) : -1;
  }
  // The sends each queue provably got (a socketpair end's peer's queue), and every
  // ticket some real receive took from it.
  std::map<uint64_t, std::vector<size_t>> sent_to;
  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (a.op != Op::kSend || o.status != ActionStatus::kOk || o.ret <= 0 || (a.flags & kFlagOob))
      continue;
    if (const uint64_t q = f.PeerOf(f.target[i])) sent_to[q].push_back(i);
  }
  std::map<uint64_t, TicketSet> taken;
  std::map<uint64_t, std::map<uint8_t, int>> takers;  // queue -> ticket -> receives with it
  for (const auto& [action, set] : got) {
    if (static_cast<size_t>(action) >= n || (s.actions[action].flags & kFlagPeek)) continue;
    const uint64_t q = via_of(static_cast<size_t>(action));
    TicketSet& all = taken[q];
    for (size_t w = 0; w < all.size(); ++w) all[w] |= (*set)[w];
    for (int t = 0; t < 256; ++t)
      if (HasTicket(*set, static_cast<uint8_t>(t))) ++takers[q][static_cast<uint8_t>(t)];
  }
  auto received = [&](uint64_t q, size_t send) {
    auto it = taken.find(q);
    return it != taken.end() && HasTicket(it->second, ticket[send]);
  };

  // j happens before x: j returned before x began (the same process, or an ancestor
  // before the fork that leads to x's process).
  std::vector<int> parent(s.procs.size(), -1), fork_at(s.procs.size(), -1);
  for (size_t i = 0; i < n; ++i)
    if (s.actions[i].op == Op::kFork && s.actions[i].other < s.procs.size()) {
      parent[s.actions[i].other] = s.actions[i].proc;
      fork_at[s.actions[i].other] = static_cast<int>(i);
    }
  auto before = [&](size_t j, size_t x) {
    int p = s.actions[x].proc;
    size_t limit = x;
    for (size_t hops = 0; hops <= s.procs.size(); ++hops) {
      if (s.actions[j].proc == p) return j < limit;
      if (parent[p] < 0) return false;
      limit = static_cast<size_t>(fork_at[p]);
      p = parent[p];
    }
    return false;
  };

  auto line = [&](size_t i, const std::string& what) {
    out.push_back(
        fmt::format("action {} ({}): {}", i, DescribeAction(s, static_cast<int>(i)), what));
  };
  std::set<size_t> named;  // lost sends already named: one line per lost message
  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (a.op != Op::kRecv || !Attempted(o) || (a.flags & kFlagOob)) continue;
    const uint64_t q = via_of(i);
    if (q == 0 || spoiled.count(q) || !f.peer.count(q)) continue;
    const auto sends = sent_to.find(q);
    const bool stream = f.type.at(q) == SockType::kStream;

    // Nothing, while a message sent before this receive was still queued.
    const bool nothing =
        (o.status == ActionStatus::kFailed && o.err == EAGAIN) ||
        (o.status == ActionStatus::kOk && stream && o.ret == 0 && o.fds == 0 && a.bytes > 0);
    if (nothing) {
      if (sends == sent_to.end()) continue;
      std::vector<size_t> gone;
      for (size_t j : sends->second)
        if (before(j, i) && !received(q, j) && !named.count(j)) gone.push_back(j);
      if (gone.empty()) continue;
      std::string which;
      for (size_t j : gone) which += (which.empty() ? "" : ", ") + std::to_string(j);
      line(i, fmt::format("got {} while {} message(s) sent before it into this queue (by "
                          "action(s) {}) were never received: they were gone",
                          o.status == ActionStatus::kOk ? "end of file" : "EAGAIN", gone.size(),
                          which));
      named.insert(gone.begin(), gone.end());
      continue;
    }
    if (o.status != ActionStatus::kOk || (a.flags & kFlagPeek)) continue;
    auto mine = got.find(static_cast<int>(i));
    if (mine == got.end()) continue;
    const TicketSet& tickets = *mine->second;

    // Order: a later message of the same queue arrived, an earlier one never did.
    if (sends != sent_to.end()) {
      for (int t = 0; t < 256; ++t) {
        if (!HasTicket(tickets, static_cast<uint8_t>(t)) || owner[t] < 0) continue;
        const size_t k = static_cast<size_t>(owner[t]);
        if (f.PeerOf(f.target[k]) != q) continue;  // not provably sent into this queue
        for (size_t j : sends->second) {
          if (j == k || named.count(j) || !before(j, k) || received(q, j)) continue;
          line(i, fmt::format("got the message of action {}, but the one action {} ({}) sent "
                              "into this queue before it never arrived: it was gone",
                              k, j, DescribeAction(s, static_cast<int>(j))));
          named.insert(j);
        }
      }
    }

    // Descriptors: the message this receive got carried more than arrived.
    const bool cut = limits || a.ctrunc >= 0 || a.cbuf >= 0 || a.nofile != 0 ||
                     (a.flags & (kFlagFaultCbuf | kFlagFaultData)) || (o.msg_flags & MSG_CTRUNC);
    if (cut || no_fd_rule.count(q)) continue;
    int carrier = -1;  // the one send among this receive's tickets that carried rights
    bool decidable = true;
    for (int t = 0; t < 256 && decidable; ++t) {
      if (!HasTicket(tickets, static_cast<uint8_t>(t))) continue;
      if (owner[t] < 0) {
        decidable = false;  // bytes of a send it cannot name
        break;
      }
      const size_t k = static_cast<size_t>(owner[t]);
      if (Scenario::RightsCount(s.actions[k]) == 0) continue;
      if (carrier >= 0 || r.actions[k].status != ActionStatus::kOk || f.PeerOf(f.target[k]) != q)
        decidable = false;
      carrier = static_cast<int>(k);
    }
    if (!decidable || carrier < 0) continue;
    // A datagram receive gets one message; a stream receive gets the rights of the message
    // whose first bytes it took, which is sure only when no other receive took any of them.
    if (!stream && Count(tickets) != 1) continue;
    if (stream && takers[q][ticket[static_cast<size_t>(carrier)]] != 1) continue;
    const uint32_t want = Scenario::RightsCount(s.actions[static_cast<size_t>(carrier)]);
    if (o.fds < want)
      line(i, fmt::format("{} descriptor(s) lost: the message of action {} carried {}, {} "
                          "arrived",
                          want - o.fds, carrier, want, o.fds));
  }
  return out;
}

}  // namespace inflight
