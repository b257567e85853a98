// Passing descriptors with SCM_RIGHTS: the one helper for every place that does so outside
// a scenario's own sends (collector triggers, probes, accounting, stressors, tests).
// Allocation-free (a stack control buffer), so graph processes may call it after fork.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace inflight {

inline constexpr size_t kMaxHelperFds = 253;  // SCM_MAX_FD: the kernel's limit per message

// sendmsg(2) of `len` bytes of `data` (one zero byte when `data` is null) carrying
// `nfds` descriptors (at most kMaxHelperFds) in one SCM_RIGHTS message. Returns what
// sendmsg returns; -1 with EINVAL when nfds is too large.
ssize_t SendWithFds(int via, const int* fds, size_t nfds, const void* data = nullptr,
                    size_t len = 0, int flags = MSG_DONTWAIT | MSG_NOSIGNAL);

}  // namespace inflight
