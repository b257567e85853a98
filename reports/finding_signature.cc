// Leak classes on the reference graph, and the signatures built from them.
#include "reports/finding_signature.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "base/scc.h"
#include "oracle/signature.h"
#include "scenario/text.h"

namespace inflight {

namespace {

// Verdict leftovers that are not objects of the graph: the in-flight count, tmpfs inodes,
// sockets outside the table, objects the log cannot place.
bool IsEmbryo(const Leftover& l) { return l.ino == 0 && l.what.rfind("embryo", 0) == 0; }

}  // namespace

std::string CoarseKind(const std::string& what) {
  if (what.find("listener") != std::string::npos) return "listener";
  if (what.size() > 7 && what.compare(what.size() - 7, 7, " socket") == 0) return "socket";
  return what;
}

std::string LeakClassOf(const RefGraph& g, const Verdict& v) {
  std::map<uint64_t, std::string> what_of;  // inode -> the verdict's kind for it
  for (const Leftover& l : v.leftovers)
    if (l.ino) what_of.emplace(l.ino, l.what);
  // The live part of the graph: leftovers and the closed peers they keep alive.
  std::vector<size_t> live;
  std::map<std::string, size_t> node_of;  // node id -> index into `live`
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const RefNode& n = g.nodes[i];
    if (n.kind == RefNode::Kind::kProcess) continue;
    if (!n.leftover && !n.closed_peer) continue;
    node_of[n.id] = live.size();
    live.push_back(i);
  }
  auto kind_of = [&](size_t u) -> std::string {
    const RefNode& n = g.nodes[live[u]];
    if (n.kind == RefNode::Kind::kEmbryo) return "embryo";
    if (auto it = what_of.find(n.ino); n.ino && it != what_of.end()) return it->second;
    return n.what.empty() ? (n.is_socket ? "socket" : "object") : n.what;
  };
  // Holds-edges among live nodes: a queue holding an object in flight at the end, a
  // listener holding its embryos. Distinct pairs: copies of one object are one edge.
  const size_t N = live.size();
  std::vector<std::set<size_t>> out(N);
  std::set<std::pair<size_t, size_t>> oob_edges;
  std::set<size_t> ever_in_flight;  // live nodes some send put in a queue, any queue
  for (const RefEdge& e : g.edges) {
    const bool inflight = e.kind == RefEdge::Kind::kInFlight;
    auto to = node_of.find(e.to);
    if (to != node_of.end() && (inflight || e.kind == RefEdge::Kind::kTaken))
      ever_in_flight.insert(to->second);
    if (!inflight && e.kind != RefEdge::Kind::kPending) continue;
    auto from = node_of.find(e.from);
    if (from == node_of.end() || to == node_of.end()) continue;
    out[from->second].insert(to->second);
    if (e.oob) oob_edges.insert({from->second, to->second});
  }
  int comps = 0;
  const std::vector<int> comp = StronglyConnectedComponents(out, &comps);
  std::vector<size_t> size(comps, 0), edges(comps, 0);
  std::vector<bool> embryo(comps, false), oob(comps, false);
  for (size_t u = 0; u < N; ++u) {
    const int c = comp[u];
    ++size[c];
    if (g.nodes[live[u]].kind == RefNode::Kind::kEmbryo) embryo[c] = true;
    for (size_t w : out[u])
      if (comp[w] == c) {
        ++edges[c];
        if (oob_edges.count({u, w})) oob[c] = true;
      }
  }
  std::set<std::string> cycles, cycle_kinds;
  for (size_t u = 0; u < N; ++u) {
    const int c = comp[u];
    if (edges[c] == 0) continue;
    cycle_kinds.insert(CoarseKind(kind_of(u)));
    std::string shape = size[c] == 1 ? "self" : edges[c] == size[c] ? "simple" : "nested";
    if (embryo[c]) shape += ",embryo";
    if (oob[c]) shape += ",oob";
    cycles.insert("cycle(" + shape + ")");
  }
  if (!cycles.empty()) return fmt::format("{}|{}", fmt::join(cycles, "+"), fmt::join(cycle_kinds, ","));
  // No cycle: the heads of chains of leftovers holding leftovers.
  std::vector<bool> carried(N, false);
  for (size_t u = 0; u < N; ++u)
    for (size_t w : out[u]) carried[w] = true;
  std::set<std::string> heads;
  for (size_t u = 0; u < N; ++u)
    if (!out[u].empty() && !carried[u]) heads.insert(kind_of(u));
  if (!heads.empty()) return fmt::format("chain|{}", fmt::join(heads, ","));
  // Leftovers alone: in flight once (the queue that held them is gone), or never.
  std::set<std::string> classes, kinds, orphan_kinds;
  for (size_t u = 0; u < N; ++u) {
    if (!g.nodes[live[u]].leftover) continue;
    const bool orphan = ever_in_flight.count(u) > 0;
    classes.insert(orphan ? "orphan" : "never-in-flight");
    (orphan ? orphan_kinds : kinds).insert(kind_of(u));
  }
  // Leftovers the graph has no node for.
  std::set<uint64_t> drawn;
  for (size_t i : live) drawn.insert(g.nodes[i].ino);
  bool accounting = false, unplaced_socket = false;
  for (const Leftover& l : v.leftovers) {
    if (IsEmbryo(l) || (l.ino && drawn.count(l.ino))) continue;
    if (l.what == "in-flight accounting") {
      accounting = true;
      continue;
    }
    classes.insert("unplaced");
    kinds.insert(l.what);
    if (l.what.find("socket") != std::string::npos) unplaced_socket = true;
  }
  // A socket the table no longer lists is the only queue that can still hold what was in
  // flight: the orphans are its passengers, and like a cycle's they are not the bug (a
  // kernel keeping closed sockets' queues is one signature whatever they were loaded with).
  if (!unplaced_socket) kinds.insert(orphan_kinds.begin(), orphan_kinds.end());
  if (classes.empty() && accounting) return "accounting|";
  if (classes.empty()) return "unplaced|";
  return fmt::format("{}|{}", fmt::join(classes, "+"), fmt::join(kinds, ","));
}

std::string RunSignature(const Scenario& s, const RunRecord& r) {
  if (!IsFinding(r.verdict.kind)) return "";
  if (r.verdict.kind != VerdictKind::kLeak) return FindingSignatureOf(s, r.result, r.verdict);
  return "leak|" + LeakClassOf(BuildRefGraph(s, r), r.verdict);
}

std::string RunSignature(const RunRecord& r) {
  if (!IsFinding(r.verdict.kind)) return "";
  if (!r.scenario_text.empty()) {
    try {
      return RunSignature(ParseScenario(r.scenario_text, r.file), r);
    } catch (const std::exception&) {
      // Text of an older build, say: ruled below without the graph.
    }
  }
  return RunSignature(Scenario{}, r);
}

std::string StressLeakSignature(const std::string& leak_class, const std::string& label,
                                const std::string& what) {
  if (leak_class.empty()) return fmt::format("leak|stress({})|{}", label, what);
  return fmt::format("leak|{}|{}", leak_class, CoarseKind(what));
}

}  // namespace inflight
