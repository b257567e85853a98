// Replaying a run's object log into its reference graph, and the graph as DOT.
#include "reports/ref_graph.h"

#include <fmt/core.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "reports/escape.h"
#include "scenario/text.h"

namespace inflight {

namespace {

using ObjKey = std::pair<uint32_t, uint64_t>;  // st_dev, st_ino

struct Message {
  int step = -1;
  std::vector<size_t> edges;  // in-flight edges this message added
  uint32_t fds = 0;
};

class Builder {
 public:
  Builder(const Scenario& s, const RunRecord& r) : s_(s), r_(r) {}

  RefGraph Build() {
    by_step_.resize(s_.actions.size());
    for (const ObjectEvent& e : r_.result.events)
      if (e.action < by_step_.size()) by_step_[e.action].push_back(&e);
    table_.assign(s_.procs.size(), std::vector<std::string>(s_.vars.size()));
    for (size_t p = 0; p < s_.procs.size(); ++p) {
      std::string label = s_.procs[p] + (p == 0 ? "\n(root)" : "");
      if (p < r_.result.procs.size() && r_.result.procs[p].end != ProcEnd::kExited)
        label += std::string("\n") + ProcEndName(r_.result.procs[p].end);
      AddNode(ProcNode(p), RefNode::Kind::kProcess, label);
    }
    for (size_t i = 0; i < s_.actions.size(); ++i) Step(static_cast<int>(i));
    MarkCensus();
    if (r_.mode == RunMode::kFree)
      g_.notes.push_back(
          "free run: processes raced, so queue contents are replayed in the file's order, "
          "which may differ from what happened");
    if (r_.result.events_truncated)
      g_.notes.push_back("the object log was truncated; later sends are missing");
    for (const Leftover& l : r_.verdict.leftovers)
      if (l.what.rfind("unix sockets outside", 0) == 0)
        g_.notes.push_back("not drawn: " + l.what + " (" + l.detail + ")");
    std::vector<RefNode> kept;
    for (RefNode& n : g_.nodes)
      if (!merged_.count(n.id)) kept.push_back(std::move(n));
    g_.nodes = std::move(kept);
    return std::move(g_);
  }

 private:
  static std::string ProcNode(size_t p) { return fmt::format("p{}", p); }

  RefNode& AddNode(const std::string& id, RefNode::Kind kind, const std::string& label) {
    index_[id] = g_.nodes.size();
    RefNode n;
    n.id = id;
    n.kind = kind;
    n.label = label;
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }
  RefNode& Node(const std::string& id) { return g_.nodes[index_.at(id)]; }

  size_t AddEdge(const std::string& from, const std::string& to, RefEdge::Kind kind,
                 std::string label) {
    g_.edges.push_back(RefEdge{from, to, std::move(label), kind});
    return g_.edges.size() - 1;
  }

  // The node of an object known by inode; one the log never saw created gets a bare node.
  std::string Object(const ObjectEvent& e, const std::string& name = "",
                     const std::string& kind = "", bool socket = false) {
    const ObjKey key{e.dev, e.ino};
    auto it = objects_.find(key);
    if (it != objects_.end()) return it->second;
    const std::string id = fmt::format("o{}", objects_.size());
    objects_[key] = id;
    by_ino_.emplace(e.ino, id);
    std::string label = name.empty() ? fmt::format("ino {}", e.ino)
                                     : fmt::format("{}\n{}\nino {}", name, kind, e.ino);
    RefNode& n = AddNode(id, RefNode::Kind::kObject, label);
    n.is_socket = socket;
    n.ino = e.ino;
    n.what = kind;
    return id;
  }

  std::string Describe(int i) const {
    const Action& a = s_.actions[static_cast<size_t>(i)];
    return fmt::format("step {} ({})", i, s_.procs[a.proc]);
  }

