// decoder_fuzzer: every byte string must decode into a scenario that passes Validate(),
// prints and parses back to itself, and re-encodes into bytes that decode to it again.
#include <cstdint>
#include <cstdlib>

#include "scenario/codec.h"
#include "scenario/text.h"
#include "scenario/validate.h"

using namespace inflight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Scenario s = DecodeScenario(data, size);
  if (Validate(s)) abort();
  if (!(DecodeScenario(data, size) == s)) abort();  // deterministic
  if (!(ParseScenario(PrintScenario(s), "<decoded>") == s)) abort();
  const auto bytes = EncodeScenario(s);
  if (!bytes || !(DecodeScenario(*bytes) == s)) abort();
  return 0;
}
