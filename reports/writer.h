// Writes a report folder atomically: every file is written to a temporary name and
// renamed, so an interrupted run never leaves a half-written report behind.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "reports/report.h"

namespace inflight {

// The files of a report folder besides report.json, which is always written.
struct ReportFormats {
  bool junit = false;  // junit.xml
  bool ktap = false;   // report.ktap
  // "ktap:-": KTAP on stdout (the running command prints it when it ends; everything
  // else it would print goes to stderr then). WriteReport does not write it.
  bool ktap_stdout = false;
  bool html = false;   // report.html (graphs drawn with Graphviz's dot)
};

// Parses a --format list such as "json,junit,ktap,html" (json is implied; "ktap:-" is
// KTAP on stdout). Returns ""
// on success, else what is wrong.
std::string ParseReportFormats(std::string_view text, ReportFormats& out);

// Creates `dir` if needed and checks that a file can be written there.
Status PrepareReportDir(const std::string& dir);

// Writes report.json into `dir`.
Status WriteReport(const std::string& dir, const Report& report);
// Writes report.json and the formats asked for. A graph that cannot be drawn (no dot)
// does not fail the page: it shows the graph's DOT text and says why.
Status WriteReport(const std::string& dir, const Report& report, const ReportFormats& formats);

// Writes `text` to `path` through a temporary file and rename(2).
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace inflight
