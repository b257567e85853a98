// Finding modules and their dependencies in a module tree.
#include "vm/modules.h"

#include <fmt/core.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "vm/child_process.h"

namespace inflight {

namespace fs = std::filesystem;

namespace {

std::string Canonical(std::string name) {
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

// "unix_diag.ko.xz" -> "unix_diag"; "" when not a module file.
std::string ModuleName(const std::string& file) {
  for (const char* suffix : {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
    const std::string s = suffix;
    if (file.size() > s.size() && file.compare(file.size() - s.size(), s.size(), s) == 0)
      return Canonical(file.substr(0, file.size() - s.size()));
  }
  return "";
}

Result<std::string> ReadModule(const fs::path& p) {
  const std::string f = p.string();
  auto ends = [&](const char* s) { return f.size() > strlen(s) && f.ends_with(s); };
  if (ends(".xz")) {
    const std::string xz = FindOnPath("xz");
    if (xz.empty())
      return SysError{0, fmt::format("{}: needs xz to decompress (apt-get install xz-utils)", f)};
    return RunAndCapture({xz, "-dc", f});
  }
  if (ends(".zst")) {
    const std::string zstd = FindOnPath("zstd");
    if (zstd.empty()) return SysError{0, fmt::format("{}: needs zstd to decompress", f)};
    return RunAndCapture({zstd, "-dcq", f});
  }
  if (ends(".gz")) {
    const std::string gz = FindOnPath("gzip");
    if (gz.empty()) return SysError{0, fmt::format("{}: needs gzip to decompress", f)};
    return RunAndCapture({gz, "-dc", f});
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) return Errno(fmt::format("open({})", f));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<std::string> ModuleDepends(const std::string& ko) {
  std::vector<std::string> out;
  const std::string key = std::string(1, '\0') + "depends=";
  const size_t at = ko.find(key);
  if (at == std::string::npos) return out;
  const size_t start = at + key.size();
  const size_t end = ko.find('\0', start);
  const std::string list =
      ko.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    if (comma > pos) out.push_back(Canonical(list.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

Result<ModulePlan> CollectModules(const std::string& dir, const std::string& release,
                                  const std::vector<std::string>& wanted) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return SysError{ENOENT, fmt::format("--modules {}: not a folder", dir)};
  fs::path root = dir;
  if (!release.empty() && fs::is_directory(root / "lib" / "modules" / release, ec))
    root = root / "lib" / "modules" / release;
  else if (fs::is_directory(root / "lib" / "modules", ec))
    return SysError{0, fmt::format("--modules {}: no lib/modules/{} in it (the kernel's release); "
                                   "modules must match the kernel",
                                   dir, release)};
  std::map<std::string, fs::path> found;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = ModuleName(it->path().filename().string());
    if (!name.empty() && !found.count(name)) found[name] = it->path();
  }
  if (ec) return SysError{ec.value(), fmt::format("read the folder {}", root.string())};

  ModulePlan plan;
  std::set<std::string> done;
  // Depth first: dependencies before the module that needs them.
  std::function<Result<void>(const std::string&, int)> add = [&](const std::string& name,
                                                                 int depth) -> Result<void> {
    if (done.count(name)) return {};
    done.insert(name);
    auto it = found.find(name);
    if (it == found.end()) {
      plan.notes.push_back(
          fmt::format("{}: not in {} (built in, or missing)", name, root.string()));
      return {};
    }
    auto data = ReadModule(it->second);
    if (!data) return data.error();
    if (depth < 16)
      for (const std::string& dep : ModuleDepends(*data))
        if (auto s = add(dep, depth + 1); !s) return s;
    plan.modules.push_back({name, std::move(*data)});
    return {};
  };
  for (const std::string& w : wanted)
    if (auto s = add(Canonical(w), 0); !s) return s.error();
  return plan;
}

}  // namespace inflight
