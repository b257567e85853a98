// Kernel fault lines in a console log, and their signatures.
#include "vm/console.h"

#include <cctype>
#include <set>

namespace inflight {

namespace {

constexpr size_t kExcerptLines = 40;

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// Drops one leading "[ ... ]" group when it looks like a timestamp or caller id.
std::string_view DropBracket(std::string_view s) {
  if (s.empty() || s[0] != '[') return s;
  const size_t close = s.find(']');
  if (close == std::string_view::npos || close > 24) return s;
  for (size_t i = 1; i < close; ++i) {
    const char c = s[i];
    if (!(isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ' ' || c == 'T' || c == 'C'))
      return s;
  }
  s.remove_prefix(close + 1);
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  return s;
}

// The fault kind a message starts, or "".
std::string FaultKind(std::string_view m) {
  if (StartsWith(m, "BUG: soft lockup") || StartsWith(m, "BUG: workqueue lockup")) return "lockup";
  if (StartsWith(m, "BUG: KASAN:")) return "KASAN";
  if (StartsWith(m, "BUG: KFENCE:")) return "KFENCE";
  if (StartsWith(m, "BUG: ") || StartsWith(m, "kernel BUG at ")) return "BUG";
  if (StartsWith(m, "WARNING: ")) return "WARNING";
  if (StartsWith(m, "Oops: ") || StartsWith(m, "general protection fault")) return "Oops";
  if (StartsWith(m, "Kernel panic - not syncing")) return "panic";
  if (StartsWith(m, "UBSAN: ")) return "UBSAN";
  if (StartsWith(m, "INFO: task ") && m.find("blocked for more than") != std::string_view::npos)
    return "hung task";
  if (m.find("INFO: rcu_") != std::string_view::npos && m.find("stall") != std::string_view::npos)
    return "stall";
  if (StartsWith(m, "unreferenced object 0x")) return "kmemleak";
  return "";
}

bool IsHexDigit(char c) {
  return isxdigit(static_cast<unsigned char>(c)) != 0;
}

// Numbers -> N, hex addresses -> ?, function offsets (+0x1a/0x200) dropped.
std::string Generalise(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '+' && i + 2 < s.size() && s[i + 1] == '0' && s[i + 2] == 'x') {
      size_t j = i + 3;
      while (j < s.size() && (IsHexDigit(s[j]) || s[j] == '/' || s[j] == 'x')) ++j;
      i = j;
      continue;
    }
    if (s[i] == '0' && i + 1 < s.size() && s[i + 1] == 'x') {
      size_t j = i + 2;
      while (j < s.size() && IsHexDigit(s[j])) ++j;
      out += '?';
      i = j;
      continue;
    }
    const bool word_start =
        i == 0 || !(isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '_');
    if (word_start && IsHexDigit(s[i])) {
      // A whole word of 8 or more hex digits is an address.
      size_t j = i;
      while (j < s.size() && IsHexDigit(s[j])) ++j;
      if (j - i >= 8 &&
          (j == s.size() || !(isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))) {
        out += '?';
        i = j;
        continue;
      }
    }
    if (isdigit(static_cast<unsigned char>(s[i]))) {
      // Other digit runs are numbers, unless they are part of a name.
      const bool in_word = i > 0 && isalpha(static_cast<unsigned char>(s[i - 1]));
      size_t j = i;
      while (j < s.size() && isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (in_word) {  // e.g. "ext4", "rcu_sched0": part of a name
        out.append(s.substr(i, j - i));
      } else {
        out += 'N';
      }
      i = j;
      continue;
    }
    out += s[i++];
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '!')) out.pop_back();
  return out;
}

// "FILE:LINE FUNC+0x../0x.." -> "FILE FUNC".
std::string PlaceOf(std::string_view at) {
  std::string_view file = at.substr(0, at.find(' '));
  std::string_view rest = file.size() < at.size() ? at.substr(file.size() + 1) : "";
  if (const size_t colon = file.rfind(':'); colon != std::string_view::npos) {
    bool digits = colon + 1 < file.size();
    for (size_t k = colon + 1; k < file.size(); ++k)
      digits = digits && isdigit(static_cast<unsigned char>(file[k]));
    if (digits) file = file.substr(0, colon);
  }
  std::string_view func = rest.substr(0, rest.find_first_of("+ "));
  std::string out(file);
  if (!func.empty()) out += " " + std::string(func);
  return out;
}

}  // namespace

std::string_view KernelMessage(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  std::string_view m = DropBracket(line);
  m = DropBracket(m);  // a caller id after the timestamp
  return m;
}

std::string FaultSignature(std::string_view m) {
  if (StartsWith(m, "WARNING: ")) {
    const size_t at = m.find(" at ");
    if (at != std::string_view::npos) return "WARNING: at " + PlaceOf(m.substr(at + 4));
  }
  if (StartsWith(m, "kernel BUG at ")) {
    std::string_view place = m.substr(14);
    if (!place.empty() && place.back() == '!') place.remove_suffix(1);
    return "kernel BUG at " + PlaceOf(place);
  }
  return Generalise(m);
}

bool IsTerminalBootLine(std::string_view m) {
  return m.find("-- System halted") != std::string_view::npos;
}

std::vector<KernelFault> ScanKernelLog(std::string_view log, size_t max_faults) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < log.size();) {
    size_t end = log.find('\n', pos);
    if (end == std::string_view::npos) end = log.size();
    lines.push_back(log.substr(pos, end - pos));
    pos = end + 1;
  }
  std::vector<KernelFault> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < lines.size() && out.size() < max_faults; ++i) {
    const std::string_view m = KernelMessage(lines[i]);
    const std::string kind = FaultKind(m);
    if (kind.empty()) continue;
    KernelFault f;
    f.kind = kind;
    f.line = std::string(m);
    f.signature = FaultSignature(m);
    if (!seen.insert(f.signature).second) continue;
    for (size_t k = i; k < lines.size() && k < i + kExcerptLines; ++k) {
      const std::string_view e = KernelMessage(lines[k]);
      f.excerpt.emplace_back(e);
      if (k > i && StartsWith(e, "---[ end")) break;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> LastLines(std::string_view log, size_t n) {
  std::vector<std::string> all;
  for (size_t pos = 0; pos < log.size();) {
    size_t end = log.find('\n', pos);
    if (end == std::string_view::npos) end = log.size();
    std::string_view l = log.substr(pos, end - pos);
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
    if (!l.empty()) all.emplace_back(l);
    pos = end + 1;
  }
  if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<long>(n));
  return all;
}

}  // namespace inflight
