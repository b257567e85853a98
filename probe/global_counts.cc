// file-nr and slabinfo sampling, and the consistent-drift comparison.
#include "probe/global_counts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <sstream>

#include "base/file_util.h"

namespace inflight {

namespace {

constexpr const char* kCaches[] = {"filp", "sock_inode_cache", "UNIX", "UNIX-STREAM"};

}  // namespace

Result<int64_t> ParseFileNr(const std::string& text) {
  std::istringstream in(text);
  int64_t allocated = -1;
  if (!(in >> allocated) || allocated < 0) return SysError{EPROTO, "file-nr: unexpected format"};
  return allocated;
}

std::map<std::string, int64_t> ParseSlabinfo(const std::string& text) {
  std::map<std::string, int64_t> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name;
    int64_t active = 0;
    if (!(ls >> name >> active)) continue;
    for (const char* c : kCaches)
      if (name == c) out[name] = active;
  }
  return out;
}

int64_t FileNrSlack() {
  const long cpus = sysconf(_SC_NPROCESSORS_CONF);
  // percpu_counter_batch is max(32, 2 * CPUs).
  const int64_t batch = std::max<int64_t>(32, 2 * std::max<long>(cpus, 1));
  return 2 * batch * std::max<long>(cpus, 1);
}

Result<GlobalSample> SampleGlobal(bool flush_slabs) {
  if (flush_slabs) {
    for (const char* c : kCaches) {
      const std::string path = std::string("/sys/kernel/slab/") + c + "/shrink";
      const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) continue;  // a cache merged into another, or no sysfs: counts stay coarse
      [[maybe_unused]] ssize_t n = write(fd, "1", 1);
      close(fd);
    }
  }
  GlobalSample s;
  auto nr = ReadWholeFile("/proc/sys/fs/file-nr");
  if (!nr) return nr.error();
  auto files = ParseFileNr(*nr);
  if (!files) return files.error();
  s.files = *files;
  if (auto slab = ReadWholeFile("/proc/slabinfo")) s.slabs = ParseSlabinfo(*slab);
  return s;
}

std::vector<GlobalSample> SampleGlobalRepeatedly(int n, int gap_ms, bool flush_slabs) {
  std::vector<GlobalSample> out;
  for (int i = 0; i < n; ++i) {
    if (i) usleep(static_cast<useconds_t>(gap_ms) * 1000);
    if (auto s = SampleGlobal(flush_slabs)) out.push_back(std::move(*s));
  }
  return out;
}

std::vector<GlobalDrift> CompareGlobal(const std::vector<GlobalSample>& before,
                                       const std::vector<GlobalSample>& after) {
  std::vector<GlobalDrift> out;
  if (before.empty() || after.empty()) return out;
  auto drift = [&](const std::string& name, auto get) {
    GlobalDrift d{name, INT64_MIN, INT64_MAX};
    for (const auto& s : before) {
      int64_t v;
      if (!get(s, v)) return;
      d.before_max = std::max(d.before_max, v);
    }
    for (const auto& s : after) {
      int64_t v;
      if (!get(s, v)) return;
      d.after_min = std::min(d.after_min, v);
    }
    out.push_back(d);
  };
  drift("files", [](const GlobalSample& s, int64_t& v) {
    v = s.files;
    return s.files >= 0;
  });
  for (const char* c : kCaches) {
    drift(c, [c](const GlobalSample& s, int64_t& v) {
      auto it = s.slabs.find(c);
      if (it == s.slabs.end()) return false;
      v = it->second;
      return true;
    });
  }
  return out;
}

}  // namespace inflight
