// The kernel coverage page (like syzkaller's /cover): which functions and lines of the
// files that move descriptors in flight (net/unix/*.c, net/core/scm.c, fs/file.c) the
// seed corpus reached, which fuzzing added, and which instrumented ones nothing reached.
//
// Pure: the caller runs objdump (every KCOV call site of vmlinux) and addr2line (PC to
// frames) and hands their output in; this file parses it, builds the model, and renders
// the HTML page and the JSON summary.
//
// PCs are KCOV's: the return address of a __sanitizer_cov_trace_pc call. They are looked
// up one byte earlier (inside the call), so that the line is the call's own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/kcov_pcs.h"

namespace inflight {

struct CodeFrame {
  std::string function;
  std::string file;  // as the line table says ("??" when unknown)
  int line = 0;      // 0 when unknown
};

// One PC's frames from addr2line -i: innermost (inlined) first, then its callers.
struct PcFrames {
  uint64_t pc = 0;  // the KCOV PC (addr2line was given pc - 1)
  std::vector<CodeFrame> frames;
};

// Parses `addr2line -a -f -i -e vmlinux` output for addresses given as pc - 1; each record
// is the address line (0x...), then function and file:line pairs. Returns false with
// *error ("line N: why") on anything else.
bool ParseAddr2Line(std::string_view text, std::vector<PcFrames>& out, std::string* error);

// The KCOV PCs of `objdump -d vmlinux`: the address of the instruction after each call to
// __sanitizer_cov_trace_pc (its return address, what KCOV records). Fed line by line
// (objdump's output of a whole vmlinux is large).
class KcovCallSites {
 public:
  void Line(std::string_view line);
  const std::vector<uint64_t>& sites() const { return sites_; }

 private:
  std::vector<uint64_t> sites_;
  bool after_call_ = false;
};
std::vector<uint64_t> ParseKcovCallSites(std::string_view objdump);

// The page's name for a source path when it is one of the covered files ("net/unix/af_unix.c",
// "net/core/scm.c", "fs/file.c"), else "". Matches on whole path components, so
// "fs/xfs/file.c" is not fs/file.c.
std::string CoveredFile(std::string_view path);

enum class LineCover { kMissed, kSeed, kFuzz };  // kFuzz: reached, but by no seed

struct FunctionCover {
  std::string name;
  std::string file;
  int first_line = 0;
  size_t pcs = 0, seed = 0, fuzz = 0;  // instrumented PCs, reached by a seed, by fuzzing only
};

struct FileCover {
  std::string file;
  size_t pcs = 0, seed = 0, fuzz = 0;
  std::map<int, LineCover> lines;  // instrumented lines; a line is seed if any PC a seed reached
  std::map<std::string, FunctionCover> functions;
};

struct CoverModel {
  std::map<std::string, FileCover> files;
  size_t pcs = 0, seed = 0, fuzz = 0;    // over the covered files
  size_t reached_elsewhere = 0;          // reached PCs outside them (inlined from elsewhere)
  size_t reached_unknown = 0;            // reached PCs that are not call sites of vmlinux
};

// Every instrumented PC with its frames (`sites`; the reached ones among them by
// `reached`), each attributed to the innermost frame in a covered file (code inlined from
// a header counts at the line that inlined it). Reached PCs without frames in `sites`
// are counted in reached_unknown (a vmlinux that is not the guest's).
CoverModel BuildCoverModel(const std::vector<PcFrames>& sites, const KernelPcSet& reached);

// The summary: totals, then per file its counts, its lines by state and its functions.
nlohmann::json CoverJson(const CoverModel& m);

// Returns a covered file's source text, or nullopt when it is not at hand.
using SourceReader = std::function<std::optional<std::string>(const std::string& file)>;

// One self-contained page: totals, a table of files, and per file its functions and its
// source with every instrumented line marked (seed, fuzzing, missed).
std::string CoverHtml(const CoverModel& m, const SourceReader& source, const std::string& title);

}  // namespace inflight
