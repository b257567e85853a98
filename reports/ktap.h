// KTAP (the kernel's Test Anything Protocol, Documentation/dev-tools/ktap.rst), as
// kselftest prints it: "TAP version 13", the plan, one result line per scenario run, and
// diagnostics as "# " lines just before the result they belong to. Hangs carry the
// TIMEOUT directive and runs ruled `error` (ours) the ERROR directive. A run whose outcome
// the command planned (RunRecord::expected) is `ok` when the plan held, a planted finding
// with the XFAIL directive (kselftest's expected failure), and `not ok` when it did not.
// An interrupted command's KTAP lists the runs that finished and ends with the line
// "Bail out! interrupted".
#pragma once

#include <string>

#include "reports/report.h"

namespace inflight {

std::string ReportToKtap(const Report& report);

}  // namespace inflight
