// Minimizing by running (see minimize.h).
#include "driver/minimize.h"

#include "driver/batch.h"
#include "reports/finding_signature.h"
#include "repro/minimize.h"
#include "scenario/text.h"

namespace inflight {

std::vector<bool> RunningOracle::operator()(const std::vector<Scenario>& batch) {
  std::vector<std::string> texts;
  std::vector<Scenario> parsed;  // what the sandbox runs
  for (const Scenario& s : batch) {
    texts.push_back(PrintScenario(s));
    parsed.push_back(ParseScenario(texts.back(), "<candidate>"));
  }
  std::vector<BatchRun> runs;
  for (size_t c = 0; c < batch.size(); ++c)
    for (uint32_t k = 0; k < opt_.runs; ++k) {
      BatchRun b{&parsed[c], &texts[c], opt_.run};
      b.opt.seed = opt_.seed + k;
      runs.push_back(b);
    }
  std::vector<uint32_t> hits(batch.size(), 0);
  const bool finished = RunBatch(
      pool_, runs,
      [&](size_t i, RunResult& r, Verdict& v) {
        ++runs_;
        if (v.kind == VerdictKind::kError) ++errors_;
        if (opt_.reproduces(*runs[i].scenario, r, v)) ++hits[i / opt_.runs];
      },
      opt_.stop, SIZE_MAX);
  std::vector<bool> keeps(batch.size(), false);
  if (!finished) return keeps;  // no candidate counts as keeping it; Minimize stops too
  for (size_t c = 0; c < batch.size(); ++c)
    keeps[c] = hits[c] > 0 && static_cast<double>(hits[c]) / opt_.runs >= opt_.min_rate;
  return keeps;
}

Scenario MinimizeScenario(SandboxPool& pool, const Scenario& original,
                          const ReproMinimizeOptions& opt) {
  RunningOracleOptions ro;
  ro.run = opt.run;
  ro.runs = opt.runs;
  ro.seed = 1;
  ro.min_rate = 1.0;  // every run
  ro.reproduces = [&](const Scenario& cand, const RunResult& r, const Verdict& v) {
    if (v.kind != opt.kind) return false;
    if (opt.signature.empty()) return true;
    RunRecord rec;
    rec.scenario = original.name;
    rec.mode = opt.run.mode;
    rec.result = r;
    rec.verdict = v;
    return RunSignature(cand, rec) == opt.signature;
  };
  ro.stop = opt.stop;
  RunningOracle oracle(pool, std::move(ro));
  MinimizeOptions mo;
  mo.stop = opt.stop;
  if (opt.progress) mo.progress = [&](const Scenario& current, size_t) { opt.progress(current); };
  MinimizeStats stats;
  return Minimize(
      original, [&](const std::vector<Scenario>& batch) { return oracle(batch); }, mo, &stats);
}

}  // namespace inflight
