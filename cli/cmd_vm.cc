// `inflight vm --kernel IMAGE -- ARGS`: run the suite inside a VM booted from a kernel image.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "cli/commands.h"
#include "driver/interrupt.h"
#include "driver/progress.h"
#include "driver/run_args.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "vm/fleet.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

constexpr uint32_t kDefaultTimeoutMs = 600'000;

// The --duration of a `fuzz` inside (10m when not given), or nullopt for another command.
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

// A guest fuzz runs for its --duration (10m unless told), then re-runs its findings and
// sends its corpus back: the VM gets that and 10 minutes more.
uint32_t DefaultVmTimeoutMs(const std::vector<std::string>& guest_args) {
  const auto fuzz = GuestFuzzDurationMs(guest_args);
  if (!fuzz) return kDefaultTimeoutMs;
  return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{*fuzz} + kDefaultTimeoutMs, UINT32_MAX));
}

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

CommandEntry AddVmCommand(CLI::App& app, const std::vector<std::string>& argv) {
  struct Args {
    std::string kernel;
    std::string modules;
    std::string report_dir = "inflight-report";
    uint32_t vms = 1;
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
  cmd->add_option("--vms", args->vms,
                  fmt::format("A fleet: this many guests fuzz at once (`-- fuzz ...` only, 1 to "
                              "{}), sharing one corpus through the host; one report, findings "
                              "counted once across guests (docs/fleet.md)",
                              kMaxFleetGuests))
      ->capture_default_str();
  AddVmOptions(cmd, args->vm);
  return {cmd, [args, argv]() -> int {
            VmConfig c = MakeVmConfig(args->vm, args->kernel, args->modules, args->report_dir);
            if (args->vms != 1) {
              if (args->vms < 1 || args->vms > kMaxFleetGuests)
                throw UsageError(
                    fmt::format("--vms takes 1 to {} guests (got {})", kMaxFleetGuests, args->vms));
              if (auto s = PrepareReportDir(args->report_dir); !s)
                throw UsageError(
                    fmt::format("--report {}: {}", args->report_dir, s.error().Text()));
              FleetConfig f;
              f.duration_ms = GuestFuzzDurationMs(c.guest_args).value_or(0);
              f.vm = std::move(c);
              f.guests = args->vms;
              f.dir = args->report_dir;
              f.argv = argv;
              f.quiet = args->vm.quiet;
              auto progress = std::make_shared<ProgressLine>(!f.quiet, 1'000'000, 10'000'000);
              f.show_progress = [progress](const std::string& line) {
                if (progress->Due()) progress->Show(line);
              };
              InstallInterruptHandlers();
              const int status = RunFleet(f);
              progress->End();
              return status;
            }
            if (auto s = PrepareReportDir(args->report_dir); !s)
              throw UsageError(fmt::format("--report {}: {}", args->report_dir, s.error().Text()));
            if (!args->vm.quiet)
              c.on_output = [](const std::string& line) {
                fmt::print("{}\n", line);
                fflush(stdout);
              };
            InstallInterruptHandlers();
            const std::string started_at = UtcNow();
            const int64_t t0 = NowMicros();
            // A fuzz whose guest went down (panic, hang) goes on in a new guest for the time
            // left, with --resume (vm/fleet.h); other commands boot once.
            FuzzBoots boots;
            if (const auto fuzz_ms = GuestFuzzDurationMs(c.guest_args)) {
              FuzzBootsConfig b;
              b.dir = args->report_dir;
              b.fuzz_ms = *fuzz_ms;
              b.started_us = t0;
              b.started_at = started_at;
              b.argv = argv;
              b.stop = [] { return Interrupted(); };
              b.on_down = [&](const std::string& sub, int64_t left_ms, const VmOutcome& o) {
                fmt::print(
                    "inflight vm: the guest went down while fuzzing ({}); kept in {}/{}; going "
                    "on in a new guest for {} s with --resume\n",
                    o.why, args->report_dir, sub, left_ms / 1000);
                fflush(stdout);
              };
              RunFuzzBoots(c, b, boots);
            } else {
              boots.last = RunVm(c);
            }
            const VmOutcome& o = boots.last;
            nlohmann::json report =
                WriteVmReportFolder(args->report_dir, c, o, argv, started_at);
            if (!boots.down.empty()) report["duration_s"] = (NowMicros() - t0) / 1e6;
            const int status = FoldEarlierBoots(report, args->report_dir, boots, VmExitStatus(o));
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
