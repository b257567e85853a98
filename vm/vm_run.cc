// Building the guest, booting it, and following it to its end.
#include "vm/vm_run.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "base/clock.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "vm/channel.h"
#include "vm/child_process.h"
#include "vm/guest_plan.h"
#include "vm/initramfs.h"
#include "vm/kernel_image.h"
#include "vm/modules.h"

namespace inflight {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxConsoleBytes = 64u << 20;
constexpr int64_t kPowerOffGraceUs = 3'000'000;  // after "done", for QEMU to exit by itself
// After a stop request (Ctrl-C, --timeout): how long the suite in the guest gets to write
// its report and send it.
constexpr int64_t kStopGraceUs = 8'000'000;
constexpr const char* kStaticBinaries[] = {"inflight", "inflight-sandbox", "inflight-vminit"};
// Optional: only a clang build has it (fuzzers/CMakeLists.txt); without it `fuzz` inside
// exits 3 and check's fuzz smoke says skipped, as on a host without graph_fuzzer.
constexpr const char* kStaticFuzzer = "graph_fuzzer";
// What of the host's report folder `fuzz --resume` takes into the guest.
constexpr const char* kResumeEntries[] = {"corpus", "findings", "artifacts", "logs",
                                          "state.json", "known-signatures"};

// A private scratch folder, removed with everything in it. Its name carries our pid, so
// that the folder of an inflight that was killed outright (SIGKILL, a second Ctrl-C) is
// removed by the next one; and it is emptied as soon as the guest runs (Release()), so
// that even then nothing stays behind for long.
class ScratchDir {
 public:
  ScratchDir() {
    // Unix socket paths must stay short (108 bytes): keep to /tmp unless TMPDIR is short.
    std::string base = "/tmp";
    if (const char* t = getenv("TMPDIR"); t && *t && strlen(t) < 40) base = t;
    RemoveOrphans(base);
    std::string tmpl = fmt::format("{}/inflight-vm.{}.XXXXXX", base, getpid());
    if (!mkdtemp(tmpl.data()))
      throw EnvironmentError(fmt::format("mkdtemp({}): {}", tmpl, strerror(errno)));
    path_ = tmpl;
  }
  ~ScratchDir() { Release(); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

  // Removes the folder: QEMU has read the initramfs once the guest runs, and bound
  // sockets keep working without their names.
  void Release() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
    path_.clear();
  }

 private:
  static void RemoveOrphans(const std::string& base) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(base, ec); !ec && it != fs::end(it); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      unsigned pid = 0;
      char rest[16];
      if (sscanf(name.c_str(), "inflight-vm.%u.%15s", &pid, rest) != 2 || pid == 0) continue;
      if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive
      struct stat st {};
      if (lstat(it->path().c_str(), &st) != 0 || st.st_uid != geteuid()) continue;
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }

  std::string path_;
};

UniqueFd Listen(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw EnvironmentError(fmt::format("socket(AF_UNIX): {}", strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw EnvironmentError(fmt::format("socket path too long: {}", path));
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd.Get(), 1) != 0)
    throw EnvironmentError(fmt::format("listen on {}: {}", path, strerror(errno)));
  return fd;
}

// One serial port's host end: a listener QEMU connects to, then the connection.
struct Port {
  UniqueFd listener;
  UniqueFd conn;
  bool eof = false;

  int PollFd() const { return conn ? conn.Get() : listener.Get(); }
  // Accepts or reads; appends what arrived to `out`. Returns false at end of stream.
  void Service(std::string& out) {
    if (!conn) {
      conn.Reset(accept4(listener.Get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      return;
    }
    char buf[65536];
    for (;;) {
      const ssize_t n = read(conn.Get(), buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) eof = true;
      return;
    }
  }
};

void Drain(int fd, std::string& out) {
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
}

std::string StaticBinary(const std::string& dir, const char* name) {
  return dir + "/" + name;
}

std::vector<long long> Numbers(std::istringstream& in) {
  std::vector<long long> v;
  long long x;
  while (in >> x) v.push_back(x);
  return v;
}

std::string Joined(const std::vector<std::string>& lines, const char* sep) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : sep) + l;
  return out;
}

}  // namespace

const char* VmEndName(VmEnd e) {
  switch (e) {
    case VmEnd::kCompleted:
      return "completed";
    case VmEnd::kNoBoot:
      return "no-boot";
    case VmEnd::kCrashed:
      return "guest-crashed";
    case VmEnd::kHang:
      return "guest-hang";
    case VmEnd::kTimeout:
      return "timeout";
    case VmEnd::kInterrupted:
      return "interrupted";
  }
  return "?";
}

