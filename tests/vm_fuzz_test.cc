// `inflight vm -- fuzz`: graph_fuzzer (the static build) inside a TCG guest on kernels
// built for the suite (vm/build-kernels.sh). A kernel whose collector skips cycles of two
// or more sockets is found from seeds without such a cycle; the correct kernel fuzzes
// clean for 2 minutes (issue 13's acceptance, in CI too); a guest that panics in the
// middle is a finding that carries the inputs it ran last, and the fuzz goes on in a new
// guest; the corpus, findings and logs come back into the host's --report folder, and a
// second boot with --resume goes on with them.
#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/exit_codes.h"
#include "tests/test_util.h"
#include "tests/vm_kernels.h"

namespace inflight {
namespace {

namespace fs = std::filesystem;
using testing::CliPath;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

struct Kernels {
  std::string correct;
  std::string skips_cycles;
  std::string skip;  // why they cannot be had here
};

const Kernels& Built() {
  static const Kernels k = [] {
    const auto s = testing::FindSuiteKernels({"correct", "gc-skips-cycles"}, /*with_fuzzer=*/true);
    return Kernels{s.Image("correct"), s.Image("gc-skips-cycles"), s.skip};
  }();
  return k;
}

// Seeds without a cycle of two or more sockets: what the broken collector gets wrong must
// be made by mutation. (A self-reference is a one-socket cycle, which it still frees.)
std::string SeedArgs(const char* prefix = "--seeds ") {
  std::string out;
  for (const char* s : {"self_ref_stream", "closed_in_flight_not_cycle", "dup_in_flight",
                        "inflight_pipe_ends"})
    out += std::string(" ") + prefix + INFLIGHT_SOURCE_DIR + "/corpus/" + s + ".scn";
  return out;
}

// A leak whose classes include a cycle of two or more sockets (`cycle(simple...)` or
// `cycle(nested...)`), alone or beside others: a run can leave a self-reference too, and the
// classes are joined with '+' in name order (`leak|cycle(self)+cycle(simple)|socket`).
bool LeaksARingOrNest(const std::string& sig) {
  return sig.rfind("leak|", 0) == 0 && (sig.find("cycle(simple") != std::string::npos ||
                                        sig.find("cycle(nested") != std::string::npos);
}

// As in vm_gate_test: we are the subreaper and TMPDIR is ours, so that nothing may be
// left behind: no QEMU, no scratch folder.
class VmFuzz : public ::testing::Test {
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

  testing::CommandResult Vm(const std::string& kernel, const std::string& args,
                            const std::string& dir, const std::string& vm_args = "") {
    return RunCommand("TMPDIR=" + tmp_ + " " + CliPath() + " vm --accel tcg --kernel " + kernel +
                      " -q --report " + dir + vm_args + " -- " + args);
  }

  static size_t Files(const fs::path& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
      n += it->is_regular_file();
    return n;
  }

