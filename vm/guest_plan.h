// What the guest runs: the inflight arguments given after `--`, the scenario files they
// name (copied into the initramfs at the same absolute paths, so the arguments need no
// rewriting and reports name the host's files), and the job file the guest's init reads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace inflight {

// Where the guest's inflight writes its report (inside the guest).
inline constexpr const char* kGuestReportDir = "/inflight/out";
inline constexpr const char* kGuestJobPath = "/inflight/job.json";
// The --global-tolerance the guest's run and check get unless told otherwise.
inline constexpr int kGuestGlobalTolerance = 1;

struct GuestPlan {
  std::string command;            // "run", "check", "selftest", ...
  std::vector<std::string> args;  // inflight's arguments in the guest (--report added)
  std::string cwd;                // the host's working folder, recreated in the guest
  std::vector<std::pair<std::string, std::string>> env;  // e.g. INFLIGHT_CORPUS
  std::vector<std::string> files;  // absolute host paths to copy to the same place
  uint64_t file_bytes = 0;
  // The command writes report.json into kGuestReportDir (run, check, stress, minimize,
  // repro: --report added; fuzz: --out), and the init sends it back.
  bool writes_report = false;
  // The command runs graph_fuzzer (fuzz; check's fuzz smoke): the static one goes into the
  // initramfs, its inputs are logged to the console (vm/input_log.h), and the whole of
  // kGuestReportDir (corpus, findings, logs) comes back, not only report.json.
  bool fuzzes = false;
  // fuzz --resume: the host's report folder goes into kGuestReportDir first.
  bool resumes = false;
};

// Throws UsageError for arguments inflight vm cannot run: none, a nested vm or gate, a
// --report (or fuzz's --out) of their own, or more scenario data than an initramfs
// should carry.
// `default_corpus` is what check and selftest use when not told (absolute).
GuestPlan PlanGuestRun(const std::vector<std::string>& args, const std::string& cwd,
                       const std::string& default_corpus);

// The job file for the guest's init.
struct GuestJob {
  std::vector<std::string> args;
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> modules;  // guest paths of .ko files, in load order
  std::string inject;                // "", "bug", "panic", "hang": tests of the fault paths
  std::string report_file;           // the guest path of report.json to send back, or ""
  std::string send_dir;  // a guest folder whose every file is sent back too, or ""
  // While the suite runs, every this often the init sends what changed in send_dir's
  // corpus/ and findings/ (so that a guest that goes down has returned its corpus and
  // findings so far), and it writes corpus files the host sends into send_dir/corpus/
  // (a fleet's exchange, vm/fleet.h). 0: only at the end.
  uint32_t exchange_ms = 0;
};
nlohmann::json GuestJobToJson(const GuestJob& j);
bool GuestJobFromJson(const nlohmann::json& j, GuestJob& out);

}  // namespace inflight
