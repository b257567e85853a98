// Atomic report files.
#include "reports/writer.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/unique_fd.h"
#include "reports/graphviz.h"
#include "reports/html.h"
#include "reports/junit.h"
#include "reports/ktap.h"

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

std::string ParseReportFormats(std::string_view text, ReportFormats& out) {
  out = ReportFormats{};
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view f = text.substr(start, end - start);
    start = end + 1;
    if (f == "json") continue;
    if (f == "junit")
      out.junit = true;
    else if (f == "ktap")
      out.ktap = true;
    else if (f == "ktap:-")
      out.ktap_stdout = true;
    else if (f == "html")
      out.html = true;
    else
      return fmt::format(
          "unknown format '{}' (formats: json, junit, ktap, html, and ktap:- for KTAP on "
          "stdout; e.g. --format json,junit,ktap,html)",
          f);
  }
  return "";
}

Status WriteReport(const std::string& dir, const Report& report) {
  return WriteReport(dir, report, ReportFormats{});
}

Status WriteReport(const std::string& dir, const Report& report, const ReportFormats& formats) {
  if (auto s = PrepareReportDir(dir); !s) return s;
  if (formats.junit)
    if (auto s = WriteFileAtomically(dir + "/junit.xml", ReportToJUnit(report)); !s) return s;
  if (formats.ktap)
    if (auto s = WriteFileAtomically(dir + "/report.ktap", ReportToKtap(report)); !s) return s;
  if (formats.html) {
    auto render = [](const std::string& dot) { return RenderDotToSvg(dot); };
    if (auto s = WriteFileAtomically(dir + "/report.html", ReportToHtml(report, render)); !s)
      return s;
  }
  return WriteFileAtomically(dir + "/report.json", ReportToJson(report).dump(2) + "\n");
}

}  // namespace inflight
