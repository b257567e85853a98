// Finding signatures: verdict, leftover kinds, reference shape.
#include "oracle/signature.h"

#include <fmt/core.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "base/scc.h"

namespace inflight {

namespace {

// Text with every run of digits replaced by '#', so numbers (inodes, indices, counts of
// a kind) do not split one finding into many.
std::string WithoutNumbers(std::string_view text, size_t limit = 80) {
  std::string out;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (!in_number) out += '#';
      in_number = true;
      continue;
    }
    in_number = false;
    out += c;
    if (out.size() >= limit) break;
  }
  return out;
}

std::string Join(const std::set<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

std::string ReferenceShape(const Scenario& s, const RunResult& r, const Verdict& v) {
  // Nodes: leftovers that are objects of the run (they have an inode).
  std::vector<size_t> nodes;
  for (size_t i = 0; i < v.leftovers.size(); ++i)
    if (v.leftovers[i].ino != 0) nodes.push_back(i);
  if (nodes.empty()) return "none";
  std::map<int, uint64_t> via;  // send action -> the socket it went through
  // A socket's peer: the other end of its socketpair (known even after both closed),
  // else what the census says of the sockets still alive.
  std::map<uint64_t, uint64_t> peer;
  std::map<uint64_t, bool> peer_is_embryo;
  std::map<int, std::map<uint8_t, uint64_t>> pair_ends;
  for (const ObjectEvent& e : r.events) {
    if (e.type == EventType::kSentVia) via[e.action] = e.ino;
    if (e.type == EventType::kCreated && e.action < s.actions.size() &&
        s.actions[e.action].op == Op::kSocketpair)
      pair_ends[e.action][e.index] = e.ino;
  }
  for (const auto& [action, ends] : pair_ends) {
    auto a = ends.find(0), b = ends.find(1);
    if (a == ends.end() || b == ends.end()) continue;
    peer[a->second] = b->second;
    peer[b->second] = a->second;
  }
  for (const SocketInfo& so : r.census.sockets) {
    if (so.peer)
      peer.emplace(so.ino, so.peer);
    else if (so.peer_without_inode && !peer.count(so.ino))
      peer_is_embryo[so.ino] = true;
  }
  std::map<uint64_t, size_t> socket_node;  // inode of a leftover socket -> node
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Leftover& l = v.leftovers[nodes[n]];
    if (l.what.find("socket") != std::string::npos || l.what.find("listener") != std::string::npos)
      socket_node.emplace(l.ino, n);
  }
  // Edge holder -> object: the object was sent into the queue of `holder` (by any of its
  // sends: what was received again cannot be told apart, so a cycle may be one that
  // existed during the run).
  std::vector<std::vector<size_t>> out(nodes.size());
  size_t in_embryos = 0;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Leftover& l = v.leftovers[nodes[n]];
    std::set<size_t> holders;
    for (int send : l.sent_by) {
      auto it = via.find(send);
      if (it == via.end()) continue;
      auto p = peer.find(it->second);
      if (p == peer.end()) {
        in_embryos += peer_is_embryo.count(it->second);
        continue;
      }
      auto holder = socket_node.find(p->second);
      if (holder != socket_node.end()) holders.insert(holder->second);
    }
    for (size_t h : holders) out[h].push_back(n);
  }
  const size_t N = nodes.size();
  int comps = 0;
  const std::vector<int> comp = StronglyConnectedComponents(out, &comps);
  std::vector<size_t> size(comps, 0), edges(comps, 0);
  for (size_t u = 0; u < N; ++u) {
    ++size[comp[u]];
    for (size_t w : out[u])
      if (comp[w] == comp[u]) ++edges[comp[u]];
  }
  std::vector<std::pair<size_t, size_t>> cycles;
  size_t held = 0;
  for (int c = 0; c < comps; ++c) {
    if (edges[c] > 0)
      cycles.emplace_back(size[c], edges[c]);
    else
      held += size[c];
  }
  std::sort(cycles.rbegin(), cycles.rend());
  std::string shape;
  for (const auto& [n, e] : cycles)
    shape += fmt::format("{}scc({}n,{}e)", shape.empty() ? "" : "+", n, e);
  if (shape.empty()) shape = "no cycle";
  // Whether the cycles hold other objects, and whether objects sit in embryos, but not
  // how many: the same bug leaves as many passengers as the input happened to load.
  if (held) shape += " +held";
  if (in_embryos) shape += " +in-embryo";
  return shape;
}

std::string FindingSignatureOf(const Scenario& s, const RunResult& r, const Verdict& v) {
  const std::string kind = VerdictName(v.kind);
  switch (v.kind) {
    case VerdictKind::kLeak: {
      std::set<std::string> kinds;
      for (const Leftover& l : v.leftovers) kinds.insert(l.what);
      return fmt::format("leak|{}|{}", Join(kinds, ","), ReferenceShape(s, r, v));
    }
    case VerdictKind::kHang: {
      std::set<std::string> ops;
      for (const ProcOutcome& p : r.procs)
        if (p.end == ProcEnd::kKilledByWatchdog && p.action >= 0 &&
            static_cast<size_t>(p.action) < s.actions.size())
          ops.insert(std::string(OpName(s.actions[static_cast<size_t>(p.action)].op)));
      return fmt::format("hang|{}", ops.empty() ? "between actions" : Join(ops, ","));
    }
    case VerdictKind::kFault: {
      if (!v.kernel_log.empty()) {
        // By its console title, without the timestamp and numbers (CPU, PID, offsets):
        // "WARNING: CPU: # PID: # at net/unix/garbage.c:# unix_del_edges+#x#/#x#".
        std::string_view title = v.kernel_log.front();
        if (!title.empty() && title.front() == '[')
          if (size_t close = title.find("] "); close != std::string_view::npos)
            title.remove_prefix(close + 2);
        return fmt::format("fault|kernel|{}", WithoutNumbers(title, 80));
      }
      std::string first = v.faults.empty() ? v.summary : v.faults.front();
      // "action 7 (p0: recv v3 ...): what" -> "recv: what"
      const size_t colon = first.find("): ");
      const std::string head = first.substr(0, colon);
      const size_t open = head.find(": ");
      std::string op;
      if (colon != std::string::npos && open != std::string::npos) {
        const std::string rest = head.substr(open + 2);
        const size_t eq = rest.find("= ");
        op = rest.substr(eq == std::string::npos ? 0 : eq + 2);
        op = op.substr(0, op.find(' '));
      }
      if (colon != std::string::npos) first = first.substr(colon + 3);
      return fmt::format("fault|semantic|{}: {}", op, WithoutNumbers(first));
    }
    case VerdictKind::kLoss: {
      // "action 7 (p0: x = recv b): 1 descriptor(s) lost: ..." -> "loss|recv|descriptor"
      const std::string& first = v.losses.empty() ? v.summary : v.losses.front();
      const char* what = first.find("data byte") != std::string::npos   ? "bytes"
                         : first.find("descriptor(s) lost") != std::string::npos ? "descriptors"
                                                                                 : "messages";
      return fmt::format("loss|recv|{}", what);
    }
    case VerdictKind::kError:
      return fmt::format("error|{}|{}", RunStatusName(r.status), WithoutNumbers(r.error, 60));
    case VerdictKind::kClean:
    case VerdictKind::kUnsettled:
      break;
  }
  return kind;
}

}  // namespace inflight
