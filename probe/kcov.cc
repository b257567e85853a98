// KCOV tracing for graph processes and the counter folding (see kcov.h).
#include "probe/kcov.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cerrno>
#include <cstring>

namespace inflight {

namespace {

// From include/uapi/linux/kcov.h (not shipped by every libc's headers).
constexpr unsigned long kKcovInitTrace = 0x80086301;  // _IOR('c', 1, unsigned long)
constexpr unsigned long kKcovEnable = 0x6364;         // _IO('c', 100)
constexpr unsigned long kKcovDisable = 0x6365;        // _IO('c', 101)
constexpr unsigned long kKcovTracePc = 0;

}  // namespace

bool KcovAvailable(std::string* why) {
  if (access("/sys/kernel/debug", F_OK) != 0) {
    // A kernel without debugfs has no KCOV either (KCOV selects DEBUG_FS).
    std::string fs;
    if (FILE* f = fopen("/proc/filesystems", "re")) {
      char line[256];
      while (fgets(line, sizeof line, f)) fs += line;
      fclose(f);
    }
    if (why)
      *why = fs.find("\tdebugfs\n") == std::string::npos && !fs.empty()
                 ? "the kernel has no debugfs: built without CONFIG_DEBUG_FS, so without "
                   "CONFIG_KCOV"
                 : "debugfs is not mounted at /sys/kernel/debug";
    return false;
  }
  const int fd = open(kKcovPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (why)
      *why = errno == ENOENT
                 ? std::string(kKcovPath) + " does not exist (kernel built without CONFIG_KCOV)"
                 : std::string(kKcovPath) + ": " + strerror(errno);
    return false;
  }
  close(fd);
  return true;
}

bool KcovTrace::Start(int fd_number) {
  int fd = open(kKcovPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  if (fd != fd_number) {
    if (dup3(fd, fd_number, O_CLOEXEC) != fd_number) {
      close(fd);
      return false;
    }
    close(fd);
    fd = fd_number;
  }
  if (ioctl(fd, kKcovInitTrace, kWords) != 0) {
    close(fd);
    return false;
  }
  void* p = mmap(nullptr, kWords * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return false;
  }
  if (ioctl(fd, kKcovEnable, kKcovTracePc) != 0) {
    munmap(p, kWords * sizeof(uint64_t));
    close(fd);
    return false;
  }
  fd_ = fd;
  area_ = static_cast<uint64_t*>(p);
  __atomic_store_n(&area_[0], 0, __ATOMIC_RELAXED);
  return true;
}

size_t KcovTrace::Stop(uint64_t* out, size_t max) {
  if (!area_) return 0;
  const uint64_t n = __atomic_load_n(&area_[0], __ATOMIC_RELAXED);
  ioctl(fd_, kKcovDisable, 0);
  size_t k = 0;
  for (; k < n && k + 1 < kWords && k < max; ++k) out[k] = area_[k + 1];
  munmap(area_, kWords * sizeof(uint64_t));
  close(fd_);
  area_ = nullptr;
  fd_ = -1;
  return k;
}

size_t KcovTrace::Count() const {
  if (!area_) return 0;
  const uint64_t n = __atomic_load_n(&area_[0], __ATOMIC_RELAXED);
  return n < kWords - 1 ? static_cast<size_t>(n) : kWords - 1;
}

void KcovTrace::Forget() {
  if (area_) munmap(area_, kWords * sizeof(uint64_t));
  if (fd_ >= 0) close(fd_);
  area_ = nullptr;
  fd_ = -1;
}

size_t KernelEdgeIndex(uint64_t prev, uint64_t pc, size_t size) {
  // Kernel text addresses share their high bits; mix so that nearby edges spread.
  uint64_t x = pc ^ (prev >> 1) ^ (prev << 7);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<size_t>(x % size);
}

void FoldKernelPcs(const uint64_t* pcs, size_t n, uint8_t* counters, size_t size) {
  if (size == 0) return;
  uint64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    uint8_t& c = counters[KernelEdgeIndex(prev, pcs[i], size)];
    if (c < 255) ++c;
    prev = pcs[i];
  }
}

}  // namespace inflight
