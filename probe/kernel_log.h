// Kernel evidence from the kernel log: the records /dev/kmsg gained since the last look,
// filtered to the ones that mean the kernel went wrong (KASAN, KMSAN, UBSAN, WARNING,
// BUG, refcount_t, list corruption, oopses), with a few records of context after each.
//
// Linux seam. Reading /dev/kmsg needs CAP_SYSLOG (or kernel.dmesg_restrict=0); where it
// cannot be read the layer is inactive and says so.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

class KernelLog {
 public:
  // Opens /dev/kmsg positioned at its end: only records from now on are seen.
  static Result<KernelLog> Open();

  // The alarming records (and context) written since the previous call.
  std::vector<std::string> TakeNew();

 private:
  UniqueFd fd_;
  int context_left_ = 0;  // records still to keep after an alarming one
};

// True for a kernel log message that says the kernel went wrong.
bool IsAlarming(const std::string& message);

// The message of one /dev/kmsg record ("prio,seq,usec,flags;message\n..."), or nullopt
// when userspace wrote it: the kernel forces a facility other than kern (0) on every
// record written to /dev/kmsg, so a "BUG:" line that a test, a daemon or another user
// wrote is never taken for kernel evidence.
std::optional<std::string> KernelRecordMessage(std::string_view record);

}  // namespace inflight
