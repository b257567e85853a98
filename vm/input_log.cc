// Writing and reading the guest's log of fuzzer inputs.
#include "vm/input_log.h"

#include <fmt/core.h>

#include <charconv>
#include <map>

#include "vm/channel.h"

namespace inflight {

namespace {

constexpr size_t kChunk = 600;  // base64 characters per line

}  // namespace

std::vector<std::string> InputLogLines(uint64_t id, std::string_view input) {
  const std::string b64 = Base64Encode(input);
  const size_t parts = std::max<size_t>(1, (b64.size() + kChunk - 1) / kChunk);
  std::vector<std::string> out;
  for (size_t k = 0; k < parts; ++k)
    out.push_back(fmt::format("{}{} {}/{} {}", kInputLogTag, id, k + 1, parts,
                              std::string_view(b64).substr(k * kChunk, kChunk)));
  return out;
}

std::vector<LoggedInput> ParseInputLog(std::string_view console, size_t before_line) {
  struct Partial {
    size_t next = 1, parts = 0;
    std::string b64;
  };
  std::map<uint64_t, Partial> open;
  std::vector<LoggedInput> out;
  size_t line_no = 0;
  for (size_t at = 0; at < console.size() && line_no < before_line; ++line_no) {
    size_t eol = console.find('\n', at);
    if (eol == std::string_view::npos) eol = console.size();
    std::string_view line = console.substr(at, eol - at);
    at = eol + 1;
    const size_t tag = line.find(kInputLogTag);
    if (tag == std::string_view::npos) continue;
    std::string_view rest = line.substr(tag + kInputLogTag.size());
    while (!rest.empty() && (rest.back() == '\r' || rest.back() == ' ')) rest.remove_suffix(1);
    uint64_t id = 0;
    size_t part = 0, parts = 0;
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (r.ec != std::errc() || r.ptr == rest.data() + rest.size() || *r.ptr != ' ') continue;
    const char* p = r.ptr + 1;
    const char* end = rest.data() + rest.size();
    auto r2 = std::from_chars(p, end, part);
    if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != '/') continue;
    auto r3 = std::from_chars(r2.ptr + 1, end, parts);
    if (r3.ec != std::errc() || part == 0 || parts == 0 || part > parts) continue;
    std::string_view chunk;
    if (r3.ptr != end) {
      if (*r3.ptr != ' ') continue;
      chunk = std::string_view(r3.ptr + 1, static_cast<size_t>(end - r3.ptr - 1));
    }
    Partial& pa = open[id];
    if (part == 1) pa = Partial{1, parts, {}};
    if (pa.parts != parts || pa.next != part) {
      open.erase(id);  // a part missing: the console lost it
      continue;
    }
    pa.b64.append(chunk);
    ++pa.next;
    if (part == parts) {
      if (auto bytes = Base64Decode(pa.b64)) out.push_back({id, std::move(*bytes), line_no});
      open.erase(id);
    }
  }
  return out;
}

}  // namespace inflight
