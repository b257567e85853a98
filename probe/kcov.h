// Kernel coverage (KCOV) of graph processes, and folding it into libFuzzer's counters.
//
// Where /sys/kernel/debug/kcov exists, each graph process traces the kernel PCs its own
// syscalls reach (KCOV_TRACE_PC) and hands them to the sandbox when it ends; the fuzzer
// folds them into extra counters. The collector itself runs from a work queue, outside
// any graph process, so only what the graph's syscalls reach directly is seen (their
// part of the GC: unix_gc() run inline on close, unix_schedule_gc(), the inflight
// accounting), not the work item.
//
// KcovTrace runs after fork in graph processes: no allocation, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace inflight {

inline constexpr const char* kKcovPath = "/sys/kernel/debug/kcov";

// True when this kernel offers KCOV here; otherwise *why says what is missing.
bool KcovAvailable(std::string* why);

// One process's trace. Start() in the process to trace; Stop() copies its PCs out.
class KcovTrace {
 public:
  static constexpr size_t kWords = 1 << 16;  // PCs one process keeps (the rest are dropped)

  // Opens and enables KCOV for the calling thread, with its descriptor at `fd_number`
  // (a fixed high number, so the scenario's own descriptors are not shifted). After a
  // fork the child must call Forget() first: KCOV is per task and not inherited.
  bool Start(int fd_number);
  // Disables the trace; copies up to `max` PCs into `out`; returns how many.
  size_t Stop(uint64_t* out, size_t max);
  // Drops the parent's trace in a forked child without touching the parent's.
  void Forget();
  bool active() const { return area_ != nullptr; }
  // PCs traced so far.
  size_t Count() const;

 private:
  int fd_ = -1;
  uint64_t* area_ = nullptr;
};

// Folds a PC sequence into `counters` (libFuzzer extra counters): each consecutive pair
// of PCs (an edge) hashes to one counter, which counts up to 255. Deterministic.
void FoldKernelPcs(const uint64_t* pcs, size_t n, uint8_t* counters, size_t size);

// The counter an edge (prev -> pc) lands in; exposed for tests.
size_t KernelEdgeIndex(uint64_t prev, uint64_t pc, size_t size);

}  // namespace inflight
