// Finding QEMU, the KVM probe, and QEMU's command line.
#include "vm/qemu.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "base/clock.h"
#include "base/errors.h"
#include "base/unique_fd.h"
#include "vm/child_process.h"

namespace inflight {

namespace {

constexpr int64_t kProbeDeadlineUs = 1'000'000;
constexpr uint8_t kProbeExitValue = 0x2a;  // QEMU exits (0x2a << 1) | 1 = 85

void Put32(std::string& s, uint32_t v) {
  for (int k = 0; k < 4; ++k) s += static_cast<char>((v >> (8 * k)) & 0xff);
}

// A multiboot image (the "a.out kludge": no ELF needed) loaded at 1 MiB whose 32-bit code
// counts down a loop, writes kProbeExitValue to isa-debug-exit and halts.
std::string ProbeImage() {
  constexpr uint32_t kMagic = 0x1BADB002, kFlags = 0x00010000, kBase = 0x100000;
  std::string img;
  Put32(img, kMagic);
  Put32(img, kFlags);
  Put32(img, static_cast<uint32_t>(-(kMagic + kFlags)));
  Put32(img, kBase);       // header_addr
  Put32(img, kBase);       // load_addr
  Put32(img, 0);           // load_end_addr: the whole file
  Put32(img, 0);           // bss_end_addr
  Put32(img, kBase + 32);  // entry
  const unsigned char code[] = {
      0xB9, 0x40,
      0x42, 0x0F,
      0x00,                   // mov ecx, 1000000
      0x49,                   // dec ecx
      0x75, 0xFD,             // jnz -3
      0xB0, kProbeExitValue,  // mov al, 0x2a
      0xE6, 0xF4,             // out 0xf4, al
      0xF4,                   // hlt
      0xEB, 0xFD,             // jmp -3
  };
  img.append(reinterpret_cast<const char*>(code), sizeof code);
  return img;
}

std::string ReadAvailable(int fd) {
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

const char* AccelName(Accel a) {
  switch (a) {
    case Accel::kAuto:
      return "auto";
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
  }
  return "?";
}

bool ParseAccel(const std::string& text, Accel& out) {
  for (int k = 0; k <= static_cast<int>(Accel::kMaxValue); ++k) {
    if (text == AccelName(static_cast<Accel>(k))) {
      out = static_cast<Accel>(k);
      return true;
    }
  }
  return false;
}

std::string FindQemu() {
  if (const char* env = getenv("INFLIGHT_QEMU"); env && *env)
    return access(env, X_OK) == 0 ? env : "";
  return FindOnPath("qemu-system-x86_64");
}

struct AccelProbe::State {
  std::string image;
  ChildProcess child;
  int64_t start = 0;
  std::string why_not;  // set when the probe failed before or while starting
};

AccelProbe::AccelProbe(Accel asked, const std::string& qemu, const std::string& scratch)
    : asked_(asked) {
  if (asked == Accel::kTcg) return;
  state_ = std::make_unique<State>();
  UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm) {
    state_->why_not = fmt::format("/dev/kvm: {}", strerror(errno));
    return;
  }
  state_->image = scratch + "/kvm-probe.img";
  {
    std::ofstream f(state_->image, std::ios::binary);
    f << ProbeImage();
    if (!f) {
      state_->why_not = "cannot write the probe image";
      return;
    }
  }
  auto child =
      ChildProcess::Start({qemu, "-accel", "kvm", "-m", "16", "-nodefaults", "-no-user-config",
                           "-display", "none", "-no-reboot", "-device",
                           "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", state_->image});
  if (!child) {
    state_->why_not = child.error().Text();
    return;
  }
  state_->child = std::move(*child);
  state_->start = NowMicros();
}

AccelProbe::~AccelProbe() {
  if (state_ && !state_->image.empty()) unlink(state_->image.c_str());
}

AccelChoice AccelProbe::Wait() {
  if (asked_ == Accel::kTcg) return {Accel::kTcg, "asked for (--accel tcg)"};
  State& s = *state_;
  if (s.why_not.empty() && s.child.pid() > 0) {
    std::string output;
    for (;;) {
      if (auto st = s.child.TryWait()) {
        output += ReadAvailable(s.child.output_fd());
        if (*st != ((kProbeExitValue << 1) | 1))
          s.why_not = fmt::format("a probe guest under KVM ended with status {}: {}", *st,
                                  output.substr(0, 200));
        break;
      }
      if (NowMicros() - s.start > kProbeDeadlineUs) {
        s.child.Kill();
        s.why_not = fmt::format(
            "a probe guest under KVM did not finish within {} ms (TCG "
            "runs it in about 100 ms)",
            kProbeDeadlineUs / 1000);
        break;
      }
      pollfd p{s.child.output_fd(), POLLIN, 0};
      poll(&p, 1, 10);
      output += ReadAvailable(s.child.output_fd());
    }
  }
  if (s.why_not.empty())
    return {Accel::kKvm, asked_ == Accel::kKvm ? "asked for (--accel kvm); the probe passed"
                                               : "the KVM probe passed"};
  if (asked_ == Accel::kKvm)
    throw EnvironmentError(fmt::format("--accel kvm: KVM is not usable here: {}", s.why_not));
  return {Accel::kTcg, "software emulation: " + s.why_not};
}

AccelChoice ChooseAccel(Accel asked, const std::string& qemu, const std::string& scratch) {
  AccelProbe probe(asked, qemu, scratch);
  return probe.Wait();
}

std::string GuestKernelCmdline() {
  // panic=-1: reboot at once on a panic, and -no-reboot turns that into QEMU's exit.
  // mitigations=off: speculative-execution defences only slow emulation down; they do
  // not change AF_UNIX. printk.time=1: timestamps, even when the config leaves them off.
  // earlyprintk: the decompressor and early boot write to the serial port too, so a kernel
  // that dies before its console is up still says why ("Decoding failed -- System halted").
  // no_timer_check: the IO-APIC timer check counts ticks in a busy loop of fixed length;
  // under TCG on a loaded host too few arrive and the kernel panics "IO-APIC + timer
  // doesn't work!" (seen with six compilers beside a gate run); the timer does work.
  // printk.devkmsg=on: no rate limit on /dev/kmsg, where a fuzzer in the guest logs every
  // input before it runs (vm/input_log.h); the default would drop all but 10 per 5 s.
  return "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 printk.time=1 "
         "printk.devkmsg=on mitigations=off no_timer_check rdinit=/init 8250.nr_uarts=2";
}

std::vector<std::string> QemuArgs(const QemuSetup& s) {
  std::vector<std::string> a = {s.qemu};
  if (s.accel == Accel::kKvm) {
    a.insert(a.end(), {"-accel", "kvm", "-cpu", "host"});
  } else {
    // qemu64 plus POPCNT: libFuzzer's feature collection is compiled for it
    // (target("popcnt")) without a run-time check, so the guest's graph_fuzzer dies of
    // SIGILL on the bare qemu64 model. TCG emulates it; nothing else changes.
    a.insert(a.end(),
             {"-accel", s.cpus > 1 ? "tcg,thread=multi" : "tcg", "-cpu", "qemu64,+popcnt"});
  }
  a.insert(a.end(), {"-m",
                     std::to_string(s.memory_mb),
                     "-smp",
                     std::to_string(s.cpus),
                     "-nodefaults",
                     "-no-user-config",
                     "-display",
                     "none",
                     "-no-reboot",
                     "-chardev",
                     "socket,id=console,path=" + s.console_socket,
                     "-serial",
                     "chardev:console",
                     "-chardev",
                     "socket,id=channel,path=" + s.channel_socket,
                     "-serial",
                     "chardev:channel",
                     "-device",
                     "isa-debug-exit,iobase=0xf4,iosize=0x04",
                     "-kernel",
                     s.kernel,
                     "-initrd",
                     s.initrd,
                     "-append",
                     s.append});
  return a;
}

}  // namespace inflight
