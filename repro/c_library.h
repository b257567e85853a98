// The C reproducer's library (repro/c/), embedded into inflight at build time, and how
// csource cuts it: whole files by name, steps.c into one piece per action helper.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inflight {

struct CLibraryFile {
  std::string_view name;  // "steps.c"
  std::string_view text;  // the file's whole text
};

// The library's files in the order a reproducer prints them, repro.h first. Defined in
// c_library_files.cc, which repro/embed_files.cmake writes from the files at build time.
std::span<const CLibraryFile> CLibraryFiles();

// One file's text; std::logic_error when the build did not embed it.
std::string_view CLibraryText(std::string_view name);

// A .c file cut at its action helpers. A helper starts at a comment whose first word is
// "do_NAME:" ("/* do_NAME: ..." or "/*" then " * do_NAME: ...") and runs to the next one.
struct CLibraryPieces {
  std::string prefix;                                        // before the first helper
  std::vector<std::pair<std::string, std::string>> helpers;  // name, text; in file order
};
CLibraryPieces SplitHelpers(std::string_view text);

// The text to inline into the one .c file of a reproducer: without `#include "repro.h"`.
std::string WithoutLibraryInclude(std::string_view text);

}  // namespace inflight
