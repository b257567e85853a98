// Checking that a file is an x86 Linux kernel QEMU can boot (a bzImage), and reading the
// release it names, before a VM is started for it.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace inflight {

struct KernelImage {
  std::string path;
  std::string release;         // "6.1.0-56-cloud-amd64": the first word of the version text
  std::string version_text;    // "6.1.0-56-cloud-amd64 (debian-kernel@...) #1 SMP ..."
  uint16_t boot_protocol = 0;  // e.g. 0x020f
};

// A SysError with err 0 names what is wrong with a file that is not a bzImage; a
// syscall's failure (no such file) carries its errno.
Result<KernelImage> InspectKernelImage(const std::string& path);

}  // namespace inflight
