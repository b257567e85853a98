// kmemleak evidence, when the kernel has it (CONFIG_DEBUG_KMEMLEAK and debugfs): after a
// command, scan, wait past kmemleak's minimum object age, scan again, and keep the
// unreferenced objects whose allocation backtrace passes through AF_UNIX or SCM code.
//
// Linux seam; needs root. Scanning takes seconds, so it runs once per command.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace inflight {

inline constexpr const char* kKmemleakPath = "/sys/kernel/debug/kmemleak";

// True when kmemleak can be used; otherwise *why says what is missing.
bool KmemleakAvailable(std::string* why);
// Forgets the objects reported so far, so that a later scan shows only new ones.
Status KmemleakClear();
// scan; wait `wait_ms`; scan; read. Returns the reports that mention AF_UNIX/SCM code.
// `stop` (polled every 100 ms while waiting) ends it early with EINTR.
Result<std::vector<std::string>> KmemleakScan(int wait_ms,
                                              const std::function<bool()>& stop = nullptr);

// Splits kmemleak's report text into one string per object; with `unix_only`, keeps the
// objects whose backtrace mentions AF_UNIX or SCM functions.
std::vector<std::string> ParseKmemleakReports(const std::string& text, bool unix_only);

}  // namespace inflight
