// KCOV in a guest: graph_fuzzer inside a TCG guest booted from a suite kernel with KCOV
// (vm/build-kernels.sh correct-kcov) traces the kernel PCs of its graphs, says so and
// counts them in the report; the coverage page maps them to lines of net/unix/garbage.c,
// unix_gc among them. On a kernel without KCOV the report says it is off and why.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

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
  std::string correct, correct_kcov, vmlinux_kcov, skips_cycles_kcov;
  std::string skip;
};

const Kernels& Built() {
  static const Kernels k = [] {
    const testing::SuiteKernels found =
        testing::FindSuiteKernels({"correct", "correct-kcov", "gc-skips-cycles-kcov"},
                                  /*with_fuzzer=*/true);
    Kernels k;
    k.skip = found.skip;
    k.correct = found.Image("correct");
    k.correct_kcov = found.Image("correct-kcov");
    k.skips_cycles_kcov = found.Image("gc-skips-cycles-kcov");
    if (!k.skip.empty()) return k;
    // build-kernels.sh keeps a KCOV kernel's vmlinux beside it, for addr2line.
    k.vmlinux_kcov = fs::path(k.correct_kcov).parent_path() / "vmlinux-correct-kcov";
    if (!fs::exists(k.vmlinux_kcov)) k.skip = "FAIL: vm/build-kernels.sh left no " + k.vmlinux_kcov;
    return k;
  }();
  return k;
}

class VmKcov : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    tmp_ = d_.path() + "/t";
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    int st;
    const pid_t left = waitpid(-1, &st, WNOHANG);
    EXPECT_TRUE(left < 0 && errno == ECHILD) << "processes left behind";
    EXPECT_TRUE(fs::is_empty(tmp_)) << "a scratch folder was left in " << tmp_;
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  testing::CommandResult Vm(const std::string& kernel, const std::string& args,
                            const std::string& dir) {
    return RunCommand("TMPDIR=" + tmp_ + " " + CliPath() + " vm --accel tcg --kernel " + kernel +
                      " -q --report " + dir + " -- " + args);
  }
  TempDir d_;
  std::string tmp_;
};

TEST_F(VmKcov, GuidedFuzzCountsKernelPcsAndTheSeedsReachUnixGc) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/kcov";
  auto r = Vm(kernels_.correct_kcov, "fuzz -q --repro 0 --duration 20s", dir);
  ASSERT_EQ(r.status, kExitClean) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(j.contains("fuzz")) << r.out;
  const auto& f = j["fuzz"];
  const std::string said = f["kernel_coverage"];
  EXPECT_NE(said.find("KCOV"), std::string::npos) << said;
  ASSERT_TRUE(f["kernel_pcs"].is_object()) << f.dump(1);
  const size_t distinct = f["kernel_pcs"]["distinct"];
  EXPECT_GT(distinct, 100u) << "the graphs' syscalls reach af_unix.c, scm.c, file.c";
  EXPECT_GT(f["kernel_pcs"]["by_seeds"].get<size_t>(), 0u);
  EXPECT_NE(said.find(std::to_string(distinct) + " distinct kernel PCs"), std::string::npos)
      << said;
  // Guided: each input waits for its coverage, not for its ruling, and every run that came
  // back was traced ("N of N runs traced", N counting the inputs whose coverage came).
  const std::string log = ReadFile(dir + "/logs/worker-0.log");
  EXPECT_NE(log.find("graph fuzzer: mode guided,"), std::string::npos) << log.substr(0, 3000);
  std::smatch m;
  const std::string last = log.substr(log.rfind("==inflight== kernel pcs: ") == std::string::npos
                                          ? 0
                                          : log.rfind("==inflight== kernel pcs: "));
  ASSERT_TRUE(std::regex_search(last, m, std::regex(R"((\d+) of (\d+) runs traced)")))
      << log.substr(0, 3000);
  EXPECT_GT(std::stoul(m[2]), 0u);
  EXPECT_EQ(m[1], m[2]) << "a guided input came back without PCs: " << last;
  fprintf(stderr, "%s\n", said.c_str());
  RecordProperty("kernel_pcs", std::to_string(distinct));

  // The page: every PC mapped to lines; the seeds reach unix_gc (close of a socket while
  // descriptors are in flight), not the collector's work item (outside any graph).
  auto c = RunCommand(CliPath() + " cover " + dir + " --vmlinux " + kernels_.vmlinux_kcov);
  ASSERT_EQ(c.status, kExitClean) << c.out;
  const auto cj = nlohmann::json::parse(ReadFile(dir + "/cover.json"));
  EXPECT_GT(cj["pcs"].get<size_t>(), cj["pcs_seed"].get<size_t>());
  nlohmann::json garbage;
  for (const auto& file : cj["files"])
    if (file["file"] == "net/unix/garbage.c") garbage = file;
  ASSERT_TRUE(garbage.is_object()) << cj.dump(1).substr(0, 3000);
  EXPECT_FALSE(garbage["lines_seed"].empty());
  bool unix_gc = false;
  for (const auto& fn : garbage["functions"])
    unix_gc |= fn["name"] == "unix_gc" && fn["pcs_seed"].get<size_t>() > 0;
  EXPECT_TRUE(unix_gc) << garbage["functions"].dump(1);
  const std::string html = ReadFile(dir + "/cover.html");
  EXPECT_NE(html.find(">unix_gc</a>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"seed\""), std::string::npos);
}

