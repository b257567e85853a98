// The suite's version and the commit it was built from, for --version and every report:
// a finding is only worth as much as knowing which inflight ruled it.
#pragma once

#include <string>

namespace inflight {

// "0.1.0": the project version of CMakeLists.txt.
const char* InflightVersion();
// The git commit the build came from ("3f2a9c1d0b4e", "+dirty" when the tree had
// uncommitted changes), or "unknown" outside a git checkout.
const char* InflightCommit();
// "0.1.0 (git 3f2a9c1d0b4e)".
std::string InflightVersionLine();

}  // namespace inflight
