// inflight vm and inflight gate on real kernels: Debian's kernel images, fetched with
// apt-get download (cached in ~/.cache/inflight/kernels), booted under QEMU with the seed
// corpus inside; and every way a VM can end: a kernel fault, a panic, a hang, a timeout, a
// kernel that does not boot, Ctrl-C. Each test checks that no QEMU and no scratch folder
// is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/clock.h"
#include "base/exit_codes.h"
#include "tests/test_util.h"
#include "tests/vm_kernels.h"

extern char** environ;

namespace inflight {
namespace {

namespace fs = std::filesystem;
using testing::CliPath;
using testing::CorpusDir;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

// The kernels the suite is checked against, pinned so that what each is expected to do
// stays true. What each does is a fact about that kernel, found by running the corpus on
// it, not an assumption that every kernel is clean.
struct DebianKernel {
  const char* package;
  std::set<std::string> leaks;  // corpus scenarios that leak on it (lockstep, seed 1)
  const char* why;
};

// Debian backported the 6.10 collector (SCC-based, "af_unix: Replace garbage collection
// algorithm.") to 6.1.147; neither kernel has "af_unix: Unify scc_index when finalising
// SCC in __unix_walk_scc()", so cycles whose SCC is finalised with mixed scc_index values
// are never collected, exactly as on the host's 6.18.44. Both changelogs were checked.
const char* const kSccIndexBug =
    "the SCC collector without \"af_unix: Unify scc_index when finalising SCC in "
    "__unix_walk_scc()\" never frees these cycles";

const DebianKernel kDebian61 = {"linux-image-6.1.0-56-cloud-amd64",
                                {"mixed_lowpoint_stream", "nested_cycles_gc_midway"},
                                kSccIndexBug};

const DebianKernel kDebian612 = {"linux-image-6.12.117+deb12-cloud-amd64",
                                 {"mixed_lowpoint_stream", "nested_cycles_gc_midway"},
                                 kSccIndexBug};

// Test names show the package, not a pointer.
void PrintTo(const DebianKernel* k, std::ostream* os) {
  *os << k->package;
}

struct Fetched {
  std::string root;    // the unpacked package
  std::string kernel;  // root/boot/vmlinuz-*
  std::string skip;    // why it cannot be had here
};

const Fetched& Fetch(const DebianKernel& k) {
  static std::map<std::string, Fetched> cache;
  auto it = cache.find(k.package);
  if (it != cache.end()) return it->second;
  Fetched f;
  auto r = RunCommand(std::string(INFLIGHT_SOURCE_DIR) + "/vm/fetch-kernel.sh " + k.package);
  if (r.status != 0) {
    f.skip = "cannot fetch " + std::string(k.package) + ": " + r.out;
  } else {
    f.root = r.out.substr(0, r.out.find_last_not_of("\n") + 1);
    f.root = f.root.substr(f.root.rfind('\n') == std::string::npos ? 0 : f.root.rfind('\n') + 1);
    for (auto& e : fs::directory_iterator(f.root + "/boot"))
      if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) f.kernel = e.path().string();
    if (f.kernel.empty()) f.skip = "no boot/vmlinuz-* in " + f.root;
  }
  return cache.emplace(k.package, f).first->second;
}

#define INFLIGHT_REQUIRE_VM(kernel)                                           \
  const Fetched& fetched_ = Fetch(kernel);                                    \
  do {                                                                        \
    const std::string why_ = testing::WhyNoVm();                              \
    if (!why_.empty()) GTEST_SKIP() << "skipped: " << why_;                   \
    if (!fetched_.skip.empty()) GTEST_SKIP() << "skipped: " << fetched_.skip; \
  } while (0)

// Runs the CLI as our child with us as subreaper and TMPDIR in a folder of the test:
// afterwards nothing may be left, neither a process (QEMU would be reparented to us) nor
// a scratch folder.
class VmBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    tmp_ = d_.path() + "/t";
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    int st;
    const pid_t left = waitpid(-1, &st, WNOHANG);
    EXPECT_TRUE(left < 0 && errno == ECHILD)
        << "processes left behind: "
        << ReadFile("/proc/self/task/" + std::to_string(getpid()) + "/children");
    EXPECT_TRUE(fs::is_empty(tmp_)) << "a scratch folder was left in " << tmp_;
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  testing::CommandResult Vm(const Fetched& k, const std::string& opts, const std::string& args,
                            const std::string& dir = "") {
    return RunCommand("TMPDIR=" + tmp_ + " " + CliPath() + " vm --kernel " + k.kernel +
                      " --modules " + k.root + " -q --report " + (dir.empty() ? report() : dir) +
                      " " + opts + " -- " + args);
  }
  nlohmann::json Report() { return nlohmann::json::parse(ReadFile(report() + "/report.json")); }
  std::string report() const { return d_.path() + "/out"; }

