// Reading a guest kernel's console log: the lines that are kernel faults (BUG, WARNING,
// KASAN, Oops, panic, lockups, hung tasks), each with a signature stable across kernels
// and boots, so that baseline and candidate compare by it.
//
// Pure logic, no syscalls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace inflight {

struct KernelFault {
  std::string kind;       // "BUG", "WARNING", "Oops", "panic", "UBSAN", "hung task", "stall", ...
  std::string line;       // the line as printed, without the timestamp
  std::string signature;  // kind and place, without numbers, addresses or line numbers
  std::vector<std::string> excerpt;  // this line and the ones that follow (the trace)
};

// Every distinct fault in `log`, in order, at most `max_faults`.
std::vector<KernelFault> ScanKernelLog(std::string_view log, size_t max_faults = 32);

// The message of a console line: without a "[    1.234567]" timestamp and a
// "[    T1]" caller prefix.
std::string_view KernelMessage(std::string_view line);

// "WARNING: CPU: 0 PID: 57 at net/unix/garbage.c:210 unix_del_edges+0x1ad/0x1c0" ->
// "WARNING: at net/unix/garbage.c unix_del_edges"; numbers and addresses elsewhere
// become N and ?.
std::string FaultSignature(std::string_view message);

// The kernel stopped for good before userspace (e.g. the decompressor's "-- System
// halted"): nothing more will come.
bool IsTerminalBootLine(std::string_view message);

// The last `n` non-empty lines of `log`, for messages.
std::vector<std::string> LastLines(std::string_view log, size_t n);

}  // namespace inflight
