// The settings every running command shares (timeouts, pool size, report folder) as plain
// data, and how they become run and pool options. cli/ fills them from its options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/sandbox_pool.h"
#include "run/run_types.h"

namespace inflight {

struct CommonRunArgs {
  std::string timeout = "10s";
  std::string settle = "60s";
  std::string io_timeout = "20ms";
  uint32_t jobs = 0;  // 0: number of CPUs
  uint32_t slots = 16;
  std::string report_dir;
  std::string format = "json";  // report files: json[,junit][,ktap][,html]
  bool quiet = false;
  bool no_sock_diag = false;
  std::string hold;  // positive control: a listener at @hold outside the scenarios
  uint32_t accounting_every = 32;
  int64_t global_tolerance = 0;  // 0: global counts recorded, not ruled
  std::string known;  // --known FILE: findings expected on this kernel (reports/known.h)
};

RunOptions BaseRunOptions(const CommonRunArgs& args);  // throws UsageError
// The pool stops when SIGINT/SIGTERM arrived (driver/interrupt.h).
PoolOptions MakePoolOptions(const CommonRunArgs& args);
std::vector<RunMode> ParseModes(const std::string& mode);  // throws UsageError

// Parses "10s", "250ms", "2m", "1.5" (seconds). Throws UsageError.
uint32_t ParseDurationMs(const std::string& text, const char* option);

}  // namespace inflight
