// Collector trigger and the settling schedule (see settle.h).
#include "oracle/settle.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "base/scm.h"
#include "base/unique_fd.h"

namespace inflight {

Status TriggerCollector() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Errno("socketpair(trigger)");
  UniqueFd a(sv[0]), b(sv[1]);
  // Send a over b: a's own receive queue then holds a reference to a.
  const int fd = a.Get();
  if (SendWithFds(b.Get(), &fd, 1) < 0) return Errno("sendmsg(trigger)");
  return {};  // both closed here; b's release schedules the collector
}

void Settler::Start(int64_t now, int64_t garbage_since) {
  started_ = now;
  gap_ = opt_.first_gap_us;
  second_phase_ = false;
  polls_ = 0;
  triggers_ = 0;
  Trigger(garbage_since);
  last_trigger_ = now;
  next_at_ = now + gap_;
}

void Settler::Trigger(int64_t since) {
  ++triggers_;
  opt_.trigger(since);  // best effort: a failed trigger only makes settling slower
}

Settler::Outcome Settler::OnCensus(bool clean, int64_t now) {
  ++polls_;
  if (clean) return Outcome::kClean;
  if (!second_phase_ && now >= started_ + opt_.deadline_us) {
    second_phase_ = true;
    Trigger(now);
    last_trigger_ = now;
    gap_ = opt_.first_gap_us;
  } else if (second_phase_ && now >= started_ + opt_.deadline_us + opt_.final_window_us) {
    return Outcome::kLeak;
  } else if (now - last_trigger_ >= opt_.retrigger_us) {
    Trigger(now);
    last_trigger_ = now;
  }
  gap_ = std::min(gap_ * 2, opt_.max_gap_us);
  next_at_ = now + gap_;
  return Outcome::kPending;
}

}  // namespace inflight