  TempDir d_;
  std::string tmp_;
};

TEST_F(VmFuzz, FindsACollectorThatSkipsCyclesFromSeedsWithoutOne) {
  INFLIGHT_REQUIRE_KERNELS();
  // The seeds alone are clean on this kernel: what is found, mutation made.
  auto seeds = Vm(kernels_.skips_cycles, "run -n 2" + SeedArgs(""), d_.path() + "/seeds");
  ASSERT_EQ(seeds.status, kExitClean) << seeds.out;
  const std::string dir = d_.path() + "/found";
  auto r = Vm(kernels_.skips_cycles,
              "fuzz --duration 3m --stop-at-first --repro 3 -q" + SeedArgs(), dir);
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  EXPECT_EQ(j["guest_command"], "fuzz");
  ASSERT_TRUE(j.contains("fuzz")) << j.dump(1).substr(0, 4000);
  const auto& f = j["fuzz"];
  EXPECT_EQ(f["seeds"], 4) << "seeded from --seeds only";
  EXPECT_GT(f["execs"].get<uint64_t>(), 0u);
  ASSERT_FALSE(f["findings"].empty()) << f.dump(1) << r.out;
  bool cycle = false;
  for (const auto& finding : f["findings"]) {
    const std::string sig = finding["signature"];
    cycle |= LeaksARingOrNest(sig);
    // Everything about it came back into the host's folder.
    const std::string id = finding["id"];
    SCOPED_TRACE(sig);
    EXPECT_TRUE(fs::exists(dir + "/findings/" + id + "/input"));
    EXPECT_NE(ReadFile(dir + "/findings/" + id + "/scenario.scn").find("socket"),
              std::string::npos);
    EXPECT_TRUE(fs::exists(dir + "/findings/" + id + "/meta.json"));
    EXPECT_EQ(finding["repro"]["runs"], 3) << "re-run in the guest for its leak rate";
    for (const auto& a : finding["artifacts"])
      EXPECT_TRUE(fs::exists(a.get<std::string>())) << "paths name the host's copy: " << a;
  }
  EXPECT_TRUE(cycle) << "a leaked cycle of two or more sockets: " << f["findings"].dump(1);
  const double found_s = f["findings"][0].value("first_seen_s", -1.0);
  EXPECT_GE(found_s, 0.0);
  RecordProperty("seconds_to_first_finding", std::to_string(found_s));
  RecordProperty("guest_execs_per_s", std::to_string(f["execs_per_s"].get<double>()));
  fprintf(stderr, "found after %.0f s of fuzzing at %.1f execs/s\n", found_s,
          f["execs_per_s"].get<double>());
  EXPECT_GT(Files(dir + "/corpus"), 4u) << "the corpus came back, grown";
  EXPECT_TRUE(fs::exists(dir + "/logs/worker-0.log"));
  EXPECT_EQ(f["out"], fs::absolute(dir).string()) << "the report names the host's folder";
  // The gate sees fuzz findings by signature.
  bool run_record = false;
  for (const auto& run : j["runs"])
    run_record |= run["scenario"].get<std::string>().rfind("finding_", 0) == 0;
  EXPECT_TRUE(run_record) << "the re-runs are run records";
}

TEST_F(VmFuzz, TheCorrectKernelFuzzesCleanAndResumeGoesOnAcrossBoots) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/clean";
  const std::string duration = "2m";
  auto r = Vm(kernels_.correct, "fuzz -q --duration " + duration, dir);
  EXPECT_EQ(r.status, kExitClean) << r.out;
  auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(j.contains("fuzz")) << r.out;
  EXPECT_TRUE(j["fuzz"]["findings"].empty()) << j["fuzz"]["findings"].dump(1);
  EXPECT_EQ(j["verdict"], "clean");
  const uint64_t execs = j["fuzz"]["execs"];
  EXPECT_GT(execs, 50u) << "the guest fuzzed";
  EXPECT_GT(j["fuzz"]["seeds"].get<size_t>(), 40u) << "seeded from the whole corpus";
  const size_t corpus = Files(dir + "/corpus");
  EXPECT_GE(corpus, j["fuzz"]["seeds"].get<size_t>());
  RecordProperty("guest_execs_per_s", std::to_string(j["fuzz"]["execs_per_s"].get<double>()));
  fprintf(stderr, "clean: %llu execs in %s at %.1f/s\n", static_cast<unsigned long long>(execs),
          duration.c_str(), j["fuzz"]["execs_per_s"].get<double>());

