// graph_fuzzer: libFuzzer over process graphs. Each input decodes into a scenario
// (scenario/codec.h) that runs in the sandbox; a leak, hang, fault or error ends the
// process with the verdict after writing the input that found it as crash-<sha1> under
// -artifact_prefix (also when its result came back while a later input was running).
//
// Environment (all optional; `inflight fuzz` sets them):
//   INFLIGHT_SANDBOX          path of inflight-sandbox
//   INFLIGHT_FUZZ_MODE        pipelined (default; guided where KCOV is) | guided | sync |
//                             naive
//   INFLIGHT_FUZZ_SLOTS       network namespaces of the sandbox (default 16)
//   INFLIGHT_FUZZ_RUN_MODE    lockstep (default) | free: how each graph runs (free: its
//                             processes race; each input gets its own jitter seed)
//   INFLIGHT_FUZZ_SETTLE_MS   settling deadline before a leak is ruled (default 2000)
//   INFLIGHT_FUZZ_KNOWN       file of finding signatures, one a line, that are logged
//                             and counted but do not stop the fuzzer
//   INFLIGHT_FUZZ_STATS_S     seconds between "==inflight== stats" lines (default 10)
//   INFLIGHT_FUZZ_INPUT_LOG   "kmsg": write each input to the kernel's log before it runs
//                             (vm/input_log.h), so that a guest that panics or hangs
//                             leaves its last inputs on the console (`inflight vm` sets it)
//   INFLIGHT_FUZZ_KCOV_DIR    with KCOV: folder where the distinct kernel PCs reached are
//                             kept (pcs-PID-TIME.txt, probe/kcov_pcs.h), each marked by
//                             whether a seed (a corpus file named seed-*) reached it
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/sha1.h"
#include "base/unique_fd.h"
#include "fuzzers/graph_target.h"
#include "probe/kcov.h"
#include "probe/kcov_pcs.h"
#include "run/fuzz_log.h"
#include "scenario/text.h"
#include "vm/input_log.h"

using namespace inflight;

namespace {

GraphTarget* g_target = nullptr;
std::string g_artifact_prefix = "./";
std::string g_exact_artifact;
std::string g_known_path;
int64_t g_stats_every_us = 10'000'000;
int64_t g_last_stats = 0;
uint64_t g_known_hits = 0;
bool g_draining = false;
UniqueFd g_input_log;  // /dev/kmsg when INFLIGHT_FUZZ_INPUT_LOG=kmsg
uint64_t g_input_seq = 0;

// Kernel coverage, folded per input (only with KCOV, guided or synchronous runs).
constexpr size_t kKernelCounters = 1 << 16;
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t g_kernel_counters[kKernelCounters];
// The distinct kernel PCs seen, and which inputs are seeds (sha1 of each seed-* file).
KernelPcSet g_kernel_pcs;
uint64_t g_traced_runs = 0;
std::set<std::string> g_seed_hashes;
std::string g_pcs_path;  // where g_kernel_pcs is kept; empty: nowhere
bool g_kcov = false;

const char* Env(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

bool Known(const std::string& signature) {
  if (g_known_path.empty()) return false;
  std::ifstream in(g_known_path);
  std::string line;
  while (std::getline(in, line))
    if (line == signature) return true;
  return false;
}

// Keeps the kernel PCs seen so far (whole file, replaced atomically).
void SaveKernelPcs() {
  if (g_pcs_path.empty()) return;
  const std::string tmp = g_pcs_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << g_kernel_pcs.ToText();
    if (!out.flush()) return;
  }
  rename(tmp.c_str(), g_pcs_path.c_str());
}

void PrintStats(bool force) {
  const int64_t now = NowMicros();
  if (!force && now - g_last_stats < g_stats_every_us) return;
  g_last_stats = now;
  const TargetStats& s = g_target->stats();
  fputs(FuzzStatsLine({s.inputs, s.ruled, s.clean, s.settled, s.findings, g_known_hits, s.skipped})
            .c_str(),
        stderr);
  if (g_kcov) {
    // Runs that came back without a PC while KCOV is on mean the graph processes could
    // not trace (their open of kcov failed): said here, not left to look like no coverage.
    fmt::print(stderr, "==inflight== kernel pcs: {} distinct ({} reached by seeds), {} of {} runs traced\n",
               g_kernel_pcs.size(), g_kernel_pcs.seed_count(), g_traced_runs,
               s.covered > 0 ? s.covered : s.ruled);
    SaveKernelPcs();
  }
}

void OnKernelPcs(const std::vector<uint64_t>& pcs, const std::string& input) {
  ++g_traced_runs;
  const bool seed = !g_seed_hashes.empty() && g_seed_hashes.count(Sha1Hex(input)) != 0;
  g_kernel_pcs.Add(pcs.data(), pcs.size(), seed);
}

// The seeds `inflight fuzz` wrote into the corpus folders (named seed-*), by content: what
// they reach is the seed corpus's coverage, the rest fuzzing's.
void LoadSeedHashes(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  // libFuzzer hands longer files over cut at -max_len.
  size_t max_len = 0;
  for (const auto& a : args)
    if (a.rfind("-max_len=", 0) == 0) max_len = static_cast<size_t>(atol(a.c_str() + 9));
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].empty() || args[i][0] == '-') continue;
    std::error_code ec;
    for (auto it = fs::directory_iterator(args[i], ec); !ec && it != fs::end(it); it.increment(ec)) {
      if (it->path().filename().string().rfind("seed-", 0) != 0) continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string bytes = ss.str();
      g_seed_hashes.insert(Sha1Hex(bytes));
      if (max_len > 0 && bytes.size() > max_len) g_seed_hashes.insert(Sha1Hex(bytes.substr(0, max_len)));
    }
  }
}

