// Plain run settings into run and pool options.
#include "driver/run_args.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "base/errors.h"
#include "driver/interrupt.h"

namespace inflight {

uint32_t ParseDurationMs(const std::string& text, const char* option) {
  double scale = 1000;
  std::string num = text;
  auto ends = [&](const char* suf) {
    size_t n = strlen(suf);
    return num.size() > n && num.compare(num.size() - n, n, suf) == 0;
  };
  if (ends("ms")) {
    scale = 1;
    num.resize(num.size() - 2);
  } else if (ends("s")) {
    num.resize(num.size() - 1);
  } else if (ends("m")) {
    scale = 60'000;
    num.resize(num.size() - 1);
  } else if (ends("h")) {
    scale = 3'600'000;
    num.resize(num.size() - 1);
  }
  char* end = nullptr;
  double v = strtod(num.c_str(), &end);
  if (num.empty() || *end || !(v > 0) || v * scale > 86'400'000.0)
    throw UsageError(
        fmt::format("{} takes a duration such as 10s, 250ms or 2m (got '{}')", option, text));
  return static_cast<uint32_t>(std::max(1.0, std::round(v * scale)));
}

RunOptions BaseRunOptions(const CommonRunArgs& a) {
  RunOptions o;
  o.timeout_ms = ParseDurationMs(a.timeout, "--timeout");
  o.settle_ms = ParseDurationMs(a.settle, "--settle");
  o.io_timeout_ms = ParseDurationMs(a.io_timeout, "--io-timeout");
  if (o.io_timeout_ms > 10'000) throw UsageError("--io-timeout is at most 10s");
  return o;
}

PoolOptions MakePoolOptions(const CommonRunArgs& a) {
  PoolOptions p;
  p.jobs = a.jobs ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  p.slots = a.slots;
  p.use_sock_diag = !a.no_sock_diag;
  p.hold_addr = a.hold;
  p.accounting_every = a.accounting_every;
  p.stop = [] { return Interrupted(); };
  return p;
}

std::vector<RunMode> ParseModes(const std::string& mode) {
  if (mode == "lockstep") return {RunMode::kLockstep};
  if (mode == "free") return {RunMode::kFree};
  if (mode == "both") return {RunMode::kLockstep, RunMode::kFree};
  throw UsageError(fmt::format("--mode is lockstep, free or both (got '{}')", mode));
}

}  // namespace inflight
