// The fuzzing job of `inflight fuzz`: starts N graph_fuzzer workers (libFuzzer, each with
// its own sandbox) with Boost.Process on one shared corpus, watches their logs, restarts
// a worker after a finding, deduplicates findings by signature keeping the smallest
// input, re-runs each finding to give its leak rate, and writes report.json and a
// one-screen summary. Every finding is on disk the moment it is seen.
#include "driver/fuzz_supervisor.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "base/sha1.h"
#include "driver/minimize.h"
#include "driver/progress.h"
#include "driver/run_session.h"
#include "driver/runner.h"
#include "oracle/signature.h"
#include "reports/finding_signature.h"
#include "reports/known.h"
#include "probe/kcov.h"
#include "probe/kcov_pcs.h"
#include "repro/csource.h"
#include "reports/writer.h"
#include "run/fuzz_log.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace bp = boost::process;

namespace inflight {

namespace fs = std::filesystem;

std::string DefaultFuzzerPath() {
  if (const char* env = getenv("INFLIGHT_GRAPH_FUZZER"); env && *env) return env;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "graph_fuzzer";
  const fs::path dir = fs::path(std::string(buf, static_cast<size_t>(n))).parent_path();
  for (const fs::path& p : {dir / "graph_fuzzer", dir.parent_path() / "fuzzers" / "graph_fuzzer"})
    if (access(p.c_str(), X_OK) == 0) return p.string();
  return (dir / "graph_fuzzer").string();
}

namespace {

// A number from the environment, for the fleet of `inflight vm --vms N` (vm/fleet.h): each
// guest's workers are seeded apart (INFLIGHT_FUZZ_SEED_OFFSET, the guest's index), and
// the progress line comes often enough to add up (INFLIGHT_FUZZ_PROGRESS_S).
int64_t EnvSeconds(const char* name, int64_t otherwise) {
  const char* v = getenv(name);
  if (!v || !*v) return otherwise;
  char* end = nullptr;
  const long long n = strtoll(v, &end, 10);
  return *end || n < 0 || n > 100'000 ? otherwise : n;
}

// After Ctrl-C, how long workers get to end by themselves before they are killed.
constexpr int64_t kInterruptGraceUs = 800'000;

std::string Duration(double s) {
  const int64_t t = static_cast<int64_t>(s);
  return t >= 3600 ? fmt::format("{}h{:02}m{:02}s", t / 3600, t / 60 % 60, t % 60)
         : t >= 60 ? fmt::format("{}m{:02}s", t / 60, t % 60)
                   : fmt::format("{}s", t);
}

// One distinct finding (a signature), across workers and restarts.
struct Finding {
  std::string signature;
  std::string id;  // first 12 hex digits of the signature's SHA-1: findings/<id>/
  std::string verdict;
  std::string summary;
  std::string first_seen;
  double first_seen_s = -1;  // seconds of fuzzing (this and resumed runs) before it was seen
  size_t hits = 0;  // times any worker reported it (stops and known-finding lines)
  std::set<int> workers;
  std::vector<std::string> artifacts;  // every artifact written for it
  size_t input_size = 0;               // the kept (smallest) input
  // Filled by the re-runs.
  size_t repro_runs = 0, repro_findings = 0, repro_same = 0;
  std::string repro_note;
  // Filled by the minimization: findings/<id>/repro.scn and repro.c when minimized.
  size_t actions = 0, minimized_actions = 0;
  bool minimized = false, minimize_cut_short = false;
  std::string minimize_note;

  nlohmann::json ToJson() const {
    return {{"signature", signature},
            {"id", id},
            {"verdict", verdict},
            {"summary", summary},
            {"first_seen", first_seen},
            {"first_seen_s", first_seen_s},
            {"hits", hits},
            {"workers", std::vector<int>(workers.begin(), workers.end())},
            {"artifacts", artifacts},
            {"input_size", input_size},
            {"repro",
             {{"runs", repro_runs},
              {"findings", repro_findings},
              {"same_signature", repro_same},
              {"rate", repro_runs ? double(repro_findings) / repro_runs : 0.0},
              {"note", repro_note}}},
            {"minimize",
             {{"done", minimized},
              {"actions", actions},
              {"minimized_actions", minimized_actions},
              {"cut_short", minimize_cut_short},
              {"repro_scn", minimized ? "repro.scn" : ""},
              {"repro_c", minimized ? "repro.c" : ""},
              {"note", minimize_note}}}};
  }
  static Finding FromJson(const nlohmann::json& j) {
    Finding f;
    f.signature = j.value("signature", "");
    f.id = j.value("id", "");
    f.verdict = j.value("verdict", "");
    f.summary = j.value("summary", "");
    f.first_seen = j.value("first_seen", "");
    f.first_seen_s = j.value("first_seen_s", -1.0);
    f.hits = j.value("hits", size_t{0});
    for (int w : j.value("workers", std::vector<int>{})) f.workers.insert(w);
    f.artifacts = j.value("artifacts", std::vector<std::string>{});
    f.input_size = j.value("input_size", size_t{0});
    return f;
  }
};

// What a worker's log said so far, line by line.
struct WorkerLog {
  std::string path;
  off_t offset = 0;
  std::string partial;
  // libFuzzer's latest status line of the current process.
  uint64_t execs = 0, cov = 0, ft = 0, corp = 0, exec_s = 0;
  // ==inflight== stats of the current process.
  uint64_t runs = 0, clean = 0, settled = 0, skipped = 0;
  FuzzLogReader reader;                  // the harness's own lines (run/fuzz_log.h)
  bool stopped_on_finding = false;       // this process ended with a FINDING of ours
  std::string test_unit;                 // libFuzzer's "Test unit written to X"
  std::vector<std::string> crash_lines;  // sanitizer reports (bugs of ours)
  std::string kernel_coverage;           // the harness's first word on KCOV
};

struct Worker {
  int index = 0;
  bp::child child;
  bool running = false;
  int restarts = 0;
  int64_t started_us = 0;
  WorkerLog log;
  // Totals of its earlier processes.
  uint64_t base_execs = 0, base_runs = 0, base_clean = 0, base_settled = 0, base_skipped = 0;
};

class FuzzSession {
 public:
  using Options = FuzzOptions;