  // A second boot goes on with the corpus of the first, in free-run this time (--mode
  // free: the processes race the collector), and stays clean on this kernel too.
  auto again = Vm(kernels_.correct, "fuzz -q --resume --mode free --duration 40s", dir);
  EXPECT_EQ(again.status, kExitClean) << again.out;
  auto k = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(k.contains("fuzz")) << again.out;
  EXPECT_EQ(k["fuzz"]["run_mode"], "free");
  EXPECT_TRUE(k["fuzz"]["findings"].empty()) << k["fuzz"]["findings"].dump(1);
  EXPECT_GT(k["fuzz"]["execs"].get<uint64_t>(), 50u) << "the free-run boot fuzzed (execs of this boot)";
  EXPECT_GT(k["fuzz"]["resumed_seconds"].get<double>(), 20.0) << "state.json went in and out";
  EXPECT_GE(Files(dir + "/corpus"), corpus);
  EXPECT_EQ(k["fuzz"]["seeds"], j["fuzz"]["seeds"]) << "not seeded again";
}

TEST_F(VmFuzz, AGuestThatPanicsWhileFuzzingIsAFindingWithItsLastInputs) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/panic";
  // Every boot's init exits 10 s into the suite: the first guest goes down, the fuzz goes
  // on in a second one (--resume, for the time left), which goes down too.
  auto r = Vm(kernels_.correct, "fuzz -q --duration 60s", dir, " --inject panic-later");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  EXPECT_EQ(j["vm"]["end"], "guest-crashed") << j["vm"]["why"];
  ASSERT_TRUE(j["vm"].contains("earlier_boots")) << r.out;
  EXPECT_GE(j["vm"]["earlier_boots"].size(), 1u);
  EXPECT_NE(r.out.find("going on in a new guest"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/boot-1/console.log"));
  EXPECT_FALSE(fs::is_empty(dir + "/boot-1/last-inputs")) << "the first boot's suspects kept";
  size_t kernel_records = 0;
  for (const auto& run : j["runs"])
    kernel_records += run["scenario"].get<std::string>().rfind("[kernel] ", 0) == 0;
  EXPECT_GE(kernel_records, 2u) << "each boot's panic is a finding";
  const auto& last = j["vm"]["last_inputs"];
  ASSERT_FALSE(last.empty()) << "the console held the inputs run before the panic";
  EXPECT_LE(last.size(), 16u);
  for (const auto& in : last) {
    EXPECT_TRUE(fs::exists(dir + "/" + in["input"].get<std::string>())) << in;
    EXPECT_NE(ReadFile(dir + "/" + in["scenario"].get<std::string>()).find("p0"),
              std::string::npos)
        << "decoded: " << in;
  }
  bool fault = false, named = false;
  for (const auto& run : j["runs"]) {
    if (run["scenario"].get<std::string>().rfind("[kernel] ", 0) != 0) continue;
    fault = true;
    for (const auto& line : run["faults"])
      named |= line.get<std::string>().find("last-inputs/") != std::string::npos;
  }
  EXPECT_TRUE(fault) << "the panic is a kernel finding";
  EXPECT_TRUE(named) << "and it names the inputs";
}

// A fleet (`--vms 2`, docs/fleet.md): both guests fuzz the kernel whose collector skips
// cycles; the fleet's report lists each signature once, with exactly the guests whose own
// report has it.
TEST_F(VmFuzz, AFleetOfTwoCountsEachFindingOnceWithTheGuestsThatFoundIt) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/fleet";
  auto r =
      Vm(kernels_.skips_cycles, "fuzz --duration 40s --repro 0 -q" + SeedArgs(), dir, " --vms 2");
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(j.contains("fuzz")) << r.out;
  // No re-runs: the guests' runs are empty, and the finds alone make the verdict (it said
  // clean before, beside exit status 1).
  EXPECT_EQ(j["runs"].size(), 0u);
  EXPECT_EQ(j["verdict"], "leak") << j["fuzz"]["findings"].dump(1);
  const auto& f = j["fuzz"];
  EXPECT_EQ(f["guests"], 2);
  ASSERT_EQ(f["per_guest"].size(), 2u);
  std::map<std::string, std::set<size_t>> by_guests;  // from each guest's own report
  uint64_t execs = 0;
  for (size_t k = 0; k < 2; ++k) {
    const auto g =
        nlohmann::json::parse(ReadFile(dir + "/guest-" + std::to_string(k) + "/report.json"));
    ASSERT_TRUE(g.contains("fuzz")) << "guest " << k << ": " << r.out;
    execs += g["fuzz"]["execs"].get<uint64_t>();
    for (const auto& one : g["fuzz"]["findings"])
      by_guests[one["signature"].get<std::string>()].insert(k);
  }
  EXPECT_EQ(f["execs"].get<uint64_t>(), execs) << "the fleet's execs are the guests' sum";
  ASSERT_FALSE(by_guests.empty()) << r.out;
  std::set<std::string> seen;
  bool cycle = false;
  for (const auto& one : f["findings"]) {
    const std::string sig = one["signature"];
    SCOPED_TRACE(sig);
    EXPECT_TRUE(seen.insert(sig).second) << "counted once";
    EXPECT_EQ(one["guests"].get<std::set<size_t>>(), by_guests[sig]);
    EXPECT_TRUE(fs::exists(dir + "/findings/" + one["id"].get<std::string>() + "/input"));
    cycle |= LeaksARingOrNest(sig);
    fprintf(stderr, "fleet finding %s by %zu guest(s)\n", sig.c_str(), one["guests"].size());
  }
  EXPECT_EQ(seen.size(), by_guests.size()) << "every guest's signature, once";
  EXPECT_TRUE(cycle) << "the planted leak: " << f["findings"].dump(1);
  EXPECT_GE(Files(dir + "/corpus"), 4u) << "the union of the guests' corpora";
  // The corpus is shared while they run: a guest was given what the other found.
  size_t given = 0;
  for (const auto& g : f["per_guest"]) {
    EXPECT_GT(g["execs"].get<uint64_t>(), 0u) << g.dump();
    given += g["corpus_given"].get<size_t>();
  }
  EXPECT_GT(given, 0u) << r.out;
  fprintf(stderr, "fleet of 2: %.1f execs/s in all\n", f["execs_per_s"].get<double>());
}

}  // namespace
}  // namespace inflight
