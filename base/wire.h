// A small binary encoding for messages between inflight and inflight-sandbox.
//
// Little-endian fixed-width integers and length-prefixed strings. A Reader never reads
// past its input: on underflow it latches !ok() and returns zeros, so a truncated or
// hostile message is rejected by one check at the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace inflight {

class WireWriter {
 public:
  void U8(uint8_t v) { Raw(&v, 1); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I32(int32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
  }
  const std::string& data() const { return buf_; }
  std::string Take() { return std::move(buf_); }

 private:
  void Raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string buf_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  uint8_t U8() { return Get<uint8_t>(); }
  uint16_t U16() { return Get<uint16_t>(); }
  uint32_t U32() { return Get<uint32_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  int32_t I32() { return Get<int32_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  std::string Str() {
    uint32_t n = U32();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  // A count that must not exceed `limit`; latches !ok() otherwise.
  uint32_t Count(uint32_t limit) {
    uint32_t n = U32();
    if (n > limit) ok_ = false;
    return ok_ ? n : 0;
  }
  bool ok() const { return ok_; }
  bool AtEnd() const { return in_.empty(); }

 private:
  template <typename T>
  T Get() {
    T v{};
    if (!ok_ || in_.size() < sizeof(T)) {
      ok_ = false;
      return v;
    }
    __builtin_memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace inflight
