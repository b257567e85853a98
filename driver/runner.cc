// Planning, dispatching and ruling runs; progress; the summary table.
#include "driver/runner.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/clock.h"
#include "base/errors.h"
#include "base/file_util.h"
#include "base/log.h"
#include "driver/batch.h"
#include "driver/progress.h"
#include "scenario/codec.h"
#include "scenario/text.h"

namespace inflight {

namespace fs = std::filesystem;

std::vector<ScenarioFile> LoadScenarios(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".scn")
          found.push_back(it->path().string());
      if (ec) throw UsageError(fmt::format("{}: cannot read the folder: {}", p, ec.message()));
      if (found.empty()) throw UsageError(fmt::format("{}: no .scn files in this folder", p));
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      throw UsageError(fmt::format("{}: no such file or folder", p));
    }
  }
  std::vector<ScenarioFile> out;
  for (const std::string& f : files) {
    ScenarioFile sf;
    sf.path = f;
    sf.scenario = LoadScenarioFile(f);  // throws ParseError
    sf.text = PrintScenario(sf.scenario);
    out.push_back(std::move(sf));
  }
  return out;
}

std::string ReadBinaryFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw UsageError(fmt::format("{}: a folder, not a file", path));
  auto bytes = ReadWholeFile(path.c_str());
  if (!bytes)
    throw UsageError(fmt::format("{}: cannot read the file: {}", path, bytes.error().Text()));
  return std::move(*bytes);
}

ScenarioFile LoadInputOrScenario(const std::string& path) {
  ScenarioFile f;
  f.path = path;
  if (fs::path(path).extension() == ".scn") {
    f.scenario = LoadScenarioFile(path);
  } else {
    f.scenario = DecodeScenario(ReadBinaryFile(path));
    f.scenario.preamble = {fmt::format("decoded from {}", path)};
  }
  f.text = PrintScenario(f.scenario);
  return f;
}

void DescribeLayers(const Hello& h, Report& report) {
  report.sandbox = h;
  report.layers.clear();
  report.inactive_layers.clear();
  report.layers.push_back(h.census_method == "sock_diag"
                              ? "socket census (sock_diag, per network namespace)"
                              : "socket census (/proc/net/unix fallback: no peers, no embryos)");
  if (h.user_namespace) report.layers.push_back("unprivileged: namespaces inside a user namespace");
  if (h.protocols_check)
    report.layers.push_back("socket count cross-check (/proc/net/protocols, per namespace)");
  else
    report.inactive_layers.push_back("socket count cross-check: /proc/net/protocols unreadable");
  report.layers.push_back(
      "object liveness: every pollable object (pipe ends, eventfd, epoll, pidfd, io_uring, "
      "timerfd, sockets) in a witness epoll; files and memfds by OFD-lock probes; the slot "
      "tmpfs's inode count");
  if (h.accounting)
    report.layers.push_back(
        "in-flight accounting: graphs run as per-slot uids (keeping their "
        "capabilities); each uid must pass as many descriptors after its "
        "runs as before");
  else
    report.inactive_layers.push_back("in-flight accounting: " + h.accounting_why);
  if (h.kernel_log)
    report.layers.push_back(
        "kernel log evidence: KASAN/KMSAN/UBSAN/WARNING/BUG/refcount_t/"
        "list corruption records from /dev/kmsg during each run");
  else
    report.inactive_layers.push_back("kernel log evidence: " + h.kernel_log_why);
}

