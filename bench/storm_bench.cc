// The storm: how many descriptors were in flight at once in one slot, how fast they got
// there, and the checkpoint's settle time after each way of draining them: receiving
// everything, closing the carriers, or leaving the whole storm to the collector.
#include <fmt/core.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "driver/sandbox_pool.h"
#include "driver/stress_runner.h"
#include "oracle/stress_verdict.h"
#include "stressors/registry.h"

using namespace inflight;

namespace {

uint64_t Counter(const Stressor& s, const RunResult& r, const char* name) {
  for (size_t i = 0; i < s.counters.size() && i < r.stress.counters.size(); ++i)
    if (std::string(name) == s.counters[i].name) return r.stress.counters[i];
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  std::string target = "15000", fillers = "3";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::max(1, atoi(argv[++i]));
    } else if (a == "--target" && i + 1 < argc) {
      target = argv[++i];
    } else if (a == "--fillers" && i + 1 < argc) {
      fillers = argv[++i];
    } else {
      fmt::print(a == "--help" ? stdout : stderr,
                 "usage: storm_bench [--seconds N] [--target N] [--fillers N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  PoolOptions po;
  po.jobs = 1;
  po.slots = 2;
  po.sandbox_path = INFLIGHT_SANDBOX_PATH;
  SandboxPool pool(po);
  pool.Start();
  const Stressor& storm = *FindStressor("storm");
  fmt::print(
      "storm_bench: one storm epoch of {} s per drain, {} fillers x {} descriptors, on "
      "Linux {}\n",
      seconds, fillers, target, pool.hello().kernel);
  bool all_clean = true;
  const char* drains[] = {"receive everything", "close the carriers", "left to the collector"};
  for (int drain = 1; drain <= 3; ++drain) {
    auto entries = ChooseStressors({"storm"});
    ApplyStressOptions(entries,
                       {"target=" + target, "fillers=" + fillers, "drain=" + std::to_string(drain),
                        "final_drain=" + std::to_string(drain)});
    StressRequest req;
    req.id = static_cast<uint64_t>(drain);
    req.stressor = "storm";
    req.options = entries[0].options;
    req.seed = static_cast<uint64_t>(drain);
    req.epoch_ms = static_cast<uint32_t>(seconds) * 1000;
    req.settle_ms = storm.settle_ms;
    req.log_objects = false;
    pool.SubmitStress(req);
    auto r = pool.Next(600'000);
    if (!r) {
      fmt::print(stderr, "storm_bench: no result\n");
      return 4;
    }
    const Verdict v = RuleStress(storm, *r);
    all_clean &= v.kind == VerdictKind::kClean;
    const double secs = r->stress.run_us / 1e6;
    fmt::print(
        "  drain: {:<22} peak in flight {:>7}; {:>6.0f} put in flight/s; {} rounds; "
        "{:>6} in flight at the last drain, checkpoint settle {:>7.1f} ms; {}\n",
        drains[drain - 1], Counter(storm, *r, "peak_in_flight"),
        secs > 0 ? Counter(storm, *r, "in_flight") / secs : 0.0, Counter(storm, *r, "rounds"),
        Counter(storm, *r, "at_final_drain"), r->settle_us / 1000.0, v.summary);
  }
  return all_clean ? 0 : 1;
}
