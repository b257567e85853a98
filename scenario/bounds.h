// The explicit bounds every runnable scenario stays within. They keep any input (a
// corpus file, fuzzer bytes, a generator) from fork-bombing or fd-exhausting the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace inflight {

struct Bounds {
  static constexpr size_t kMaxProcs = 16;
  static constexpr size_t kMaxVars = 64;
  static constexpr size_t kMaxActions = 1024;         // a 200-level nesting of pairs fits
  static constexpr size_t kMaxObjects = 1024;         // descriptors created over the scenario
  static constexpr uint32_t kScmMaxFd = 253;          // SCM_MAX_FD: what one recv can get
  // Descriptors one send may list: beyond SCM_MAX_FD, so that the kernel's EINVAL can be
  // asked for, and small enough for the executor's control buffer.
  static constexpr uint32_t kMaxRightsPerSend = 512;
  static constexpr uint32_t kMaxRightsEntries = 253;  // entries of a send's list ("a*3" is one)
  static constexpr uint32_t kMaxRightsTotal = 8192;   // summed over all sends
  static constexpr uint16_t kMaxCmsgs = 16;          // control messages of a send, empty ones too
  static constexpr uint16_t kMaxCbuf = 4096;          // recv cbuf=B: the executor's control buffer
  static constexpr uint16_t kMaxBytes = 4096;
  static constexpr uint16_t kMaxNofile = 1024;
  static constexpr size_t kMaxExpectAlternatives = 4;  // expect=A|B|C|D
  // recv is=a,b: one name per output (so at most what one receive binds, SCM_MAX_FD).
  static constexpr size_t kMaxSameSlots = kScmMaxFd;
  static constexpr uint16_t kMaxBacklog = 128;
  // setsockopt sndbuf=N, rcvbuf=N: 1 to this many bytes (the kernel doubles the value and
  // raises it to its minimum; small buffers are what make sends fill a socket).
  static constexpr uint32_t kMaxSockBuf = 65536;
  static constexpr uint32_t kMaxSleepMs = 10000;
  static constexpr size_t kMaxNameLen = 64;
  static constexpr size_t kMaxAddrLen = 32;
  static constexpr size_t kMaxTextBytes = 1 << 20;  // a .scn file
  static constexpr size_t kMaxCommentLen = 400;
};

}  // namespace inflight
