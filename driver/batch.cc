// Submit, collect, rule: the batch loop.
#include "driver/batch.h"

#include <fmt/core.h>

#include <unordered_map>

#include "base/errors.h"

namespace inflight {

bool RunBatch(SandboxPool& pool, const std::vector<BatchRun>& runs, const RuledFn& ruled,
              const std::function<bool()>& stop, size_t window) {
  std::unordered_map<uint64_t, size_t> index;  // run id -> runs[]
  size_t next = 0, done = 0;
  while (done < runs.size()) {
    // Keep the pool's queue short so that a stop has little to throw away.
    while (next < runs.size() && pool.Pending() < window) {
      const BatchRun& b = runs[next];
      RunRequest req;
      req.opt = b.opt;
      req.scenario_text = *b.text;
      index[pool.Submit(std::move(req))] = next;
      ++next;
    }
    if (stop && stop()) break;
    auto res = pool.Next(100);
    if (!res) continue;
    auto it = index.find(res->id);
    if (it == index.end())
      throw InternalError(fmt::format("the sandbox answered an unknown run id {}", res->id));
    const size_t i = it->second;
    index.erase(it);
    Verdict v = Rule(*runs[i].scenario, runs[i].opt, *res);
    ++done;
    ruled(i, *res, v);
  }
  if (done < runs.size()) {
    pool.Stop();
    return false;
  }
  return true;
}

}  // namespace inflight