  TempDir d_;
  std::string tmp_;
};

std::set<std::string> Scenarios(const nlohmann::json& report, const std::string& verdict) {
  std::set<std::string> out;
  for (const auto& run : report["runs"])
    if (run["verdict"] == verdict) out.insert(run["scenario"].get<std::string>());
  return out;
}

void ExpectCorpusVerdict(const DebianKernel& k, const nlohmann::json& j, int status) {
  SCOPED_TRACE(k.package);
  EXPECT_EQ(j["vm"]["end"], "completed") << j["vm"]["why"];
  EXPECT_EQ(Scenarios(j, "leak"), k.leaks) << k.why;
  EXPECT_EQ(status, k.leaks.empty() ? kExitClean : kExitFinding);
  EXPECT_TRUE(Scenarios(j, "error").empty());
  EXPECT_TRUE(Scenarios(j, "hang").empty());
  EXPECT_TRUE(Scenarios(j, "fault").empty()) << "no kernel fault, no errno mismatch";
  EXPECT_TRUE(j["vm"]["kernel_faults"].empty());
  EXPECT_EQ(j["census_method"], "sock_diag") << "unix_diag is loaded from --modules";
  EXPECT_EQ(j["vm"]["modules_loaded"], nlohmann::json::array({"unix_diag"}));
  EXPECT_GT(j["vm"]["timings_s"]["boot"].get<double>(), 0);
  EXPECT_GT(j["vm"]["timings_s"]["suite"].get<double>(), 0);
  // file-nr is recorded as the kernel gives it (per-CPU batches: it may read 0 here);
  // inode-nr is summed exactly.
  EXPECT_EQ(j["vm"]["global_counts"]["file-nr"]["before"].size(), 3u);
  EXPECT_EQ(j["vm"]["global_counts"]["file-nr"]["settled"].size(), 3u);
  EXPECT_GE(j["vm"]["global_counts"]["inode-nr"]["before"][0].get<long long>(), 1);
  EXPECT_TRUE(j["vm"]["complete"].get<bool>());
}

class VmCorpus : public VmBoot, public ::testing::WithParamInterface<const DebianKernel*> {};

TEST_P(VmCorpus, EachKernelGivesItsKnownVerdict) {
  const DebianKernel& k = *GetParam();
  INFLIGHT_REQUIRE_VM(k);
  auto r = Vm(fetched_, "", "run " + CorpusDir());
  const auto j = Report();
  ExpectCorpusVerdict(k, j, r.status);
  EXPECT_EQ(j["runs"].size(), Scenarios(j, "clean").size() + k.leaks.size());
  // The global counts, ruled at full strength in the guest, see the same leaked sockets.
  bool socket_slab_grew = false;
  for (const auto& f : j["command_findings"])
    socket_slab_grew |= f.get<std::string>().rfind("global counts: sock_inode_cache grew", 0) == 0;
  EXPECT_EQ(socket_slab_grew, !k.leaks.empty()) << j["command_findings"].dump(2);
  EXPECT_NE(r.out.find("inflight vm: "), std::string::npos) << r.out;
  const std::string console = ReadFile(report() + "/console.log");
  EXPECT_NE(console.find("Linux version"), std::string::npos) << "the kernel log comes back";
}

INSTANTIATE_TEST_SUITE_P(Debian, VmCorpus, ::testing::Values(&kDebian61, &kDebian612),
                         [](const auto& info) {
                           return std::string(info.param == &kDebian61 ? "linux_6_1"
                                                                       : "linux_6_12");
                         });