void OnFinding(const FuzzFinding& f) {
  if (Known(f.signature)) {
    ++g_known_hits;
    fputs(FuzzKnownLine(f.signature, f.id).c_str(), stderr);
    return;
  }
  const bool current = f.id == f.current_id && !g_draining;
  const std::string path =
      g_exact_artifact.empty() ? g_artifact_prefix + "crash-" + Sha1Hex(f.input) : g_exact_artifact;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(f.input.data(), static_cast<std::streamsize>(f.input.size()));
  }
  FuzzFindingBlock block{VerdictName(f.verdict.kind),
                         f.signature,
                         f.verdict.summary,
                         f.id,
                         f.input.size(),
                         current,
                         f.current_id,
                         path};
  for (const Leftover& l : f.verdict.leftovers)
    block.leftovers.push_back(fmt::format("{}{}{}", l.what,
                                          l.object.empty() ? "" : " '" + l.object + "'",
                                          l.where.empty() ? "" : ", " + l.where));
  block.faults = f.verdict.faults;
  block.kernel_log = f.verdict.kernel_log;
  block.scenario_text = PrintScenario(f.scenario);
  fputs(FuzzFindingText(block).c_str(), stderr);
  PrintStats(true);
  SaveKernelPcs();
  fflush(stderr);
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  // The input running now is libFuzzer's to save; when the guilty one is an earlier input
  // (already written above), its handler must not save the innocent one as a crash too.
  if (!current) signal(SIGABRT, SIG_DFL);
  abort();
}

void DrainAtExit() {
  if (!g_target) return;
  g_draining = true;
  g_target->Drain();
  PrintStats(true);
  SaveKernelPcs();
}

