// The distinct kernel PCs a fuzzing run reached, each marked by whether a seed input
// reached it or only fuzzing did: what graph_fuzzer writes into OUT/kcov/ (one file per
// worker process), what `inflight fuzz` counts into its report, and what `inflight cover`
// maps to lines. The file is text, one PC a line: "ffffffff8123abcd seed" or "... fuzz".
//
// Threading: none; plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace inflight {

inline constexpr const char* kKcovPcsHeader = "# inflight kernel pcs 1";

class KernelPcSet {
 public:
  // Adds a run's PCs; `seed`: the run was of a seed input. Returns how many were new.
  size_t Add(const uint64_t* pcs, size_t n, bool seed);
  // Takes in another set: a PC is a seed PC if either says so.
  void Merge(const KernelPcSet& other);

  size_t size() const { return pcs_.size(); }
  size_t seed_count() const { return seed_; }
  bool empty() const { return pcs_.empty(); }
  bool Contains(uint64_t pc) const { return pcs_.count(pc) != 0; }
  // Whether a seed reached it (false also when it is not in the set).
  bool BySeed(uint64_t pc) const;
  // Every PC, ascending.
  std::vector<uint64_t> Sorted() const;

  std::string ToText() const;  // the header, then PCs ascending
  // Parses ToText()'s form; on a malformed line returns false with *error = "line N: why".
  static bool FromText(std::string_view text, KernelPcSet& out, std::string* error);

 private:
  std::unordered_map<uint64_t, bool> pcs_;  // pc -> reached by a seed
  size_t seed_ = 0;
};

// Reads every pcs-*.txt file of `dir` (OUT/kcov) into one set. A missing folder is an
// empty set; an unreadable or malformed file is an error ("FILE: line N: why").
bool LoadKernelPcDir(const std::string& dir, KernelPcSet& out, size_t* files, std::string* error);

}  // namespace inflight
