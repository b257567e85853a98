// Descriptor messages per second: inflight's sockfd stressor against `stress-ng --sockfd
// 1`, in the same run on the same machine, interleaved round by round, with the ratio.
//
// Both pass one descriptor per message from one process to another, which receives and
// closes it; stress-ng's bogo op is one such message. stress-ng also opens /dev/zero
// for every message; inflight's default sends one descriptor opened once, so the bench
// also measures inflight with open_each=1, which does the same per-message work.
// inflight's figures are fully checked: each epoch ran in a sandbox slot whose census
// was ruled clean afterwards.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/clock.h"
#include "driver/sandbox_pool.h"
#include "driver/stress_runner.h"
#include "oracle/stress_verdict.h"
#include "stressors/registry.h"

using namespace inflight;

namespace {

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Bogo ops per second of real time from stress-ng's --metrics-brief table; 0 if absent.
double StressNg(int seconds) {
  const std::string out =
      Capture(fmt::format("stress-ng --sockfd 1 --timeout {}s --metrics-brief", seconds));
  size_t pos = 0;
  while ((pos = out.find("sockfd", pos)) != std::string::npos) {
    const size_t eol = out.find('\n', pos);
    const std::string line = out.substr(pos, eol - pos);
    pos += 6;
    double ops = 0, real = 0;
    if (sscanf(line.c_str(), "sockfd %lf %lf", &ops, &real) == 2 && real > 0) return ops / real;
  }
  fmt::print(stderr, "sockfd_bench: cannot read stress-ng's metrics:\n{}\n", out);
  return 0;
}

struct Ours {
  double per_second = 0;
  bool clean = false;
  std::string summary;
};

Ours Inflight(SandboxPool& pool, int seconds, bool open_each, uint64_t id) {
  auto entries = ChooseStressors({"sockfd"});
  if (open_each) ApplyStressOptions(entries, {"open_each=1"});
  StressRequest req;
  req.id = id;
  req.stressor = "sockfd";
  req.options = entries[0].options;
  req.seed = id;
  req.epoch_ms = static_cast<uint32_t>(seconds) * 1000;
  req.log_objects = false;
  pool.SubmitStress(req);
  auto r = pool.Next(600'000);
  Ours out;
  if (!r) {
    out.summary = "no result";
    return out;
  }
  const Verdict v = RuleStress(*entries[0].stressor, *r);
  out.clean = v.kind == VerdictKind::kClean;
  out.summary = v.summary;
  if (r->stress.run_us > 0 && !r->stress.counters.empty())
    out.per_second = static_cast<double>(r->stress.counters[0]) / (r->stress.run_us / 1e6);
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10, rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::max(1, atoi(argv[++i]));
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, atoi(argv[++i]));
    } else {
      fmt::print(a == "--help" ? stdout : stderr,
                 "usage: sockfd_bench [--seconds N] [--rounds N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  if (Capture("stress-ng --version").find("stress-ng") == std::string::npos) {
    fmt::print("sockfd_bench: skipped: stress-ng is not installed (Debian package stress-ng)\n");
    return 3;
  }
  PoolOptions po;
  po.jobs = 1;
  po.slots = 2;
  po.sandbox_path = INFLIGHT_SANDBOX_PATH;
  SandboxPool pool(po);
  pool.Start();
  fmt::print(
      "sockfd_bench: {} interleaved rounds of {} s each, one sender and one receiver "
      "each, on Linux {}\n",
      rounds, seconds, pool.hello().kernel);
  std::vector<double> ng, ours, ours_open;
  bool all_clean = true;
  for (int r = 0; r < rounds; ++r) {
    ng.push_back(StressNg(seconds));
    Ours a = Inflight(pool, seconds, false, 2 * r + 1);
    Ours b = Inflight(pool, seconds, true, 2 * r + 2);
    all_clean &= a.clean && b.clean;
    if (!a.clean) fmt::print("  inflight sockfd was not ruled clean: {}\n", a.summary);
    if (!b.clean) fmt::print("  inflight sockfd open_each=1 was not ruled clean: {}\n", b.summary);
    ours.push_back(a.per_second);
    ours_open.push_back(b.per_second);
    fmt::print(
        "  round {}: stress-ng {:>9.0f}  inflight {:>9.0f}  inflight open_each=1 {:>9.0f}  "
        "fd msgs/s\n",
        r + 1, ng.back(), ours.back(), ours_open.back());
  }
  const double ng_med = Median(ng), ours_med = Median(ours), open_med = Median(ours_open);
  fmt::print("  stress-ng --sockfd 1                 {:>9.0f} fd msgs/s (median)\n", ng_med);
  fmt::print(
      "  inflight sockfd (checked)            {:>9.0f} fd msgs/s (median)  ratio {:.2f} "
      "(target >= 1.5)\n",
      ours_med, ng_med > 0 ? ours_med / ng_med : 0);
  fmt::print(
      "  inflight sockfd open_each=1 (checked){:>9.0f} fd msgs/s (median)  ratio {:.2f} "
      "(the same per-message work as stress-ng)\n",
      open_med, ng_med > 0 ? open_med / ng_med : 0);
  return all_clean ? 0 : 1;
}