std::string DefaultStaticDir() {
  if (const char* env = getenv("INFLIGHT_STATIC_DIR"); env && *env) return env;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "static";
  const std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "static";
}

namespace {

struct Checked {
  KernelImage image;
  GuestPlan plan;
};

Checked Check(const VmConfig& c) {
  // Input first: a bad image or bad arguments must not cost a boot.
  auto image = InspectKernelImage(c.kernel);
  if (!image) {
    if (image.error().err == ENOENT)
      throw UsageError(fmt::format("--kernel {}: no such file", c.kernel));
    throw UsageError(fmt::format("--kernel: {}", image.error().Text()));
  }
  GuestPlan plan = PlanGuestRun(c.guest_args, c.cwd, c.default_corpus);
  if (plan.command == "fuzz" && !plan.resumes && !c.out_dir.empty()) {
    // As on the host: a folder with a corpus is an earlier run, carried on only when asked.
    std::error_code ec;
    const fs::path corpus = fs::path(c.out_dir) / "corpus";
    if (fs::is_directory(corpus, ec) && !fs::is_empty(corpus, ec))
      throw UsageError(fmt::format(
          "{} holds an earlier fuzzing run: pass --resume to the fuzz inside to go on with "
          "it, or another --report",
          c.out_dir));
  }

  // Then the machine.
  if (c.qemu.empty()) {
    const char* env = getenv("INFLIGHT_QEMU");
    throw EnvironmentError(
        env && *env ? fmt::format("INFLIGHT_QEMU={} is not an executable", env)
                    : "QEMU is not installed: no qemu-system-x86_64 on PATH (apt-get install "
                      "qemu-system-x86, or set INFLIGHT_QEMU)");
  }
  for (const char* b : kStaticBinaries) {
    const std::string p = StaticBinary(c.static_dir, b);
    if (access(p.c_str(), X_OK) != 0)
      throw EnvironmentError(fmt::format(
          "no static build of inflight at {} ({}): configure with -DINFLIGHT_STATIC=ON, or "
          "set INFLIGHT_STATIC_DIR",
          p, strerror(errno)));
  }
  return {std::move(*image), std::move(plan)};
}

}  // namespace

void CheckVmInput(const VmConfig& c) {
  Check(c);
}

