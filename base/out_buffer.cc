// OutBuffer: partial writes to a non-blocking descriptor.
#include "base/out_buffer.h"

#include <unistd.h>

#include <cerrno>

namespace inflight {

Status OutBuffer::Flush(int fd) {
  while (head_ < buf_.size()) {
    const ssize_t n = ::write(fd, buf_.data() + head_, buf_.size() - head_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Errno("write(channel)");
    }
    head_ += static_cast<size_t>(n);
  }
  if (head_ == buf_.size()) {
    Clear();
    if (buf_.capacity() > (4u << 20)) buf_.shrink_to_fit();  // after a long backlog
  } else if (head_ > (1u << 20) && head_ * 2 > buf_.size()) {
    // Give the written part back once it dominates, so a long backlog does not keep it.
    buf_.erase(0, head_);
    head_ = 0;
  }
  return {};
}

}  // namespace inflight
