// The progress line of long commands (run, check, stress, fuzz) on stderr: rewritten in
// place on a terminal, one line at a time elsewhere (a log), each at its own pace.
#pragma once

#include <cstdint>
#include <string>

namespace inflight {

class ProgressLine {
 public:
  // `tty_gap_us`, `log_gap_us`: the least time between two lines on a terminal and in a log.
  ProgressLine(bool enabled, int64_t tty_gap_us, int64_t log_gap_us);
  // Whether a line is due now (always when forced); the caller then formats it for Show().
  bool Due(bool force = false);
  void Show(const std::string& line);
  // A line shown in place ends with a newline (End) or is wiped (Clear).
  void End();
  void Clear();
  int64_t start_us() const { return start_us_; }

 private:
  bool enabled_;
  bool tty_;
  int64_t gap_us_;
  int64_t start_us_;
  int64_t last_us_ = 0;
  bool shown_ = false;  // a line stands in place on the terminal
};

}  // namespace inflight
