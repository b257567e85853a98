// JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters): one <testsuite> per
// scenario, one <testcase> per scenario run. Leak, hang and fault runs are <failure>s,
// runs ruled `error` (ours) are <error>s. A run whose outcome the command planned
// (RunRecord::expected) passes when the plan held, saying so in <system-out>, and is a
// <failure type="planned-VERDICT"> when it did not.
#pragma once

#include <string>

#include "reports/report.h"

namespace inflight {

std::string ReportToJUnit(const Report& report);

}  // namespace inflight
