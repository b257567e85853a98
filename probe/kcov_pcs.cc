// The set of kernel PCs a fuzzing run reached and its file form (see kcov_pcs.h).
#include "probe/kcov_pcs.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace inflight {

size_t KernelPcSet::Add(const uint64_t* pcs, size_t n, bool seed) {
  size_t added = 0;
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = pcs_.try_emplace(pcs[i], seed);
    if (inserted) {
      ++added;
      seed_ += seed;
    } else if (seed && !it->second) {
      it->second = true;
      ++seed_;
    }
  }
  return added;
}

void KernelPcSet::Merge(const KernelPcSet& other) {
  for (const auto& [pc, seed] : other.pcs_) Add(&pc, 1, seed);
}

bool KernelPcSet::BySeed(uint64_t pc) const {
  auto it = pcs_.find(pc);
  return it != pcs_.end() && it->second;
}

std::vector<uint64_t> KernelPcSet::Sorted() const {
  std::vector<uint64_t> v;
  v.reserve(pcs_.size());
  for (const auto& [pc, _] : pcs_) v.push_back(pc);
  std::sort(v.begin(), v.end());
  return v;
}

std::string KernelPcSet::ToText() const {
  std::string s = std::string(kKcovPcsHeader) + "\n";
  s.reserve(s.size() + pcs_.size() * 22);
  for (uint64_t pc : Sorted()) s += fmt::format("{:016x} {}\n", pc, BySeed(pc) ? "seed" : "fuzz");
  return s;
}

bool KernelPcSet::FromText(std::string_view text, KernelPcSet& out, std::string* error) {
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line(text.substr(at, eol - at));
    at = eol + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.find(' ');
    const std::string hex = line.substr(0, sp);
    const std::string tag = sp == std::string::npos ? "" : line.substr(sp + 1);
    char* end = nullptr;
    const uint64_t pc = strtoull(hex.c_str(), &end, 16);
    if (hex.empty() || *end || (tag != "seed" && tag != "fuzz")) {
      if (error) *error = fmt::format("line {}: expected 'HEXPC seed|fuzz', got '{}'", line_no, line);
      return false;
    }
    out.Add(&pc, 1, tag == "seed");
  }
  return true;
}

bool LoadKernelPcDir(const std::string& dir, KernelPcSet& out, size_t* files, std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (files) *files = 0;
  if (!fs::is_directory(dir, ec)) return true;
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("pcs-", 0) == 0 && name.size() > 8 && name.substr(name.size() - 4) == ".txt")
      paths.push_back(e.path());
  }
  if (ec) {
    if (error) *error = fmt::format("{}: {}", dir, ec.message());
    return false;
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      if (error) *error = fmt::format("{}: cannot read", p.string());
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string why;
    if (!KernelPcSet::FromText(ss.str(), out, &why)) {
      if (error) *error = fmt::format("{}: {}", p.string(), why);
      return false;
    }
    if (files) ++*files;
  }
  return true;
}

}  // namespace inflight
