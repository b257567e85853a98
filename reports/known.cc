// Reading known-findings files.
#include "reports/known.h"

#include <fmt/core.h>

#include "base/errors.h"
#include "base/file_util.h"

namespace inflight {

namespace {

std::string Trim(std::string s) {
  const char* ws = " \t\r";
  s.erase(0, s.find_first_not_of(ws));
  const size_t end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

}  // namespace

KnownFindings ParseKnownFindings(const std::string& text, const std::string& file) {
  KnownFindings k;
  k.file = file;
  std::string pending;  // a comment on its own line, naming the signatures below it
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    std::string comment;
    if (size_t hash = line.find('#'); hash != std::string::npos) {
      comment = Trim(line.substr(hash + 1));
      line.resize(hash);
    }
    line = Trim(line);
    if (line.empty()) {
      // A comment line names what follows; a blank line ends that.
      if (!comment.empty())
        pending = pending.empty() ? comment : pending + " " + comment;
      else
        pending.clear();
      continue;
    }
    if (line.find('|') == std::string::npos)
      throw UsageError(fmt::format("{}:{}: not a finding signature (verdict|class|kinds): '{}'",
                                   file, line_no, line));
    k.comment[line] = comment.empty() ? pending : comment;
  }
  return k;
}

KnownFindings LoadKnownFindings(const std::string& path) {
  auto text = ReadWholeFile(path.c_str(), 1u << 20);
  if (!text) throw UsageError(fmt::format("--known {}: {}", path, text.error().Text()));
  return ParseKnownFindings(*text, path);
}

}  // namespace inflight
