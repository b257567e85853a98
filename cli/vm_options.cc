// The options of the VM commands and their report folders.
#include "cli/vm_options.h"

#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/errors.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/runner.h"
#include "reports/writer.h"
#include "vm/vm_report.h"

namespace inflight {

void AddVmOptions(CLI::App* cmd, VmArgs& a) {
  cmd->add_option("--memory", a.memory, "Guest memory in MiB")->capture_default_str();
  cmd->add_option("--cpus", a.cpus, "Guest CPUs (under TCG each is a host thread)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--timeout", a.timeout,
                  "The whole VM, boot and suite; when it passes QEMU is stopped (exit status 6)")
      ->capture_default_str();
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
      ->check(CLI::IsMember({"bug", "panic", "hang"}))
      ->group("");
  cmd->add_option("args", a.guest_args,
                  "inflight's arguments inside the guest, after --, e.g. -- run corpus");
}

VmConfig MakeVmConfig(const VmArgs& a, const std::string& kernel, const std::string& modules) {
  VmConfig c;
  c.kernel = kernel;
  c.modules_dir = modules;
  char* end = nullptr;
  const long mb = strtol(a.memory.c_str(), &end, 10);
  if (a.memory.empty() || *end || mb < 128 || mb > 65536)
    throw UsageError(fmt::format("--memory takes MiB from 128 to 65536 (got '{}')", a.memory));
  c.memory_mb = static_cast<uint32_t>(mb);
  c.cpus = a.cpus;
  c.timeout_ms = ParseDurationMs(a.timeout, "--timeout");
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
  return c;
}

nlohmann::json WriteVmReportFolder(const std::string& dir, const VmConfig& c, const VmOutcome& o,
                                   const std::vector<std::string>& argv,
                                   const std::string& started_at) {
  nlohmann::json report = BuildVmReport(c, o, argv, started_at);
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
