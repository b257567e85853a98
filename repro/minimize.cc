// Batched ddmin over processes, objects and actions.
#include "repro/minimize.h"

#include <map>
#include <optional>

#include "repro/reduce.h"
#include "scenario/text.h"

namespace inflight {

namespace {

class Search {
 public:
  Search(const BatchOracle& keeps, const MinimizeOptions& opt, MinimizeStats& st)
      : keeps_(keeps), opt_(opt), st_(st) {}

  bool Stopped() {
    if (!st_.stopped && ((opt_.stop && opt_.stop()) || st_.candidates >= opt_.max_candidates))
      st_.stopped = true;
    return st_.stopped;
  }

  // The first candidate (in order) that keeps the finding.
  std::optional<Scenario> FirstKeeper(std::vector<std::optional<Scenario>> cands) {
    if (Stopped()) return std::nullopt;
    std::vector<std::string> texts(cands.size());
    std::vector<Scenario> batch;
    std::vector<std::string> batch_texts;
    for (size_t i = 0; i < cands.size(); ++i) {
      if (!cands[i]) {
        ++st_.invalid;
        continue;
      }
      texts[i] = PrintScenario(*cands[i]);
      if (known_.count(texts[i])) {
        ++st_.cached;
        continue;
      }
      bool dup = false;
      for (const std::string& t : batch_texts) dup |= t == texts[i];
      if (dup) continue;
      if (st_.candidates + batch.size() >= opt_.max_candidates) break;
      batch.push_back(*cands[i]);
      batch_texts.push_back(texts[i]);
    }
    if (!batch.empty()) {
      const std::vector<bool> verdicts = keeps_(batch);
      ++st_.batches;
      st_.candidates += batch.size();
      for (size_t k = 0; k < batch.size() && k < verdicts.size(); ++k)
        known_[batch_texts[k]] = verdicts[k];
    }
    for (size_t i = 0; i < cands.size(); ++i) {
      if (!cands[i]) continue;
      auto it = known_.find(texts[i]);
      if (it != known_.end() && it->second) return std::move(*cands[i]);
    }
    return std::nullopt;
  }

 private:
  const BatchOracle& keeps_;
  const MinimizeOptions& opt_;
  MinimizeStats& st_;
  std::map<std::string, bool> known_;  // candidate text -> keeps the finding
};

std::optional<Scenario> Drop(const Scenario& s, const std::vector<size_t>& which) {
  std::vector<bool> drop(s.actions.size(), false);
  for (size_t i : which) drop[i] = true;
  return DropActions(s, drop);
}

// Processes: each fork (and so everything its child and grandchildren do).
std::vector<std::optional<Scenario>> ProcessRemovals(const Scenario& s) {
  std::vector<std::optional<Scenario>> out;
  for (size_t i = 0; i < s.actions.size(); ++i)
    if (s.actions[i].op == Op::kFork) out.push_back(Drop(s, {i}));
  return out;
}

// Objects: each action that creates descriptors (and so every use of them).
std::vector<std::optional<Scenario>> ObjectRemovals(const Scenario& s) {
  std::vector<std::optional<Scenario>> out;
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const Action& a = s.actions[i];
    if (!a.out.empty() && a.op != Op::kRecv && a.op != Op::kDup) out.push_back(Drop(s, {i}));
  }
  return out;
}

}  // namespace

Scenario Minimize(const Scenario& start, const BatchOracle& keeps, const MinimizeOptions& opt,
                  MinimizeStats* stats) {
  MinimizeStats local;
  MinimizeStats& st = stats ? *stats : local;
  st = MinimizeStats{};
  Search search(keeps, opt, st);
  Scenario cur = start;
  auto progress = [&] {
    if (opt.progress) opt.progress(cur, st.candidates);
  };
  for (;;) {
    if (auto s = search.FirstKeeper(ProcessRemovals(cur))) {
      cur = std::move(*s);
      progress();
      continue;
    }
    if (auto s = search.FirstKeeper(ObjectRemovals(cur))) {
      cur = std::move(*s);
      progress();
      continue;
    }
    // ddmin over actions: remove one of n chunks; on success keep the granularity
    // (one chunk fewer), else refine, down to single actions.
    bool changed = false;
    size_t n = 2;
    while (!search.Stopped() && cur.actions.size() >= 2) {
      const size_t len = cur.actions.size();
      n = std::min(n, len);
      std::vector<std::optional<Scenario>> cands;
      for (size_t k = 0; k < n; ++k) {
        std::vector<size_t> chunk;
        for (size_t i = k * len / n; i < (k + 1) * len / n; ++i) chunk.push_back(i);
        cands.push_back(Drop(cur, chunk));
      }
      if (auto s = search.FirstKeeper(std::move(cands))) {
        cur = std::move(*s);
        changed = true;
        progress();
        n = std::max<size_t>(n - 1, 2);
        continue;
      }
      if (n >= len) break;
      n = std::min(n * 2, len);
    }
    if (search.Stopped()) break;
    std::vector<std::optional<Scenario>> simpler;
    for (Scenario& s : Simplifications(cur)) simpler.push_back(std::move(s));
    if (auto s = search.FirstKeeper(std::move(simpler))) {
      cur = std::move(*s);
      progress();
      continue;
    }
    if (search.Stopped()) break;
    if (!changed) {
      st.minimal = true;
      break;
    }
  }
  return cur;
}

}  // namespace inflight