  // Where a send over `sock` lands: its peer's queue.
  std::string QueueOf(const std::string& sock) {
    if (auto it = peer_.find(sock); it != peer_.end()) return it->second;
    // Not placed by the replay: ask the census (a socket alive at the end knows its peer).
    for (const auto& [ino, id] : by_ino_) {
      if (id != sock) continue;
      if (const SocketInfo* si = r_.result.census.Find(ino); si && si->peer) {
        if (auto p = by_ino_.find(si->peer); p != by_ino_.end()) return p->second;
      }
    }
    const std::string id = "q_" + sock;
    if (!index_.count(id))
      AddNode(id, RefNode::Kind::kUnknown,
              "peer of " + FirstLine(Node(sock).label) + "\n(not known from the log)");
    peer_[sock] = id;
    return id;
  }

  static std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

  void Step(int i) {
    const Action& a = s_.actions[static_cast<size_t>(i)];
    const ProcId p = a.proc;
    const ActionStatus st = static_cast<size_t>(i) < r_.result.actions.size()
                                ? r_.result.actions[static_cast<size_t>(i)].status
                                : ActionStatus::kNotRun;
    auto var = [&](VarId v) -> std::string& { return table_[p][v]; };
    if (a.op == Op::kClose && st != ActionStatus::kNotRun && st != ActionStatus::kSkipped) {
      var(a.target).clear();
      return;
    }
    if (a.op == Op::kFork && st == ActionStatus::kOk) {
      table_[a.other] = table_[p];
      AddEdge(ProcNode(p), ProcNode(a.other), RefEdge::Kind::kFork,
              fmt::format("step {}: fork", i));
      return;
    }
    if (st != ActionStatus::kOk) return;
    const auto& events = by_step_[static_cast<size_t>(i)];
    switch (a.op) {
      case Op::kSocketpair:
      case Op::kSocket:
      case Op::kAccept:
      case Op::kPipe:
      case Op::kFile:
      case Op::kMemfd:
      case Op::kEventfd:
      case Op::kEpoll:
      case Op::kPidfd:
      case Op::kIoUring:
      case Op::kTimerfd:
      case Op::kDevnull:
      case Op::kPty:
      case Op::kInet:
        Create(i, a, events);
        break;
      case Op::kBind:
        if (!var(a.target).empty()) bound_[AddressText(a)] = var(a.target);
        break;
      case Op::kUnlink:  // the socket keeps its inode; the name no longer leads to it
        bound_.erase(AddressText(a));
        break;
      case Op::kListen:
        if (!var(a.target).empty()) listening_.insert(var(a.target));
        break;
      case Op::kConnect:
        Connect(i, a, var(a.target));
        break;
      case Op::kSend:
        Send(i, a, var(a.target), events);
        break;
      case Op::kRecv:
        Recv(i, a, var(a.target), events);
        break;
      case Op::kDup:
        var(a.out[0]) = var(a.target);
        break;
      case Op::kKill:
        AddEdge(ProcNode(p), ProcNode(a.other), RefEdge::Kind::kKill,
                fmt::format("step {}: kill", i));
        break;
      default:
        break;
    }
  }

