// Witnesses of the collector and the settling rules (see settle.h).
#include "probe/settle.h"

#include <fmt/core.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/file_util.h"
#include "base/scm.h"
#include "probe/liveness.h"

namespace inflight {

namespace {

// A self-referencing socket: `a` sent over its peer into its own receive queue. `a` is
// closed first, so that it is garbage before `b`'s release schedules the collector.
Status MakeSelfReference(int epoll_fd, uint64_t key) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Errno("socketpair(witness)");
  UniqueFd a(sv[0]), b(sv[1]);
  if (epoll_fd >= 0) {
    epoll_event ev{};
    ev.events = 0;  // never wakes anyone; only its presence in fdinfo matters
    ev.data.u64 = key;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, a.Get(), &ev) != 0) return Errno("epoll_ctl(witness)");
  }
  const int fd = a.Get();
  if (SendWithFds(b.Get(), &fd, 1) < 0) return Errno("sendmsg(witness)");
  a.Reset();
  b.Reset();  // b's release schedules the collector: something is in flight
  return {};
}

constexpr int64_t kFirstRetriggerUs = 50'000;
constexpr int64_t kMaxRetriggerUs = 1'000'000;

}  // namespace

Status TriggerCollector() {
  return MakeSelfReference(-1, 0);
}

void WitnessLog::Made(uint64_t key, int64_t at) {
  w_.push_back({key, at, 0});
  while (w_.size() > kMaxKept) {
    auto freed = std::find_if(w_.begin(), w_.end(), [](const Witness& x) { return x.freed_at; });
    if (freed == w_.end()) break;
    w_.erase(freed);
  }
}

void WitnessLog::Freed(uint64_t key, int64_t at) {
  for (Witness& x : w_)
    if (x.key == key && !x.freed_at) x.freed_at = at;
}

int64_t WitnessLog::FreedAfter(int64_t since) const {
  int64_t first = 0;
  for (const Witness& x : w_)
    if (x.made_at >= since && x.freed_at && (!first || x.freed_at < first)) first = x.freed_at;
  return first;
}

int64_t WitnessLog::NewestMadeSince(int64_t since) const {
  return !w_.empty() && w_.back().made_at >= since ? w_.back().made_at : 0;
}

int64_t WitnessLog::OldestAliveSince(int64_t since) const {
  for (const Witness& x : w_)
    if (x.made_at >= since && !x.freed_at) return x.made_at;
  return 0;
}

bool WitnessLog::AnyFreedSince(int64_t since) const {
  return std::any_of(w_.begin(), w_.end(),
                     [since](const Witness& x) { return x.freed_at && x.freed_at >= since; });
}

size_t WitnessLog::Alive() const {
  return static_cast<size_t>(
      std::count_if(w_.begin(), w_.end(), [](const Witness& x) { return !x.freed_at; }));
}

bool WitnessLog::Stalled(int64_t now, int64_t ceiling_us) const {
  for (const Witness& x : w_)
    if (!x.freed_at) return now - x.made_at >= ceiling_us;  // the oldest alive one
  return false;
}

void Settler::Start(int64_t now, int64_t garbage_since) {
  started_ = now;
  garbage_since_ = garbage_since;
  round_since_ = garbage_since;
  gap_ = opt_.first_gap_us;
  next_at_ = now + gap_;
  last_change_ = now;
  have_fp_ = have_round_fp_ = false;
  polls_ = rounds_ = stable_ = 0;
  stalled_ = false;
  why_.clear();
}

