// Assembling the VM's report, and its exit status.
#include "vm/vm_report.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "reports/compare.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "vm/guest_plan.h"

namespace inflight {

namespace {

RunRecord KernelRecord(VerdictKind kind, const std::string& what, const std::string& summary,
                       std::vector<std::string> lines) {
  RunRecord r;
  r.scenario = kKernelRecordPrefix + what;
  r.file = "console.log";
  r.verdict.kind = kind;
  r.verdict.summary = summary;
  r.verdict.faults = std::move(lines);
  r.result.status = kind == VerdictKind::kHang ? RunStatus::kHang : RunStatus::kCompleted;
  // Named like every finding (reports/finding_signature.h): a kernel fault by its console
  // title, whichever guest command or input met it.
  r.extra["signature"] = fmt::format("{}|kernel|{}", VerdictName(kind), what);
  return r;
}

bool StartsWith(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

std::vector<LoggedInput> SuspectInputs(const VmOutcome& o, size_t n) {
  const bool down = o.end == VmEnd::kCrashed || o.end == VmEnd::kHang;
  if (!down && o.faults.empty()) return {};
  size_t before = SIZE_MAX;
  if (!o.faults.empty()) {
    // The line of the first fault: inputs after it did not cause it.
    const size_t at = o.console.find(o.faults.front().line);
    if (at != std::string::npos)
      before = static_cast<size_t>(std::count(o.console.begin(),
                                              o.console.begin() + static_cast<long>(at), '\n'));
  }
  std::vector<LoggedInput> all = ParseInputLog(o.console, before);
  if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<long>(n));
  return all;
}

long long CountValue(const VmOutcome& o, const std::string& phase, const std::string& name) {
  for (const GlobalCount& g : o.counts)
    if (g.phase == phase && g.name == name && !g.values.empty()) return g.values.front();
  return -1;
}

nlohmann::json AppendKernelRecords(nlohmann::json& j, const VmOutcome& o,
                                   const std::string& folder) {
  const std::string at = folder.empty() ? "" : folder + "/";
  const std::vector<LoggedInput> suspects = SuspectInputs(o);
  nlohmann::json last_inputs = nlohmann::json::array();
  for (const LoggedInput& in : suspects)
    last_inputs.push_back(
        {{"id", in.id},
         {"size", in.bytes.size()},
         {"input", fmt::format("{}{}/input-{}", at, kLastInputsDir, in.id)},
         {"scenario", fmt::format("{}{}/input-{}.scn", at, kLastInputsDir, in.id)}});
  auto with_inputs = [&](std::vector<std::string> lines) {
    if (!suspects.empty())
      lines.push_back(fmt::format(
          "the guest's fuzzer ran {} input(s) last before this, in {}{}/ (newest: input-{}); "
          "replay: inflight vm --kernel IMAGE -- repro {}{}/input-{}",
          suspects.size(), at, kLastInputsDir, suspects.back().id, at, kLastInputsDir,
          suspects.back().id));
    return lines;
  };
  auto add = [&](RunRecord r) {
    r.file = at + r.file;
    AppendRunJson(j, r);
  };
  for (const KernelFault& f : o.faults)
    add(KernelRecord(VerdictKind::kFault, f.signature, f.line, with_inputs(f.excerpt)));
  if (o.end == VmEnd::kHang)
    add(KernelRecord(VerdictKind::kHang, "guest stopped responding", o.why, with_inputs({})));
  if (o.end == VmEnd::kCrashed && o.faults.empty())
    add(KernelRecord(VerdictKind::kFault, "guest went down", o.why, with_inputs({})));
  return last_inputs;
}

nlohmann::json BuildVmReport(const VmConfig& c, const VmOutcome& o,
                             const std::vector<std::string>& argv, const std::string& started_at) {
  nlohmann::json j;
  if (o.guest_report) {
    j = *o.guest_report;
  } else {
    Report empty;
    empty.command = "vm";
    empty.started_at = started_at;
    j = ReportToJson(empty);
  }
  j["guest_command"] = j.value("command", "");
  j["guest_argv"] = j.value("argv", std::vector<std::string>{});
  j["command"] = "vm";
  j["argv"] = argv;
  // The guest's own start (its clock), e.g. for the time to a fuzz finding's first_seen.
  if (j.contains("started_at")) j["guest_started_at"] = j["started_at"];
  j["started_at"] = started_at;
  j["duration_s"] = o.total_s;
  if (j.value("kernel", "").empty()) j["kernel"] = o.kernel_release;
  if (o.end == VmEnd::kInterrupted) j["interrupted"] = true;

  // The layers a VM adds, and what is still not covered.
  auto layers = j.value("layers", std::vector<std::string>{});
  layers.push_back(
      "kernel log: the VM's console, read for BUG, WARNING, KASAN, Oops, panic, "
      "lockup and hung-task lines (each a kernel-fault finding)");
  layers.push_back(
      "global counts of the VM: file-nr, inode-nr and slab caches recorded by the init "
      "before and after the whole suite (vm.global_counts); the suite inside rules on its "
      "own, with slabs flushed, since nothing else runs there");
  j["layers"] = layers;
  std::vector<std::string> inactive;
  for (const std::string& l : j.value("inactive_layers", std::vector<std::string>{}))
    if (!StartsWith(l, "global counts") && !StartsWith(l, "kernel log evidence"))
      inactive.push_back(l);
  inactive.push_back("global counts per run: the VM records file-nr for the whole suite only");
  j["inactive_layers"] = inactive;

  // The kernel's own findings, with the fuzzer's last inputs before them.
  const nlohmann::json last_inputs = AppendKernelRecords(j, o, "");
  nlohmann::json counts = nlohmann::json::object();
  for (const GlobalCount& g : o.counts) counts[g.name][g.phase] = g.values;
  const long long before = CountValue(o, "before", "file-nr");
  const long long settled = CountValue(o, "settled", "file-nr");
  if (before >= 0 && settled >= 0) counts["file-nr"]["delta_settled"] = settled - before;
  nlohmann::json faults = nlohmann::json::array();
  for (const KernelFault& f : o.faults)
    faults.push_back({{"kind", f.kind}, {"signature", f.signature}, {"line", f.line}});
  const bool complete =
      o.end == VmEnd::kCompleted && (o.guest_report.has_value() || !o.expects_report);
  j["vm"] = {
      {"kernel_image", c.kernel},
      {"kernel_release", o.kernel_release},
      {"modules_dir", c.modules_dir},
      {"modules_loaded", o.modules},
      {"accel", AccelName(o.accel.accel)},
      {"accel_reason", o.accel.why},
      {"cpus", c.cpus},
      {"memory_mb", c.memory_mb},
      {"guest_args", c.guest_args},
      {"end", VmEndName(o.end)},
      {"why", o.why},
      {"complete", complete},
      {"guest_exit_status", o.guest_status},
      {"qemu_exit_status", o.qemu_status},
      {"timings_s",
       {{"build_initramfs", o.build_s},
        {"boot", o.boot_s},
        {"suite", o.suite_s},
        {"counts_settle", o.settle_s},
        {"results_transfer", o.results_s},
        {"boot_to_verdict", o.verdict_s},
        {"total", o.total_s}}},
      {"initramfs_bytes", o.initramfs_bytes},
      {"global_counts", counts},
      {"kernel_faults", faults},
      {"last_inputs", last_inputs},
      {"ships_fuzzer", o.ships_fuzzer},
      {"files_back", o.files.size()},
      {"notes", o.notes},
      {"console_log", "console.log"},
      {"guest_output", "guest.log"},
  };
  if (!o.qemu_output.empty()) j["vm"]["qemu_output"] = o.qemu_output.substr(0, 4000);
  return j;
}

int VmExitStatus(const VmOutcome& o) {
  switch (o.end) {
    case VmEnd::kInterrupted:
      return kExitInterrupted;
    case VmEnd::kTimeout:
      return kExitTimeout;
    case VmEnd::kNoBoot:
      return kExitNoBoot;
    case VmEnd::kHang:
    case VmEnd::kCrashed:
      return kExitFinding;
    case VmEnd::kCompleted:
      break;
  }
  if (!o.faults.empty()) return kExitFinding;
  switch (o.guest_status) {
    case kExitClean:
      // A clean status without the report it promised is not a verdict; one with findings
      // in its report is not clean, whatever the suite said.
      if (o.guest_report && ReportHasFindings(*o.guest_report)) return kExitFinding;
      return o.guest_report || !o.expects_report ? kExitClean : kExitInternal;
    case kExitFinding:
    case kExitUsage:
    case kExitEnvironment:
    case kExitInternal:
    case kExitInterrupted:
      return o.guest_status;
    default:
      return kExitInternal;
  }
}

std::string DescribeVmOutcome(const VmOutcome& o) {
  std::string out;
  out += fmt::format("inflight vm: Linux {} under {} ({})", o.kernel_release,
                     AccelName(o.accel.accel), o.accel.why);
  if (o.boot_s >= 0) out += fmt::format("; booted in {:.2f} s", o.boot_s);
  if (o.suite_s >= 0) out += fmt::format(", suite {:.2f} s", o.suite_s);
  if (o.verdict_s >= 0) out += fmt::format(", verdict {:.2f} s after QEMU started", o.verdict_s);
  out += "\n";
  for (const std::string& n : o.notes) out += fmt::format("inflight vm: note: {}\n", n);
  const long long before = CountValue(o, "before", "file-nr");
  const long long after = CountValue(o, "after", "file-nr");
  const long long settled = CountValue(o, "settled", "file-nr");
  if (before >= 0 && settled >= 0)
    out += fmt::format(
        "inflight vm: file-nr {} before the suite, {} right after, {} settled "
        "({:+d}; the kernel reads it without summing per-CPU parts, so "
        "differences under 32 per CPU are noise)\n",
        before, after, settled, settled - before);
  for (const KernelFault& f : o.faults)
    out += fmt::format("kernel fault: {}\n    signature: {}\n", f.line, f.signature);
  return out;
}

namespace {

// A path the guest sent that may be written under the report folder: relative, no "..",
// and not one of the files the host writes itself.
bool SafeReturnedPath(const std::string& rel) {
  if (rel.empty() || rel[0] == '/' || rel == "console.log" || rel == "guest.log" ||
      rel == "report.json" || rel.rfind(std::string(kLastInputsDir) + "/", 0) == 0)
    return false;
  for (const auto& part : std::filesystem::path(rel))
    if (part == ".." || part == ".") return false;
  return true;
}

// The guest's report names its files in the guest's report folder; they are in `dir` now.
void RewriteGuestPaths(nlohmann::json& j, const std::string& dir) {
  const std::string from = kGuestReportDir;
  if (j.is_string()) {
    const std::string& v = j.get_ref<const std::string&>();
    if (v == from || v.rfind(from + "/", 0) == 0) j = dir + v.substr(from.size());
  } else if (j.is_array() || j.is_object()) {
    for (auto& e : j) RewriteGuestPaths(e, dir);
  }
}

}  // namespace

size_t WriteReturnedFiles(const std::string& dir, const std::map<std::string, std::string>& files) {
  size_t refused = 0;
  for (const auto& [rel, data] : files) {
    if (!SafeReturnedPath(rel)) {
      ++refused;
      continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir + "/" + rel).parent_path(), ec);
    if (auto s = WriteFileAtomically(dir + "/" + rel, data); !s)
      throw InternalError(fmt::format("cannot write {}/{}: {}", dir, rel, s.error().Text()));
  }
  return refused;
}

nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at) {
  nlohmann::json report = BuildVmReport(c, o, argv, started_at);
  // What else came back (fuzz: corpus, findings, artifacts, logs), at the same places.
  const size_t refused = WriteReturnedFiles(dir, o.files);
  if (refused)
    report["vm"]["notes"].push_back(
        fmt::format("{} file(s) the guest sent had unsafe names and were not written", refused));
  if (!o.files.empty()) RewriteGuestPaths(report, std::filesystem::absolute(dir).string());
  // The fuzzer's last inputs before the guest went down or faulted, and what they decode to.
  for (const LoggedInput& in : SuspectInputs(o)) {
    std::error_code ec;
    std::filesystem::create_directories(dir + "/" + kLastInputsDir, ec);
    const std::string base = fmt::format("{}/{}/input-{}", dir, kLastInputsDir, in.id);
    Scenario s = DecodeScenario(in.bytes);
    s.name = fmt::format("guest_input_{}", in.id);
    for (const auto& [path, text] : {std::pair<std::string, std::string>{base, in.bytes},
                                     {base + ".scn", PrintScenario(s)}})
      if (auto st = WriteFileAtomically(path, text); !st)
        throw InternalError(fmt::format("cannot write {}: {}", path, st.error().Text()));
  }
  std::string output;
  for (const std::string& l : o.output) output += l + "\n";
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"console.log", o.console},
                                   {"guest.log", output},
                                   {"report.json", report.dump(2) + "\n"}}) {
    if (auto s = WriteFileAtomically(dir + "/" + name, text); !s)
      throw InternalError(fmt::format("cannot write {}/{}: {}", dir, name, s.error().Text()));
  }
  return report;
}

}  // namespace inflight