  void Create(int i, const Action& a, const std::vector<const ObjectEvent*>& events) {
    const bool socket = a.op == Op::kSocketpair || a.op == Op::kSocket || a.op == Op::kAccept;
    std::vector<std::string> made(a.out.size());
    for (const ObjectEvent* e : events) {
      if (e->type != EventType::kCreated || e->index >= a.out.size()) continue;
      const std::string id =
          Object(*e, s_.vars[a.out[e->index]], ObjectKindName(a, e->index), socket);
      table_[a.proc][a.out[e->index]] = id;
      made[e->index] = id;
    }
    if (a.op == Op::kSocketpair && !made[0].empty() && !made[1].empty()) {
      peer_[made[0]] = made[1];
      peer_[made[1]] = made[0];
      AddEdge(made[0], made[1], RefEdge::Kind::kPeer, "pair");
    }
    if (a.op == Op::kAccept && !made[0].empty()) {
      const std::string listener = table_[a.proc][a.target];
      auto& q = pending_[listener];
      if (q.empty()) return;
      // The oldest pending connection becomes the accepted socket.
      const std::string embryo = q.front();
      q.pop_front();
      const std::string client = embryo_client_[embryo];
      for (RefEdge& e : g_.edges) {
        if (e.from == embryo) e.from = made[0];
        if (e.to == embryo) e.to = made[0];
      }
      auto& mq = queues_[made[0]];
      for (Message& m : queues_[embryo]) mq.push_back(std::move(m));
      queues_.erase(embryo);
      merged_.insert(embryo);
      peer_[client] = made[0];
      peer_[made[0]] = client;
      Node(made[0]).label += fmt::format("\naccepted at step {}", i);
    }
  }

  void Connect(int i, const Action& a, const std::string& sock) {
    if (sock.empty()) return;
    std::string listener;
    const std::string addr = AddressText(a);
    if (auto it = bound_.find(addr); it != bound_.end()) {
      listener = it->second;
      if (!listening_.count(listener)) {  // a connected datagram socket
        peer_[sock] = listener;
        return;
      }
    } else {
      listener = "x_" + std::to_string(outside_.size());
      if (auto it = outside_.find(addr); it != outside_.end()) {
        listener = it->second;
      } else {
        outside_[addr] = listener;
        AddNode(listener, RefNode::Kind::kOutside,
                fmt::format("{}\nlistener outside the scenario\n(never accepts)", addr));
      }
    }
    const std::string embryo = fmt::format("e{}", i);
    AddNode(embryo, RefNode::Kind::kEmbryo,
            fmt::format("embryo\nconnection from {}\nto {}", FirstLine(Node(sock).label), addr));
    pending_[listener].push_back(embryo);
    embryo_client_[embryo] = sock;
    peer_[sock] = embryo;
    AddEdge(listener, embryo, RefEdge::Kind::kPending, fmt::format("step {}: pending", i));
  }

  void Send(int i, const Action& a, const std::string& sock,
            const std::vector<const ObjectEvent*>& events) {
    if (sock.empty()) return;
    const std::string queue = QueueOf(sock);
    Message m;
    m.step = i;
    m.fds = Scenario::RightsCount(a);
    std::set<std::string> drawn;
    for (const ObjectEvent* e : events) {
      if (e->type != EventType::kSent || e->index >= a.rights.size()) continue;
      // Every copy of the same object in this send: one edge with the count.
      uint32_t count = 0;
      const std::string obj = Object(*e);
      if (!drawn.insert(obj).second) continue;
      for (const Right& rt : a.rights)
        if (table_[a.proc][rt.var] == obj) count += rt.count;
      if (count == 0) count = a.rights[e->index].count;
      std::string label = Describe(i);
      if (count > 1) label += fmt::format(" x{}", count);
      if (a.flags & kFlagOob) label += " oob";
      m.edges.push_back(AddEdge(queue, obj, RefEdge::Kind::kInFlight, label));
      g_.edges[m.edges.back()].oob = (a.flags & kFlagOob) != 0;
    }
    queues_[queue].push_back(std::move(m));
  }