  FuzzSession(Options opt, std::vector<std::string> argv, CommonRunArgs common)
      : opt_(std::move(opt)),
        argv_(std::move(argv)),
        common_(std::move(common)),
        progress_(!opt_.quiet, 1'000'000, EnvSeconds("INFLIGHT_FUZZ_PROGRESS_S", 30) * 1'000'000) {
    if (!opt_.known.empty()) known_ = LoadKnownFindings(opt_.known);  // UsageError
  }

  int Run() {
    Prepare();
    RunWorkers();
    const bool interrupted = Stopped();
    SaveState();
    return Finish(interrupted);
  }

 private:
  std::string Dir(const std::string& sub) const { return opt_.out + "/" + sub; }
  bool Stopped() const { return opt_.stop && opt_.stop(); }

  void Prepare() {
    // Before anything is written into --out.
    if (access(opt_.fuzzer.c_str(), X_OK) != 0)
      throw EnvironmentError(
          fmt::format("cannot run the graph fuzzer '{}' (built with clang and INFLIGHT_FUZZERS=ON; "
                      "--fuzzer or INFLIGHT_GRAPH_FUZZER names another)",
                      opt_.fuzzer));
    std::error_code ec;
    const bool exists = fs::exists(Dir("corpus"), ec) && !fs::is_empty(Dir("corpus"), ec);
    if (exists && !opt_.resume)
      throw UsageError(
          fmt::format("{} holds an earlier fuzzing run: pass --resume to go on with "
                      "it, or another --out",
                      opt_.out));
    for (const char* d : {"corpus", "artifacts", "findings", "logs"}) {
      fs::create_directories(Dir(d), ec);
      if (ec) throw UsageError(fmt::format("--out {}: {}", opt_.out, ec.message()));
    }
    if (opt_.resume) LoadState();
    if (!exists) Seed();
    // Signatures already known (earlier nights) do not stop the workers again.
    std::ofstream known(Dir("known-signatures"), std::ios::app);
    for (const auto& [sig, f] : findings_) known << sig << "\n";
    for (const auto& [sig, _] : known_.comment) known << sig << "\n";
    std::string why;
    kcov_on_ = KcovAvailable(&why);
    kcov_ = kcov_on_
                ? "KCOV available: workers trace each input's kernel coverage before the next runs"
                : "none: the search runs unguided by the kernel (" + why + ")";
    if (!opt_.quiet) {
      LogInfo("fuzzing for {} with {} worker(s) of {}; out {}", Duration(opt_.duration_ms / 1e3),
              opt_.jobs, opt_.fuzzer, opt_.out);
      LogInfo("kernel coverage: {}", kcov_);
    }
  }

  void Seed() {
    std::vector<ScenarioFile> files;
    for (const std::string& p : opt_.seeds) {
      auto more = LoadScenarios({p});
      files.insert(files.end(), more.begin(), more.end());
    }
    size_t n = 0;
    std::vector<std::string> left_out;
    for (const ScenarioFile& f : files) {
      const std::string stem = fs::path(f.path).stem().string();
      const bool control = f.path.find("/controls/") != std::string::npos;
      const bool excluded =
          std::find(opt_.exclude.begin(), opt_.exclude.end(), f.scenario.name) !=
              opt_.exclude.end() ||
          std::find(opt_.exclude.begin(), opt_.exclude.end(), stem) != opt_.exclude.end();
      if (control || excluded) {
        left_out.push_back(f.scenario.name);
        continue;
      }
      auto bytes = EncodeScenario(f.scenario);
      if (!bytes) throw InternalError(fmt::format("{}: cannot encode", f.path));
      if (auto s = WriteFileAtomically(Dir("corpus/seed-" + f.scenario.name), *bytes); !s)
        throw UsageError(s.error().Text());
      ++n;
    }
    seeds_ = n;
    seeds_left_out_ = left_out;
    if (!opt_.quiet)
      LogInfo("seeded the corpus with {} encoded scenario(s); left out: {}", n,
              left_out.empty() ? "none" : fmt::format("{}", fmt::join(left_out, ", ")));
  }

