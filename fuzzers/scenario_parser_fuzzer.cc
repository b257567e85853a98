// scenario_parser_fuzzer: any text must either parse into a valid scenario or be
// rejected with a ParseError; never a crash, a hang or another exception. What parses
// must print canonically and parse back to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scenario/text.h"
#include "scenario/validate.h"

using namespace inflight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Scenario s;
  try {
    s = ParseScenario(text, "<fuzz>");
  } catch (const ParseError&) {
    return 0;
  }
  if (Validate(s)) abort();  // the parser returned an invalid scenario
  Canonicalize(s);
  const std::string printed = PrintScenario(s);
  Scenario again;
  try {
    again = ParseScenario(printed, "<printed>");
  } catch (const ParseError&) {
    abort();  // the canonical text of a valid scenario does not parse
  }
  if (!(again == s)) abort();
  if (PrintScenario(again) != printed) abort();
  return 0;
}
