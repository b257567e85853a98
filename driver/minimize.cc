// Scenario shrinking against the real kernel for `inflight repro` (see minimize.h).
#include "driver/minimize.h"

#include <map>

#include "driver/interrupt.h"
#include "repro/minimize.h"
#include "scenario/text.h"

namespace inflight {

namespace {

class Tester {
 public:
  Tester(SandboxPool& pool, const ReproMinimizeOptions& opt) : pool_(pool), opt_(opt) {}

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
      if (Interrupted()) {  // no candidate counts as reproducing; Minimize stops too
        pool_.Stop();
        return std::vector<bool>(candidates.size(), false);
      }
      auto res = pool_.Next(100);
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
  const ReproMinimizeOptions& opt_;
  uint64_t next_id_ = 1u << 30;
};

}  // namespace

Scenario MinimizeScenario(SandboxPool& pool, const Scenario& original,
                          const ReproMinimizeOptions& opt) {
  Tester tester(pool, opt);
  MinimizeOptions mo;
  mo.stop = [] { return Interrupted(); };
  if (opt.progress) mo.progress = [&](const Scenario& current, size_t) { opt.progress(current); };
  MinimizeStats stats;
  return Minimize(
      original, [&](const std::vector<Scenario>& batch) { return tester.Reproduces(batch); }, mo,
      &stats);
}

}  // namespace inflight
