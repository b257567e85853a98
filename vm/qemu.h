// QEMU for `inflight vm`: finding it, choosing the accelerator (KVM when a probe shows it
// runs guests at a useful speed, TCG software emulation otherwise), and its command line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace inflight {

enum class Accel : uint8_t { kAuto, kKvm, kTcg, kMaxValue = kTcg };
const char* AccelName(Accel a);
bool ParseAccel(const std::string& text, Accel& out);

// $INFLIGHT_QEMU when set, else qemu-system-x86_64 on $PATH; "" when there is none.
std::string FindQemu();

struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string why;  // how it was chosen, for the report
};

// Choosing the accelerator. kAuto: KVM if /dev/kvm opens and a tiny guest (a multiboot
// image that writes to isa-debug-exit) finishes under KVM within a second; TCG otherwise.
// kKvm: the same probe must pass, or EnvironmentError says why. kTcg: no probe.
// The probe runs in the background from the constructor on, so that the initramfs is
// built meanwhile; Wait() gives the choice. `scratch` is a folder for the probe image.
// The destructor stops a probe still running.
class AccelProbe {
 public:
  AccelProbe(Accel asked, const std::string& qemu, const std::string& scratch);
  ~AccelProbe();
  AccelProbe(const AccelProbe&) = delete;
  AccelProbe& operator=(const AccelProbe&) = delete;
  AccelChoice Wait();

 private:
  struct State;
  Accel asked_;
  std::unique_ptr<State> state_;
};

// AccelProbe, started and waited for.
AccelChoice ChooseAccel(Accel asked, const std::string& qemu, const std::string& scratch);

struct QemuSetup {
  std::string qemu;
  std::string kernel;
  std::string initrd;
  std::string append;         // kernel command line
  Accel accel = Accel::kTcg;  // kKvm or kTcg
  uint32_t memory_mb = 512;
  uint32_t cpus = 1;
  std::string console_socket;  // ttyS0: the kernel's console
  std::string channel_socket;  // ttyS1: the results channel
};
std::vector<std::string> QemuArgs(const QemuSetup& s);

// The kernel command line of a guest: serial console, reboot (so QEMU exits) on panic.
std::string GuestKernelCmdline();

// isa-debug-exit: the guest's init writes 0x10, QEMU exits (0x10 << 1) | 1.
inline constexpr int kQemuPoweredOffByInit = 33;

}  // namespace inflight
