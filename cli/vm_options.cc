// The options of the VM commands and their report folders.
#include "cli/vm_options.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/errors.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/runner.h"
#include "reports/writer.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "vm/guest_plan.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

constexpr uint32_t kDefaultTimeoutMs = 600'000;

// A guest fuzz runs for its --duration (10m unless told), then re-runs its findings and
// sends its corpus back: the VM gets that and 10 minutes more.
uint32_t DefaultVmTimeoutMs(const std::vector<std::string>& guest_args) {
  const auto fuzz = GuestFuzzDurationMs(guest_args);
  if (!fuzz) return kDefaultTimeoutMs;
  return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{*fuzz} + kDefaultTimeoutMs, UINT32_MAX));
}

}  // namespace

std::optional<uint32_t> GuestFuzzDurationMs(const std::vector<std::string>& guest_args) {
  auto cmd = std::find_if(guest_args.begin(), guest_args.end(),
                          [](const std::string& a) { return a.empty() || a[0] != '-'; });
  if (cmd == guest_args.end() || *cmd != "fuzz") return std::nullopt;
  std::string duration = "10m";
  for (auto it = cmd; it != guest_args.end(); ++it) {
    if (*it == "--duration" && it + 1 != guest_args.end()) duration = *(it + 1);
    if (it->rfind("--duration=", 0) == 0) duration = it->substr(11);
  }
  return ParseDurationMs(duration, "--duration");
}

std::vector<std::string> GuestFuzzResumed(const std::vector<std::string>& guest_args,
                                          uint32_t duration_ms) {
  std::vector<std::string> out;
  bool resume = false;
  for (size_t i = 0; i < guest_args.size(); ++i) {
    const std::string& a = guest_args[i];
    if (a == "--duration") {
      ++i;
      continue;
    }
    if (a.rfind("--duration=", 0) == 0) continue;
    resume = resume || a == "--resume";
    out.push_back(a);
  }
  if (!resume) out.push_back("--resume");
  out.push_back("--duration");
  out.push_back(fmt::format("{}s", std::max<uint32_t>(1, duration_ms / 1000)));
  return out;
}

void AddVmOptions(CLI::App* cmd, VmArgs& a) {
  cmd->add_option("--memory", a.memory, "Guest memory in MiB")->capture_default_str();
  cmd->add_option("--cpus", a.cpus, "Guest CPUs (under TCG each is a host thread)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--timeout", a.timeout,
                  "The whole VM, boot and suite; when it passes QEMU is stopped (exit status 6)")
      ->default_str("10m; for fuzz inside: its --duration + 10m");
  cmd->add_option("--boot-timeout", a.boot_timeout,
                  "How long the kernel may take to start the suite's init (exit status 5)")
      ->capture_default_str();
  cmd->add_option("--hang-after", a.hang_after,
                  "Silence of a running guest (no heartbeat, no output) that is ruled a hang")
      ->capture_default_str();
  cmd->add_option("--accel", a.accel,
                  "auto: KVM when a quick probe shows it works at a useful speed, else TCG "
                  "software emulation; kvm; tcg")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", a.quiet, "Do not echo what the suite prints in the guest");
  // Tests of the fault paths: the guest's init writes a fake BUG: line, exits (the kernel
  // panics), or stops answering.
  cmd->add_option("--inject", a.inject, "")
      ->check(CLI::IsMember({"bug", "panic", "hang", "panic-later"}))
      ->group("");
  cmd->add_option("args", a.guest_args,
                  "inflight's arguments inside the guest, after --, e.g. -- run corpus");
}

VmConfig MakeVmConfig(const VmArgs& a, const std::string& kernel, const std::string& modules,
                      const std::string& out_dir) {
  VmConfig c;
  c.kernel = kernel;
  c.modules_dir = modules;
  char* end = nullptr;
  const long mb = strtol(a.memory.c_str(), &end, 10);
  if (a.memory.empty() || *end || mb < 128 || mb > 65536)
    throw UsageError(fmt::format("--memory takes MiB from 128 to 65536 (got '{}')", a.memory));
  c.memory_mb = static_cast<uint32_t>(mb);
  c.cpus = a.cpus;
  c.timeout_ms = a.timeout.empty() ? DefaultVmTimeoutMs(a.guest_args)
                                   : ParseDurationMs(a.timeout, "--timeout");
  c.boot_timeout_ms = ParseDurationMs(a.boot_timeout, "--boot-timeout");
  c.hang_after_ms = ParseDurationMs(a.hang_after, "--hang-after");
  if (!ParseAccel(a.accel, c.accel))
    throw UsageError(fmt::format("--accel is auto, kvm or tcg (got '{}')", a.accel));
  c.inject = a.inject;
  c.guest_args = a.guest_args;
  c.static_dir = DefaultStaticDir();
  c.qemu = FindQemu();
  std::error_code ec;
  c.cwd = std::filesystem::current_path(ec).string();
  if (ec) throw UsageError(fmt::format("the current folder is gone: {}", ec.message()));
  c.default_corpus = std::filesystem::absolute(DefaultCorpusDir(), ec).lexically_normal().string();
  c.interrupted = [] { return Interrupted(); };
  if (!out_dir.empty())
    c.out_dir = std::filesystem::absolute(out_dir, ec).lexically_normal().string();
  return c;
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

nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at) {
  nlohmann::json report = BuildVmReport(c, o, argv, started_at);
  // What else came back (fuzz: corpus, findings, artifacts, logs), at the same places.
  size_t refused = 0;
  for (const auto& [rel, data] : o.files) {
    if (!SafeReturnedPath(rel)) {
      ++refused;
      continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir + "/" + rel).parent_path(), ec);
    if (auto s = WriteFileAtomically(dir + "/" + rel, data); !s)
      throw InternalError(fmt::format("cannot write {}/{}: {}", dir, rel, s.error().Text()));
  }
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
