// Whole-file reads for kernel files.
#include "base/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace inflight {

Result<std::string> PreadWhole(int fd, const char* what, size_t limit) {
  std::string out;
  char buf[16384];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(std::string("pread(") + what + ")");
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    off += n;
    if (out.size() > limit) return SysError{EFBIG, std::string("pread(") + what + ")"};
  }
}

Result<std::string> ReadWholeFile(const char* path, size_t limit) {
  UniqueFd f(::open(path, O_RDONLY | O_CLOEXEC));
  if (!f) return Errno(std::string("open(") + path + ")");
  return PreadWhole(f.Get(), path, limit);
}

}  // namespace inflight
