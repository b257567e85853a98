// Stress epochs on the sandbox protocol: the request (run stressor X with these options
// and this seed for one epoch in a slot) and what an epoch produced besides the census
// (counters, the stressor's own findings and notes, leftovers it can name).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inflight {

struct StressRequest {
  uint64_t id = 0;
  std::string stressor;
  std::vector<int64_t> options;  // in the stressor's option-table order, checked by the driver
  uint64_t seed = 0;
  uint32_t epoch = 0;  // 0-based; checkpoint epoch+1 ends it
  uint32_t worker = 0;
  uint32_t epoch_ms = 2'000;     // how long the stressor runs
  int64_t run_end_us = 0;        // CLOCK_MONOTONIC: no epoch runs past this (0: no limit)
  uint32_t timeout_ms = 30'000;  // watchdog past the epoch's end
  uint32_t settle_ms = 60'000;   // settling ceiling at the checkpoint
  bool log_objects = true;       // record created sockets by inode, to name leftovers
  bool operator==(const StressRequest&) const = default;
};

// A leftover socket the stressor recorded: which label, which worker.
struct StressObject {
  uint64_t ino = 0;
  uint16_t label = 0;
  uint8_t worker = 0;  // 255: the stressor's root
  bool operator==(const StressObject&) const = default;
};

struct StressOutcome {
  std::string stressor;  // empty: this result is not a stress epoch
  uint32_t epoch = 0;
  bool not_run = false;             // the run's end came before the epoch could start
  std::string skipped;              // why the stressor cannot run here (then nothing ran)
  int64_t run_us = 0;               // the stressor's running time (first fork to last exit)
  std::vector<uint64_t> counters;   // in the stressor's counter-table order
  std::vector<std::string> faults;  // the kernel broke a rule the stressor checks
  uint32_t faults_total = 0;
  std::vector<std::string> losses;  // messages a live process should have received
  uint32_t losses_total = 0;
  std::vector<std::string> notes;     // information (parts that could not run here)
  std::vector<StressObject> objects;  // leftovers at a dirty checkpoint, by inode
  bool log_truncated = false;         // the object log filled up; later sockets are unnamed
  bool operator==(const StressOutcome&) const = default;
};

class WireOut;
class WireIn;

std::string EncodeStressRequest(const StressRequest& r);
bool DecodeStressRequest(std::string_view payload, StressRequest& r);

// An outcome's fields inside a run result (run/run_types.cc), one list for both directions.
void StressOutcomeFields(WireOut& io, const StressOutcome& o);
void StressOutcomeFields(WireIn& io, StressOutcome& o);

}  // namespace inflight
