// Reading small kernel files (procfs, sysfs, debugfs) whole.
#pragma once

#include <string>

#include "base/result.h"

namespace inflight {

// Reads `path` to its end, refusing more than `limit` bytes.
Result<std::string> ReadWholeFile(const char* path, size_t limit = 64u << 20);
// Reads an open descriptor from offset 0 with pread(2) (procfs files re-read this way
// give a fresh snapshot), refusing more than `limit` bytes. `what` names it in errors.
Result<std::string> PreadWhole(int fd, const char* what, size_t limit = 64u << 20);

}  // namespace inflight
