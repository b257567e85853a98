// Cutting the embedded C library for csource (see c_library.h).
#include "repro/c_library.h"

#include <stdexcept>

namespace inflight {

namespace {

// "do_NAME" when `line` (after the comment's opening) starts with "do_NAME:", else "".
std::string HelperName(std::string_view line) {
  if (!line.starts_with("do_")) return "";
  size_t end = 3;
  while (end < line.size() && (islower(static_cast<unsigned char>(line[end])) || line[end] == '_'))
    ++end;
  return end < line.size() && line[end] == ':' ? std::string(line.substr(0, end)) : "";
}

}  // namespace

std::string_view CLibraryText(std::string_view name) {
  for (const CLibraryFile& f : CLibraryFiles())
    if (f.name == name) return f.text;
  throw std::logic_error("csource: the C library has no " + std::string(name));
}

CLibraryPieces SplitHelpers(std::string_view text) {
  CLibraryPieces out;
  std::string* into = &out.prefix;
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    eol = eol == std::string_view::npos ? text.size() : eol + 1;
    const std::string_view line = text.substr(at, eol - at);
    std::string name;
    if (line.starts_with("/* ")) {
      name = HelperName(line.substr(3));
    } else if (line == "/*\n" && text.substr(eol).starts_with(" * ")) {
      name = HelperName(text.substr(eol + 3));
    }
    if (!name.empty()) {
      out.helpers.emplace_back(name, "");
      into = &out.helpers.back().second;
    }
    into->append(line);
    at = eol;
  }
  return out;
}

std::string WithoutLibraryInclude(std::string_view text) {
  std::string out(text);
  const std::string include = "#include \"repro.h\"\n";
  if (size_t at = out.find(include); at != std::string::npos) out.erase(at, include.size());
  return out;
}

}  // namespace inflight
