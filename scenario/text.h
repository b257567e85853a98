// The .scn text form of a scenario: parse with positions in errors, print canonically.
//
// print(parse(t)) == t for every canonical text (the corpus is kept canonical), and
// parse(print(s)) == s for every valid scenario whose names are numbered in order of
// first appearance (Canonicalize makes them so). The grammar is in docs/scenario.md.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "scenario/scenario.h"

namespace inflight {

// A syntax or validation error at a position: what() is "file:line:col: message".
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string file, uint32_t line, uint32_t col, std::string message);
  const std::string& file() const { return file_; }
  uint32_t line() const { return line_; }
  uint32_t col() const { return col_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  uint32_t line_, col_;
  std::string message_;
};

// Parses and validates. `file` only names the source in errors.
Scenario ParseScenario(std::string_view text, std::string_view file = "<input>");

// Reads and parses a file; I/O errors are ParseErrors at 0:0.
Scenario LoadScenarioFile(const std::string& path);

// The canonical text.
std::string PrintScenario(const Scenario& s);

// One action's body as written after "proc: ", e.g. "send b [a] oob".
std::string PrintAction(const Scenario& s, const Action& a);

// Renumbers processes and variables in order of first appearance and drops unused
// variable names, so that parse(print(s)) == s. Keeps the scenario's meaning.
void Canonicalize(Scenario& s);

}  // namespace inflight
