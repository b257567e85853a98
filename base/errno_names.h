// Symbolic errno names both ways ("EAGAIN" <-> 11), for scenario text and reports.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace inflight {

// "EAGAIN" for 11; "E<number>" when the C library has no name for it.
std::string ErrnoName(int err);

// 11 for "EAGAIN"; nullopt for an unknown name. Accepts only names, not numbers.
std::optional<int> ErrnoFromName(std::string_view name);

}  // namespace inflight
