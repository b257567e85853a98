// The inputs a fuzzer in the guest is about to run, written to the kernel's log (and so to
// the console the host keeps) before each one runs, as syzkaller logs its programs: when
// the kernel panics or the guest hangs, the console still holds the last inputs it ran,
// in order, next to the kernel's own last words. Each input is one or more lines
// "inflight-input ID PART/PARTS BASE64" (a kmsg record holds under 1 KiB).
//
// Shared by both sides; pure logic, no syscalls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inflight {

inline constexpr std::string_view kInputLogTag = "inflight-input ";
// The environment variable that makes graph_fuzzer write the lines to /dev/kmsg.
inline constexpr const char* kInputLogEnv = "INFLIGHT_FUZZ_INPUT_LOG";

// The lines (without newline or kmsg level) that carry one input.
std::vector<std::string> InputLogLines(uint64_t id, std::string_view input);

struct LoggedInput {
  uint64_t id = 0;
  std::string bytes;
  size_t line = 0;  // 0-based line of the console where its last part was
};

// Every complete input in a console log, in the order they were written; parts that do
// not add up (an input cut off by the crash) are dropped. `before_line` (exclusive) keeps
// only those logged before a line, e.g. the first fault.
std::vector<LoggedInput> ParseInputLog(std::string_view console,
                                       size_t before_line = SIZE_MAX);

}  // namespace inflight