TEST_F(VmBoot, AFakeBugLineComesBackAsAKernelFault) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  auto r = Vm(fetched_, "--inject bug", "run " + CorpusDir() + "/self_ref_stream.scn");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = Report();
  EXPECT_EQ(j["verdict"], "fault");
  EXPECT_EQ(Scenarios(j, "clean"), std::set<std::string>{"self_ref_stream"})
      << "the suite itself ran and was clean";
  EXPECT_TRUE(j["command_findings"].empty())
      << "a clean suite leaves the VM's global counts where they were: "
      << j["command_findings"].dump(2);
  EXPECT_TRUE(j["global_counts"]["ruled"]);
  EXPECT_EQ(Scenarios(j, "fault"),
            std::set<std::string>{"[kernel] BUG: inflight-vminit: fake kernel fault, written on "
                                  "purpose (inflight vm --inject bug)"});
  ASSERT_EQ(j["vm"]["kernel_faults"].size(), 1u);
  EXPECT_EQ(j["vm"]["kernel_faults"][0]["kind"], "BUG");
  EXPECT_NE(ReadFile(report() + "/console.log").find("] BUG: inflight-vminit"), std::string::npos)
      << "the console log is attached";
  EXPECT_NE(r.out.find("kernel fault: BUG: inflight-vminit"), std::string::npos) << r.out;
}

TEST_F(VmBoot, APanicIsAKernelFault) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  auto r = Vm(fetched_, "--inject panic", "run " + CorpusDir() + "/self_ref_stream.scn");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = Report();
  EXPECT_EQ(j["vm"]["end"], "guest-crashed");
  EXPECT_EQ(j["verdict"], "fault");
  EXPECT_EQ(j["vm"]["kernel_faults"][0]["kind"], "panic") << j["vm"].dump(2);
  EXPECT_NE(j["vm"]["kernel_faults"][0]["line"].get<std::string>().find("Attempted to kill init"),
            std::string::npos);
}

TEST_F(VmBoot, AGuestThatFallsSilentIsAHang) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  const int64_t start = NowMicros();
  auto r =
      Vm(fetched_, "--inject hang --hang-after 3s", "run " + CorpusDir() + "/self_ref_stream.scn");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  EXPECT_LT(NowMicros() - start, 60'000'000) << "stopped soon after 3 s of silence";
  const auto j = Report();
  EXPECT_EQ(j["vm"]["end"], "guest-hang");
  EXPECT_EQ(j["verdict"], "hang");
  EXPECT_EQ(Scenarios(j, "hang"), std::set<std::string>{"[kernel] guest stopped responding"});
}

TEST_F(VmBoot, ATimeoutStopsQemuWithItsOwnStatus) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  std::ofstream(d_.path() + "/slow.scn") << "scenario slow\n\np0: sleep 10000\n";
  const int64_t start = NowMicros();
  auto r = Vm(fetched_, "--timeout 4s", "run " + d_.path() + "/slow.scn -n 5");
  EXPECT_EQ(r.status, kExitTimeout) << r.out;
  EXPECT_LT(NowMicros() - start, 30'000'000);
  EXPECT_NE(r.out.find("TIMEOUT: --timeout 4 s passed"), std::string::npos) << r.out;
  EXPECT_EQ(Report()["vm"]["end"], "timeout");
}

TEST_F(VmBoot, AKernelThatDoesNotBootHasItsOwnStatus) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  // Damage the compressed payload: the header still checks, the decompressor fails.
  const std::string broken = d_.path() + "/vmlinuz-broken";
  fs::copy_file(fetched_.kernel, broken);
  {
    std::fstream f(broken, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(broken) / 2));
    const std::string zeros(256 * 1024, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  Fetched k = fetched_;
  k.kernel = broken;
  const int64_t start = NowMicros();
  auto r = Vm(k, "--boot-timeout 30s", "run " + CorpusDir() + "/self_ref_stream.scn");
  EXPECT_EQ(r.status, kExitNoBoot) << r.out;
  EXPECT_LT(NowMicros() - start, 60'000'000);
  EXPECT_NE(r.out.find("NO BOOT"), std::string::npos) << r.out;
  EXPECT_EQ(Report()["vm"]["end"], "no-boot");
}

