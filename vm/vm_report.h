// The report of an `inflight vm` run and its exit status: the guest's report.json when it
// came back, with a "vm" section (how the VM ended, timings, global counts, the init's
// notes) and one run record per kernel fault in the console log: a finding like any
// other, compared across kernels by its signature.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/report.h"
#include "vm/vm_run.h"

namespace inflight {

nlohmann::json BuildVmReport(const VmConfig& c, const VmOutcome& o,
                             const std::vector<std::string>& argv, const std::string& started_at);

// Writes report.json, console.log and guest.log into `dir` (prepared already); returns the
// report. Throws InternalError when the folder cannot be written.
nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at);

// 0 clean, 1 finding (a leak, a hang, a kernel fault, a guest that crashed or hung, a
// report that holds a finding whatever the suite's status), 2 bad usage inside the guest,
// 3 the guest kernel cannot run the suite, 4 our bug (the suite's report did not come
// back), 5 no boot, 6 timeout, 130 interrupted.
int VmExitStatus(const VmOutcome& o);

// Lines for the terminal: timings, kernel faults, global counts, how it ended.
std::string DescribeVmOutcome(const VmOutcome& o);

// The value of a global count ("file-nr" "before" -> first number), or -1.
long long CountValue(const VmOutcome& o, const std::string& phase, const std::string& name);

}  // namespace inflight