  void LoadState() {
    std::ifstream in(Dir("state.json"));
    if (in) {
      try {
        nlohmann::json j = nlohmann::json::parse(in);
        prior_seconds_ = j.value("seconds", 0.0);
        prior_execs_ = j.value("execs", uint64_t{0});
        prior_runs_ = j.value("runs", uint64_t{0});
        sessions_ = j.value("sessions", 0);
        seeds_ = j.value("seeds", size_t{0});
        seeds_left_out_ = j.value("seeds_left_out", std::vector<std::string>{});
      } catch (const std::exception& e) {
        throw UsageError(fmt::format("{}: {}", Dir("state.json"), e.what()));
      }
    }
    std::error_code ec;
    for (auto& e : fs::directory_iterator(Dir("findings"), ec)) {
      std::ifstream m(e.path() / "meta.json");
      if (!m) continue;
      try {
        Finding f = Finding::FromJson(nlohmann::json::parse(m));
        if (!f.signature.empty()) findings_[f.signature] = f;
      } catch (const std::exception&) {
      }
    }
  }

  void SaveState() {
    nlohmann::json j = {{"seconds", prior_seconds_ + (NowMicros() - start_us_) / 1e6},
                        {"execs", TotalExecs()},
                        {"runs", TotalRuns()},
                        {"sessions", sessions_ + 1},
                        {"seeds", seeds_},
                        {"seeds_left_out", seeds_left_out_}};
    (void)WriteFileAtomically(Dir("state.json"), j.dump(2) + "\n");
  }

  // --- workers ---