// Ctrl-C of inflight vm: QEMU goes, the report says what happened, exit 130.
TEST_F(VmBoot, InterruptStopsQemuAndWritesTheReport) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  std::ofstream(d_.path() + "/slow.scn") << "scenario slow\n\np0: sleep 10000\n";
  const std::string cmd = "TMPDIR=" + tmp_ + " exec " + CliPath() + " vm --kernel " +
                          fetched_.kernel + " --report " + report() + " -- run " + d_.path() +
                          "/slow.scn -n 20 > " + d_.path() + "/log 2>&1";
  pid_t pid = -1;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  // Wait until the suite runs in the guest (its first output line), then interrupt.
  const int64_t deadline = NowMicros() + 60'000'000;
  while (ReadFile(d_.path() + "/log").find("inflight: note: kernel") == std::string::npos &&
         NowMicros() < deadline)
    usleep(100'000);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  const std::string log = ReadFile(d_.path() + "/log");
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, kExitInterrupted) << log;
  const auto j = Report();
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_EQ(j["vm"]["end"], "interrupted");
  EXPECT_EQ(j["guest_command"], "run")
      << "the guest's suite stopped as on Ctrl-C and its report came back";
  EXPECT_NE(j["vm"]["why"].get<std::string>().find("partial results came back"), std::string::npos)
      << j["vm"]["why"];
  EXPECT_FALSE(ReadFile(report() + "/console.log").empty()) << "what could be written was";
}

