// The kernel coverage page: addr2line and objdump parsing, the model, HTML and JSON
// (see cover.h).
#include "reports/cover.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "reports/escape.h"

namespace inflight {

namespace {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(at, eol - at);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    at = eol + 1;
  }
  return out;
}

bool ParseHex(std::string_view s, uint64_t& v) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty() || s.size() > 16) return false;
  v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return true;
}

// "path:123", "path:123 (discriminator 2)", "??:0", "??:?".
CodeFrame ParseLocation(std::string_view fn, std::string_view loc) {
  CodeFrame f;
  f.function = std::string(fn);
  const size_t disc = loc.find(" (");
  if (disc != std::string_view::npos) loc = loc.substr(0, disc);
  const size_t colon = loc.rfind(':');
  f.file = std::string(colon == std::string_view::npos ? loc : loc.substr(0, colon));
  if (colon != std::string_view::npos) f.line = atoi(std::string(loc.substr(colon + 1)).c_str());
  return f;
}

const char* kStateClass[] = {"missed", "seed", "fuzz"};

std::string Percent(size_t part, size_t whole) {
  return whole ? fmt::format("{:.0f}%", 100.0 * part / whole) : "-";
}

}  // namespace

bool ParseAddr2Line(std::string_view text, std::vector<PcFrames>& out, std::string* error) {
  const auto lines = Lines(text);
  PcFrames* cur = nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    if (l.empty()) continue;
    uint64_t addr = 0;
    if (l.rfind("0x", 0) == 0 && ParseHex(l, addr)) {
      out.push_back({addr + 1, {}});
      cur = &out.back();
      continue;
    }
    if (!cur || i + 1 >= lines.size() || lines[i + 1].find(':') == std::string_view::npos) {
      if (error)
        *error = fmt::format("line {}: expected an address (0x...) or a function and its "
                             "file:line, got '{}'",
                             i + 1, l);
      return false;
    }
    cur->frames.push_back(ParseLocation(l, lines[i + 1]));
    ++i;
  }
  return true;
}

void KcovCallSites::Line(std::string_view l) {
  // Instruction lines: "ffffffff8123abcd:\t<bytes>\tcall   ffffffff81... <name>".
  const size_t s = l.find_first_not_of(' ');
  if (s == std::string_view::npos) return;
  const size_t colon = l.find(':', s);
  if (colon == std::string_view::npos || colon + 1 >= l.size() || l[colon + 1] != '\t') return;
  uint64_t addr = 0;
  if (!ParseHex(l.substr(s, colon - s), addr)) return;
  if (after_call_) sites_.push_back(addr);
  after_call_ = l.find("<__sanitizer_cov_trace_pc>") != std::string_view::npos &&
                l.find("call") != std::string_view::npos;
}

std::vector<uint64_t> ParseKcovCallSites(std::string_view objdump) {
  KcovCallSites p;
  for (std::string_view l : Lines(objdump)) p.Line(l);
  return p.sites();
}

std::string CoveredFile(std::string_view path) {
  auto component_suffix = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0 &&
           (path.size() == suffix.size() || path[path.size() - suffix.size() - 1] == '/');
  };
  if (component_suffix("net/core/scm.c")) return "net/core/scm.c";
  if (component_suffix("fs/file.c")) return "fs/file.c";
  const size_t at = path.rfind("net/unix/");
  if (at != std::string_view::npos && (at == 0 || path[at - 1] == '/')) {
    const std::string_view name = path.substr(at + 9);
    if (name.size() > 2 && name.find('/') == std::string_view::npos &&
        name.compare(name.size() - 2, 2, ".c") == 0)
      return std::string(path.substr(at));
  }
  return "";
}

