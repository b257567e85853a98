// Settling by proof. A correct kernel may free in-flight garbage late: Linux runs its
// collector from a work queue and releases files through delayed fput, and under TCG on
// one vCPU with thousands of descriptors in flight that takes seconds. A timer is no
// evidence, so a leftover becomes a leak only once the collector has provably run to
// completion after the run's last activity and freed nothing more of it:
//
// * A *witness* is a self-referencing AF_UNIX socket (sent over its own peer into its
//   own receive queue, then closed): garbage that only the collector can free. It sits
//   in an epoll instance of ours, whose item the kernel drops when the file is released.
//   Making one also triggers the collector (closing a unix socket while anything is in
//   flight schedules it). A witness made after time T and seen freed proves a collector
//   pass that started after T ran and its releases went through.
// * A settling slot counts *rounds*: a round ends when a witness made after the previous
//   round's end (the first: after the run ended) is freed; the slot's census is then
//   taken. Leak only after `stable_rounds` rounds in a row left the census unchanged
//   (nothing more was freed); while counts still fall, keep going.
// * At the ceiling: counts that changed within the last `stall_grace_us` make the run
//   *unsettled*, never a leak; so do passes that kept freeing. If no pass completed since
//   the run ended (the witness itself was never freed) and nothing changes any more, the
//   collector is stalled and the leftovers are a leak, said so. Once the
//   collector is known stalled (a witness alive for a whole ceiling), later slots need
//   only `stall_grace_us` without change.
//
// WitnessLog and Settler are pure logic (tested with a fake clock); CollectorClock makes
// and watches the witnesses. One clock serves every slot of a sandbox: the collector is
// global, so one pass proves for all garbage older than its witness.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

// Makes the kernel run its AF_UNIX collector soon, without watching the outcome (a
// witness nobody watches). Run it outside any scenario's namespace so the trigger never
// shows in a census.
Status TriggerCollector();

// Witnesses by key: when each was made and when it was seen freed.
class WitnessLog {
 public:
  struct Witness {
    uint64_t key = 0;
    int64_t made_at = 0;   // taken before the witness was made
    int64_t freed_at = 0;  // when seen freed; 0 while alive
  };
  static constexpr size_t kMaxKept = 1024;  // freed ones beyond this are forgotten

  void Made(uint64_t key, int64_t at);
  void Freed(uint64_t key, int64_t at);

  // The first time a witness made at or after `since` was seen freed; 0 if none was.
  int64_t FreedAfter(int64_t since) const;
  // The newest witness made at or after `since`: its time; 0 if none.
  int64_t NewestMadeSince(int64_t since) const;
  // The oldest alive witness made at or after `since`: its time; 0 if none.
  int64_t OldestAliveSince(int64_t since) const;
  // Any witness, whenever made, seen freed at or after `since`.
  bool AnyFreedSince(int64_t since) const;
  size_t Alive() const;
  // A witness has been alive for at least `ceiling_us` at `now`: the collector does not
  // free even a lone self-referencing socket.
  bool Stalled(int64_t now, int64_t ceiling_us) const;
  const std::deque<Witness>& witnesses() const { return w_; }

 private:
  std::deque<Witness> w_;  // in the order made
};

// The census facts whose change means the collector (or delayed releases) still frees
// something in the slot.
struct SettleFingerprint {
  int64_t sockets = 0;       // sockets in the table
  int64_t queued = 0;        // sum of receive queue lengths
  int64_t embryos = 0;       // embryos listed by listeners, and anonymous ones
  int64_t proto_inuse = -1;  // the namespace's UNIX count, -1 when not read
  int64_t objects = 0;       // scenario objects alive per their witnesses
  int64_t tmpfs = 0;         // inodes of the slot's tmpfs beyond its baseline
  bool operator==(const SettleFingerprint&) const = default;
};

struct SettleOptions {
  int64_t ceiling_us = 60'000'000;     // the most a dirty slot settles
  int stable_rounds = 2;               // rounds in a row with nothing freed before a leak
  int64_t first_gap_us = 1'000;        // first census after the start
  int64_t max_gap_us = 20'000;         // census backoff cap
  int64_t stall_grace_us = 1'000'000;  // with the collector known stalled
  // Another sandbox on this kernel saw its collector stalled: stalled from the start
  // here too (still only while no witness is freed).
  bool known_stalled = false;
};

class Settler {
 public:
  enum class Outcome { kPending, kClean, kLeak, kUnsettled };

  Settler() = default;
  explicit Settler(SettleOptions opt) : opt_(opt) {}

  // The slot was found dirty at `now`; its garbage exists since `garbage_since` (the
  // end of its workload).
  void Start(int64_t now, int64_t garbage_since);
  // The collector clock must hold a witness made at or after this time.
  int64_t NeedWitnessSince() const { return round_since_; }
  int64_t NextPollAt() const { return next_at_; }
  // One census taken at `now`, after `log` was brought up to date.
  Outcome OnCensus(bool clean, const SettleFingerprint& fp, int64_t now, const WitnessLog& log);

  int polls() const { return polls_; }
  int rounds() const { return rounds_; }     // collector passes proven since the start
  bool stalled() const { return stalled_; }  // ruled with no collector pass completed
  int64_t started_at() const { return started_; }
  // Why the outcome: "3 collector passes, the last 2 freed nothing more", ...
  std::string Why() const { return why_; }

 private:
  SettleOptions opt_;
  int64_t started_ = 0;
  int64_t garbage_since_ = 0;
  int64_t round_since_ = 0;
  int64_t next_at_ = 0;
  int64_t gap_ = 0;
  int64_t last_change_ = 0;  // when the fingerprint last changed between censuses
  SettleFingerprint last_fp_, round_fp_;
  bool have_fp_ = false, have_round_fp_ = false;
  int polls_ = 0;
  int rounds_ = 0;
  int stable_ = 0;
  bool stalled_ = false;
  std::string why_;
};

// Makes and watches witnesses in the caller's network namespace (not a slot's).
// Not thread-safe; owned by the sandbox.
class CollectorClock {
 public:
  static constexpr size_t kMaxAlive = 64;  // a stalled kernel keeps every witness

  static Result<CollectorClock> Create();

  // Makes sure a witness made at or after `since` exists, making one now if not; while
  // the newest such is alive, makes another after a backoff (50 ms doubling to 1 s), in
  // case the pass it triggered had already started.
  void Need(int64_t since, int64_t now);
  // Marks freed witnesses (reads the epoll's fdinfo).
  Status Poll(int64_t now);
  const WitnessLog& log() const { return log_; }
  int made() const { return made_; }

 private:
  Status Make(int64_t now);

  UniqueFd epoll_;
  WitnessLog log_;
  uint64_t next_key_ = 1;
  int64_t backoff_us_ = 0;
  int made_ = 0;
};

}  // namespace inflight