VmOutcome RunVm(const VmConfig& c) {
  const int64_t t0 = NowMicros();
  VmOutcome o;
  const Checked checked = Check(c);
  const KernelImage* image = &checked.image;
  const GuestPlan& plan = checked.plan;
  o.kernel_release = image->release;
  o.expects_report = plan.writes_report;
  // Before QEMU runs there is nothing to bring back: an interrupt ends it between steps.
  auto stopped_early = [&] {
    if (!c.interrupted || !c.interrupted()) return false;
    o.end = VmEnd::kInterrupted;
    o.why = "interrupted (SIGINT/SIGTERM) before QEMU started";
    o.total_s = (NowMicros() - t0) / 1e6;
    return true;
  };
  if (stopped_early()) return o;
  ModulePlan modules;
  if (!c.modules_dir.empty()) {
    auto m = CollectModules(c.modules_dir, image->release);
    if (!m) throw UsageError(fmt::format("--modules: {}", m.error().Text()));
    modules = std::move(*m);
    for (const std::string& n : modules.notes) o.notes.push_back("module " + n);
  }

  if (stopped_early()) return o;
  ScratchDir scratch;
  AccelProbe probe(c.accel, c.qemu, scratch.path());  // runs while the initramfs is built

  // The initramfs.
  const std::string initrd = scratch.path() + "/initramfs.cpio";
  {
    UniqueFd f(::open(initrd.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!f) throw EnvironmentError(fmt::format("create {}: {}", initrd, strerror(errno)));
    CpioWriter cpio(std::move(f));
    GuestJob job;
    job.args = plan.args;
    job.cwd = plan.cwd;
    job.env = plan.env;
    job.inject = c.inject;
    job.env.insert(job.env.end(), c.guest_env.begin(), c.guest_env.end());
    if (plan.writes_report) job.report_file = std::string(kGuestReportDir) + "/report.json";
    auto check = [](const Status& s) {
      if (!s) throw EnvironmentError("building the initramfs: " + s.error().Text());
    };
    for (const char* d : {"/dev", "/proc", "/sys", "/bin", "/lib/modules"}) check(cpio.AddDir(d));
    check(cpio.AddDir("/tmp", 01777));
    check(cpio.AddDir(kGuestReportDir));
    check(cpio.AddCharDevice("/dev/console", 5, 1));
    check(cpio.AddHostFile("/init", StaticBinary(c.static_dir, "inflight-vminit"), 0755));
    check(cpio.AddHostFile("/bin/inflight", StaticBinary(c.static_dir, "inflight"), 0755));
    check(cpio.AddHostFile("/bin/inflight-sandbox", StaticBinary(c.static_dir, "inflight-sandbox"),
                           0755));
    for (const GuestModule& m : modules.modules) {
      const std::string p = "/lib/modules/" + m.name + ".ko";
      check(cpio.AddFile(p, m.data, 0644));
      job.modules.push_back(p);
      o.modules.push_back(m.name);
    }
    for (const std::string& f : plan.files) check(cpio.AddHostFile(f, f, 0644));
    if (plan.fuzzes) {
      job.send_dir = kGuestReportDir;
      if (plan.command == "fuzz") job.exchange_ms = c.exchange_ms;
      const std::string fuzzer = StaticBinary(c.static_dir, kStaticFuzzer);
      if (access(fuzzer.c_str(), X_OK) == 0) {
        check(cpio.AddHostFile("/bin/graph_fuzzer", fuzzer, 0755));
        o.ships_fuzzer = true;
      } else {
        o.notes.push_back(fmt::format("no static graph_fuzzer at {}: the fuzzing inside cannot run",
                                      fuzzer));
      }
    }
    if (plan.resumes && !c.out_dir.empty()) {
      // The earlier boots' corpus and findings, at the same place inside.
      size_t n = 0;
      for (const char* e : kResumeEntries) {
        const fs::path p = fs::path(c.out_dir) / e;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) {
          check(cpio.AddHostFile(std::string(kGuestReportDir) + "/" + e, p.string(), 0644));
          ++n;
          continue;
        }
        for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
             it.increment(ec)) {
          if (!it->is_regular_file()) continue;
          const std::string rel = fs::relative(it->path(), c.out_dir).string();
          check(cpio.AddHostFile(std::string(kGuestReportDir) + "/" + rel, it->path().string(),
                                 0644));
          ++n;
        }
      }
      o.notes.push_back(fmt::format("--resume: {} file(s) of {} went into the guest", n,
                                    c.out_dir));
    }
    if (!plan.cwd.empty() && plan.cwd != "/") check(cpio.AddDir(plan.cwd));
    check(cpio.AddFile(kGuestJobPath, GuestJobToJson(job).dump(), 0644));
    check(cpio.Finish());
    o.initramfs_bytes = cpio.bytes();
  }
  o.build_s = (NowMicros() - t0) / 1e6;
  if (stopped_early()) return o;  // the probe's QEMU is killed with it
  o.accel = probe.Wait();
  if (stopped_early()) return o;

  // QEMU, its two serial ports on sockets we listen on.
  Port console, channel;
  console.listener = Listen(scratch.path() + "/console.sock");
  channel.listener = Listen(scratch.path() + "/channel.sock");
  QemuSetup setup;
  setup.qemu = c.qemu;
  setup.kernel = c.kernel;
  setup.initrd = initrd;
  setup.append = GuestKernelCmdline();
  setup.accel = o.accel.accel;
  setup.memory_mb = c.memory_mb;
  setup.cpus = c.cpus;
  setup.console_socket = scratch.path() + "/console.sock";
  setup.channel_socket = scratch.path() + "/channel.sock";
  auto started = ChildProcess::Start(QemuArgs(setup));
  if (!started)
    throw EnvironmentError(fmt::format("cannot start QEMU: {}", started.error().Text()));
  ChildProcess qemu = std::move(*started);
  const int64_t qemu_start = NowMicros();
  LogDebug("QEMU pid {}: {}", qemu.pid(), Joined(QemuArgs(setup), " "));

  ChannelReader reader;
  std::string console_bytes, channel_bytes;
  size_t console_scanned = 0;
  int64_t hello_at = 0, started_at = 0, suite_end_at = 0, settled_at = 0, done_at = 0;
  int64_t last_msg = qemu_start;
  bool done = false, ended = false, halted = false;
  std::string halt_line;

  auto on_message = [&](const ChannelMessage& m, int64_t now) {
    last_msg = now;
    std::istringstream in(m.payload);
    switch (m.kind) {
      case ChannelKind::kHello: {
        std::string release;
        in >> release;
        if (!release.empty()) o.kernel_release = release;
        if (!hello_at) hello_at = now;
        scratch.Release();  // the guest runs: QEMU needs none of it any more
        o.reached_init = true;
        break;
      }
      case ChannelKind::kStarted:
        started_at = now;
        o.suite_started = true;
        break;
      case ChannelKind::kOut:
        o.output.push_back(m.payload);
        if (c.on_output) c.on_output(m.payload);
        break;
      case ChannelKind::kNote:
        o.notes.push_back(m.payload);
        break;
      case ChannelKind::kCount: {
        GlobalCount g;
        in >> g.phase >> g.name;
        g.values = Numbers(in);
        if (g.phase == "after" && !suite_end_at) suite_end_at = now;
        if (g.phase == "settled" && !settled_at) settled_at = now;
        o.counts.push_back(std::move(g));
        break;
      }
      case ChannelKind::kDone: {
        in >> o.guest_status;
        done = true;
        done_at = now;
        if (!suite_end_at) suite_end_at = now;
        break;
      }
      case ChannelKind::kFileEnd:
        if (c.on_file) {
          const std::string name = m.payload.substr(0, m.payload.find(' '));
          if (auto f = reader.files().find(name); f != reader.files().end())
            c.on_file(name, f->second);
        }
        break;
      default:
        break;
    }
  };

  // Lines for the guest, written as the channel takes them, whole lines in order.
  std::string to_guest;
  auto flush_to_guest = [&] {
    while (!to_guest.empty() && channel.conn) {
      const ssize_t n = write(channel.conn.Get(), to_guest.data(), to_guest.size());
      if (n <= 0) return;
      to_guest.erase(0, static_cast<size_t>(n));
    }
  };

  auto service = [&](int64_t now) {
    std::string got;
    console.Service(got);
    if (console_bytes.size() < kMaxConsoleBytes) console_bytes += got;
    got.clear();
    channel.Service(got);
    for (const ChannelMessage& m : reader.Feed(got)) on_message(m, now);
    Drain(qemu.output_fd(), o.qemu_output);
    // Before init: a line after which the kernel will never get there. The decompressor
    // ends its last words without a newline, so the unfinished line is looked at too.
    if (!hello_at) {
      auto look = [&](std::string_view line) {
        if (!halted && IsTerminalBootLine(KernelMessage(line))) {
          halted = true;
          halt_line = Joined(LastLines(console_bytes, 3), " | ");
        }
      };
      size_t nl;
      while ((nl = console_bytes.find('\n', console_scanned)) != std::string::npos) {
        look(std::string_view(console_bytes.data() + console_scanned, nl - console_scanned));
        console_scanned = nl + 1;
      }
      look(std::string_view(console_bytes).substr(console_scanned));
    }
  };

  auto set_end = [&](VmEnd e, std::string why) {
    o.end = e;
    o.why = std::move(why);
    ended = true;
  };
  // Ctrl-C and --timeout first ask the guest to stop its suite, which then writes and sends
  // what it has; QEMU is stopped when that is done, or after kStopGraceUs.
  int64_t stop_deadline = 0;
  auto stop_gently = [&](VmEnd e, std::string why) {
    if (!o.suite_started || done || !channel.conn) return false;
    to_guest += EncodeChannelLine(ChannelKind::kStop, "");
    flush_to_guest();
    stop_deadline = NowMicros() + kStopGraceUs;
    o.end = e;
    o.why = std::move(why);
    return true;
  };

  for (;;) {
    const int64_t now = NowMicros();
    if (stop_deadline) {
      if (done || now > stop_deadline) {
        o.why += done ? "; the suite's partial results came back" : "; nothing came back in time";
        ended = true;
        break;
      }
    } else if (c.interrupted && c.interrupted()) {
      const std::string why = "interrupted (SIGINT/SIGTERM): QEMU stopped";
      if (stop_gently(VmEnd::kInterrupted, why)) continue;
      set_end(VmEnd::kInterrupted, why);
      break;
    }
    if (auto st = qemu.TryWait()) {
      o.qemu_status = *st;
      service(NowMicros());  // whatever is still in the sockets
      service(NowMicros());
      break;
    }
    if (done && now - done_at > kPowerOffGraceUs) break;  // it did not power off by itself
    const double since_start = (now - qemu_start) / 1e6;
    if (!stop_deadline && now - qemu_start > int64_t{c.timeout_ms} * 1000) {
      const std::string why = fmt::format("--timeout {} s passed {}", c.timeout_ms / 1000.0,
                                          !hello_at          ? "before the kernel started our init"
                                          : !o.suite_started ? "before the suite started"
                                          : suite_end_at     ? "while the results were coming back"
                                                             : "while the suite was still running");
      if (!suite_end_at && stop_gently(VmEnd::kTimeout, why)) continue;
      set_end(VmEnd::kTimeout, why);
      break;
    }
    if (!hello_at && halted) {
      set_end(VmEnd::kNoBoot,
              fmt::format("the kernel stopped {:.1f} s in: {}", since_start, halt_line));
      break;
    }
    if (!hello_at && now - qemu_start > int64_t{c.boot_timeout_ms} * 1000) {
      set_end(VmEnd::kNoBoot, fmt::format("the kernel did not start our init within {} s "
                                          "(--boot-timeout)",
                                          c.boot_timeout_ms / 1000.0));
      break;
    }
    if (hello_at && !done && now - last_msg > int64_t{c.hang_after_ms} * 1000) {
      set_end(VmEnd::kHang, fmt::format("the guest fell silent for {} s (no heartbeat, no "
                                        "output), {:.1f} s after QEMU started",
                                        c.hang_after_ms / 1000.0, since_start));
      break;
    }
    if (c.to_guest && o.suite_started && !done && !stop_deadline && channel.conn &&
        to_guest.size() < (64u << 10))
      to_guest += c.to_guest();
    flush_to_guest();
    const short out = to_guest.empty() || !channel.conn ? 0 : POLLOUT;
    pollfd p[3] = {{console.PollFd(), POLLIN, 0},
                   {channel.PollFd(), static_cast<short>(POLLIN | out), 0},
                   {qemu.output_fd(), POLLIN, 0}};
    if (console.eof) p[0].fd = -1;
    if (channel.eof) p[1].fd = -1;
    poll(p, 3, 100);
    service(NowMicros());
  }
  if (qemu.running()) {
    o.qemu_status = qemu.Kill();
    Drain(qemu.output_fd(), o.qemu_output);
  }
  const int64_t end = NowMicros();
  o.total_s = (end - t0) / 1e6;
  if (hello_at) o.boot_s = (hello_at - qemu_start) / 1e6;
  if (started_at && suite_end_at) o.suite_s = (suite_end_at - started_at) / 1e6;
  if (done_at) o.verdict_s = (done_at - qemu_start) / 1e6;
  if (suite_end_at && settled_at) o.settle_s = (settled_at - suite_end_at) / 1e6;
  if (settled_at && done_at) o.results_s = (done_at - settled_at) / 1e6;
  o.console = std::move(console_bytes);
  o.faults = ScanKernelLog(o.console);
  for (const std::string& p : reader.problems()) o.notes.push_back("channel: " + p);
  for (const auto& [name, data] : reader.files()) {
    if (name != "report.json") {
      o.files[name] = data;
      continue;
    }
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded())
      o.notes.push_back("the guest's report.json does not parse");
    else
      o.guest_report = std::move(j);
  }

  if (!ended) {
    if (done) {
      o.end = VmEnd::kCompleted;
      o.why = fmt::format("the suite exited with status {}", o.guest_status);
    } else if (!hello_at) {
      if (o.console.empty() && o.qemu_status != 0 && !o.qemu_output.empty())
        throw EnvironmentError(fmt::format("QEMU failed (status {}): {}", o.qemu_status,
                                           Joined(LastLines(o.qemu_output, 3), " | ")));
      o.end = VmEnd::kNoBoot;
      std::string last =
          o.faults.empty() ? Joined(LastLines(o.console, 1), "") : o.faults.back().line;
      o.why = fmt::format(
          "the kernel went down {:.1f} s in, before our init started (QEMU "
          "exit {}){}",
          (end - qemu_start) / 1e6, o.qemu_status,
          last.empty() ? ": no console output at all" : ": " + last);
    } else {
      o.end = VmEnd::kCrashed;
      o.why = fmt::format(
          "the guest went down {:.1f} s in, before the suite finished (QEMU exit "
          "{}){}",
          (end - qemu_start) / 1e6, o.qemu_status,
          o.faults.empty() ? "" : ": " + o.faults.back().line);
    }
  }
  return o;
}

}  // namespace inflight
