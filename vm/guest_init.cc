// inflight-vminit: PID 1 of the guest that `inflight vm` boots. Mounts what the suite
// needs, loads the modules it was given, runs `inflight ARGS` as /inflight/job.json says,
// and streams the suite's output, global counts and report.json to the host over the
// second serial port (vm/channel.h), with a heartbeat; then powers the VM off through
// QEMU's isa-debug-exit port. Built static; allocates nothing after fork.
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "vm/channel.h"
#include "vm/guest_plan.h"

using namespace inflight;

namespace {

constexpr int kHeartbeatMs = 1000;
// After the suite: how long file-nr may take to come back, and how long it must stay put
// to count as settled (it moves in per-CPU batches, so it may never come back exactly).
constexpr int64_t kSettleMaxMs = 1000;
constexpr int64_t kSettleStillMs = 100;
// isa-debug-exit: QEMU exits with (value << 1) | 1, so 0x10 -> 33: "init powered off".
constexpr uint16_t kDebugExitPort = 0xf4;
constexpr uint8_t kDebugExitValue = 0x10;
// --inject panic-later: how long the suite runs before the init exits under it.
constexpr int64_t kPanicLaterMs = 10'000;
// Files of the report folder bigger than this come back as their last part (logs).
constexpr size_t kMaxSentFile = 1u << 20;

int g_channel = -1;

double Uptime() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void WriteAllTo(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void Send(ChannelKind kind, const std::string& payload) {
  if (g_channel >= 0) WriteAllTo(g_channel, EncodeChannelLine(kind, payload));
}

void Note(const std::string& text) {
  Send(ChannelKind::kNote, text);
}

// On the console too: when the channel cannot be opened, that is all the host sees.
void ConsoleNote(const std::string& text) {
  UniqueFd c(open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC));
  if (c) WriteAllTo(c.Get(), "inflight-vminit: " + text + "\n");
}

[[noreturn]] void PowerOff() {
  sync();
  if (ioperm(kDebugExitPort, 1, 1) == 0) outb(kDebugExitValue, kDebugExitPort);
  // No isa-debug-exit: QEMU runs with -no-reboot, so a reset ends it too.
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

void MountOne(const char* source, const char* target, const char* type) {
  mkdir(target, 0755);
  if (mount(source, target, type, MS_NOSUID, nullptr) != 0 && errno != EBUSY)
    ConsoleNote(fmt::format("mount {} on {}: {}", type, target, strerror(errno)));
}

UniqueFd OpenChannel() {
  UniqueFd fd(open("/dev/ttyS1", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!fd) return fd;
  termios t{};
  if (tcgetattr(fd.Get(), &t) == 0) {
    cfmakeraw(&t);
    cfsetspeed(&t, B115200);
    tcsetattr(fd.Get(), TCSANOW, &t);
  }
  return fd;
}

std::string ReadText(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Global counts, exact here because nothing else runs: file-nr, and the slab caches of
// AF_UNIX sockets and files when /proc/slabinfo is there.
void SendCounts(const char* phase) {
  for (const char* name : {"file-nr", "inode-nr"}) {
    std::string v = ReadText(fmt::format("/proc/sys/fs/{}", name).c_str());
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    for (char& c : v)
      if (c == '\t') c = ' ';
    if (!v.empty()) Send(ChannelKind::kCount, fmt::format("{} {} {}", phase, name, v));
  }
  std::istringstream slabs(ReadText("/proc/slabinfo"));
  std::string line;
  while (std::getline(slabs, line)) {
    std::istringstream f(line);
    std::string name, active, total;
    f >> name >> active >> total;
    if (name == "UNIX" || name == "UNIX-STREAM" || name == "sock_inode_cache" || name == "filp")
      Send(ChannelKind::kCount, fmt::format("{} slab:{} {} {}", phase, name, active, total));
  }
}

long AllocatedFiles() {
  long a = -1;
  if (FILE* f = fopen("/proc/sys/fs/file-nr", "re")) {
    if (fscanf(f, "%ld", &a) != 1) a = -1;
    fclose(f);
  }
  return a;
}

void LoadModules(const std::vector<std::string>& modules) {
  for (const std::string& m : modules) {
    UniqueFd fd(open(m.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      Note(fmt::format("module {}: {}", m, strerror(errno)));
      continue;
    }
    if (syscall(SYS_finit_module, fd.Get(), "", 0) != 0 && errno != EEXIST)
      Note(fmt::format("module {}: finit_module: {}", m, strerror(errno)));
    else
      Note(fmt::format("module {}: loaded", m));
  }
}

// Forwards complete lines from the suite's output; keeps a partial last line.
void ForwardOutput(std::string& pending, const char* data, size_t n) {
  pending.append(data, n);
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
    Send(ChannelKind::kOut, pending.substr(start, nl - start));
  pending.erase(0, start);
}

// What of the report folder has been sent back (or came from the host), by path relative
// to it, with the size and modification time it had then: a file is sent again only when
// it changed (findings/ID/meta.json does, corpus files do not).
class FolderSync {
 public:
  // What is there already (a --resume's files, from the host) is not sent back unchanged.
  explicit FolderSync(std::string dir) : dir_(std::move(dir)) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
         it.increment(ec))
      if (it->is_regular_file())
        sent_[fs::relative(it->path(), dir_).string()] = StampOf(it->path().string());
  }
  const std::string& dir() const { return dir_; }

  // Sends every new or changed file but report.json (sent last, by the caller); `during`
  // (while the suite runs): only corpus/ and findings/, whose loss would hurt when the
  // guest goes down (logs and artifacts come at the end).
  void Send(bool during) {
    namespace fs = std::filesystem;
    std::error_code ec;
    size_t sent = 0, skipped = 0;
    for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string rel = fs::relative(it->path(), dir_).string();
      if (rel == "report.json" || rel.rfind(".incoming", 0) == 0) continue;
      if (during && rel.rfind("corpus/", 0) != 0 && rel.rfind("findings/", 0) != 0) continue;
      if (rel.find(' ') != std::string::npos || rel.find('\n') != std::string::npos) {
        ++skipped;
        continue;
      }
      const Stamp now = StampOf(it->path().string());
      if (auto at = sent_.find(rel); at != sent_.end() && at->second == now) continue;
      std::string data = ReadText(it->path().c_str());
      if (data.size() > kMaxSentFile) data = data.substr(data.size() - kMaxSentFile);
      WriteAllTo(g_channel, EncodeChannelFile(rel, data));
      sent_[rel] = now;
      ++sent;
    }
    if (!during || skipped)
      Note(fmt::format("sent {} file(s) of {} back{}", sent, dir_,
                       skipped ? fmt::format(" ({} with a space in the name left)", skipped) : ""));
  }

  // A corpus file the host sent (another guest's): written into corpus/ at once (libFuzzer
  // reloads the folder by itself), and not sent back. Only into a corpus the suite made:
  // an early one would look like an earlier run to `fuzz`.
  void Receive(const std::string& rel, const std::string& data) {
    const std::string name = rel.substr(rel.find('/') + 1);
    if (rel.rfind("corpus/", 0) != 0 || name.empty() || name.find('/') != std::string::npos ||
        name[0] == '.') {
      Note(fmt::format("the host sent {}: not a corpus file, dropped", rel));
      return;
    }
    struct stat st {};
    if (stat((dir_ + "/corpus").c_str(), &st) != 0) return;
    mkdir((dir_ + "/.incoming").c_str(), 0755);
    const std::string tmp = dir_ + "/.incoming/" + name, to = dir_ + "/" + rel;
    {
      UniqueFd f(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!f) return;
      WriteAllTo(f.Get(), data);
    }
    if (rename(tmp.c_str(), to.c_str()) != 0) return;
    sent_[rel] = StampOf(to);
    ++received_;
  }
  size_t received() const { return received_; }

 private:
  using Stamp = std::pair<off_t, int64_t>;
  static Stamp StampOf(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return {-1, 0};
    return {st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
  }

  std::string dir_;
  std::map<std::string, Stamp> sent_;
  size_t received_ = 0;
};

int RunSuite(const GuestJob& job, FolderSync* sync) {
  // Everything the child needs is built before fork.
  std::vector<std::string> argv_s = {"/bin/inflight"};
  argv_s.insert(argv_s.end(), job.args.begin(), job.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = {"PATH=/bin", "HOME=/", "LANG=C"};
  for (const auto& [k, v] : job.env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string cwd = job.cwd.empty() ? "/" : job.cwd;

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    Note(fmt::format("pipe2: {}", strerror(errno)));
    return 4;
  }
  UniqueFd rd(out[0]), wr(out[1]);
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const pid_t pid = fork();
  if (pid < 0) {
    Note(fmt::format("fork: {}", strerror(errno)));
    return 4;
  }
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(4);
    if (null) dup2(null.Get(), STDIN_FILENO);
    dup2(wr.Get(), STDOUT_FILENO);
    dup2(wr.Get(), STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(4);
  }
  wr.Reset();
  Send(ChannelKind::kStarted, fmt::format("{:.3f}", Uptime()));
  std::string pending;
  ChannelReader from_host;
  bool stopped = false;
  int status = -1;
  bool eof = false;
  int64_t last_beat = NowMs();
  const int64_t started_ms = last_beat;
  int64_t exited_at = 0;
  int64_t last_exchange = last_beat;
  while (!(status >= 0 && (eof || NowMs() - exited_at > 2000))) {
    const int64_t wait = std::max<int64_t>(0, kHeartbeatMs - (NowMs() - last_beat));
    pollfd p[2] = {{eof ? -1 : rd.Get(), POLLIN, 0}, {g_channel, POLLIN, 0}};
    const int n = poll(p, 2, static_cast<int>(eof ? std::min<int64_t>(wait, 100) : wait));
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
      char buf[8192];
      const ssize_t r = read(rd.Get(), buf, sizeof buf);
      if (r > 0) ForwardOutput(pending, buf, static_cast<size_t>(r));
      if (r == 0) eof = true;
    }
    if (n > 0 && (p[1].revents & POLLIN)) {
      char buf[8192];
      const ssize_t r = read(g_channel, buf, sizeof buf);
      if (r > 0)
        for (const ChannelMessage& m :
             from_host.Feed(std::string_view(buf, static_cast<size_t>(r)))) {
          if (m.kind == ChannelKind::kFileEnd && sync) {
            const std::string name = m.payload.substr(0, m.payload.find(' '));
            if (auto f = from_host.files().find(name); f != from_host.files().end())
              sync->Receive(name, f->second);
          }
          if (m.kind == ChannelKind::kStop && !stopped && status < 0) {
            // As Ctrl-C would: the suite writes what it has and ends with status 130.
            stopped = true;
            kill(pid, SIGINT);
            Note("the host asked to stop: SIGINT to the suite");
          }
        }
    }
    if (sync && job.exchange_ms > 0 && status < 0 &&
        NowMs() - last_exchange >= int64_t{job.exchange_ms}) {
      sync->Send(true);
      last_exchange = NowMs();
    }
    if (job.inject == "panic-later" && status < 0 && NowMs() - started_ms > kPanicLaterMs) {
      Note("injected fault: init exits while the suite runs, the kernel must panic");
      _exit(0);
    }
    if (NowMs() - last_beat >= kHeartbeatMs) {
      Send(ChannelKind::kAlive, fmt::format("{:.3f}", Uptime()));
      last_beat = NowMs();
    }
    // PID 1 reaps every orphan too.
    int st = 0;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
      if (r == pid) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        exited_at = NowMs();
      }
    }
  }
  if (!pending.empty()) Send(ChannelKind::kOut, pending);
  return status;
}

}  // namespace

