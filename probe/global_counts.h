// Global counts: allocated file handles (/proc/sys/fs/file-nr) and, where readable, the
// active objects of the slab caches that hold sockets and files. Inside a VM that runs
// nothing else they are near exact; on a shared host other processes move them, so they
// are sampled several times before and after, and a drift counts only when every sample
// after exceeds every sample before by more than a stated tolerance. file-nr itself is
// a per-CPU counter summed approximately (off by up to a few dozen per CPU).
//
// Linux seam. /proc/slabinfo needs root; without it only file-nr is used.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace inflight {

struct GlobalSample {
  int64_t files = -1;                    // allocated file handles
  std::map<std::string, int64_t> slabs;  // cache name -> active objects
};

// `flush_slabs`: first write /sys/kernel/slab/CACHE/shrink for each cache, which moves the
// objects parked in per-CPU slabs back where /proc/slabinfo counts them, so the active
// counts become exact (root only; meant for a VM that runs nothing else, where ruling is
// at full strength).
Result<GlobalSample> SampleGlobal(bool flush_slabs = false);
// `n` samples `gap_ms` apart (failed samples are skipped).
std::vector<GlobalSample> SampleGlobalRepeatedly(int n, int gap_ms, bool flush_slabs = false);

// How far file-nr can be off when nothing changed: the kernel reads its per-CPU counter
// without summing, and each CPU may hold up to a batch (32 here) of its own, before and
// after.
int64_t FileNrSlack();

struct GlobalDrift {
  std::string name;  // "files" or a slab cache
  int64_t before_max = 0;
  int64_t after_min = 0;
  int64_t Drift() const { return after_min - before_max; }
};

// The consistent drift of each count present in every sample.
std::vector<GlobalDrift> CompareGlobal(const std::vector<GlobalSample>& before,
                                       const std::vector<GlobalSample>& after);

// Parsers, exposed for tests with fixed inputs.
Result<int64_t> ParseFileNr(const std::string& text);
std::map<std::string, int64_t> ParseSlabinfo(const std::string& text);

}  // namespace inflight
