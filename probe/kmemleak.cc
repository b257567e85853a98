// Driving /sys/kernel/debug/kmemleak and reading its reports.
#include "probe/kmemleak.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/unique_fd.h"

namespace inflight {

namespace {

constexpr std::array<const char*, 8> kUnixFrames = {
    "unix_", "scm_", "__scm_", "sk_alloc", "sock_alloc", "sendmsg", "recvmsg", "garbage",
};

Status Command(const char* cmd) {
  UniqueFd f(::open(kKmemleakPath, O_WRONLY | O_CLOEXEC));
  if (!f) return Errno("open(kmemleak, write)");
  const size_t n = strlen(cmd);
  if (::write(f.Get(), cmd, n) != static_cast<ssize_t>(n))
    return Errno(std::string("write(kmemleak, ") + cmd + ")");
  return {};
}

}  // namespace

bool KmemleakAvailable(std::string* why) {
  if (::access(kKmemleakPath, F_OK) != 0) {
    *why =
        "no /sys/kernel/debug/kmemleak (a kernel without CONFIG_DEBUG_KMEMLEAK, or debugfs "
        "not mounted)";
    return false;
  }
  if (::access(kKmemleakPath, R_OK | W_OK) != 0) {
    *why = "/sys/kernel/debug/kmemleak is not readable and writable (needs root)";
    return false;
  }
  return true;
}

Status KmemleakClear() {
  return Command("clear");
}

Result<std::vector<std::string>> KmemleakScan(int wait_ms, const std::function<bool()>& stop) {
  if (auto s = Command("scan"); !s) return s.error();
  const int64_t end = NowMicros() + int64_t{wait_ms} * 1000;
  for (int64_t now = NowMicros(); now < end; now = NowMicros()) {
    if (stop && stop()) return SysError{EINTR, "kmemleak scan (asked to stop)"};
    usleep(static_cast<useconds_t>(std::min<int64_t>(end - now, 100'000)));
  }
  if (auto s = Command("scan"); !s) return s.error();
  auto text = ReadWholeFile(kKmemleakPath, 16u << 20);
  if (!text) return text.error();
  return ParseKmemleakReports(*text, true);
}

std::vector<std::string> ParseKmemleakReports(const std::string& text, bool unix_only) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = text.find("unreferenced object", at)) != std::string::npos) {
    size_t next = text.find("unreferenced object", at + 1);
    std::string block = text.substr(at, next == std::string::npos ? std::string::npos : next - at);
    at = next == std::string::npos ? text.size() : next;
    bool unix_related = !unix_only;
    for (const char* f : kUnixFrames) unix_related |= block.find(f) != std::string::npos;
    if (unix_related) out.push_back(std::move(block));
  }
  return out;
}

}  // namespace inflight
