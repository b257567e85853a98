// The report of an `inflight vm` run and its exit status: the guest's report.json when it
// came back, with a "vm" section (how the VM ended, timings, global counts, the init's
// notes) and one run record per kernel fault in the console log: a finding like any
// other, compared across kernels by its signature.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/report.h"
#include "vm/input_log.h"
#include "vm/vm_run.h"

namespace inflight {

nlohmann::json BuildVmReport(const VmConfig& c, const VmOutcome& o,
                             const std::vector<std::string>& argv, const std::string& started_at);

// Writes report.json, console.log and guest.log into `dir` (prepared already); returns the
// report. Throws InternalError when the folder cannot be written.
nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at);
// Writes the files that came back from the guest (VmOutcome::files) under `dir`, but for
// unsafe names (absolute, "..", the host's own files), whose count it returns. Throws
// InternalError when one cannot be written.
size_t WriteReturnedFiles(const std::string& dir, const std::map<std::string, std::string>& files);

// The inputs a fuzzer in the guest logged (vm/input_log.h) before the first kernel fault
// on the console, or before the guest went down or fell silent: the last `n`, oldest
// first, as syzkaller keeps the programs before a crash. Empty when the run ended well
// without a fault, or nothing was logged.
std::vector<LoggedInput> SuspectInputs(const VmOutcome& o, size_t n = 16);
// Where BuildVmReport says they are, relative to the report folder.
inline constexpr const char* kLastInputsDir = "last-inputs";

// Appends a run record per kernel fault of `o`, and one for a guest that went down or fell
// silent, naming the suspect inputs; `folder` is where that boot's console.log and
// last-inputs/ are, relative to the report ("" for the report's own boot). Returns the
// suspects as vm.last_inputs lists them. BuildVmReport calls it; `inflight vm` adds the
// boots of a fuzz that went down and went on in a new guest.
nlohmann::json AppendKernelRecords(nlohmann::json& j, const VmOutcome& o,
                                   const std::string& folder);

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
