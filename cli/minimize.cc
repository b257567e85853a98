// Greedy scenario shrinking against the real kernel (see minimize.h).
#include "cli/minimize.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "base/errors.h"
#include "cli/interrupt.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {

namespace {

// `s` without the actions in `drop`, renumbered; nullopt when that is not valid.
std::optional<Scenario> Without(const Scenario& s, const std::set<size_t>& drop) {
  Scenario out = s;
  out.actions.clear();
  for (size_t i = 0; i < s.actions.size(); ++i)
    if (!drop.count(i)) out.actions.push_back(s.actions[i]);
  if (out.actions.empty()) return std::nullopt;
  // Canonicalize numbers the processes still named first; the others go.
  Canonicalize(out);
  size_t used = 1;
  for (const Action& a : out.actions) {
    used = std::max<size_t>(used, a.proc + 1u);
    if (a.other != kNoProc) used = std::max<size_t>(used, a.other + 1u);
  }
  out.procs.resize(used);
  if (Validate(out)) return std::nullopt;
  return out;
}

// Every action of process p and of the processes it forked, and what names them.
std::set<size_t> ProcessTree(const Scenario& s, ProcId root) {
  std::set<ProcId> procs = {root};
  for (const Action& a : s.actions)
    if (a.op == Op::kFork && procs.count(a.proc)) procs.insert(a.other);
  std::set<size_t> drop;
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const Action& a = s.actions[i];
    if (procs.count(a.proc) || (a.other != kNoProc && procs.count(a.other))) drop.insert(i);
  }
  return drop;
}

class Tester {
 public:
  Tester(SandboxPool& pool, const MinimizeOptions& opt) : pool_(pool), opt_(opt) {}

  // Which of the candidates reproduce, all run at once.
  std::vector<bool> Reproduces(const std::vector<Scenario>& candidates) {
    std::map<uint64_t, size_t> owner;
    std::vector<uint32_t> hits(candidates.size(), 0), done(candidates.size(), 0);
    for (size_t c = 0; c < candidates.size(); ++c) {
      const std::string text = PrintScenario(candidates[c]);
      for (uint32_t r = 0; r < opt_.runs; ++r) {
        RunRequest req;
        req.id = next_id_++;
        req.opt = opt_.run;
        req.opt.seed = r + 1;
        req.scenario_text = text;
        owner[req.id] = c;
        pool_.Submit(std::move(req));
      }
    }
    size_t left = candidates.size() * opt_.runs;
    while (left > 0) {
      if (Interrupted()) throw UsageError("interrupted while minimizing");
      auto res = pool_.Next(1000);
      if (!res) continue;
      auto it = owner.find(res->id);
      if (it == owner.end()) continue;
      const size_t c = it->second;
      ++done[c];
      --left;
      hits[c] += Rule(candidates[c], opt_.run, *res).kind == opt_.kind;
    }
    std::vector<bool> out(candidates.size());
    for (size_t c = 0; c < candidates.size(); ++c) out[c] = hits[c] == opt_.runs;
    return out;
  }

 private:
  SandboxPool& pool_;
  const MinimizeOptions& opt_;
  uint64_t next_id_ = 1u << 30;
};

}  // namespace

Scenario MinimizeScenario(SandboxPool& pool, const Scenario& original, const MinimizeOptions& opt) {
  Tester tester(pool, opt);
  Scenario best = original;
  Canonicalize(best);
  for (bool changed = true; changed;) {
    changed = false;
    // Candidates: each whole forked process, then each single action, last first.
    std::vector<std::set<size_t>> drops;
    for (size_t p = 1; p < best.procs.size(); ++p) drops.push_back(ProcessTree(best, static_cast<ProcId>(p)));
    for (size_t i = best.actions.size(); i-- > 0;) drops.push_back({i});
    std::vector<Scenario> candidates;
    std::vector<std::set<size_t>> valid_drops;
    for (const auto& d : drops) {
      if (auto c = Without(best, d)) {
        candidates.push_back(std::move(*c));
        valid_drops.push_back(d);
      }
    }
    for (size_t start = 0; start < candidates.size() && !changed; start += 32) {
      const size_t end = std::min(candidates.size(), start + 32);
      std::vector<Scenario> batch(candidates.begin() + start, candidates.begin() + end);
      const std::vector<bool> ok = tester.Reproduces(batch);
      std::set<size_t> all;
      size_t first = batch.size();
      for (size_t k = 0; k < batch.size(); ++k) {
        if (!ok[k]) continue;
        if (first == batch.size()) first = k;
        all.insert(valid_drops[start + k].begin(), valid_drops[start + k].end());
      }
      if (first == batch.size()) continue;
      // Every removal that worked alone, together; else the first one.
      if (auto together = Without(best, all); together && tester.Reproduces({*together})[0]) {
        best = std::move(*together);
      } else {
        best = std::move(batch[first]);
      }
      changed = true;
      if (opt.progress) opt.progress(best);
    }
  }
  return best;
}

}  // namespace inflight