namespace {

// Whether this machine can make a pseudo-terminal as the executor does (/dev/ptmx, then its
// peer by TIOCGPTPEER); "" if so, else why not. A guest without devpts mounted cannot.
std::string PtyMissing() {
  const int m = open("/dev/ptmx", O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (m < 0) return fmt::format("/dev/ptmx cannot be opened ({})", strerror(errno));
  int unlock = 0;
  int peer = -1;
  std::string why;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0 ||
      (peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
    why = fmt::format("no terminal for /dev/ptmx ({})", strerror(errno));
  if (peer >= 0) close(peer);
  close(m);
  return why;
}

// Whether this kernel makes sockets of `family` (AF_INET, AF_INET6); "" if so, else why
// not (a kernel built without TCP/IP or without IPv6, as small guest kernels are).
std::string FamilyMissing(int family) {
  const int f = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (f < 0)
    return fmt::format("no {} sockets ({})", family == AF_INET ? "AF_INET" : "AF_INET6",
                       strerror(errno));
  close(f);
  return "";
}

struct Planned {
  size_t file;
  RunMode mode;
  uint32_t repeat;
  uint64_t seed;
};

}  // namespace

bool RunScenarios(SandboxPool& pool, const std::vector<ScenarioFile>& files, const RunPlan& plan,
                  const RunnerUi& ui, Report& report) {
  std::vector<Planned> planned;
  std::vector<BatchRun> runs;
  for (size_t f = 0; f < files.size(); ++f) {
    // `setuid second` needs root: in a user namespace the kernel refuses it (EINVAL), and
    // a scenario that counts on it would be ruled a semantic fault of the kernel. It cannot
    // run here: it is left out, and the report says so.
    const Scenario& s = files[f].scenario;
    if (report.sandbox.user_namespace &&
        std::any_of(s.actions.begin(), s.actions.end(),
                    [](const Action& a) { return a.op == Op::kSetuid; })) {
      const std::string why = fmt::format(
          "scenario {}: not run: `setuid second` needs root, and this sandbox runs in a user "
          "namespace",
          s.name);
      if (std::find(report.inactive_layers.begin(), report.inactive_layers.end(), why) ==
          report.inactive_layers.end()) {
        report.inactive_layers.push_back(why);
        if (ui.progress) LogInfo("{}", why);
      }
      continue;
    }
    // `pty` needs the machine's pseudo-terminals (a guest may have no devpts): where they
    // cannot be made, the kernel's refusal says nothing about descriptors in flight.
    if (std::any_of(s.actions.begin(), s.actions.end(),
                    [](const Action& a) { return a.op == Op::kPty; })) {
      static const std::string pty_missing = PtyMissing();
      if (!pty_missing.empty()) {
        const std::string why =
            fmt::format("scenario {}: not run: `pty` needs pseudo-terminals: {}", s.name,
                        pty_missing);
        if (std::find(report.inactive_layers.begin(), report.inactive_layers.end(), why) ==
            report.inactive_layers.end()) {
          report.inactive_layers.push_back(why);
          if (ui.progress) LogInfo("{}", why);
        }
        continue;
      }
    }
    // `inet` needs a kernel with TCP/IP (and IPv6 for tcp6, udp6): without it,
    // EAFNOSUPPORT says nothing about descriptors in flight.
    {
      static const std::string inet_missing = FamilyMissing(AF_INET);
      static const std::string inet6_missing = FamilyMissing(AF_INET6);
      std::string missing;
      for (const Action& a : s.actions) {
        if (a.op != Op::kInet) continue;
        const bool v6 = a.inet == InetKind::kTcp6 || a.inet == InetKind::kUdp6;
        if (!inet_missing.empty())
          missing = inet_missing;
        else if (v6 && !inet6_missing.empty())
          missing = inet6_missing;
        if (!missing.empty()) break;
      }
      if (!missing.empty()) {
        const std::string why = fmt::format(
            "scenario {}: not run: `inet` needs this socket family: {}", s.name, missing);
        if (std::find(report.inactive_layers.begin(), report.inactive_layers.end(), why) ==
            report.inactive_layers.end()) {
          report.inactive_layers.push_back(why);
          if (ui.progress) LogInfo("{}", why);
        }
        continue;
      }
    }
    for (RunMode m : plan.modes)
      for (uint32_t r = 0; r < plan.repeat; ++r) {
        planned.push_back({f, m, r, plan.seed + r});
        BatchRun b{&files[f].scenario, &files[f].text, plan.base};
        b.opt.mode = m;
        b.opt.seed = plan.seed + r;
        runs.push_back(b);
      }
  }

  std::map<std::string, size_t> counts;
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    counts[VerdictName(static_cast<VerdictKind>(k))] = 0;
  ProgressLine progress(ui.progress, 100'000, 5'000'000);
  size_t done = 0;
  // Records arrive in the order runs finish; they are put back in plan order (file order,
  // then mode, then repeat) below, so reports (KTAP on stdout among them) list them the
  // same way in every run, whatever the parallelism.
  const size_t first_record = report.runs.size();
  std::vector<size_t> plan_index;
  const bool finished = RunBatch(
      pool, runs,
      [&](size_t i, RunResult& res, Verdict& verdict) {
        const Planned& p = planned[i];
        const ScenarioFile& sf = files[p.file];
        RunRecord rec;
        rec.scenario = sf.scenario.name;
        rec.file = sf.path;
        rec.seed = p.seed;
        rec.mode = p.mode;
        rec.repeat = p.repeat;
        rec.verdict = std::move(verdict);
        if (rec.verdict.kind == VerdictKind::kClean && !ui.keep_clean_details) {
          // Keep clean records small: the timings and settle facts are what matter.
          res.events.clear();
          res.actions.clear();
          res.procs.clear();
          res.baseline.sockets.clear();
          res.census.sockets.clear();
        } else {
          rec.scenario_text = sf.text;
          rec.full = true;
        }
        rec.result = std::move(res);
        ++counts[VerdictName(rec.verdict.kind)];
        report.runs.push_back(std::move(rec));
        plan_index.push_back(i);
        ++done;
        if (progress.Due(done == planned.size())) {
          const double secs = std::max(1e-6, (NowMicros() - progress.start_us()) / 1e6);
          progress.Show(fmt::format(
              "{}: [{}/{}] {:.0f} runs/s  clean {}  leak {}  hang {}  fault {}  loss {}  error {}",
              ui.label, done, planned.size(), done / secs, counts.at("clean"), counts.at("leak"),
              counts.at("hang"), counts.at("fault"), counts.at("loss"), counts.at("error")));
        }
      },
      ui.stop);
  progress.End();
  std::vector<size_t> order(plan_index.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return plan_index[a] < plan_index[b]; });
  std::vector<RunRecord> sorted;
  sorted.reserve(order.size());
  for (size_t k : order) sorted.push_back(std::move(report.runs[first_record + k]));
  std::move(sorted.begin(), sorted.end(), report.runs.begin() + static_cast<long>(first_record));
  if (!finished) report.interrupted = true;
  return finished;
}

std::string SummaryTable(const Report& report, bool findings_only) {
  struct Row {
    size_t runs = 0;
    std::map<std::string, size_t> v;
    std::vector<double> exec_ms;
    double settle_max_ms = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  for (const RunRecord& r : report.runs) {
    Row& row = rows[{r.scenario, RunModeName(r.mode)}];
    ++row.runs;
    ++row.v[VerdictName(r.verdict.kind)];
    row.exec_ms.push_back(r.result.exec_us / 1000.0);
    row.settle_max_ms = std::max(row.settle_max_ms, r.result.settle_us / 1000.0);
  }
  size_t w = 8;
  for (const auto& [k, _] : rows) w = std::max(w, k.first.size());
  std::string out =
      fmt::format("{:<{}}  {:<8} {:>5} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>9} {:>10}\n",
                  "scenario", w, "mode", "runs", "clean", "leak", "hang", "fault", "loss", "error",
                  "exec-ms", "settle-ms");
  size_t hidden = 0, hidden_runs = 0;
  for (auto& [k, row] : rows) {
    if (findings_only && row.v["clean"] == row.runs) {
      ++hidden;
      hidden_runs += row.runs;
      continue;
    }
    std::sort(row.exec_ms.begin(), row.exec_ms.end());
    const double median = row.exec_ms.empty() ? 0 : row.exec_ms[row.exec_ms.size() / 2];
    out += fmt::format(
        "{:<{}}  {:<8} {:>5} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>9.2f} {:>10.1f}\n", k.first, w,
        k.second, row.runs, row.v["clean"], row.v["leak"], row.v["hang"], row.v["fault"],
        row.v["loss"], row.v["error"], median, row.settle_max_ms);
  }
  if (hidden)
    out += fmt::format("... and {} more scenario/mode pairs, all {} of their runs clean\n", hidden,
                       hidden_runs);
  return out;
}

}  // namespace inflight
