// OutBuffer: bytes waiting to be written to a non-blocking descriptor, so that a writer
// never blocks on a reader that is itself waiting for the writer (the driver and the
// sandbox each keep one for their end of the channel; docs/design.md).
//
// Ownership: owns the bytes, not the descriptor. Thread-safety: none (one owner).
// Not for use after fork (it allocates).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace inflight {

class OutBuffer {
 public:
  void Append(std::string_view data) { buf_.append(data); }
  // Writes as much as `fd` takes now. EAGAIN (the pipe is full) is not an error: the rest
  // stays queued for the next call. EINTR is retried. Any other error (EPIPE: the reader
  // is gone) is returned and the bytes stay queued.
  Status Flush(int fd);
  // Bytes still queued.
  size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  void Clear() {
    buf_.clear();
    head_ = 0;
  }

 private:
  std::string buf_;
  size_t head_ = 0;  // bytes of buf_ already written
};

}  // namespace inflight