int main() {
  if (getpid() != 1) {
    fprintf(stderr,
            "inflight-vminit is the init of the VM `inflight vm` boots; it is not run by hand\n");
    return 2;
  }
  MountOne("devtmpfs", "/dev", "devtmpfs");
  MountOne("proc", "/proc", "proc");
  MountOne("sysfs", "/sys", "sysfs");
  // Pseudo-terminals (the scenario language's `pty`): /dev/ptmx opens the devpts mounted
  // beside it, at /dev/pts, and fails without one.
  MountOne("devpts", "/dev/pts", "devpts");
  // debugfs holds kmemleak and kcov where the kernel has them; a kernel without it is fine.
  mkdir("/sys/kernel/debug", 0755);
  mount("debugfs", "/sys/kernel/debug", "debugfs", MS_NOSUID, nullptr);
  UniqueFd channel = OpenChannel();
  if (!channel) {
    ConsoleNote(fmt::format("cannot open /dev/ttyS1, the results channel: {}", strerror(errno)));
    PowerOff();
  }
  g_channel = channel.Get();
  utsname u{};
  uname(&u);
  Send(ChannelKind::kHello, fmt::format("{} {:.3f}", u.release, Uptime()));

  GuestJob job;
  nlohmann::json j = nlohmann::json::parse(ReadText(kGuestJobPath), nullptr, false);
  if (j.is_discarded() || !GuestJobFromJson(j, job)) {
    Note(fmt::format("{} is missing or malformed", kGuestJobPath));
    Send(ChannelKind::kDone, fmt::format("4 {:.3f}", Uptime()));
    PowerOff();
  }
  if (job.inject == "panic") {
    Note("injected fault: init exits, the kernel must panic");
    return 0;
  }
  if (job.inject == "hang") {
    Note("injected fault: init stops answering");
    for (;;) pause();
  }
  if (job.inject == "bug") {
    UniqueFd kmsg(open("/dev/kmsg", O_WRONLY | O_CLOEXEC));
    if (kmsg)
      WriteAllTo(kmsg.Get(),
                 "<2>BUG: inflight-vminit: fake kernel fault, written on purpose "
                 "(inflight vm --inject bug)\n");
    else
      Note(fmt::format("open /dev/kmsg: {}", strerror(errno)));
  }
  LoadModules(job.modules);
  SendCounts("before");
  const long before = AllocatedFiles();

  std::optional<FolderSync> sync;
  if (!job.send_dir.empty()) sync.emplace(job.send_dir);
  const int status = RunSuite(job, sync ? &*sync : nullptr);

  SendCounts("after");
  // Files of the suite's sandboxes are released through deferred work: wait until the
  // count is back or stops moving, for at most kSettleMaxMs, and say how long it took.
  const int64_t t0 = NowMs();
  long last = AllocatedFiles();
  int64_t still_since = t0;
  while (last > before && NowMs() - t0 < kSettleMaxMs && NowMs() - still_since < kSettleStillMs) {
    usleep(10'000);
    const long now = AllocatedFiles();
    if (now != last) still_since = NowMs();
    last = now;
  }
  Send(ChannelKind::kCount, fmt::format("settled settle-ms {}", NowMs() - t0));
  SendCounts("settled");
  if (sync) {
    if (sync->received())
      Note(fmt::format("{} corpus file(s) came from the host", sync->received()));
    sync->Send(false);
  }
  if (!job.report_file.empty()) {
    const std::string report = ReadText(job.report_file.c_str());
    if (!report.empty())
      WriteAllTo(g_channel, EncodeChannelFile("report.json", report));
    else
      Note(fmt::format("no {} was written", job.report_file));
  }
  Send(ChannelKind::kDone, fmt::format("{} {:.3f}", status, Uptime()));
  tcdrain(g_channel);
  PowerOff();
}
