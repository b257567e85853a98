// The fuzzer's byte form of a scenario: every byte string decodes to a valid, bounded
// Scenario (DecodeScenario), and every valid Scenario encodes to bytes that decode back
// to its codec form (EncodeScenario, CodecForm).
//
// Decoding is deterministic and pinned by tests with fixed inputs and known outputs:
// any change of it breaks every saved corpus and crash artifact, so change it only with
// a new format version and say so in docs/fuzzing.md.
//
// The form keeps what a run depends on (processes, variables, actions and their
// operands and options) and drops presentation (names, comments, about/ref lines) and
// expect= (a fuzzed scenario has no expectations but the kernel's own invariants).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "scenario/scenario.h"

namespace inflight {

// The name every decoded scenario carries.
inline constexpr const char* kDecodedScenarioName = "decoded";

// Abstract addresses a single byte can name; any other address is spelled out. The last
// one is where the test-only holder listens (see docs/fuzzing.md).
inline constexpr std::string_view kCodecAddresses[] = {"a", "b", "c", "d",
                                                       "e", "f", "g", "inflight-hold"};

// Decodes any bytes into a scenario that passes Validate(). Never throws.
Scenario DecodeScenario(const uint8_t* data, size_t size);
inline Scenario DecodeScenario(std::string_view bytes) {
  return DecodeScenario(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// What the codec keeps of a valid scenario: processes p0.., variables v0.. in order of
// first appearance, no presentation, no expect= and no recv creds=PROC (assertions), the
// name kDecodedScenarioName.
Scenario CodecForm(const Scenario& s);

// Bytes that decode to CodecForm(s). `s` must pass Validate(); returns nullopt otherwise.
std::optional<std::string> EncodeScenario(const Scenario& s);

}  // namespace inflight