  void Recv(int i, const Action& a, const std::string& sock,
            const std::vector<const ObjectEvent*>& events) {
    std::vector<std::string> got;
    for (const ObjectEvent* e : events) {
      if (e->type != EventType::kReceived) continue;
      const std::string id = Object(*e);
      got.push_back(id);
      if (e->index < a.out.size()) {
        table_[a.proc][a.out[e->index]] = id;
        const std::string& name = s_.vars[a.out[e->index]];
        if (FirstLine(Node(id).label) != name)
          Node(id).label += fmt::format("\nreceived as {}", name);
      }
    }
    if (sock.empty() || (a.flags & kFlagPeek)) return;
    auto qit = queues_.find(sock);
    if (qit == queues_.end() || qit->second.empty()) return;
    auto& q = qit->second;
    auto pick = q.begin();
    if (!got.empty()) {
      for (auto it = q.begin(); it != q.end(); ++it) {
        bool has = false;
        for (size_t e : it->edges) has |= g_.edges[e].to == got.front();
        if (has) {
          pick = it;
          break;
        }
      }
    }
    const uint16_t installed = r_.result.actions[static_cast<size_t>(i)].fds;
    for (size_t e : pick->edges) {
      g_.edges[e].kind = RefEdge::Kind::kTaken;
      g_.edges[e].label += fmt::format(", taken at step {}", i);
      if (installed < pick->fds) g_.edges[e].label += " (not all installed)";
    }
    q.erase(pick);
  }

  void MarkCensus() {
    const Census& c = r_.result.census;
    for (auto& [ino, id] : by_ino_) {
      RefNode& n = Node(id);
      if (c.Find(ino)) n.alive = n.is_socket = true;
    }
    bool embryo_left = false;
    for (const Leftover& l : r_.verdict.leftovers) {
      if (l.ino) {
        auto range = by_ino_.equal_range(l.ino);
        for (auto it = range.first; it != range.second; ++it) Node(it->second).leftover = true;
      } else if (l.what.rfind("embryo", 0) == 0) {
        embryo_left = true;
      }
    }
    if (embryo_left)
      for (auto& [listener, q] : pending_)
        for (const std::string& e : q) Node(e).leftover = Node(e).alive = true;
    // A leftover whose peer was closed keeps that peer alive (without an inode).
    for (auto& [ino, id] : by_ino_) {
      const SocketInfo* si = c.Find(ino);
      if (!si || !si->peer_without_inode || !Node(id).leftover) continue;
      auto p = peer_.find(id);
      if (p == peer_.end() || !index_.count(p->second)) continue;
      RefNode& peer = Node(p->second);
      if (peer.kind == RefNode::Kind::kObject && !peer.alive && !peer.closed_peer) {
        peer.closed_peer = true;
        peer.label += "\nclosed, alive as the peer\nof " + FirstLine(Node(id).label);
      }
    }
    for (const RefEdge& e : g_.edges)
      if (e.kind == RefEdge::Kind::kInFlight && index_.count(e.from) && Node(e.from).leftover)
        Node(e.to).carried = true;
  }

