// Writes an initramfs: a cpio archive in the "newc" format the kernel unpacks into its
// root file system (Documentation/driver-api/early-userspace/buffer-format.rst).
// Uncompressed on purpose: under software emulation unpacking is a memcpy, while
// decompressing would cost the guest seconds.
//
// Ownership: owns the output descriptor. Thread-safety: none.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

class CpioWriter {
 public:
  explicit CpioWriter(UniqueFd out) : out_(std::move(out)) {}

  // Paths are absolute in the archive ("/bin/inflight"); missing parent folders are added.
  Status AddDir(const std::string& path, mode_t mode = 0755);
  Status AddFile(const std::string& path, std::string_view data, mode_t mode = 0644);
  // Copies a host file (its bytes, not its metadata).
  Status AddHostFile(const std::string& path, const std::string& host_path, mode_t mode);
  Status AddCharDevice(const std::string& path, uint32_t major, uint32_t minor, mode_t mode = 0600);
  // Writes the trailer; nothing may be added afterwards.
  Status Finish();

  uint64_t bytes() const { return bytes_; }

 private:
  Status AddParents(const std::string& path);
  Status Entry(const std::string& path, uint32_t mode, std::string_view data, uint32_t rmajor = 0,
               uint32_t rminor = 0);
  Status Write(std::string_view data);

  UniqueFd out_;
  std::set<std::string> dirs_;
  uint32_t next_ino_ = 1;
  uint64_t bytes_ = 0;
};

}  // namespace inflight
