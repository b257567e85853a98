// The lockstep semantic checks (see semantics.h).
#include "oracle/semantics.h"

#include <fmt/core.h>

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <functional>
#include <map>
#include <set>

#include "base/errno_names.h"
#include "oracle/verdict.h"

namespace inflight {

namespace {

std::string ExpectText(int e) {
  return e == 0 ? "success" : ErrnoName(e);
}

// "EAGAIN", or "success or ETOOMANYREFS" for expect=ok|ETOOMANYREFS.
std::string ExpectedText(const Action& a) {
  std::string out;
  for (int e : ExpectedOutcomes(a)) out += (out.empty() ? "" : " or ") + ExpectText(e);
  return out;
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

bool SameObject(const ObjectEvent& x, const ObjectEvent& y) {
  return x.dev == y.dev && x.ino == y.ino && x.mode == y.mode && x.tag == y.tag;
}

// "'a' (stream socket created by action 2)"
std::string Made(const Scenario& s, const ObjectEvent& c) {
  const Action& a = s.actions[c.action];
  const std::string var = c.index < a.out.size() ? s.vars[a.out[c.index]] : "?";
  return fmt::format("'{}' ({} created by action {})", var, ObjectKindName(a, c.index), c.action);
}

// recv is=: output k holds the object the last creation of same[k] above made. Objects
// are compared by st_dev, st_ino, type and access mode, and an anonymous inode's kind
// (ObjectEvent::mode, tag), as logged when each was created and when it arrived.
void CheckSame(const Scenario& s, const RunResult& r, size_t n,
               const std::function<void(size_t, const std::string&)>& fault) {
  std::map<std::pair<int, int>, const ObjectEvent*> created, received;
  for (const ObjectEvent& e : r.events) {
    if (e.type == EventType::kCreated) created.emplace(std::pair{e.action, e.index}, &e);
    if (e.type == EventType::kReceived) received.emplace(std::pair{e.action, e.index}, &e);
  }
  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    if (a.op != Op::kRecv || a.same.empty() || r.actions[i].status != ActionStatus::kOk) continue;
    for (size_t k = 0; k < a.same.size(); ++k) {
      if (a.same[k] == kNoVar) continue;
      const auto from = CreationOf(s, i, a.same[k]);
      if (!from) continue;
      auto want = created.find({from->action, from->out_index});
      if (want == created.end()) continue;  // not created (refused, skipped): nothing to compare
      const ObjectEvent& w = *want->second;
      auto got = received.find({static_cast<int>(i), static_cast<int>(k)});
      if (got == received.end()) {
        fault(i, fmt::format("slot {} ('{}'): nothing arrived, expected {}", k,
                             s.vars[a.out[k]], Made(s, w)));
        continue;
      }
      const ObjectEvent& g = *got->second;
      if (SameObject(g, w)) continue;
      // Name what arrived: the one object created alike, if there is one.
      std::vector<const ObjectEvent*> alike;
      for (const auto& [where, c] : created)
        if (SameObject(*c, g)) alike.push_back(c);
      std::string what;
      if (alike.size() == 1)
        what = Made(s, *alike[0]);
      else if (alike.empty())
        what = fmt::format("inode {} (no object this scenario created)", g.ino);
      else
        what = fmt::format("one of {} objects alike, e.g. {}", alike.size(), Made(s, *alike[0]));
      fault(i, fmt::format("slot {} ('{}') holds {}, not {}", k, s.vars[a.out[k]], what,
                           Made(s, w)));
    }
  }
}

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
                           ExpectedText(a)));
      continue;
    }
    const int err = o.status == ActionStatus::kOk ? 0 : o.err;
    if (!ExpectAccepts(a, err))
      fault(i, fmt::format("expected {}, got {}", ExpectedText(a), ExpectText(err)));
  }

  for (size_t i = 0; i < n; ++i) {  // recv creds=PROC: whose credentials arrived
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    if (a.op != Op::kRecv || a.cred_proc == kNoProc || o.status != ActionStatus::kOk) continue;
    const std::string& who = s.procs[a.cred_proc];
    if (o.creds == 0) {
      fault(i, fmt::format("expected the credentials of {}, no SCM_CREDENTIALS message arrived",
                           who));
      continue;
    }
    if (o.creds != 1) {
      fault(i, fmt::format("expected the credentials of {}, the SCM_CREDENTIALS message was cut "
                           "short (MSG_CTRUNC)",
                           who));
      continue;
    }
    if (a.cred_proc >= r.procs.size() || r.procs[a.cred_proc].pid <= 0) continue;  // unknown
    const ProcOutcome& p = r.procs[a.cred_proc];
    if (o.cred_pid != p.pid || o.cred_uid != p.uid || o.cred_gid != p.gid)
      fault(i, fmt::format("expected the credentials of {} (pid {}, uid {}, gid {}), got pid {}, "
                           "uid {}, gid {}",
                           who, p.pid, p.uid, p.gid, o.cred_pid, o.cred_uid, o.cred_gid));
  }

  if (r.events_truncated) return faults;  // the object log is incomplete
  CheckSame(s, r, n, fault);
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

