#include "base/version.h"

#include "base/version_commit.h"  // generated at build time by base/git_commit.cmake

namespace inflight {

const char* InflightVersion() { return INFLIGHT_VERSION; }
const char* InflightCommit() { return INFLIGHT_GIT_COMMIT; }
std::string InflightVersionLine() {
  return std::string(InflightVersion()) + " (git " + InflightCommit() + ")";
}

}  // namespace inflight