Settler::Outcome Settler::OnCensus(bool clean, const SettleFingerprint& fp, int64_t now,
                                   const WitnessLog& log) {
  ++polls_;
  if (clean) {
    why_ = fmt::format("clean after {} collector pass(es)", rounds_);
    return Outcome::kClean;
  }
  if (!have_fp_ || !(fp == last_fp_)) {
    last_fp_ = fp;
    have_fp_ = true;
    last_change_ = now;
  }
  if (log.FreedAfter(round_since_) != 0) {
    // A pass that started after the last round's census ran and its releases went
    // through: did it free anything?
    ++rounds_;
    stable_ = have_round_fp_ && fp == round_fp_ ? stable_ + 1 : 0;
    round_fp_ = fp;
    have_round_fp_ = true;
    round_since_ = now;
    if (stable_ >= opt_.stable_rounds) {
      why_ = fmt::format("{} collector passes completed after the run, the last {} freed nothing",
                         rounds_, stable_);
      return Outcome::kLeak;
    }
  }
  const bool any_pass = log.FreedAfter(garbage_since_) != 0;
  // A collector known stalled (a witness alive a whole ceiling) that has freed no witness
  // at all since this run ended: one quiet grace period suffices. (Witnesses made after
  // the run may be missing: a stalled kernel keeps every one, and the clock stops making
  // them at CollectorClock::kMaxAlive.)
  const bool stalled = opt_.known_stalled || log.Stalled(now, opt_.ceiling_us);
  if (!any_pass && stalled && !log.AnyFreedSince(garbage_since_) &&
      now - started_ >= opt_.stall_grace_us && now - last_change_ >= opt_.stall_grace_us) {
    stalled_ = true;
    why_ = fmt::format(
        "the collector is stalled: a witness (a lone self-referencing socket) lived over "
        "{:.0f} s{}, none was freed since this run ended, and nothing changed for {:.1f} s",
        opt_.ceiling_us / 1e6,
        log.Stalled(now, opt_.ceiling_us) ? "" : " in an earlier sandbox on this kernel",
        (now - last_change_) / 1e6);
    return Outcome::kLeak;
  }
  if (now - started_ >= opt_.ceiling_us) {
    if (!any_pass && now - last_change_ >= opt_.stall_grace_us) {
      stalled_ = true;
      why_ = fmt::format(
          "the collector is stalled: no pass completed in {:.1f} s, its witness (a lone "
          "self-referencing socket made after the run) was never freed",
          (now - started_) / 1e6);
      return Outcome::kLeak;
    }
    why_ = fmt::format(
        "still changing after {} collector passes in {:.1f} s (last change {:.1f} s ago)", rounds_,
        (now - started_) / 1e6, (now - last_change_) / 1e6);
    return Outcome::kUnsettled;
  }
  gap_ = std::min(gap_ * 2, opt_.max_gap_us);
  next_at_ = now + gap_;
  return Outcome::kPending;
}

Result<CollectorClock> CollectorClock::Create() {
  CollectorClock c;
  c.epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!c.epoll_) return Errno("epoll_create1(collector witnesses)");
  c.backoff_us_ = kFirstRetriggerUs;
  return c;
}

Status CollectorClock::Make(int64_t now) {
  if (log_.Alive() >= kMaxAlive) return SysError{EBUSY, "collector witnesses: all alive"};
  const uint64_t key = next_key_++;
  if (auto s = MakeSelfReference(epoll_.Get(), key); !s) return s;
  log_.Made(key, now);
  ++made_;
  return {};
}

void CollectorClock::Need(int64_t since, int64_t now) {
  if (log_.NewestMadeSince(since) == 0) {
    (void)Make(now);  // best effort: a failed one only makes settling slower
    return;
  }
  if (log_.FreedAfter(since) != 0) return;  // proven already
  // The newest witness is alive: the pass it triggered may have begun before it was
  // garbage, and a collector that is already scheduled is not scheduled again.
  if (now - log_.NewestMadeSince(0) >= backoff_us_) {
    backoff_us_ = std::min(backoff_us_ * 2, kMaxRetriggerUs);
    (void)Make(now);
  }
}

Status CollectorClock::Poll(int64_t now) {
  if (log_.Alive() == 0) return {};
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epoll_.Get());
  auto text = ReadWholeFile(path);
  if (!text) return text.error();
  auto items = ParseEpollFdinfo(*text);
  if (!items) return items.error();
  const std::set<uint64_t> alive(items->begin(), items->end());
  bool freed = false;
  for (const auto& w : log_.witnesses()) {
    if (w.freed_at || alive.count(w.key)) continue;
    log_.Freed(w.key, now);
    freed = true;
  }
  if (freed) backoff_us_ = kFirstRetriggerUs;
  return {};
}

}  // namespace inflight