// The guided mode's finding path in a guest: inputs wait only for their coverage, their
// rulings come later, and the leak a mutation makes is still found and named (seeds as in
// VmFuzz.FindsACollectorThatSkipsCyclesFromSeedsWithoutOne: no cycle of two sockets).
TEST_F(VmKcov, GuidedFuzzFindsACollectorThatSkipsCyclesFromSeedsWithoutOne) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/found";
  std::string seeds;
  for (const char* s : {"self_ref_stream", "closed_in_flight_not_cycle", "dup_in_flight",
                        "inflight_pipe_ends"})
    seeds += std::string(" --seeds ") + INFLIGHT_SOURCE_DIR + "/corpus/" + s + ".scn";
  auto r = Vm(kernels_.skips_cycles_kcov, "fuzz -q --repro 0 --stop-at-first --duration 3m" + seeds,
              dir);
  EXPECT_EQ(r.status, kExitFinding) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(j.contains("fuzz")) << r.out;
  const auto& f = j["fuzz"];
  EXPECT_NE(f["kernel_coverage"].get<std::string>().find("KCOV traces each graph"),
            std::string::npos)
      << f["kernel_coverage"];
  EXPECT_NE(ReadFile(dir + "/logs/worker-0.log").find("graph fuzzer: mode guided,"),
            std::string::npos);
  ASSERT_FALSE(f["findings"].empty()) << f.dump(1);
  bool ring = false;
  for (const auto& finding : f["findings"]) {
    const std::string sig = finding["signature"];
    ring |= sig.rfind("leak|", 0) == 0 && (sig.find("cycle(simple") != std::string::npos ||
                                           sig.find("cycle(nested") != std::string::npos);
    EXPECT_TRUE(fs::exists(dir + "/findings/" + finding["id"].get<std::string>() + "/input"));
  }
  EXPECT_TRUE(ring) << f["findings"].dump(1);
  fprintf(stderr, "guided: found after %.0f s at %.1f execs/s\n",
          f["findings"][0].value("first_seen_s", -1.0), f["execs_per_s"].get<double>());
}

TEST_F(VmKcov, AKernelWithoutKcovIsSaidToFuzzUnguided) {
  INFLIGHT_REQUIRE_KERNELS();
  const std::string dir = d_.path() + "/plain";
  auto r = Vm(kernels_.correct, "fuzz -q --repro 0 --duration 5s", dir);
  ASSERT_EQ(r.status, kExitClean) << r.out;
  const auto j = nlohmann::json::parse(ReadFile(dir + "/report.json"));
  ASSERT_TRUE(j.contains("fuzz")) << r.out;
  const std::string said = j["fuzz"]["kernel_coverage"];
  EXPECT_EQ(said.rfind("none", 0), 0u) << said;
  EXPECT_NE(said.find("CONFIG_KCOV"), std::string::npos) << said;
  EXPECT_TRUE(j["fuzz"]["kernel_pcs"].is_null());
  EXPECT_FALSE(fs::exists(dir + "/kcov"));
  auto c = RunCommand(CliPath() + " cover " + dir + " --vmlinux " + kernels_.vmlinux_kcov);
  EXPECT_EQ(c.status, kExitUsage) << c.out;
  EXPECT_NE(c.out.find("holds no kernel PCs"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace inflight
