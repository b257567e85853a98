// Per-user in-flight accounting. The kernel counts, per user, the descriptors in flight
// and refuses (ETOOMANYREFS) to let a user without CAP_SYS_RESOURCE/CAP_SYS_ADMIN have
// more than its RLIMIT_NOFILE in flight. A kernel can free every object and still forget
// to give the count back; the symptom is that the user can pass fewer descriptors than
// before. So: measure how many a uid can pass (its allowance) when nothing of it is in
// flight, and compare with a uid that never ran anything.
//
// Each slot's graphs run as a uid of their own (keeping their capabilities), so the
// count of that uid belongs to that slot alone. Linux seam; needs root.
#pragma once

#include <sys/types.h>

#include "base/result.h"

namespace inflight {

inline constexpr int kAllowanceLimit = 64;  // RLIMIT_NOFILE of the measuring process

// Forks a process that runs as uid/gid without capabilities, with RLIMIT_NOFILE
// kAllowanceLimit, and passes one descriptor per message until the kernel refuses.
// Returns how many it could pass (0..kAllowanceLimit+16), or an error if it could not
// measure (e.g. a refusal other than ETOOMANYREFS).
Result<int> MeasureInflightAllowance(uid_t uid, gid_t gid);

// The second uid of a graph that runs as `uid` (`setuid second`, executor/graph.cc): the
// same low bits with bit 30 set, so that it belongs to the slot alone too. For a graph
// running as root (uid 0) the executor derives it from the network namespace instead.
inline uid_t SecondUidOf(uid_t uid) { return 0x40000000u | (uid & 0x3fffffffu); }

// Gives the calling process (root) the uid/gid while keeping its capabilities.
// For graph roots; async-signal-safe. Returns false on failure.
bool BecomeUidKeepingCaps(uid_t uid, gid_t gid);

}  // namespace inflight
