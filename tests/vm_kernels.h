// The kernels and tools the vm-label tests need, found once per test binary: QEMU, the
// static build (and its graph_fuzzer), and the suite's kernels from vm/build-kernels.sh.
// What cannot be had here is a skip with its reason; a build script that fails otherwise
// than "this machine cannot build" (exit 3) is a failure.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "tests/test_util.h"

namespace inflight::testing {

// "" when QEMU tests can run here, else why not.
inline std::string WhyNoVm(bool with_fuzzer = false) {
  if (RunCommand("command -v qemu-system-x86_64").status != 0)
    return "no qemu-system-x86_64 (scripts/install-deps.sh installs qemu-system-x86)";
  const std::string self = CliPath();
  const std::string dir = self.substr(0, self.rfind('/')) + "/static";
  if (!std::filesystem::exists(dir + "/inflight"))
    return "the build has no static binaries (INFLIGHT_STATIC is off)";
  if (with_fuzzer && !std::filesystem::exists(dir + "/graph_fuzzer"))
    return "the build has no static graph_fuzzer (it needs clang with INFLIGHT_FUZZERS and "
           "INFLIGHT_STATIC)";
  return "";
}

struct SuiteKernels {
  std::map<std::string, std::string> images;  // "correct" -> .../bzImage-correct
  std::string skip;  // why they cannot be had here; "FAIL: ..." when that is a failure
  std::string Image(const std::string& name) const {
    auto it = images.find(name);
    return it == images.end() ? "" : it->second;
  }
};

// vm/build-kernels.sh --print NAMES: the path of each bzImage-NAME (built when missing).
inline SuiteKernels FindSuiteKernels(const std::vector<std::string>& names,
                                     bool with_fuzzer = false) {
  SuiteKernels k;
  k.skip = WhyNoVm(with_fuzzer);
  if (!k.skip.empty()) return k;
  std::string cmd = std::string(INFLIGHT_SOURCE_DIR) + "/vm/build-kernels.sh --print";
  for (const std::string& n : names) cmd += " " + n;
  auto r = RunCommand(cmd);
  if (r.status == kExitEnvironment) {
    k.skip = "cannot build the suite's kernels here: " + r.out;
    return k;
  }
  for (size_t at = 0; at < r.out.size();) {
    const size_t eol = r.out.find('\n', at);
    const std::string line = r.out.substr(at, eol - at);
    for (const std::string& n : names) {
      const std::string tail = "/bzImage-" + n;
      if (!line.empty() && line[0] == '/' && line.size() > tail.size() &&
          line.compare(line.size() - tail.size(), tail.size(), tail) == 0)
        k.images[n] = line;
    }
    at = eol == std::string::npos ? r.out.size() : eol + 1;
  }
  if (r.status != 0 || k.images.size() != names.size())
    k.skip = "FAIL: vm/build-kernels.sh exited " + std::to_string(r.status) + ": " + r.out;
  return k;
}

}  // namespace inflight::testing

// In a test body, with a `Built()` in scope returning an object with a `skip` string:
// binds it to `kernels_`, fails or skips as its `skip` says.
#define INFLIGHT_REQUIRE_KERNELS()                                            \
  const auto& kernels_ = Built();                                             \
  do {                                                                        \
    if (kernels_.skip.rfind("FAIL: ", 0) == 0) FAIL() << kernels_.skip;       \
    if (!kernels_.skip.empty()) GTEST_SKIP() << "skipped: " << kernels_.skip; \
  } while (0)
