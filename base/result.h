// Result<T>: a value or a SysError naming the failed call, for syscall-facing code.
//
// Errors carry the call as text ("sendmsg(fd=7, nfds=3)") and the errno, so that a message
// reads "sendmsg(fd=7, nfds=3): EBADF" and deduplicates by its constant call text.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace inflight {

struct SysError {
  int err = 0;       // errno value, 0 when the failure is not a syscall's
  std::string call;  // what was attempted, e.g. "open(/proc/self/net/unix)"

  // "call: ENAME (description)".
  std::string Text() const;
};

// Captures the current errno.
inline SysError Errno(std::string call) {
  return SysError{errno, std::move(call)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(SysError error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const SysError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, SysError> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(SysError error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const SysError& error() const { return error_; }

 private:
  SysError error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace inflight
