// Exceptions used only at the edges (CLI parsing, scenario syntax, process launch) and
// caught in main, where each maps to one exit status of base/exit_codes.h.
#pragma once

#include <stdexcept>
#include <string>

#include "base/exit_codes.h"

namespace inflight {

// Bad usage or bad input: exit 2. The message already carries file:line:col if any.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// This machine cannot run what was asked (no namespaces, no QEMU, ...): exit 3.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bug of ours (broken protocol, impossible state): exit 4.
class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace inflight