// SIGKILL of inflight vm: QEMU dies with it (PR_SET_PDEATHSIG); the scratch folder it
// could not remove is removed by the next inflight vm.
TEST_F(VmBoot, AKilledInflightTakesQemuWithItAndItsFolderGoesNextTime) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  const std::string cmd = "TMPDIR=" + tmp_ + " exec " + CliPath() + " vm -q --kernel " +
                          fetched_.kernel + " --report " + report() + " -- run " + CorpusDir() +
                          "/self_ref_stream.scn > " + d_.path() + "/log 2>&1";
  pid_t pid = -1;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  // Kill it once QEMU runs (its scratch folder holds the sockets QEMU connects to).
  const int64_t deadline = NowMicros() + 30'000'000;
  auto has_scratch = [&] {
    for (auto& e : fs::directory_iterator(tmp_))
      if (fs::exists(e.path() / "console.sock")) return true;
    return false;
  };
  while (!has_scratch() && NowMicros() < deadline) usleep(20'000);
  ASSERT_TRUE(has_scratch());
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  // QEMU was reparented to us (subreaper) and must die on its own.
  const int64_t end = NowMicros() + 10'000'000;
  for (;;) {
    const pid_t p = waitpid(-1, &st, WNOHANG);
    if (p < 0 && errno == ECHILD) break;
    ASSERT_LT(NowMicros(), end) << "QEMU outlived inflight";
    if (p == 0) usleep(20'000);
  }
  EXPECT_FALSE(fs::is_empty(tmp_)) << "the folder of a killed inflight is still there";
  auto r = Vm(fetched_, "--timeout 1s", "run " + CorpusDir() + "/self_ref_stream.scn");
  EXPECT_EQ(r.status, kExitTimeout) << r.out;
  // TearDown: the next inflight vm removed it, and left nothing itself.
}

// What a stressor finds in the guest reaches the host's report.json, as run records the
// gate compares: Debian 6.12 leaks nested cycles (kSccIndexBug) and `stress cycles` finds
// them; without those shapes (-O cycles.nested=0) its checkpoints are clean. Against the
// clean run, the leaking one is worse by signature.
TEST_F(VmBoot, AStressFindingInTheGuestReachesTheHostReportAndMakesItWorse) {
  INFLIGHT_REQUIRE_VM(kDebian612);
  const std::string stress = "stress cycles --duration 4s --checkpoint 2s";
  const std::string leak_dir = d_.path() + "/leak", clean_dir = d_.path() + "/clean";
  const int64_t start = NowMicros();
  auto leaky = Vm(fetched_, "", stress, leak_dir);
  auto clean = Vm(fetched_, "", stress + " -O cycles.nested=0", clean_dir);
  EXPECT_LT(NowMicros() - start, 110'000'000) << "two boots and 8 s of stress";
  const auto lj = nlohmann::json::parse(ReadFile(leak_dir + "/report.json"));
  const auto cj = nlohmann::json::parse(ReadFile(clean_dir + "/report.json"));

  EXPECT_EQ(leaky.status, kExitFinding) << leaky.out;
  EXPECT_EQ(lj["guest_command"], "stress");
  EXPECT_EQ(lj["vm"]["guest_exit_status"], kExitFinding);
  EXPECT_TRUE(lj["vm"]["complete"].get<bool>()) << "the report came back";
  EXPECT_TRUE(lj.contains("stress")) << "the stress section came back too";
  ASSERT_FALSE(lj["runs"].empty()) << "each checkpoint is a run record";
  for (const auto& run : lj["runs"]) {
    EXPECT_EQ(run["scenario"], "cycles");
    EXPECT_EQ(run["file"], "stressors");
    EXPECT_EQ(run["mode"], "free");
  }
  EXPECT_EQ(Scenarios(lj, "leak"), std::set<std::string>{"cycles"}) << kSccIndexBug;
  EXPECT_EQ(lj["verdict"], "leak");

  EXPECT_EQ(clean.status, kExitClean) << clean.out;
  EXPECT_EQ(cj["vm"]["guest_exit_status"], kExitClean);
  ASSERT_FALSE(cj["runs"].empty());
  EXPECT_EQ(Scenarios(cj, "clean"), std::set<std::string>{"cycles"});
  EXPECT_TRUE(Scenarios(cj, "leak").empty()) << "no nested shapes, nothing this kernel leaks";

  auto cmp =
      RunCommand(CliPath() + " compare " + clean_dir + "/report.json " + leak_dir + "/report.json");
  EXPECT_EQ(cmp.status, kExitFinding) << cmp.out;
  EXPECT_NE(cmp.out.find("new:   leak|cycle("), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("ended worse: B's suite exited 1 (a finding) where A's exited 0"),
            std::string::npos)
      << cmp.out;
  cmp =
      RunCommand(CliPath() + " compare " + leak_dir + "/report.json " + clean_dir + "/report.json");
  EXPECT_EQ(cmp.status, kExitClean) << "the fix is not worse: " << cmp.out;
}

// `inflight check` in the guest: its stress smoke's checkpoints come back as run records,
// and its fuzz smoke, which cannot run there (no graph_fuzzer in the initramfs), says it
// was skipped instead of failing the check.
TEST_F(VmBoot, CheckInTheGuestBringsItsStressAndFuzzSmokesBack) {
  INFLIGHT_REQUIRE_VM(kDebian612);
  const std::string corpus = d_.path() + "/corpus";
  fs::create_directories(corpus);
  fs::copy(CorpusDir() + "/controls", corpus + "/controls");
  fs::copy(CorpusDir() + "/self_ref_stream.scn", corpus);
  const int64_t start = NowMicros();
  auto r =
      Vm(fetched_, "", "check --corpus " + corpus + " -n 1 --mode lockstep --stress 4s --fuzz 2s");
  EXPECT_LT(NowMicros() - start, 110'000'000);
  const auto j = Report();
  EXPECT_EQ(j["guest_command"], "check");
  EXPECT_TRUE(j["vm"]["complete"].get<bool>()) << r.out;
  EXPECT_TRUE(j["selftest"]["passed"].get<bool>()) << j["selftest"].dump(2);
  EXPECT_EQ(Scenarios(j, "clean").count("self_ref_stream"), 1u) << "the corpus ran";

  // Every stressor that could run here has its checkpoints in the host's report.
  std::set<std::string> ran, in_report;
  for (const auto& [name, st] : j["stress"]["stressors"].items())
    if (!st.contains("skipped")) ran.insert(name);
  for (const auto& run : j["runs"])
    if (run["file"] == "stressors") in_report.insert(run["scenario"].get<std::string>());
  EXPECT_FALSE(ran.empty()) << j["stress"].dump(2);
  EXPECT_EQ(in_report, ran);
  // Each epoch of `cycles` builds every nested shape once per builder, and this kernel
  // leaks two of them: the smoke's finding is a run record of the host's report, so the
  // gate sees it, and the exit status says so.
  EXPECT_EQ(Scenarios(j, "leak"), std::set<std::string>{"cycles"}) << kSccIndexBug;
  EXPECT_EQ(j["verdict"], "leak");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  EXPECT_EQ(j["vm"]["guest_exit_status"], kExitFinding);

  // The fuzz smoke runs in the guest with the static graph_fuzzer (it used to be skipped
  // there), and its folder comes back beside the report.
  ASSERT_TRUE(j.contains("fuzz_smoke")) << r.out;
  const auto& smoke = j["fuzz_smoke"];
  EXPECT_FALSE(smoke.contains("skipped")) << smoke.dump(2);
  const int status = smoke.value("status", -1);
  EXPECT_TRUE(status == kExitClean || status == kExitFinding) << smoke.dump(2);
  // It ran inputs: counted in execs, or (on this leaking kernel) the first inputs already
  // found the leak and the worker stopped before libFuzzer printed a count.
  EXPECT_GT(smoke.value("execs", uint64_t{0}) + smoke.value("findings", uint64_t{0}), 0u)
      << smoke.dump(2);
  EXPECT_TRUE(fs::exists(smoke.value("out", std::string()) + "/report.json")) << smoke.dump(2);
}

// The gate on a real kernel, as CI can run it: the same kernel on both sides passes (the
// leak both have is not the candidate's fault); a candidate whose guest prints a BUG line,
// or a candidate that does not boot, is worse.
class VmGate : public VmBoot {
 protected:
  testing::CommandResult Gate(const Fetched& base, const Fetched& cand, const std::string& dir,
                              const std::string& opts = "") {
    return RunCommand("TMPDIR=" + tmp_ + " " + CliPath() + " gate -q --baseline " + base.kernel +
                      " --baseline-modules " + base.root + " --candidate " + cand.kernel +
                      " --candidate-modules " + cand.root + " --report " + dir + " " + opts +
                      " -- run " + CorpusDir() + "/self_ref_stream.scn " + CorpusDir() +
                      "/mixed_lowpoint_stream.scn");
  }
};

TEST_F(VmGate, TheSameKernelPasses) {
  INFLIGHT_REQUIRE_VM(kDebian612);
  auto r = Gate(fetched_, fetched_, d_.path() + "/g");
  EXPECT_EQ(r.status, kExitClean) << r.out;
  EXPECT_NE(r.out.find("no difference in findings"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inflight gate: PASS"), std::string::npos) << r.out;
  auto g = nlohmann::json::parse(ReadFile(d_.path() + "/g/gate.json"));
  EXPECT_EQ(g["verdict"], "PASS");
  EXPECT_TRUE(g["introduced"].empty());
  for (const char* side : {"baseline", "candidate"}) {
    auto j = nlohmann::json::parse(ReadFile(d_.path() + "/g/" + side + "/report.json"));
    EXPECT_EQ(Scenarios(j, "leak"), std::set<std::string>{"mixed_lowpoint_stream"}) << side;
    EXPECT_TRUE(fs::exists(d_.path() + "/g/" + side + "/console.log"));
  }
}

// A stress run on the same kernel twice: the same shapes leak in every epoch, so their
// signatures match and the gate passes; the checkpoints of both sides are in their reports.
TEST_F(VmGate, TheSameKernelPassesUnderStress) {
  INFLIGHT_REQUIRE_VM(kDebian612);
  const std::string dir = d_.path() + "/g";
  auto r = RunCommand("TMPDIR=" + tmp_ + " " + CliPath() + " gate -q --baseline " +
                      fetched_.kernel + " --baseline-modules " + fetched_.root + " --candidate " +
                      fetched_.kernel + " --candidate-modules " + fetched_.root + " --report " +
                      dir + " -- stress cycles --duration 4s --checkpoint 2s");
  EXPECT_EQ(r.status, kExitClean) << r.out;
  EXPECT_NE(r.out.find("inflight gate: PASS"), std::string::npos) << r.out;
  for (const char* side : {"baseline", "candidate"}) {
    auto j = nlohmann::json::parse(ReadFile(dir + "/" + side + "/report.json"));
    EXPECT_EQ(Scenarios(j, "leak"), std::set<std::string>{"cycles"})
        << side << ": " << kSccIndexBug;
  }
}

TEST_F(VmGate, ACandidateWithAKernelFaultIsWorse) {
  INFLIGHT_REQUIRE_VM(kDebian612);
  auto r = Gate(fetched_, fetched_, d_.path() + "/g", "--inject bug");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  EXPECT_NE(r.out.find("new:   fault|kernel|BUG: inflight-vminit: fake kernel fault"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("inflight gate: CANDIDATE WORSE"), std::string::npos) << r.out;
  auto base = nlohmann::json::parse(ReadFile(d_.path() + "/g/baseline/report.json"));
  EXPECT_TRUE(base["vm"]["kernel_faults"].empty()) << "--inject is for the candidate only";
}

TEST_F(VmGate, ACandidateThatDoesNotBootIsWorse) {
  INFLIGHT_REQUIRE_VM(kDebian61);
  Fetched broken = fetched_;
  broken.kernel = d_.path() + "/vmlinuz-broken";
  fs::copy_file(fetched_.kernel, broken.kernel);
  {
    std::fstream f(broken.kernel, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(broken.kernel) / 2));
    const std::string zeros(256 * 1024, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  auto r = Gate(fetched_, broken, d_.path() + "/g");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  EXPECT_NE(r.out.find("CANDIDATE WORSE: the candidate does not boot"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace inflight
