// The x86 boot protocol header of a bzImage (Documentation/arch/x86/boot.rst).
#include "vm/kernel_image.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/unique_fd.h"

namespace inflight {

namespace {

constexpr size_t kHeaderBytes = 0x10000;      // the real-mode setup, where the version text is
constexpr uint32_t kBootFlagAt = 0x1fe;       // 0xaa55
constexpr uint32_t kMagicAt = 0x202;          // "HdrS"
constexpr uint32_t kVersionAt = 0x206;        // boot protocol version
constexpr uint32_t kKernelVersionAt = 0x20e;  // offset of the version string, minus 0x200
constexpr uint32_t kLoadFlagsAt = 0x211;      // bit 0: loaded high (a bzImage)
constexpr uint32_t kXLoadFlagsAt = 0x236;     // bit 0: 64-bit entry point

uint16_t Le16(const unsigned char* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace

Result<KernelImage> InspectKernelImage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno(fmt::format("open({})", path));
  struct stat st {};
  if (fstat(fd.Get(), &st) != 0) return Errno(fmt::format("fstat({})", path));
  if (!S_ISREG(st.st_mode)) return SysError{0, fmt::format("{} is not a regular file", path)};
  std::vector<unsigned char> buf(kHeaderBytes);
  unsigned char* h = buf.data();
  const ssize_t n = pread(fd.Get(), h, kHeaderBytes, 0);
  if (n < 0) return Errno(fmt::format("read({})", path));
  auto bad = [&](const std::string& why) {
    return SysError{
        0, fmt::format("{} is not an x86 Linux kernel image QEMU can boot: {}", path, why)};
  };
  if (n >= 4 && memcmp(h,
                       "\x7f"
                       "ELF",
                       4) == 0)
    return bad(
        "it is an ELF file (a vmlinux?); give the compressed image, "
        "arch/x86/boot/bzImage or /boot/vmlinuz-*");
  if (static_cast<size_t>(n) < 0x240 || memcmp(h + kMagicAt, "HdrS", 4) != 0 ||
      Le16(h + kBootFlagAt) != 0xaa55)
    return bad("no x86 boot header ('HdrS' at 0x202)");
  KernelImage k;
  k.path = path;
  k.boot_protocol = Le16(h + kVersionAt);
  if (k.boot_protocol < 0x0200 || !(h[kLoadFlagsAt] & 1))
    return bad(fmt::format("boot protocol {:#06x} without a high-loaded kernel (not a bzImage)",
                           k.boot_protocol));
  if (k.boot_protocol >= 0x020c && !(h[kXLoadFlagsAt] & 1))
    return bad("a 32-bit kernel (no 64-bit entry point); inflight vm runs x86-64 kernels");
  const uint32_t at = 0x200u + Le16(h + kKernelVersionAt);
  if (Le16(h + kKernelVersionAt) != 0 && at < static_cast<size_t>(n)) {
    const char* s = reinterpret_cast<const char*>(h + at);
    k.version_text.assign(s, strnlen(s, static_cast<size_t>(n) - at));
    k.release = k.version_text.substr(0, k.version_text.find(' '));
  }
  // The protected-mode part must be there: a header alone is not a kernel.
  const uint32_t setup_sects = h[0x1f1] ? h[0x1f1] : 4;
  const uint64_t syssize =
      static_cast<uint64_t>(Le16(h + 0x1f4)) | (static_cast<uint64_t>(Le16(h + 0x1f6)) << 16);
  const uint64_t need = (setup_sects + 1) * 512ull + syssize * 16;
  if (static_cast<uint64_t>(st.st_size) < need)
    return bad(fmt::format("truncated: {} bytes, the header promises {}", st.st_size, need));
  return k;
}

}  // namespace inflight
