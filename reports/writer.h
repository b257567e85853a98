// Writes a report folder atomically: every file is written to a temporary name and
// renamed, so an interrupted run never leaves a half-written report behind.
#pragma once

#include <string>

#include "base/result.h"
#include "reports/report.h"

namespace inflight {

// Creates `dir` if needed and checks that a file can be written there.
Status PrepareReportDir(const std::string& dir);

// Writes report.json (and the formats listed) into `dir`.
Status WriteReport(const std::string& dir, const Report& report);

// Writes `text` to `path` through a temporary file and rename(2).
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace inflight