CoverModel BuildCoverModel(const std::vector<PcFrames>& sites, const KernelPcSet& reached) {
  CoverModel m;
  std::unordered_map<uint64_t, bool> known;
  for (const PcFrames& p : sites) {
    if (!known.emplace(p.pc, true).second) continue;
    const CodeFrame* at = nullptr;
    std::string file;
    for (const CodeFrame& f : p.frames) {
      file = CoveredFile(f.file);
      if (!file.empty() && f.line > 0) {
        at = &f;
        break;
      }
    }
    const bool hit = reached.Contains(p.pc);
    const bool seed = hit && reached.BySeed(p.pc);
    if (!at) {
      m.reached_elsewhere += hit;
      continue;
    }
    FileCover& fc = m.files[file];
    fc.file = file;
    FunctionCover& fn = fc.functions[at->function];
    if (fn.name.empty()) {
      fn.name = at->function;
      fn.file = file;
      fn.first_line = at->line;
    }
    fn.first_line = std::min(fn.first_line, at->line);
    const LineCover state = seed ? LineCover::kSeed : hit ? LineCover::kFuzz : LineCover::kMissed;
    auto [it, inserted] = fc.lines.emplace(at->line, state);
    // A line is as covered as its best PC: seed over fuzzing over missed.
    if (!inserted && state != LineCover::kMissed &&
        (it->second == LineCover::kMissed || state == LineCover::kSeed))
      it->second = state;
    for (size_t* c : {&fn.pcs, &fc.pcs, &m.pcs}) ++*c;
    if (seed)
      for (size_t* c : {&fn.seed, &fc.seed, &m.seed}) ++*c;
    else if (hit)
      for (size_t* c : {&fn.fuzz, &fc.fuzz, &m.fuzz}) ++*c;
  }
  for (uint64_t pc : reached.Sorted())
    if (!known.count(pc)) ++m.reached_unknown;
  return m;
}

nlohmann::json CoverJson(const CoverModel& m) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [name, f] : m.files) {
    nlohmann::json seed = nlohmann::json::array(), fuzz = nlohmann::json::array(),
                   missed = nlohmann::json::array();
    for (const auto& [line, state] : f.lines)
      (state == LineCover::kSeed ? seed : state == LineCover::kFuzz ? fuzz : missed).push_back(line);
    nlohmann::json fns = nlohmann::json::array();
    std::vector<const FunctionCover*> order;
    for (const auto& [_, fn] : f.functions) order.push_back(&fn);
    std::sort(order.begin(), order.end(),
              [](auto* a, auto* b) { return a->first_line < b->first_line; });
    for (const FunctionCover* fn : order)
      fns.push_back({{"name", fn->name},
                     {"line", fn->first_line},
                     {"pcs", fn->pcs},
                     {"pcs_seed", fn->seed},
                     {"pcs_fuzz", fn->fuzz}});
    files.push_back({{"file", name},
                     {"pcs", f.pcs},
                     {"pcs_seed", f.seed},
                     {"pcs_fuzz", f.fuzz},
                     {"lines", f.lines.size()},
                     {"lines_seed", seed},
                     {"lines_fuzz", fuzz},
                     {"lines_missed", missed},
                     {"functions", fns}});
  }
  return {{"pcs", m.pcs},
          {"pcs_seed", m.seed},
          {"pcs_fuzz", m.fuzz},
          {"reached_outside_these_files", m.reached_elsewhere},
          {"reached_not_in_vmlinux", m.reached_unknown},
          {"files", files}};
}

