// One `inflight vm` run: build the initramfs (static inflight, the scenarios the arguments
// name, modules, the init), boot the kernel under QEMU, follow the console and the results
// channel, and end in one of a few well-defined ways. QEMU is killed on every path out.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vm/console.h"
#include "vm/qemu.h"

namespace inflight {

struct VmConfig {
  std::string kernel;
  std::string modules_dir;  // "" for none
  uint32_t memory_mb = 512;
  uint32_t cpus = 1;
  uint32_t timeout_ms = 600'000;       // boot and suite together
  uint32_t boot_timeout_ms = 120'000;  // until the init says hello
  uint32_t hang_after_ms = 30'000;     // silence of a running guest that is ruled a hang
  Accel accel = Accel::kAuto;
  std::vector<std::string> guest_args;  // inflight's arguments inside the guest
  // "", "bug", "panic", "hang", "panic-later" (init exits 10 s into the suite, so the
  // kernel panics while it runs): tests of the fault paths
  std::string inject;
  std::string static_dir;  // where the static inflight, inflight-sandbox, inflight-vminit are
  std::string qemu;        // path to qemu-system-x86_64
  std::string cwd;         // the host's working folder
  std::string default_corpus;
  // The host's report folder: `fuzz --resume` inside carries on with its corpus and findings.
  std::string out_dir;
  // Called for every line the suite prints in the guest (nullptr: quiet).
  std::function<void(const std::string&)> on_output;
  // Polled while the VM runs: true stops it (Ctrl-C).
  std::function<bool()> interrupted;
  // A fuzz inside sends what changed in its corpus and findings this often while it runs
  // (GuestJob::exchange_ms): what a guest that goes down found so far is not lost.
  uint32_t exchange_ms = 15'000;
  // More environment for the command inside (a fleet's per-guest seed, ...).
  std::vector<std::pair<std::string, std::string>> guest_env;
  // Called (on the thread of RunVm) for each file of the guest's report folder as it
  // arrives, by path relative to it; a later copy of the same path replaces an earlier one.
  std::function<void(const std::string& rel, const std::string& data)> on_file;
  // Polled while the suite runs, once the guest has a channel: bytes of channel lines
  // (EncodeChannelFile of "corpus/NAME") to send into the guest; "" for nothing.
  std::function<std::string()> to_guest;
};

enum class VmEnd : uint8_t {
  kCompleted,    // the suite ran and its exit status came back
  kNoBoot,       // the kernel never started our init
  kCrashed,      // the guest went down (panic, reset) after init started, before the end
  kHang,         // a running guest fell silent for hang_after_ms
  kTimeout,      // --timeout passed while the guest was still working
  kInterrupted,  // SIGINT/SIGTERM
  kMaxValue = kInterrupted,
};
const char* VmEndName(VmEnd e);

struct GlobalCount {
  std::string phase;  // before, after, settled
  std::string name;   // file-nr, slab:UNIX, settle-ms, ...
  std::vector<long long> values;
};

struct VmOutcome {
  VmEnd end = VmEnd::kNoBoot;
  std::string why;        // one line: how it ended
  int guest_status = -1;  // the suite's exit status (kCompleted)
  int qemu_status = -1;
  std::string kernel_release;  // from the image header, then from the guest
  AccelChoice accel;
  double boot_s = -1;     // QEMU start to the init's hello
  double suite_s = -1;    // the suite's start to its end, on the host's clock
  double verdict_s = -1;  // QEMU start to the suite's exit status on the host
  double settle_s = -1;   // the suite's end to the settled global counts
  double results_s = -1;  // then to the end of the report's transfer
  double total_s = 0;     // building the initramfs to QEMU's end
  double build_s = 0;     // building the initramfs
  uint64_t initramfs_bytes = 0;
  std::string console;              // the kernel's console log
  std::vector<std::string> output;  // what the suite printed
  std::vector<std::string> notes;   // the init's diagnostics, module notes, channel problems
  std::string qemu_output;          // QEMU's own messages
  std::vector<KernelFault> faults;
  std::vector<GlobalCount> counts;
  std::vector<std::string> modules;  // loaded into the guest
  std::optional<nlohmann::json> guest_report;
  // The other files of the guest's report folder that came back (fuzz: corpus/...,
  // findings/ID/input, logs/...), by path relative to it.
  std::map<std::string, std::string> files;
  bool ships_fuzzer = false;  // a static graph_fuzzer went into the initramfs
  bool expects_report = false;  // the guest command writes report.json
  bool reached_init = false;
  bool suite_started = false;
};

// The checks made before anything starts: the image is a bzImage, the arguments can run
// in a guest, QEMU and the static build are there. Throws UsageError (bad image, bad
// arguments) or EnvironmentError (no QEMU, no static build).
void CheckVmInput(const VmConfig& config);

// CheckVmInput, then boots. Throws as CheckVmInput does, UsageError for an unusable
// --modules, EnvironmentError when KVM was asked for but is unusable or QEMU cannot start;
// every other end is an outcome.
VmOutcome RunVm(const VmConfig& config);

// Where the static binaries are: $INFLIGHT_STATIC_DIR, or static/ next to this executable.
std::string DefaultStaticDir();

}  // namespace inflight
