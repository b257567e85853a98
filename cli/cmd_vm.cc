// `inflight vm --kernel IMAGE -- ARGS`: run the suite inside a VM booted from a kernel image.
#include <fmt/core.h>

#include <filesystem>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

const char* EndWord(const VmOutcome& o, int status) {
  switch (o.end) {
    case VmEnd::kInterrupted:
      return "INTERRUPTED";
    case VmEnd::kTimeout:
      return "TIMEOUT";
    case VmEnd::kNoBoot:
      return "NO BOOT";
    case VmEnd::kHang:
      return "GUEST HANG";
    case VmEnd::kCrashed:
      return "GUEST CRASHED";
    case VmEnd::kCompleted:
      break;
  }
  switch (status) {
    case kExitClean:
      return "CLEAN";
    case kExitFinding:
      return "FINDINGS";
    case kExitUsage:
      return "BAD USAGE";
    case kExitEnvironment:
      return "CANNOT RUN";
    default:
      return "ERROR";
  }
}

}  // namespace

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

CommandEntry AddVmCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string kernel;
    std::string modules;
    std::string report_dir = "inflight-report";
    VmArgs vm;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "vm",
      "Boot a kernel image under QEMU with a static build of inflight in an initramfs, run "
      "`inflight ARGS` inside, and bring the report and the kernel's console log back. A guest "
      "that panics, hangs or prints a BUG/WARNING/KASAN line is a kernel-fault finding. Exit "
      "status: the guest run's, or 5 no boot, 6 timeout.");
  cmd->add_option("--kernel", args->kernel, "Kernel image (bzImage, /boot/vmlinuz-*)")->required();
  cmd->add_option("--modules", args->modules,
                  "Module tree of that kernel (an unpacked linux-image package, or "
                  "lib/modules/RELEASE): unix_diag is loaded from it");
  cmd->add_option("--report", args->report_dir,
                  "Folder for report.json, console.log (the kernel's log) and guest.log")
      ->capture_default_str();
  AddVmOptions(cmd, args->vm);
  return {cmd, [args, argv]() -> int {
            VmConfig c = MakeVmConfig(args->vm, args->kernel, args->modules);
            if (auto s = PrepareReportDir(args->report_dir); !s)
              throw UsageError(fmt::format("--report {}: {}", args->report_dir, s.error().Text()));
            if (!args->vm.quiet)
              c.on_output = [](const std::string& line) {
                fmt::print("{}\n", line);
                fflush(stdout);
              };
            InstallInterruptHandlers();
            const std::string started_at = UtcNow();
            const VmOutcome o = RunVm(c);
            const nlohmann::json report =
                WriteVmReportFolder(args->report_dir, c, o, argv, started_at);
            const int status = VmExitStatus(o);
            fmt::print("{}", DescribeVmOutcome(o));
            fmt::print(
                "inflight vm: {}: {}; {} runs, verdict {}; report: {}/report.json, kernel "
                "log: {}/console.log\n",
                EndWord(o, status), o.why, report.value("runs", nlohmann::json::array()).size(),
                report.value("verdict", "?"), args->report_dir, args->report_dir);
            fflush(stdout);
            return status;
          }};
}

}  // namespace inflight
