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

std::string EncodeHello(const Hello& h) {
  WireWriter w;
  w.U8(h.ok);
  w.Str(h.error);
  w.Str(h.census_method);
  w.U8(h.protocols_check);
  w.U8(h.user_namespace);
  w.U32(h.slots);
  w.Str(h.kernel);
  w.U8(h.kernel_log);
  w.Str(h.kernel_log_why);
  w.U8(h.accounting);
  w.Str(h.accounting_why);
  return w.Take();
}

bool DecodeHello(std::string_view payload, Hello& h) {
  WireReader r(payload);
  h.ok = r.U8() != 0;
  h.error = r.Str();
  h.census_method = r.Str();
  h.protocols_check = r.U8() != 0;
  h.user_namespace = r.U8() != 0;
  h.slots = r.U32();
  h.kernel = r.Str();
  h.kernel_log = r.U8() != 0;
  h.kernel_log_why = r.Str();
  h.accounting = r.U8() != 0;
  h.accounting_why = r.Str();
  return r.ok() && r.AtEnd();
}

std::string EncodeRunRequest(const RunRequest& req) {
  WireWriter w;
  w.U64(req.id);
  w.U8(static_cast<uint8_t>(req.opt.mode));
  w.U64(req.opt.seed);
  w.U32(req.opt.timeout_ms);
  w.U32(req.opt.settle_ms);
  w.U32(req.opt.io_timeout_ms);
  w.Str(req.scenario_text);
  w.U8(req.opt.kcov);
  return w.Take();
}

bool DecodeRunRequest(std::string_view payload, RunRequest& req) {
  WireReader r(payload);
  req.id = r.U64();
  const uint8_t mode = r.U8();
  req.opt.mode = static_cast<RunMode>(mode);
  req.opt.seed = r.U64();
  req.opt.timeout_ms = r.U32();
  req.opt.settle_ms = r.U32();
  req.opt.io_timeout_ms = r.U32();
  req.scenario_text = r.Str();
  req.opt.kcov = r.U8() != 0;
  return r.ok() && r.AtEnd() && mode <= static_cast<uint8_t>(RunMode::kMaxValue);
}

std::string EncodeSummary(const std::vector<SlotAccounting>& slots) {
  WireWriter w;
  w.U32(static_cast<uint32_t>(slots.size()));
  for (const SlotAccounting& a : slots) {
    w.U32(a.uid);
    w.U32(a.runs);
    w.I32(a.baseline);
    w.I32(a.allowance);
  }
  return w.Take();
}

bool DecodeSummary(std::string_view payload, std::vector<SlotAccounting>& slots) {
  WireReader r(payload);
  slots.resize(r.Count(1 << 16));
  for (SlotAccounting& a : slots) {
    a.uid = r.U32();
    a.runs = r.U32();
    a.baseline = r.I32();
    a.allowance = r.I32();
  }
  return r.ok() && r.AtEnd();
}

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
      type != MsgType::kStress && type != MsgType::kSummary) {
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