// Adds "-flag=value" to libFuzzer's arguments unless the user gave that flag.
void Default(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  for (const auto& a : args)
    if (a.rfind(flag + "=", 0) == 0) return;
  args.push_back(flag + "=" + value);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  std::vector<std::string> args(*argv, *argv + *argc);
  for (const auto& a : args) {
    if (a.rfind("-artifact_prefix=", 0) == 0) g_artifact_prefix = a.substr(17);
    if (a.rfind("-exact_artifact_path=", 0) == 0) g_exact_artifact = a.substr(21);
  }
  // Results are ruled after their input returned, so malloc/free never balance within one
  // input: libFuzzer's per-input leak check would re-run inputs. Leaks in this process are
  // still found at exit by LeakSanitizer.
  Default(args, "-detect_leaks", "0");
  static std::vector<std::string> keep = args;
  static std::vector<char*> ptrs;
  for (auto& a : keep) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  *argc = static_cast<int>(keep.size());
  *argv = ptrs.data();

  GraphTargetOptions opt;
  const std::string mode = Env("INFLIGHT_FUZZ_MODE", "pipelined");
  opt.mode = mode == "sync"     ? TargetMode::kSynchronous
             : mode == "naive"  ? TargetMode::kNaive
             : mode == "guided" ? TargetMode::kGuided
                                : TargetMode::kPipelined;
  opt.sandbox_path = Env("INFLIGHT_SANDBOX", "");
  opt.slots = static_cast<uint32_t>(std::max(1, atoi(Env("INFLIGHT_FUZZ_SLOTS", "16"))));
  const std::string run_mode = Env("INFLIGHT_FUZZ_RUN_MODE", "lockstep");
  if (run_mode != "lockstep" && run_mode != "free") {
    fmt::print(stderr, "==inflight== INFLIGHT_FUZZ_RUN_MODE={}: not lockstep or free\n", run_mode);
    _exit(kExitUsage);
  }
  opt.run.mode = run_mode == "free" ? RunMode::kFree : RunMode::kLockstep;
  opt.run.timeout_ms = 5'000;
  opt.run.settle_ms =
      static_cast<uint32_t>(std::max(100, atoi(Env("INFLIGHT_FUZZ_SETTLE_MS", "60000"))));
  g_known_path = Env("INFLIGHT_FUZZ_KNOWN", "");
  g_stats_every_us = int64_t{std::max(1, atoi(Env("INFLIGHT_FUZZ_STATS_S", "10")))} * 1'000'000;
#ifdef INFLIGHT_FUZZ_TEST_HOLD
  // Test build only: every slot gets a listener at @inflight-hold, outside the scenarios,
  // that never accepts; what inputs send into its embryos stays in flight.
  opt.hold_addr = "inflight-hold";
  fmt::print(stderr, "==inflight== TEST BUILD: a holder at @inflight-hold plants leaks\n");
#endif
  std::string why;
  if (KcovAvailable(&why)) {
    if (opt.mode == TargetMode::kPipelined && !getenv("INFLIGHT_FUZZ_MODE"))
      opt.mode = TargetMode::kGuided;
    opt.kcov = opt.mode == TargetMode::kGuided || opt.mode == TargetMode::kSynchronous;
    fputs(FuzzKernelCoverageLine(
              opt.mode == TargetMode::kGuided
                  ? "KCOV traces each graph; each input waits for its graph's coverage "
                    "(credited to it) and settles while the next one runs"
              : opt.kcov ? "KCOV traces each graph; runs are synchronous so that coverage "
                           "is credited to its own input"
                         : "KCOV is here but unused: pipelined runs cannot credit it")
              .c_str(),
          stderr);
  } else {
    fputs(FuzzKernelCoverageLine(
              fmt::format("none, the search runs unguided by the kernel ({})", why))
              .c_str(),
          stderr);
  }
  try {
    g_target = new GraphTarget(opt);
    g_target->Start();
  } catch (const std::exception& e) {
    fmt::print(stderr, "==inflight== cannot start the sandbox: {}\n", e.what());
    _exit(kExitEnvironment);
  }
  if (opt.kcov) {
    g_kcov = true;
    g_target->kernel_counters = g_kernel_counters;
    g_target->kernel_counters_size = kKernelCounters;
    g_target->on_kernel_pcs = OnKernelPcs;
    LoadSeedHashes(keep);
    const std::string dir = Env("INFLIGHT_FUZZ_KCOV_DIR", "");
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      g_pcs_path = fmt::format("{}/pcs-{}-{}.txt", dir, getpid(), NowMicros() / 1'000'000);
    }
    fmt::print(stderr, "==inflight== kernel pcs: kept in {}; {} seed input(s) known\n",
               g_pcs_path.empty() ? "no file (INFLIGHT_FUZZ_KCOV_DIR unset)" : g_pcs_path,
               g_seed_hashes.size());
  }
  g_target->on_finding = OnFinding;
  fmt::print(stderr,
             "==inflight== graph fuzzer: mode {}, {} runs, {} slots, kernel {}, settle {} ms\n",
             TargetModeName(opt.mode), RunModeName(opt.run.mode), opt.slots,
             g_target->hello().kernel, opt.run.settle_ms);
  if (std::string(Env(kInputLogEnv, "")) == "kmsg") {
    g_input_log.Reset(open("/dev/kmsg", O_WRONLY | O_CLOEXEC));
    if (!g_input_log)
      fmt::print(stderr, "==inflight== cannot log inputs to /dev/kmsg: {}\n", strerror(errno));
  }
  atexit(DrainAtExit);
  g_last_stats = NowMicros();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_input_log) {
    // One kmsg record per line, at KERN_INFO so that the console prints it.
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    for (const std::string& l : InputLogLines(++g_input_seq, input)) {
      const std::string rec = "<6>" + l + "\n";
      (void)!write(g_input_log.Get(), rec.data(), rec.size());
    }
  }
  const bool ran = g_target->Run(data, size);
  PrintStats(false);
  return ran ? 0 : -1;
}
