// `inflight vm --kernel IMAGE -- ARGS`: run the suite inside a VM booted from a kernel image.
#include <fmt/core.h>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/vm_options.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

// A guest fuzz that goes down is booted again at most this often, and not for less time.
constexpr size_t kMaxFuzzBoots = 20;
constexpr int64_t kMinFuzzBootMs = 20'000;

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
            VmConfig c = MakeVmConfig(args->vm, args->kernel, args->modules, args->report_dir);
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
            VmOutcome o = RunVm(c);
            // A fuzz whose guest went down (panic, hang) goes on in a new guest for the time
            // left, with --resume: that boot's report folder is kept as boot-N/, its
            // kernel-fault records (with the inputs it ran last) join the final report.
            const auto fuzz_ms = GuestFuzzDurationMs(c.guest_args);
            std::vector<std::pair<std::string, VmOutcome>> down;
            while (fuzz_ms && (o.end == VmEnd::kCrashed || o.end == VmEnd::kHang) &&
                   !Interrupted() && down.size() < kMaxFuzzBoots) {
              const int64_t left_ms = int64_t{*fuzz_ms} - (NowMicros() - t0) / 1000;
              if (left_ms < kMinFuzzBootMs) break;
              const std::string sub = fmt::format("boot-{}", down.size() + 1);
              if (auto s = PrepareReportDir(args->report_dir + "/" + sub); !s)
                throw InternalError(s.error().Text());
              WriteVmReportFolder(args->report_dir + "/" + sub, c, o, argv, started_at);
              fmt::print(
                  "inflight vm: the guest went down while fuzzing ({}); kept in {}/{}; going "
                  "on in a new guest for {} s with --resume\n",
                  o.why, args->report_dir, sub, left_ms / 1000);
              fflush(stdout);
              down.emplace_back(sub, std::move(o));
              c.guest_args = GuestFuzzResumed(c.guest_args, static_cast<uint32_t>(left_ms));
              o = RunVm(c);
            }
            nlohmann::json report =
                WriteVmReportFolder(args->report_dir, c, o, argv, started_at);
            int status = VmExitStatus(o);
            if (!down.empty()) {
              nlohmann::json boots = nlohmann::json::array();
              for (const auto& [sub, earlier] : down) {
                AppendKernelRecords(report, earlier, sub);
                boots.push_back({{"folder", sub},
                                 {"end", VmEndName(earlier.end)},
                                 {"why", earlier.why}});
              }
              report["vm"]["earlier_boots"] = boots;
              report["duration_s"] = (NowMicros() - t0) / 1e6;
              if (auto s = WriteFileAtomically(args->report_dir + "/report.json",
                                               report.dump(2) + "\n");
                  !s)
                throw InternalError(s.error().Text());
              if (status == kExitClean) status = kExitFinding;  // the guest that went down
            }
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