std::string CoverHtml(const CoverModel& m, const SourceReader& source, const std::string& title) {
  std::string h;
  h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + XmlEscape(title) +
       "</title>\n<style>\n"
       "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td.l,th.l{text-align:left}"
       "pre{margin:0}.src td{border:none;padding:0 6px;text-align:left;font-family:monospace;"
       "white-space:pre}.src td.n{text-align:right;color:#888}"
       "tr.seed td.c{background:#b8e6b8}tr.fuzz td.c{background:#9cc9ff}tr.missed td.c{background:#f4b0b0}"
       "span.seed{background:#b8e6b8}span.fuzz{background:#9cc9ff}span.missed{background:#f4b0b0}"
       "\n</style></head><body>\n";
  h += "<h1>" + XmlEscape(title) + "</h1>\n";
  h += fmt::format(
      "<p>Instrumented PCs (KCOV call sites) in these files: {}; reached by the seed corpus: "
      "{} ({}); added by fuzzing: {} ({}); not reached: {}. Reached PCs outside these "
      "files: {}; reached PCs that are not call sites of this vmlinux: {}.</p>\n",
      m.pcs, m.seed, Percent(m.seed, m.pcs), m.fuzz, Percent(m.fuzz, m.pcs),
      m.pcs - m.seed - m.fuzz, m.reached_elsewhere, m.reached_unknown);
  h += "<p>Lines: <span class=\"seed\">reached by a seed</span> <span class=\"fuzz\">added "
       "by fuzzing</span> <span class=\"missed\">instrumented, not reached</span>; unmarked "
       "lines hold no call site. Code inlined from headers counts at the line that inlined "
       "it.</p>\n";
  h += "<table><tr><th class=\"l\">file</th><th>PCs</th><th>seed</th><th>+fuzzing</th>"
       "<th>covered</th><th>lines</th><th>lines seed</th><th>lines +fuzzing</th></tr>\n";
  auto anchor = [](const std::string& s) {
    std::string a;
    for (char c : s) a += isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return a;
  };
  for (const auto& [name, f] : m.files) {
    size_t ls = 0, lf = 0;
    for (const auto& [_, st] : f.lines) {
      ls += st == LineCover::kSeed;
      lf += st == LineCover::kFuzz;
    }
    h += fmt::format(
        "<tr><td class=\"l\"><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        anchor(name), XmlEscape(name), f.pcs, f.seed, f.fuzz, Percent(f.seed + f.fuzz, f.pcs),
        f.lines.size(), ls, lf);
  }
  h += "</table>\n";
  for (const auto& [name, f] : m.files) {
    h += fmt::format("<h2 id=\"{}\">{}</h2>\n", anchor(name), XmlEscape(name));
    h += "<table><tr><th class=\"l\">function</th><th>line</th><th>PCs</th><th>seed</th>"
         "<th>+fuzzing</th><th>covered</th></tr>\n";
    std::vector<const FunctionCover*> order;
    for (const auto& [_, fn] : f.functions) order.push_back(&fn);
    std::sort(order.begin(), order.end(),
              [](auto* a, auto* b) { return a->first_line < b->first_line; });
    for (const FunctionCover* fn : order)
      h += fmt::format(
          "<tr><td class=\"l\"><a href=\"#{}_L{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td></tr>\n",
          anchor(name), fn->first_line, XmlEscape(fn->name), fn->first_line, fn->pcs, fn->seed,
          fn->fuzz, Percent(fn->seed + fn->fuzz, fn->pcs));
    h += "</table>\n";
    const std::optional<std::string> text = source ? source(name) : std::nullopt;
    h += "<table class=\"src\">\n";
    if (text) {
      int n = 0;
      for (std::string_view l : Lines(*text)) {
        ++n;
        auto it = f.lines.find(n);
        const char* cls = it == f.lines.end() ? "" : kStateClass[static_cast<int>(it->second)];
        h += fmt::format("<tr class=\"{}\" id=\"{}_L{}\"><td class=\"n\">{}</td><td class=\"c\">{}"
                         "</td></tr>\n",
                         cls, anchor(name), n, n, XmlEscape(l));
      }
    } else {
      h += "<tr><td>(source not at hand: lines only)</td></tr>\n";
      for (const auto& [line, st] : f.lines)
        h += fmt::format("<tr class=\"{}\" id=\"{}_L{}\"><td class=\"n\">{}</td><td class=\"c\">"
                         "{}</td></tr>\n",
                         kStateClass[static_cast<int>(st)], anchor(name), line, line,
                         kStateClass[static_cast<int>(st)]);
    }
    h += "</table>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace inflight
