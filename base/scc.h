// Strongly connected components of a small directed graph (Tarjan), for the two places
// that classify what outlived a run by its cycles: the fuzzer's reference shape
// (oracle/signature.cc) and the leak class of a finding (reports/finding_signature.cc).
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace inflight {

// `out[u]` lists u's successors (any container of node indices below out.size()). Returns
// each node's component number, 0 .. *count - 1. Recursive: for the graphs of one run
// (bounded by the scenario's object budget), not for arbitrary sizes.
template <typename Successors>
std::vector<int> StronglyConnectedComponents(const std::vector<Successors>& out, int* count) {
  const size_t n = out.size();
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1);
  std::vector<bool> on_stack(n, false);
  std::vector<size_t> stack;
  int counter = 0, comps = 0;
  std::function<void(size_t)> visit = [&](size_t u) {
    index[u] = low[u] = counter++;
    stack.push_back(u);
    on_stack[u] = true;
    for (size_t w : out[u]) {
      if (index[w] < 0) {
        visit(w);
        low[u] = std::min(low[u], low[w]);
      } else if (on_stack[w]) {
        low[u] = std::min(low[u], index[w]);
      }
    }
    if (low[u] == index[u]) {
      for (;;) {
        const size_t w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        comp[w] = comps;
        if (w == u) break;
      }
      ++comps;
    }
  };
  for (size_t u = 0; u < n; ++u)
    if (index[u] < 0) visit(u);
  *count = comps;
  return comp;
}

}  // namespace inflight