  void Launch(Worker& w) {
    const double left_s = std::max<double>(1, (deadline_us_ - NowMicros()) / 1e6);
    std::vector<std::string> args = {
        Dir("corpus"),
        "-artifact_prefix=" + Dir("artifacts") + "/",
        fmt::format("-max_total_time={}", static_cast<int>(left_s)),
        fmt::format("-seed={}", 1000 * (w.index + 1) + w.restarts + 7919 * sessions_ +
                                    104'729 * EnvSeconds("INFLIGHT_FUZZ_SEED_OFFSET", 0)),
        "-print_final_stats=1",
        "-timeout=60",
        "-max_len=1024",
    };
    args.insert(args.end(), opt_.libfuzzer_args.begin(), opt_.libfuzzer_args.end());
    const int log = ::open(w.log.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw UsageError(fmt::format("{}: {}", w.log.path, strerror(errno)));
    const std::string banner =
        fmt::format("==inflight-fuzz== worker {} start {} at {}\n", w.index, w.restarts, UtcNow());
    (void)!::write(log, banner.data(), banner.size());
    const int parent = getpid();
    bp::environment env = boost::this_process::environment();
    env["INFLIGHT_SANDBOX"] = DefaultSandboxPath();
    env["INFLIGHT_FUZZ_KNOWN"] = fs::absolute(Dir("known-signatures")).string();
    env["INFLIGHT_FUZZ_SETTLE_MS"] = std::to_string(opt_.settle_ms);
    env["INFLIGHT_FUZZ_SLOTS"] = std::to_string(opt_.slots);
    env["INFLIGHT_FUZZ_STATS_S"] = "5";
    env["INFLIGHT_FUZZ_RUN_MODE"] = RunModeName(opt_.run_mode);
    if (kcov_on_) env["INFLIGHT_FUZZ_KCOV_DIR"] = fs::absolute(Dir("kcov")).string();
    try {
      w.child = bp::child(
          bp::exe = opt_.fuzzer, bp::args = args, env,
          bp::posix::fd.bind(STDIN_FILENO, open("/dev/null", O_RDONLY | O_CLOEXEC)),
          bp::posix::fd.bind(STDOUT_FILENO, log), bp::posix::fd.bind(STDERR_FILENO, log),
          bp::extend::on_exec_setup = [parent](auto&) {
            setpgid(0, 0);                     // Ctrl-C reaches the driver only
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // and workers die with it
            if (getppid() != parent) _exit(kExitEnvironment);
          });
    } catch (const std::exception& e) {
      ::close(log);
      throw EnvironmentError(fmt::format("cannot start '{}': {}", opt_.fuzzer, e.what()));
    }
    ::close(log);
    w.running = true;
    w.started_us = NowMicros();
    w.log.stopped_on_finding = false;
    w.log.test_unit.clear();
    w.log.crash_lines.clear();
    w.log.reader = {};
  }

  // Status of an ended worker process, reaped by us (Boost's wait would race our waitpid).
  int Reap(Worker& w, bool block) {
    const pid_t pid = w.child.id();
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) return -1;
    w.child.detach();
    w.running = false;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

  void ReadLog(Worker& w) {
    const int fd = ::open(w.log.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[65536];
    for (;;) {
      const ssize_t n = pread(fd, buf, sizeof buf, w.log.offset);
      if (n <= 0) break;
      w.log.offset += n;
      w.log.partial.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    size_t start = 0, nl;
    while ((nl = w.log.partial.find('\n', start)) != std::string::npos) {
      OnLine(w, w.log.partial.substr(start, nl - start));
      start = nl + 1;
    }
    w.log.partial.erase(0, start);
  }

  void OnLine(Worker& w, const std::string& line) {
    static const std::regex status(
        R"(^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*exec/s: (\d+))");
    std::smatch m;
    WorkerLog& l = w.log;
    if (std::regex_search(line, m, status)) {
      l.execs = std::stoull(m[1]);
      l.cov = std::stoull(m[2]);
      l.ft = std::stoull(m[3]);
      l.corp = std::stoull(m[4]);
      l.exec_s = std::stoull(m[5]);
      cov_ = std::max(cov_, l.cov);
      ft_ = std::max(ft_, l.ft);
      return;
    }
    if (line.rfind(kFuzzLogPrefix, 0) != 0) {
      if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
          line.find("runtime error:") != std::string::npos ||
          line.find("ERROR: LeakSanitizer") != std::string::npos ||
          (line.find("ERROR: libFuzzer") != std::string::npos && !l.stopped_on_finding))
        l.crash_lines.push_back(line);
      const auto at = line.find("Test unit written to ");
      if (at != std::string::npos) l.test_unit = line.substr(at + 21);
      return;
    }
    const std::optional<FuzzLogEvent> ev = l.reader.Line(line);
    if (!ev) return;
    switch (ev->kind) {
      case FuzzLogEvent::Kind::kStats:
        l.runs = ev->stats.runs;
        l.clean = ev->stats.clean;
        l.settled = ev->stats.settled;
        l.skipped = ev->stats.skipped;
        break;
      case FuzzLogEvent::Kind::kKernelCoverage:
        l.kernel_coverage = ev->text;
        break;
      case FuzzLogEvent::Kind::kFinding:
        l.stopped_on_finding = true;
        Record(w, ev->finding.signature, ev->finding.verdict, ev->finding.summary,
               ev->finding.artifact);
        break;
      case FuzzLogEvent::Kind::kKnown:
        if (auto it = findings_.find(ev->text); it != findings_.end()) {
          ++it->second.hits;
          it->second.workers.insert(w.index);
          SaveFinding(it->second);
        } else if (known_.Has(ev->text)) {
          ++known_hits_[ev->text];  // --known: seen, so not "no longer seen"
        }
        break;
    }
  }

  // A finding a worker reported: dedupe by signature, keep the smallest input, persist.
  void Record(Worker& w, const std::string& sig, const std::string& verdict,
              const std::string& summary, const std::string& artifact) {
    std::string input;
    try {
      input = ReadBinaryFile(artifact);
    } catch (const std::exception& e) {
      LogWarn("worker {}: finding without a readable artifact {}: {}", w.index, artifact, e.what());
      return;
    }
    auto [it, fresh] = findings_.try_emplace(sig);
    Finding& f = it->second;
    if (fresh) {
      f.signature = sig;
      f.id = Sha1Hex(sig).substr(0, 12);
      f.verdict = verdict;
      f.summary = summary;
      f.first_seen = UtcNow();
      f.first_seen_s = prior_seconds_ + (NowMicros() - start_us_) / 1e6;
      stop_requested_ = stop_requested_ || opt_.stop_at_first;
      std::ofstream(Dir("known-signatures"), std::ios::app) << sig << "\n";
    }
    ++f.hits;
    f.workers.insert(w.index);
    f.artifacts.push_back(artifact);
    const std::string dir = Dir("findings/" + f.id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (fresh || input.size() < f.input_size) {
      f.input_size = input.size();
      (void)WriteFileAtomically(dir + "/input", input);
      Scenario s = DecodeScenario(input);
      s.preamble = {fmt::format("finding {}: {}", f.id, sig),
                    fmt::format("decoded from {}", artifact)};
      (void)WriteFileAtomically(dir + "/scenario.scn", PrintScenario(s));
    }
    SaveFinding(f);
    if (!opt_.quiet) {
      progress_.Clear();
      LogInfo("{} finding {} from worker {}: {} ({} bytes{})", fresh ? "new" : "repeated", f.id,
              w.index, sig, input.size(), fresh ? "" : fmt::format(", kept {}", f.input_size));
    }
  }

  // findings/ID/repro.scn (the smallest scenario whose every run (in --mode) is ruled the
  // finding's verdict, within --minimize-for) and repro.c (csource of it). A finding the
  // re-runs did not reproduce, or whose kind is not a verdict of a run, is left as is.
  // Returns false when the pool was stopped (out of time, or Ctrl-C).
  bool MinimizeFinding(RunSession& session, const Scenario& scenario, Finding& f,
                       const RunOptions& base, const Report& report, int64_t deadline) {
    f.actions = scenario.actions.size();
    VerdictKind kind = VerdictKind::kClean;
    for (const RunRecord& r : report.runs)
      if (r.scenario == scenario.name && IsFinding(r.verdict.kind)) {
        kind = r.verdict.kind;
        break;
      }
    if (kind == VerdictKind::kClean) {
      f.minimize_note = "not minimized: no re-run reproduced it";
      SaveFinding(f);
      return true;
    }
    if (!opt_.quiet) LogInfo("minimizing finding {} ({} actions)", f.id, f.actions);
    ReproMinimizeOptions mo;
    mo.run = base;
    mo.run.mode = opt_.run_mode;
    mo.kind = kind;
    mo.signature = f.signature;
    mo.runs = 2;
    bool out_of_time = false;
    mo.stop = [&] {
      out_of_time = out_of_time || NowMicros() > deadline;
      return out_of_time || Stopped();
    };
    Scenario small;
    try {
      small = MinimizeScenario(session.pool(), scenario, mo);
    } catch (const std::exception& e) {
      f.minimize_note = fmt::format("not minimized: {}", e.what());
      SaveFinding(f);
      return false;
    }
    f.minimize_cut_short = out_of_time || Stopped();
    f.minimized_actions = small.actions.size();
    small.name = "finding_" + f.id;
    small.preamble = {fmt::format("finding {}: {}", f.id, f.signature),
                      fmt::format("minimized from findings/{}/input{}: every one of {} {} "
                                  "runs is ruled {} with this signature",
                                  f.id,
                                  f.minimize_cut_short
                                      ? " (cut short: the smallest found so far, not proven minimal)"
                                      : "",
                                  mo.runs, RunModeName(opt_.run_mode), VerdictName(kind))};
    const std::string dir = Dir("findings/" + f.id);
    CsourceOptions co;
    co.source = dir + "/repro.scn";
    co.settle_ms = opt_.settle_ms;
    auto s = WriteFileAtomically(dir + "/repro.scn", PrintScenario(small));
    if (s) s = WriteFileAtomically(dir + "/repro.c", EmitCSource(small, co));
    if (!s) {
      f.minimize_note = "not written: " + s.error().Text();
    } else {
      f.minimized = true;
      f.minimize_note = fmt::format("{} of {} actions{}", f.minimized_actions, f.actions,
                                    f.minimize_cut_short ? " (cut short by --minimize-for)" : "");
    }
    SaveFinding(f);
    return !f.minimize_cut_short;
  }

  // A worker that died without a finding of ours: a crash in our own code.
  void RecordCrash(Worker& w, int status) {
    std::string what = w.log.crash_lines.empty()
                           ? fmt::format("worker ended with status {}", status)
                           : w.log.crash_lines.front();
    // "==123==ERROR: AddressSanitizer: heap-use-after-free on address 0x..." -> stable text
    const size_t error = what.find("ERROR");
    const std::string sig =
        "crash|" + std::regex_replace(what.substr(error == std::string::npos ? 0 : error),
                                      std::regex("(0x)?[0-9a-f]{3,}|[0-9]+"), "#");
    if (!w.log.test_unit.empty()) {
      Record(w, sig.substr(0, 120), "crash", what, w.log.test_unit);
    } else {
      LogError("worker {} died (status {}) without an artifact: {}; see {}", w.index, status, what,
               w.log.path);
      ++lost_crashes_;
    }
  }

  void SaveFinding(const Finding& f) {
    (void)WriteFileAtomically(Dir("findings/" + f.id + "/meta.json"), f.ToJson().dump(2) + "\n");
  }

  void RunWorkers() {
    start_us_ = NowMicros();
    deadline_us_ = start_us_ + int64_t{opt_.duration_ms} * 1000;
    workers_.resize(opt_.jobs);
    for (uint32_t k = 0; k < opt_.jobs; ++k) {
      Worker& w = workers_[k];
      w.index = static_cast<int>(k);
      w.log.path = Dir(fmt::format("logs/worker-{}.log", k));
      struct stat st {};
      if (::stat(w.log.path.c_str(), &st) == 0) w.log.offset = st.st_size;  // --resume
      Launch(w);
    }
    bool stopping = false;
    int64_t stop_sent = 0, stop_grace = 0;
    while (true) {
      const int64_t now = NowMicros();
      if (!stopping && (Stopped() || now >= deadline_us_ + 10'000'000 || stop_requested_)) {
        // Past the workers' own -max_total_time, or Ctrl-C: ask for a graceful end
        // (libFuzzer ends on SIGUSR1 between inputs, runs our drain, exits). A Ctrl-C
        // must end the command within about a second: the drain gets that long, and
        // inputs still settling then are not finished runs.
        stopping = true;
        stop_sent = now;
        stop_grace = Stopped() ? kInterruptGraceUs : int64_t{opt_.settle_ms + 10'000} * 1000;
        for (Worker& w : workers_)
          if (w.running) kill(w.child.id(), SIGUSR1);
      }
      if (stopping && Stopped() && stop_grace > kInterruptGraceUs) {
        stop_grace = kInterruptGraceUs;  // a Ctrl-C during the graceful end after --duration
        stop_sent = now;
      }
      if (stopping && now - stop_sent > stop_grace) {
        for (Worker& w : workers_)
          if (w.running) {
            kill(-w.child.id(), SIGKILL);
            kill(w.child.id(), SIGKILL);
          }
      }
      bool any = false;
      for (Worker& w : workers_) {
        ReadLog(w);
        if (!w.running) continue;
        const int status = Reap(w, false);
        if (status < 0) {
          any = true;
          continue;
        }
        ReadLog(w);
        AddBase(w);
        if (!w.log.stopped_on_finding && status != 0 && !stopping) {
          if (status == 128 + SIGKILL && w.log.crash_lines.empty()) {
            // Killed from outside (the OOM killer, an operator): not a bug of ours.
            progress_.Clear();
            LogWarn("worker {} was killed (SIGKILL); restarting it", w.index);
            ++killed_;
          } else {
            RecordCrash(w, status);
          }
        }
        const bool time_left = NowMicros() + 2'000'000 < deadline_us_ && !stop_requested_;
        if (!stopping && time_left && !Stopped()) {
          ++w.restarts;
          ++restarts_;
          Launch(w);
          any = true;
        }
      }
      if (!any) break;
      if (progress_.Due()) Progress();
      usleep(stopping ? 20'000 : 200'000);  // a signal ends it early (no SA_RESTART)
    }
    progress_.Clear();
    corpus_ = CorpusSize();
  }

  void AddBase(Worker& w) {
    w.base_execs += w.log.execs;
    w.base_runs += w.log.runs;
    w.base_clean += w.log.clean;
    w.base_settled += w.log.settled;
    w.base_skipped += w.log.skipped;
    w.log.execs = w.log.runs = w.log.clean = w.log.settled = w.log.skipped = 0;
    w.log.exec_s = 0;
  }

  uint64_t TotalExecs() const {
    uint64_t n = prior_execs_;
    for (const Worker& w : workers_) n += w.base_execs + w.log.execs;
    return n;
  }
  uint64_t TotalRuns() const {
    uint64_t n = prior_runs_;
    for (const Worker& w : workers_) n += w.base_runs + w.log.runs;
    return n;
  }
  size_t CorpusSize() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(Dir("corpus"), ec); !ec && it != fs::end(it);
         it.increment(ec))
      ++n;
    return n;
  }

  void Progress() {
    const double secs = std::max(1e-3, (NowMicros() - start_us_) / 1e6);
    uint64_t execs = 0;
    int running = 0;
    for (const Worker& w : workers_) {
      execs += w.base_execs + w.log.execs;
      running += w.running;
    }
    size_t hits = 0;
    for (const auto& [_, f] : findings_) hits += f.hits;
    const std::string line = fmt::format(
        "fuzz: {}/{}  execs {} ({:.0f}/s)  corpus {}  cov {} ft {}  findings {} (hits {})  "
        "workers {}/{} restarts {}",
        Duration(secs), Duration(opt_.duration_ms / 1e3), execs, execs / secs, CorpusSize(), cov_,
        ft_, findings_.size(), hits, running, workers_.size(), restarts_);
    progress_.Show(line);
  }

  // --- re-runs, report, summary ---

  int Finish(bool interrupted) {
    const double fuzz_s = (NowMicros() - start_us_) / 1e6;
    CommonRunArgs common = common_;
    common.report_dir = opt_.out;
    common.hold = opt_.hold;
    common.known = opt_.known;  // report.json's `known` section and the known: lines
    if (common.jobs == 0) common.jobs = 1;
    RunSession session("fuzz", argv_, common);
    Report& report = session.report();
    if (!interrupted && !findings_.empty() && opt_.repro > 0) {
      if (!opt_.quiet)
        LogInfo("re-running {} finding(s) {} times each", findings_.size(), opt_.repro);
      session.Start(MakePoolOptions(common));
      std::vector<ScenarioFile> files;
      std::vector<Finding*> order;
      for (auto& [sig, f] : findings_) {
        ScenarioFile sf = LoadInputOrScenario(Dir("findings/" + f.id + "/input"));
        sf.scenario.name = "finding_" + f.id;
        sf.text = PrintScenario(sf.scenario);
        files.push_back(std::move(sf));
        order.push_back(&f);
      }
      RunPlan plan;
      plan.repeat = opt_.repro;
      plan.base = BaseRunOptions(common);
      plan.base.settle_ms = opt_.settle_ms;
      plan.modes = {opt_.run_mode};
      RunnerUi ui{!opt_.quiet, "repro"};
      ui.stop = opt_.stop;
      RunScenarios(session.pool(), files, plan, ui, report);
      for (size_t k = 0; k < files.size(); ++k) {
        Finding& f = *order[k];
        f.repro_runs = f.repro_findings = f.repro_same = 0;
        for (const RunRecord& r : report.runs) {
          if (r.scenario != files[k].scenario.name) continue;
          ++f.repro_runs;
          if (r.verdict.kind == VerdictKind::kClean) continue;
          ++f.repro_findings;
          f.repro_same += RunSignature(files[k].scenario, r) == f.signature;
        }
        if (f.repro_findings == 0)
          f.repro_note =
              "did not reproduce in these runs (a race with the collector, or a "
              "finding that needs the fuzzer's timing)";
        SaveFinding(f);
      }
      // One budget for all: a minimization cut short stops the pool (driver/minimize.h),
      // so the findings after it are left as they are, and say so.
      const int64_t deadline = NowMicros() + int64_t{opt_.minimize_ms} * 1000;
      bool pool_stopped = false;
      for (size_t k = 0; opt_.minimize_ms > 0 && k < files.size() && !Stopped(); ++k) {
        if (pool_stopped) {
          order[k]->minimize_note = "not minimized: --minimize-for was used up";
          SaveFinding(*order[k]);
          continue;
        }
        pool_stopped = !MinimizeFinding(session, files[k].scenario, *order[k], plan.base,
                                        report, deadline);
      }
      if (pool_stopped)
        report.inactive_layers.push_back(
            "per-slot accounting after the re-runs: not checked, the minimization was cut short "
            "by --minimize-for and stopped the sandboxes");
    } else if (interrupted) {
      for (auto& [_, f] : findings_) f.repro_note = "not re-run: interrupted";
    }
    size_t hits = 0;
    nlohmann::json fj = nlohmann::json::array();
    for (const auto& [_, f] : findings_) {
      hits += f.hits;
      fj.push_back(f.ToJson());
    }
    nlohmann::json workers = nlohmann::json::array();
    std::string kernel_coverage = kcov_;
    for (const Worker& w : workers_) {
      workers.push_back({{"index", w.index},
                         {"restarts", w.restarts},
                         {"execs", w.base_execs + w.log.execs},
                         {"runs", w.base_runs + w.log.runs},
                         {"log", w.log.path}});
      if (!w.log.kernel_coverage.empty()) kernel_coverage = w.log.kernel_coverage;
    }
    // The distinct kernel PCs every worker process reached (OUT/kcov), resumed runs too.
    nlohmann::json kernel_pcs = nullptr;
    if (kcov_on_) {
      KernelPcSet pcs;
      size_t files = 0;
      std::string why;
      if (LoadKernelPcDir(Dir("kcov"), pcs, &files, &why)) {
        kernel_pcs = {{"distinct", pcs.size()},
                      {"by_seeds", pcs.seed_count()},
                      {"added_by_fuzzing", pcs.size() - pcs.seed_count()},
                      {"files", files}};
        kernel_coverage += fmt::format("; {} distinct kernel PCs ({} reached by the seeds)",
                                       pcs.size(), pcs.seed_count());
        if (pcs.empty())
          kernel_coverage += " - no run came back with a PC: the graph processes could not trace";
      } else {
        kernel_pcs = {{"error", why}};
      }
    }
    const uint64_t execs = TotalExecs() - prior_execs_;
    uint64_t runs = 0, clean = 0, settled = 0, skipped = 0;
    for (const Worker& w : workers_) {
      runs += w.base_runs + w.log.runs;
      clean += w.base_clean + w.log.clean;
      settled += w.base_settled + w.log.settled;
      skipped += w.base_skipped + w.log.skipped;
    }
    nlohmann::json known_hits = nlohmann::json::array();
    for (const auto& [sig, n] : known_hits_) known_hits.push_back({{"signature", sig}, {"hits", n}});
    report.extra["fuzz"] = {
        {"out", opt_.out},
        {"fuzzer", opt_.fuzzer},
        {"jobs", opt_.jobs},
        {"run_mode", RunModeName(opt_.run_mode)},
        {"seconds", fuzz_s},
        {"execs", execs},
        {"execs_per_s", fuzz_s > 0 ? execs / fuzz_s : 0.0},
        {"runs", runs},
        {"runs_clean", clean},
        {"runs_clean_after_settling", settled},
        {"inputs_skipped", skipped},
        {"corpus", corpus_},
        {"coverage",
         {{"cov", cov_},
          {"ft", ft_},
          {"what",
           "libFuzzer's cov/ft over the scenario decoder (and the kernel's "
           "edges where KCOV is on)"}}},
        {"kernel_coverage", kernel_coverage},
        {"kernel_pcs", kernel_pcs},
        {"restarts", restarts_},
        {"workers_killed", killed_},
        {"seeds", seeds_},
        {"seeds_left_out", seeds_left_out_},
        {"resumed_seconds", prior_seconds_},
        {"findings", fj},
        {"finding_hits", hits},
        {"known_hits", known_hits},
        {"crashes_without_artifact", lost_crashes_},
        {"workers", workers},
    };
    // One screen.
    std::string s;
    s += fmt::format("inflight fuzz: {} of {} worker(s) on Linux {}\n", Duration(fuzz_s), opt_.jobs,
                     report.sandbox.kernel.empty() ? KernelRelease() : report.sandbox.kernel);
    s += fmt::format(
        "  execs {} ({:.0f}/s), sandbox runs {} ({} clean, {} after settling), "
        "skipped {}\n",
        execs, fuzz_s > 0 ? execs / fuzz_s : 0.0, runs, clean, settled, skipped);
    s += fmt::format("  corpus {} inputs (seeded {}), coverage cov {} ft {}, restarts {}\n",
                     corpus_, seeds_, cov_, ft_, restarts_);
    s += fmt::format("  kernel coverage: {}\n", kernel_coverage);
    s += fmt::format("  findings: {} distinct ({} hits)\n", findings_.size(), hits);
    for (const auto& [_, f] : findings_) {
      s += fmt::format("  - {} {}: {}\n", f.id, f.verdict, f.signature);
      s += fmt::format("      {} hit(s) by worker(s) {}; input {} bytes: {}/findings/{}/input\n",
                       f.hits, fmt::join(f.workers, ","), f.input_size, opt_.out, f.id);
      if (f.repro_runs)
        s += fmt::format("      re-run: {}/{} runs a finding ({:.0f}%), {} with this signature\n",
                         f.repro_findings, f.repro_runs, 100.0 * f.repro_findings / f.repro_runs,
                         f.repro_same);
      if (!f.repro_note.empty()) s += fmt::format("      {}\n", f.repro_note);
      if (f.minimized)
        s += fmt::format("      minimized: {}; {}/findings/{}/repro.scn, repro.c\n",
                         f.minimize_note, opt_.out, f.id);
      else if (!f.minimize_note.empty())
        s += fmt::format("      {}\n", f.minimize_note);
      s += fmt::format("      replay: inflight repro {}/findings/{}/input{}\n", opt_.out, f.id,
                       opt_.hold.empty() ? "" : " --hold " + opt_.hold);
    }
    if (lost_crashes_)
      s += fmt::format("  {} worker crash(es) left no artifact (see logs)\n", lost_crashes_);
    (void)WriteFileAtomically(Dir("summary.txt"), s);
    fmt::print("{}", s);
    fflush(stdout);
    const int status = session.Finish(false);
    // A Ctrl-C during the re-runs or the minimization interrupts the job too.
    if (interrupted || Stopped()) return kExitInterrupted;
    size_t fresh = 0;  // the session printed which are known, which new
    for (const auto& [sig, f] : findings_) fresh += !known_.Has(sig);
    if (fresh || lost_crashes_) return kExitFinding;
    return status == kExitInternal ? kExitInternal : kExitClean;
  }

  static std::string KernelRelease() {
    std::ifstream in("/proc/sys/kernel/osrelease");
    std::string r;
    std::getline(in, r);
    return r;
  }

  Options opt_;
  KnownFindings known_;
  std::map<std::string, uint64_t> known_hits_;  // --known signatures the workers hit (not findings)
  std::vector<std::string> argv_;
  CommonRunArgs common_;
  std::map<std::string, Finding> findings_;
  std::vector<Worker> workers_;
  std::string kcov_;
  bool kcov_on_ = false;
  int64_t start_us_ = 0, deadline_us_ = 0;
  uint64_t cov_ = 0, ft_ = 0;
  size_t corpus_ = 0, seeds_ = 0;
  std::vector<std::string> seeds_left_out_;
  int restarts_ = 0;
  int killed_ = 0;
  bool stop_requested_ = false;  // --stop-at-first saw its first new finding
  size_t lost_crashes_ = 0;
  ProgressLine progress_;
  double prior_seconds_ = 0;
  uint64_t prior_execs_ = 0, prior_runs_ = 0;
  int sessions_ = 0;
};

}  // namespace

int RunFuzzJob(const FuzzOptions& opt, const std::vector<std::string>& argv,
               const CommonRunArgs& common) {
  FuzzSession session(opt, argv, common);
  return session.Run();
}

}  // namespace inflight
