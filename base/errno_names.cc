// Errno names from the C library's own table, so that they match what strace prints.
#include "base/errno_names.h"

#include <string.h>

#include <map>

#include "base/result.h"

namespace inflight {

namespace {

constexpr int kLargestErrno = 150;

const std::map<std::string, int, std::less<>>& NameTable() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, int, std::less<>>();
    for (int e = 1; e <= kLargestErrno; ++e) {
      if (const char* name = strerrorname_np(e)) t->emplace(name, e);
    }
    // Aliases glibc maps to one number keep their own spelling.
    t->emplace("EWOULDBLOCK", EWOULDBLOCK);
    return t;
  }();
  return *table;
}

}  // namespace

std::string ErrnoName(int err) {
  if (const char* name = strerrorname_np(err)) return name;
  return "E" + std::to_string(err);
}

std::optional<int> ErrnoFromName(std::string_view name) {
  const auto& table = NameTable();
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

std::string SysError::Text() const {
  if (err == 0) return call;
  return call + ": " + ErrnoName(err) + " (" + strerror(err) + ")";
}

}  // namespace inflight
