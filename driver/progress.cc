// The progress line.
#include "driver/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include "base/clock.h"

namespace inflight {

ProgressLine::ProgressLine(bool enabled, int64_t tty_gap_us, int64_t log_gap_us)
    : enabled_(enabled),
      tty_(isatty(STDERR_FILENO)),
      gap_us_(tty_ ? tty_gap_us : log_gap_us),
      start_us_(NowMicros()) {}

bool ProgressLine::Due(bool force) {
  if (!enabled_) return false;
  const int64_t now = NowMicros();
  if (!force && now - last_us_ < gap_us_) return false;
  last_us_ = now;
  return true;
}

void ProgressLine::Show(const std::string& line) {
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", line);
    shown_ = true;
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  fflush(stderr);
}

void ProgressLine::End() {
  if (shown_) fmt::print(stderr, "\n");
  shown_ = false;
}

void ProgressLine::Clear() {
  if (shown_) fmt::print(stderr, "\r\033[K");
  shown_ = false;
}

}  // namespace inflight
