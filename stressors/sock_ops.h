// Alloc-free AF_UNIX helpers for stressor processes: pairs, listeners, abstract
// addresses, sending and receiving descriptors. Safe after fork.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "base/scm.h"

namespace inflight::sockops {

inline constexpr int kMaxFdsPerMsg = 253;  // SCM_MAX_FD

inline int TypeOf(uint64_t pick) {
  switch (pick % 3) {
    case 0:
      return SOCK_STREAM;
    case 1:
      return SOCK_DGRAM;
    default:
      return SOCK_SEQPACKET;
  }
}

inline const char* ErrName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "E?";
}

inline void SetTimeouts(int fd, int64_t us) {
  timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// socketpair(AF_UNIX, type | SOCK_CLOEXEC [| SOCK_NONBLOCK]); false with errno set.
inline bool Pair(int type, int sv[2], bool nonblock = false) {
  return socketpair(AF_UNIX, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, sv) == 0;
}

inline void Close(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

inline void CloseAll(int* fds, int n) {
  for (int i = 0; i < n; ++i) Close(fds[i]);
}

inline uint64_t Inode(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// The abstract address "\0<prefix><a>.<b>".
struct Address {
  sockaddr_un sun;
  socklen_t len;
};
inline Address Abstract(const char* prefix, uint64_t a, uint64_t b) {
  Address ad{};
  ad.sun.sun_family = AF_UNIX;
  int n = snprintf(ad.sun.sun_path + 1, sizeof ad.sun.sun_path - 1, "%s%llu.%llu", prefix,
                   static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  if (n < 0) n = 0;
  ad.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<size_t>(n));
  return ad;
}
inline Address AbstractName(const char* name) {
  Address ad{};
  ad.sun.sun_family = AF_UNIX;
  const size_t n = strnlen(name, sizeof ad.sun.sun_path - 1);
  memcpy(ad.sun.sun_path + 1, name, n);
  ad.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  return ad;
}

// A bound, listening socket; -1 with errno set.
inline int Listener(int type, const Address& ad, int backlog, bool nonblock = false) {
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ad.sun), ad.len) != 0 ||
      listen(fd, backlog) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// A socket connected to `ad`; -1 with errno set.
inline int Connect(int type, const Address& ad, bool nonblock = false) {
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&ad.sun), ad.len) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// sendmsg of `bytes` bytes (at most 64 KiB) carrying fds[0..n) in one SCM_RIGHTS
// message (none when n is 0). Returns what sendmsg returns.
inline ssize_t SendFds(int via, const int* fds, int n, int flags, size_t bytes = 1) {
  static char payload[65536];
  if (bytes > sizeof payload) bytes = sizeof payload;
  if (n > kMaxFdsPerMsg) n = kMaxFdsPerMsg;
  return SendWithFds(via, fds, n > 0 ? static_cast<size_t>(n) : 0, payload, bytes,
                     flags | MSG_NOSIGNAL);
}

inline ssize_t SendFd(int via, int fd, int flags) {
  return SendFds(via, &fd, 1, flags);
}

struct Received {
  ssize_t bytes = -1;  // recvmsg's return; -1 with err set
  int err = 0;
  int n = 0;  // descriptors installed (all of them are in fds[0..n))
  int msg_flags = 0;
};

// recvmsg with room for exactly `room` descriptors (CMSG_LEN, not CMSG_SPACE, so the
// kernel cannot install one more than asked); room < 0: no control buffer at all.
// Every installed descriptor lands in fds[], which must hold max(room, 0) entries, also
// under MSG_CTRUNC, so that nothing received is ever lost by us.
inline Received RecvFds(int from, int* fds, int room, int flags, size_t bytes = 1) {
  static char payload[65536];
  if (bytes > sizeof payload) bytes = sizeof payload;
  if (room > kMaxFdsPerMsg) room = kMaxFdsPerMsg;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFdsPerMsg)];
  iovec iov{payload, bytes};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (room >= 0) {
    msg.msg_control = ctl;
    msg.msg_controllen = CMSG_LEN(sizeof(int) * static_cast<size_t>(room));
  }
  Received r;
  r.bytes = recvmsg(from, &msg, flags | MSG_CMSG_CLOEXEC);
  if (r.bytes < 0) {
    r.err = errno;
    return r;
  }
  r.msg_flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC;
  if (room < 0 || msg.msg_controllen == 0) return r;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t j = 0; j < k && r.n < room; ++j)
      memcpy(&fds[r.n++], data + j * sizeof(int), sizeof(int));
  }
  return r;
}

// Receives one message and closes whatever it carried. Returns recvmsg's result.
inline ssize_t RecvAndClose(int from, int flags, int* n_fds = nullptr) {
  int fds[kMaxFdsPerMsg];
  Received r = RecvFds(from, fds, kMaxFdsPerMsg, flags);
  if (n_fds) *n_fds = r.n;
  CloseAll(fds, r.n);
  if (r.bytes < 0) errno = r.err;
  return r.bytes;
}

// Makes the kernel's collector run soon: a pair whose one end carries itself, then both
// closed (a release while the graph is cyclic schedules the collector). Returns false
// when the send failed (the pair is closed anyway).
inline bool TriggerCollector() {
  int sv[2];
  if (!Pair(SOCK_DGRAM, sv)) return false;
  const bool ok = SendFd(sv[1], sv[0], MSG_DONTWAIT) >= 0;
  close(sv[0]);
  close(sv[1]);
  return ok;
}

// Moves fd to a number at or above `floor` (so that close_range of low numbers never
// touches it). Returns the new descriptor, or fd itself when that fails.
inline int Lift(int fd, int floor) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
  if (high < 0) return fd;
  close(fd);
  return high;
}

}  // namespace inflight::sockops
