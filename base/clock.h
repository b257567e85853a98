// Monotonic time in microseconds, and a deadline helper. Async-signal-safe.
#pragma once

#include <time.h>

#include <cstdint>

namespace inflight {

inline int64_t NowMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

class Deadline {
 public:
  explicit Deadline(int64_t micros_from_now) : at_(NowMicros() + micros_from_now) {}
  static Deadline At(int64_t at) {
    Deadline d(0);
    d.at_ = at;
    return d;
  }
  bool Passed() const { return NowMicros() >= at_; }
  int64_t RemainingMicros() const {
    int64_t r = at_ - NowMicros();
    return r > 0 ? r : 0;
  }
  int64_t at() const { return at_; }

 private:
  int64_t at_;
};

}  // namespace inflight