namespace {

// What the peer of one socketpair end queued to it, as far as the model can follow.
struct QueueModel {
  struct Message {
    int action;
    int32_t bytes;
    uint16_t fds;
  };
  std::deque<Message> q;
  SockType type = SockType::kStream;
  bool lost_track = false;
};

}  // namespace

std::vector<std::string> LostMessages(const Scenario& s, const RunResult& r) {
  std::vector<std::string> out;
  if (r.events_truncated) return out;
  const size_t n = std::min(s.actions.size(), r.actions.size());
  const Log log(s, r);

  // Descriptor slots to inodes, per process, replayed action by action: which socket a
  // connect, shutdown, ... worked on.
  std::map<int, std::vector<const ObjectEvent*>> by_action;
  for (const ObjectEvent& e : r.events)
    if (e.type == EventType::kCreated || e.type == EventType::kReceived)
      by_action[e.action].push_back(&e);
  std::vector<std::map<VarId, uint64_t>> ino_of(s.procs.size());
  std::map<uint64_t, QueueModel> queues;  // receiving end's inode -> its queue
  std::map<uint64_t, SockType> pair_type;
  for (size_t i = 0; i < n; ++i)
    if (s.actions[i].op == Op::kSocketpair)
      for (const ObjectEvent* e : by_action[static_cast<int>(i)])
        if (e->type == EventType::kCreated) pair_type[e->ino] = s.actions[i].type;
  for (const auto& [ino, type] : pair_type)
    if (log.peer.count(ino)) queues[ino].type = type;
  auto lose_track = [&](uint64_t ino) {
    for (uint64_t x : {ino, log.peer.count(ino) ? log.peer.at(ino) : 0})
      if (auto it = queues.find(x); it != queues.end()) it->second.lost_track = true;
  };
  auto loss = [&](size_t i, const std::string& what) {
    out.push_back(
        fmt::format("action {} ({}): {}", i, DescribeAction(s, static_cast<int>(i)), what));
  };

  for (size_t i = 0; i < n; ++i) {
    const Action& a = s.actions[i];
    const ActionOutcome& o = r.actions[i];
    auto& vars = ino_of[a.proc];
    const uint64_t target =
        HasTarget(a.op) && vars.count(a.target) ? vars.at(a.target) : uint64_t{0};
    if (o.status != ActionStatus::kNotRun && o.status != ActionStatus::kSkipped) {
      switch (a.op) {
        case Op::kConnect:
        case Op::kBind:
        case Op::kListen:
        case Op::kAccept:
        case Op::kShutdown:
          if (target == 0) return {};  // cannot tell which socket: no model at all
          lose_track(target);
          break;
        case Op::kSetsockopt:
          // SO_PASSCRED: a stream receive no longer glues messages of different senders.
          // SO_SNDBUF: a stream send larger than half the send buffer is split into
          // several skbs, its rights ride on the first, and a receive stops after an skb
          // with rights: the read ends inside the send at a point the model cannot know.
          if (a.sockopt != SockOpt::kPasscred && a.sockopt != SockOpt::kSndbuf) break;
          if (target == 0) return {};
          lose_track(target);
          break;
        case Op::kSend: {
          // The socket it went through: the slot's inode (the executor logs the socket of
          // a send only when it carries descriptors), else the logged one.
          uint64_t via = target;
          if (auto it = log.sent_via.find(static_cast<int>(i)); via == 0 && it != log.sent_via.end())
            via = it->second;
          if (via == 0) break;
          // Refused before anything was queued: the queues are as they were.
          if (o.status == ActionStatus::kFailed && (o.err == EAGAIN || o.err == ETOOMANYREFS))
            break;
          if (o.status != ActionStatus::kOk || (a.flags & kFlagOob)) {
            lose_track(via);
            break;
          }
          auto peer = log.peer.find(via);
          if (peer == log.peer.end()) break;
          QueueModel& m = queues[peer->second];
          if (m.type == SockType::kStream && o.ret <= 0) break;  // nothing queued
          m.q.push_back({static_cast<int>(i), o.ret, static_cast<uint16_t>(Scenario::RightsCount(a))});
          break;
        }
        case Op::kRecv: {
          // A failed receive logs no socket: the slot's inode says which it was.
          uint64_t via = target;
          if (auto it = log.recv_via.find(static_cast<int>(i)); via == 0 && it != log.recv_via.end())
            via = it->second;
          auto it = queues.find(via);
          if (it == queues.end()) break;
          QueueModel& m = it->second;
          if (a.flags & kFlagOob) m.lost_track = true;
          if (m.lost_track || (a.flags & kFlagPeek)) break;
          if (o.status == ActionStatus::kFailed && o.err != EAGAIN) {
            m.lost_track = true;
            break;
          }
          if (m.q.empty()) break;
          if (m.type == SockType::kStream && a.bytes == 0) {
            // A stream receive into no buffer at all returns 0 whether the stream ended or
            // not, taking the descriptors of the message at the head, if any, and no byte.
            // Nothing to rule on: keep following only if it took exactly those.
            if (o.status != ActionStatus::kOk) {
              m.lost_track = true;
            } else if (o.fds > 0 && o.fds == m.q.front().fds) {
              m.q.front().fds = 0;
            } else if (o.fds > 0 || m.q.front().fds > 0) {
              m.lost_track = true;
            }
            break;
          }
          // A datagram may be empty; a stream receive of 0 bytes is the end of the stream.
          const bool got_nothing =
              o.status != ActionStatus::kOk ||
              (m.type == SockType::kStream && o.ret == 0 && o.fds == 0);
          if (got_nothing) {
            uint32_t fds = 0;
            for (const auto& msg : m.q) fds += msg.fds;
            loss(i, fmt::format("{} queued message(s) ({} descriptor(s)) were gone: the first "
                                "was sent by action {}; the receive got {}",
                                m.q.size(), fds, m.q.front().action,
                                o.status == ActionStatus::kOk ? "end of file" : "EAGAIN"));
            m.lost_track = true;
            break;
          }
          // What this receive takes off the modelled queue.
          int32_t want_bytes = 0;
          uint32_t want_fds = 0;
          int32_t room = a.bytes;
          if (m.type == SockType::kStream) {
            while (!m.q.empty() && room > 0) {
              auto& msg = m.q.front();
              const int32_t chunk = std::min(msg.bytes, room);
              want_bytes += chunk;
              room -= chunk;
              want_fds += msg.fds;
              msg.fds = 0;
              msg.bytes -= chunk;
              if (msg.bytes > 0) break;
              const bool had_fds = want_fds > 0;
              m.q.pop_front();
              if (had_fds) break;
            }
          } else {
            want_bytes = std::min(m.q.front().bytes, room);
            want_fds = m.q.front().fds;
            m.q.pop_front();
          }
          const bool cut = a.ctrunc >= 0 || a.cbuf >= 0 || a.nofile != 0 ||
                           (a.flags & kFlagFaultCbuf) || (o.msg_flags & MSG_CTRUNC);
          if (o.ret < want_bytes)
            loss(i, fmt::format("{} data byte(s) lost: expected {}, got {}", want_bytes - o.ret,
                                want_bytes, o.ret));
          else if (!cut && o.fds < want_fds)
            loss(i, fmt::format("{} descriptor(s) lost: expected {}, got {}", want_fds - o.fds,
                                want_fds, o.fds));
          if (o.ret != want_bytes || (!cut && o.fds != want_fds)) m.lost_track = true;
          break;
        }
        default:
          break;
      }
    }
    // The slots this action bound, for later actions.
    if (o.status == ActionStatus::kOk) {
      for (const ObjectEvent* e : by_action[static_cast<int>(i)])
        if (e->index < a.out.size()) vars[a.out[e->index]] = e->ino;
      switch (a.op) {
        case Op::kDup:
          if (vars.count(a.target)) vars[a.out[0]] = vars[a.target];
          break;
        case Op::kFork:
          if (a.other < ino_of.size()) ino_of[a.other] = vars;
          break;
        default:
          break;
      }
    }
    if (a.op == Op::kClose) vars.erase(a.target);
  }
  return out;
}

}  // namespace inflight
