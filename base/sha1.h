// SHA-1 of a byte string as 40 hex digits: the name libFuzzer gives an input
// (crash-<sha1>), so artifacts the graph fuzzer writes itself are named the same way.
// Not for security.
#pragma once

#include <string>
#include <string_view>

namespace inflight {

std::string Sha1Hex(std::string_view data);

}  // namespace inflight
