// Atomic report files.
#include "reports/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <filesystem>

#include "base/unique_fd.h"

namespace inflight {

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!f) return Errno(fmt::format("open({})", tmp));
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(f.Get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      SysError e = Errno(fmt::format("write({})", tmp));
      ::unlink(tmp.c_str());
      return e;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(f.Get()) != 0 && errno != EINVAL) {
    SysError e = Errno(fmt::format("fsync({})", tmp));
    ::unlink(tmp.c_str());
    return e;
  }
  f.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    SysError e = Errno(fmt::format("rename({}, {})", tmp, path));
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

Status PrepareReportDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return SysError{ec.value(), fmt::format("mkdir({})", dir)};
  const std::string probe = fmt::format("{}/.inflight-write-test.{}", dir, getpid());
  UniqueFd f(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!f) return Errno(fmt::format("cannot write in {}", dir));
  ::unlink(probe.c_str());
  return {};
}

Status WriteReport(const std::string& dir, const Report& report) {
  if (auto s = PrepareReportDir(dir); !s) return s;
  return WriteFileAtomically(dir + "/report.json", ReportToJson(report).dump(2) + "\n");
}

}  // namespace inflight
