// Framing and encodings of the sandbox protocol.
#include "run/protocol.h"

#include <unistd.h>

#include <cstring>

#include "base/wire.h"

namespace inflight {

std::string EncodeFrame(MsgType type, std::string_view payload) {
  std::string out;
  const uint32_t len = static_cast<uint32_t>(payload.size() + 1);
  out.resize(4);
  memcpy(out.data(), &len, 4);
  out.push_back(static_cast<char>(type));
  out.append(payload);
  return out;
}

namespace {

// The field lists: one per message, for both directions (base/wire.h).
constexpr auto kHelloFields = [](auto& io, auto& h) {
  io.U8(h.ok);
  io.Str(h.error);
  io.Str(h.census_method);
  io.U8(h.protocols_check);
  io.U8(h.user_namespace);
  io.U32(h.slots);
  io.Str(h.kernel);
  io.U8(h.kernel_log);
  io.Str(h.kernel_log_why);
  io.U8(h.accounting);
  io.Str(h.accounting_why);
};

constexpr auto kRunRequestFields = [](auto& io, auto& req) {
  io.U64(req.id);
  io.U8(req.opt.mode);
  io.Require(req.opt.mode <= RunMode::kMaxValue);
  io.U64(req.opt.seed);
  io.U32(req.opt.timeout_ms);
  io.U32(req.opt.settle_ms);
  io.U32(req.opt.io_timeout_ms);
  io.Str(req.scenario_text);
  io.U8(req.opt.kcov);
};

constexpr auto kSummaryFields = [](auto& io, auto& slots) {
  io.List(slots, 1 << 16, [&](auto& a) {
    io.U32(a.uid);
    io.U32(a.runs);
    io.I32(a.baseline);
    io.I32(a.allowance);
  });
};

constexpr uint32_t kMaxCoveragePcs = 1 << 20;  // the graph keeps at most 1 << 16

constexpr auto kRunCoverageFields = [](auto& io, auto& c) {
  io.U64(c.id);
  io.List(c.pcs, kMaxCoveragePcs, [&](auto& pc) { io.U64(pc); });
};

}  // namespace

INFLIGHT_WIRE_CODEC(EncodeHello, DecodeHello, Hello, kHelloFields)
INFLIGHT_WIRE_CODEC(EncodeRunRequest, DecodeRunRequest, RunRequest, kRunRequestFields)
INFLIGHT_WIRE_CODEC(EncodeSummary, DecodeSummary, std::vector<SlotAccounting>, kSummaryFields)
INFLIGHT_WIRE_CODEC(EncodeRunCoverage, DecodeRunCoverage, RunCoverage, kRunCoverageFields)

std::optional<std::pair<MsgType, std::string>> FrameReader::Next() {
  if (error_) return std::nullopt;
  if (buf_.size() - pos_ < 4) return std::nullopt;
  uint32_t len;
  memcpy(&len, buf_.data() + pos_, 4);
  if (len == 0 || len > kMaxFrameBytes) {
    error_ = true;
    return std::nullopt;
  }
  if (buf_.size() - pos_ - 4 < len) return std::nullopt;
  const auto type = static_cast<MsgType>(static_cast<uint8_t>(buf_[pos_ + 4]));
  if (type != MsgType::kHello && type != MsgType::kRun && type != MsgType::kResult &&
      type != MsgType::kStress && type != MsgType::kSummary && type != MsgType::kCoverage) {
    error_ = true;
    return std::nullopt;
  }
  std::string payload = buf_.substr(pos_ + 5, len - 1);
  pos_ += 4 + len;
  if (pos_ > (1u << 16) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::make_pair(type, std::move(payload));
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write(sandbox channel)");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace inflight
