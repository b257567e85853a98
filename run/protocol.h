// Messages between inflight (the driver) and inflight-sandbox (the fork server), over
// the sandbox's stdin and stdout: frames of a u32 length and a u8 type, then a payload
// in the base/wire.h encoding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "run/run_types.h"

namespace inflight {

enum class MsgType : uint8_t {
  kHello = 1,    // sandbox -> driver, once: ready (or why not)
  kRun = 2,      // driver -> sandbox: run a scenario
  kResult = 3,   // sandbox -> driver: one run's result (in any order)
  kStress = 4,   // driver -> sandbox: run a stressor for one epoch (run/stress_types.h)
  kSummary = 5,  // sandbox -> driver, after its input ended: per-slot accounting
  // sandbox -> driver, for a run with RunOptions::kcov: its kernel PCs as soon as its
  // graph ended, before it settles (its result follows, without them)
  kCoverage = 6,
};

inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct Hello {
  bool ok = false;
  std::string error;          // when !ok: why this machine cannot run the sandbox
  std::string census_method;  // "sock_diag" or "proc_net_unix"
  bool protocols_check = false;
  bool user_namespace = false;  // running unprivileged inside a user namespace
  uint32_t slots = 0;
  std::string kernel;          // uname -r
  bool kernel_log = false;     // /dev/kmsg readable: kernel evidence layer active
  std::string kernel_log_why;  // why not, when not
  bool accounting = false;     // graphs run as per-slot uids whose accounting is checked
  std::string accounting_why;
  bool operator==(const Hello&) const = default;
};

struct RunRequest {
  uint64_t id = 0;
  RunOptions opt;
  std::string scenario_text;  // canonical text; the sandbox parses and validates it again
  bool operator==(const RunRequest&) const = default;
};

// A run's kernel coverage (MsgType::kCoverage).
struct RunCoverage {
  uint64_t id = 0;
  std::vector<uint64_t> pcs;
  bool operator==(const RunCoverage&) const = default;
};

std::string EncodeFrame(MsgType type, std::string_view payload);
std::string EncodeHello(const Hello& h);
bool DecodeHello(std::string_view payload, Hello& h);
std::string EncodeRunRequest(const RunRequest& r);
bool DecodeRunRequest(std::string_view payload, RunRequest& r);
std::string EncodeSummary(const std::vector<SlotAccounting>& slots);
bool DecodeSummary(std::string_view payload, std::vector<SlotAccounting>& slots);
std::string EncodeRunCoverage(const RunCoverage& c);
bool DecodeRunCoverage(std::string_view payload, RunCoverage& c);

// Accumulates bytes and yields whole frames. A frame over kMaxFrameBytes or an unknown
// type latches an error.
class FrameReader {
 public:
  void Feed(const char* data, size_t n) { buf_.append(data, n); }
  // Next complete frame, if any.
  std::optional<std::pair<MsgType, std::string>> Next();
  bool error() const { return error_; }
  size_t buffered() const { return buf_.size(); }

 private:
  std::string buf_;
  size_t pos_ = 0;
  bool error_ = false;
};

// write(2) until done; EINTR-safe.
Status WriteAll(int fd, std::string_view data);

}  // namespace inflight
