// A small binary encoding for messages between inflight and inflight-sandbox.
//
// Little-endian fixed-width integers and length-prefixed strings. A Reader never reads
// past its input: on underflow it latches !ok() and returns zeros, so a truncated or
// hostile message is rejected by one check at the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  template <typename T>
  void Raw(T v) {
    Raw(&v, sizeof v);
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
  uint8_t U8() { return Raw<uint8_t>(); }
  uint16_t U16() { return Raw<uint16_t>(); }
  uint32_t U32() { return Raw<uint32_t>(); }
  uint64_t U64() { return Raw<uint64_t>(); }
  int32_t I32() { return Raw<int32_t>(); }
  int64_t I64() { return Raw<int64_t>(); }
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

  template <typename T>
  T Raw() {
    T v{};
    if (!ok_ || in_.size() < sizeof(T)) {
      ok_ = false;
      return v;
    }
    __builtin_memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }

 private:
  std::string_view in_;
  bool ok_ = true;
};

// One field list per message serves both directions, as scenario/codec.cc does for
// scenarios: a message's field list, `[](auto& io, auto& m) { io.U64(m.id); ... }`, names
// every field once, in wire order, with its width; WireOut writes them from a const
// message, WireIn reads them into one. Values are cast to and from the width (bools are
// 0/1, enums their underlying value). Reading latches !ok() on underflow, on a count over
// its limit and on a failed Require(), and Done() holds only for a whole, valid message.
template <typename Io>
class WireFields {
 public:
  template <typename T>
  void U8(T&& v) {
    self().template Int<uint8_t>(v);
  }
  template <typename T>
  void U16(T&& v) {
    self().template Int<uint16_t>(v);
  }
  template <typename T>
  void U32(T&& v) {
    self().template Int<uint32_t>(v);
  }
  template <typename T>
  void U64(T&& v) {
    self().template Int<uint64_t>(v);
  }
  template <typename T>
  void I32(T&& v) {
    self().template Int<int32_t>(v);
  }
  template <typename T>
  void I64(T&& v) {
    self().template Int<int64_t>(v);
  }

 private:
  Io& self() { return static_cast<Io&>(*this); }
};

class WireOut : public WireFields<WireOut> {
 public:
  template <typename W, typename T>
  void Int(const T& v) {
    w_.Raw(static_cast<W>(v));
  }
  void Str(const std::string& s) { w_.Str(s); }
  // A u32 count, then each element through `each`.
  template <typename T, typename F>
  void List(const std::vector<T>& v, uint32_t /*limit*/, F&& each) {
    w_.U32(static_cast<uint32_t>(v.size()));
    for (const T& x : v) each(x);
  }
  void Require(bool /*valid*/) {}
  std::string Take() { return w_.Take(); }

 private:
  WireWriter w_;
};

class WireIn : public WireFields<WireIn> {
 public:
  explicit WireIn(std::string_view in) : r_(in) {}
  template <typename W, typename T>
  void Int(T& v) {
    v = static_cast<T>(r_.Raw<W>());
  }
  void Str(std::string& s) { s = r_.Str(); }
  // At most `limit` elements; stops at the first element that did not read whole.
  template <typename T, typename F>
  void List(std::vector<T>& v, uint32_t limit, F&& each) {
    v.resize(r_.Count(limit));
    for (T& x : v) {
      each(x);
      if (!ok()) return;
    }
  }
  // What was read so far must satisfy `valid` (an enum in range, ...).
  void Require(bool valid) { valid_ = valid_ && valid; }
  bool ok() const { return valid_ && r_.ok(); }
  bool Done() const { return ok() && r_.AtEnd(); }

 private:
  WireReader r_;
  bool valid_ = true;
};

// A message through its field list: its bytes, and back (false unless whole and valid).
template <typename M, typename Fields>
std::string EncodeWith(const M& m, Fields fields) {
  WireOut out;
  fields(out, m);
  return out.Take();
}
template <typename M, typename Fields>
bool DecodeWith(std::string_view bytes, M& m, Fields fields) {
  WireIn in(bytes);
  fields(in, m);
  return in.Done();
}

// Defines a message's `std::string Encode(const Type&)` and
// `bool Decode(std::string_view, Type&)` from its one field list.
#define INFLIGHT_WIRE_CODEC(Encode, Decode, Type, fields) \
  std::string Encode(const Type& m) {                     \
    return EncodeWith(m, fields);                         \
  }                                                       \
  bool Decode(std::string_view bytes, Type& m) {          \
    return DecodeWith(bytes, m, fields);                  \
  }

}  // namespace inflight
