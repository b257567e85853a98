// Known findings (`--known FILE`): signatures a kernel is known to show, one a line, each
// with a `#` comment naming the bug or its fix. A finding whose signature is known is
// reported as expected (KTAP XFAIL, JUnit skipped, its own count) and does not fail the
// command; a known one that did not show up is reported as no longer seen.
//
//   # Linux 6.18.44: the garbage collector's scc_index bug leaks nested cycles
//   leak|cycle(nested)|socket   # fixed upstream by ...
#pragma once

#include <map>
#include <string>
#include <vector>


namespace inflight {

struct KnownFindings {
  std::string file;
  std::map<std::string, std::string> comment;  // signature -> its comment ("" if none)
  bool Has(const std::string& signature) const { return comment.count(signature) > 0; }
};

// Parses a known-findings text: a signature per line, `#` to the end of a line is a
// comment (one that stands alone before a signature names it too), blank lines skipped.
// Throws UsageError naming file:line for a line that is not a signature (no '|'), and
// for a file that cannot be read.
KnownFindings ParseKnownFindings(const std::string& text, const std::string& file);
KnownFindings LoadKnownFindings(const std::string& path);

}  // namespace inflight