  const Scenario& s_;
  const RunRecord& r_;
  RefGraph g_;
  std::map<std::string, size_t> index_;
  std::vector<std::vector<const ObjectEvent*>> by_step_;
  std::vector<std::vector<std::string>> table_;  // per process, per variable: node id
  std::map<ObjKey, std::string> objects_;
  std::multimap<uint64_t, std::string> by_ino_;
  std::map<std::string, std::string> peer_;   // socket -> where its sends land
  std::map<std::string, std::string> bound_;  // address -> socket
  std::set<std::string> listening_;
  std::map<std::string, std::string> outside_;              // address -> outside listener node
  std::map<std::string, std::deque<std::string>> pending_;  // listener -> embryos
  std::map<std::string, std::string> embryo_client_;
  std::map<std::string, std::deque<Message>> queues_;
  std::set<std::string> merged_;
};

constexpr const char* kRed = "#c0392b";
constexpr const char* kRedFill = "#fadbd8";
constexpr const char* kOrangeFill = "#fdebd0";
constexpr const char* kGrey = "#909090";

std::string NodeAttrs(const RefNode& n) {
  std::string shape = "ellipse";
  switch (n.kind) {
    case RefNode::Kind::kProcess:
      shape = "box";
      break;
    case RefNode::Kind::kEmbryo:
      shape = "octagon";
      break;
    case RefNode::Kind::kOutside:
      shape = "doubleoctagon";
      break;
    case RefNode::Kind::kUnknown:
      shape = "note";
      break;
    case RefNode::Kind::kObject:
      break;
  }
  std::string label = n.label;
  std::string style;
  if (n.leftover) {
    label += "\nLEFTOVER";
    style = fmt::format("color=\"{}\", fillcolor=\"{}\", style=\"filled,bold\", penwidth=2", kRed,
                        kRedFill);
  } else if (n.closed_peer) {
    style =
        fmt::format("color=\"{}\", fillcolor=\"{}\", style=\"filled,dashed\"", kRed, kOrangeFill);
  } else if (n.carried) {
    label += "\nin flight in a leftover";
    style = fmt::format("color=\"#d35400\", fillcolor=\"{}\", style=filled", kOrangeFill);
  } else if (n.kind == RefNode::Kind::kObject && n.is_socket && !n.alive) {
    style = fmt::format("color=\"{}\", fontcolor=\"{}\"", kGrey, kGrey);
  } else if (n.kind == RefNode::Kind::kProcess) {
    style = "style=\"rounded,filled\", fillcolor=\"#eaf2f8\"";
  }
  return fmt::format("shape={}, label=\"{}\"{}{}", shape, DotEscape(label),
                     style.empty() ? "" : ", ", style);
}

std::string EdgeAttrs(const RefEdge& e, bool from_leftover) {
  std::string base = fmt::format("label=\"{}\"", DotEscape(e.label));
  switch (e.kind) {
    case RefEdge::Kind::kInFlight:
      return from_leftover
                 ? fmt::format("{}, color=\"{}\", fontcolor=\"{}\", penwidth=2.2", base, kRed, kRed)
                 : base + ", penwidth=1.4";
    case RefEdge::Kind::kTaken:
      return fmt::format("{}, style=dashed, color=\"{}\", fontcolor=\"{}\"", base, kGrey, kGrey);
    case RefEdge::Kind::kFork:
      return base + ", color=\"#2e86c1\", fontcolor=\"#2e86c1\"";
    case RefEdge::Kind::kKill:
      return fmt::format("{}, style=bold, color=\"{}\", fontcolor=\"{}\"", base, kRed, kRed);
    case RefEdge::Kind::kPeer:
      return fmt::format("{}, dir=none, style=dotted, color=\"{}\", fontcolor=\"{}\"", base, kGrey,
                         kGrey);
    case RefEdge::Kind::kPending:
      return base + ", style=dashed, arrowhead=odot";
  }
  return base;
}

}  // namespace

RefGraph BuildRefGraph(const Scenario& s, const RunRecord& r) {
  return Builder(s, r).Build();
}

std::string RefGraphToDot(const RefGraph& g, const std::string& title) {
  std::set<std::string> leftovers;
  for (const RefNode& n : g.nodes)
    if (n.leftover) leftovers.insert(n.id);
  std::string out = "digraph inflight_refs {\n";
  out += fmt::format(
      "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, label=\"{}\", "
      "nodesep=0.3, ranksep=0.6];\n",
      DotEscape(title));
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  out +=
      "  subgraph cluster_processes {\n    label=\"processes\";\n    style=dashed;\n"
      "    color=\"#aab7b8\";\n";
  for (const RefNode& n : g.nodes)
    if (n.kind == RefNode::Kind::kProcess) out += fmt::format("    {} [{}];\n", n.id, NodeAttrs(n));
  out += "  }\n";
  for (const RefNode& n : g.nodes)
    if (n.kind != RefNode::Kind::kProcess) out += fmt::format("  {} [{}];\n", n.id, NodeAttrs(n));
  for (const RefEdge& e : g.edges)
    out += fmt::format("  {} -> {} [{}];\n", e.from, e.to, EdgeAttrs(e, leftovers.count(e.from)));
  out += "}\n";
  return out;
}

}  // namespace inflight
