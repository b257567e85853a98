// The memory a stressor's processes share with the sandbox that started them: one
// anonymous MAP_SHARED region per slot, written by the stressor (counters, notes, the
// object log, which process is doing what) and read by the sandbox after the epoch.
//
// Plain fixed-size data and atomics only: it is written after fork, without allocation,
// and read by the sandbox while nothing writes any more (or, for hang reports, racily).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace inflight {

inline constexpr size_t kMaxStressOptions = 16;
inline constexpr size_t kMaxStressCounters = 16;
inline constexpr size_t kMaxStressLabels = 64;
inline constexpr size_t kMaxStressProcs = 64;  // process slots for hang reports
inline constexpr size_t kMaxStressNotes = 16;  // note texts kept; all are counted
inline constexpr size_t kStressNoteBytes = 240;
inline constexpr size_t kStressScratch = 64;  // atomics a stressor may use across processes
inline constexpr size_t kStressLogCapacity = 1u << 18;

enum class NoteKind : uint8_t {
  kFault,  // the kernel broke a rule the stressor checks (a finding)
  kError,  // the stressor itself failed (a bug of ours, exit 4)
  kHang,   // a stressor process did not stop after the epoch's deadline
  kInfo,   // worth reporting, not a finding (a part that could not run here)
  kLoss,   // a message sent to a queue a live process reaches did not arrive (a finding)
  kMaxValue = kLoss,
};

struct StressNote {
  std::atomic<uint8_t> ready;  // set last
  NoteKind kind;
  char text[kStressNoteBytes];
};

// One socket (or other object) a stressor created, by inode, under one of its labels.
struct StressLogEntry {
  uint64_t ino;
  uint16_t label;
  uint8_t worker;
  uint8_t unused[5];
};

struct StressProcSlot {
  std::atomic<int32_t> pid;
  std::atomic<int32_t> worker;  // -1: the stressor's root
  std::atomic<const char*> op;  // a string literal naming what it is doing now
};

struct StressShared {
  std::atomic<uint32_t> stop;
  std::atomic<uint32_t> alive;  // stressor processes forked and not yet reaped
  std::atomic<uint32_t> next_proc;
  std::atomic<int64_t> run_start_us;
  std::atomic<int64_t> run_end_us;
  std::atomic<uint64_t> counters[kMaxStressCounters];
  std::atomic<int64_t> scratch[kStressScratch];
  std::atomic<uint32_t> note_counts[static_cast<size_t>(NoteKind::kMaxValue) + 1];
  std::atomic<uint32_t> n_notes;
  StressNote notes[kMaxStressNotes];
  std::atomic<uint32_t> skipped;
  char skip_reason[kStressNoteBytes];
  StressProcSlot procs[kMaxStressProcs];
  std::atomic<uint32_t> n_log;
  StressLogEntry log[kStressLogCapacity];

  // Clears everything but the log's entries (n_log is reset). Not thread-safe: call it
  // before the stressor's processes exist.
  void Reset();
};

}  // namespace inflight
