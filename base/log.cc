// Implementation of the stderr log: one write(2) per line.
#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace inflight {

namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
// Set once at startup, before threads; read-only afterwards.
std::string& Program() {
  static std::string program = "inflight";
  return program;
}
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "note";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void SetLogProgram(std::string_view program) {
  Program() = std::string(program);
}
void SetLogLevel(LogLevel level) {
  g_level = level;
}
LogLevel GetLogLevel() {
  return g_level;
}

void LogLine(LogLevel level, std::string_view message) {
  std::string line = fmt::format("{}: {}: {}\n", Program(), LevelName(level), message);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace inflight
