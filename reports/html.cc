// The HTML writer.
#include "reports/html.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "base/errno_names.h"
#include "base/version.h"
#include "reports/compare.h"
#include "reports/escape.h"
#include "reports/ref_graph.h"
#include "scenario/text.h"

namespace inflight {

namespace {

constexpr const char* kStyle = R"(
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1c2833; background: #fdfefe; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 16px; }
h1 { font-size: 22px; margin: 8px 0; }
h2 { font-size: 18px; border-bottom: 1px solid #d5d8dc; padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 16px; margin: 0 0 6px 0; }
h4 { font-size: 14px; margin: 14px 0 4px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 4px; color: #fff;
         font-size: 13px; vertical-align: middle; }
.clean { background: #1e8449; } .leak { background: #c0392b; } .hang { background: #7d3c98; }
.fault { background: #b9770e; } .error { background: #566573; } .interrupted { background: #2e4053; }
.meta { color: #566573; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid #d5d8dc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.finding td { background: #fdedec; }
article.finding { border: 1px solid #d5d8dc; border-left: 6px solid #c0392b; border-radius: 4px;
                  padding: 10px 16px; margin: 14px 0; background: #fff; }
article.finding.hang { border-left-color: #7d3c98; }
article.finding.fault { border-left-color: #b9770e; }
article.finding.loss { border-left-color: #1f618d; }
article.finding.error { border-left-color: #566573; }
code, pre { font: 12.5px/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
pre { background: #f4f6f7; padding: 8px; overflow-x: auto; }
figure.graph { margin: 8px 0; overflow-x: auto; border: 1px solid #eaeded; background: #fff; }
figure.graph svg { max-width: 100%; height: auto; }
figcaption { color: #566573; font-size: 12.5px; padding: 4px 8px; }
tr.failed td { background: #fef5e7; }
.legend span { margin-right: 14px; }
)";

int Severity(VerdictKind k) {
  switch (k) {
    case VerdictKind::kHang:
      return 0;
    case VerdictKind::kLeak:
      return 1;
    case VerdictKind::kLoss:
      return 2;
    case VerdictKind::kFault:
      return 3;
    case VerdictKind::kError:
      return 4;
    case VerdictKind::kUnsettled:
      return 5;
    case VerdictKind::kClean:
      return 6;
  }
  return 6;
}

struct Group {
  std::string signature;
  VerdictKind kind = VerdictKind::kClean;
  std::vector<const RunRecord*> runs;
};

std::string Outcome(const ActionOutcome& o) {
  std::string out = ActionStatusName(o.status);
  if (o.status == ActionStatus::kFailed) out = "failed " + ErrnoName(o.err);
  if (o.status == ActionStatus::kOk && o.fds) out += fmt::format(", {} fd(s) received", o.fds);
  if (o.msg_flags & MSG_CTRUNC) out += ", MSG_CTRUNC";
  if (o.msg_flags & MSG_OOB) out += ", MSG_OOB";
  return out;
}

std::string StepsTable(const Scenario& s, const RunRecord& r,
                       const std::vector<std::string>& faults) {
  std::string out =
      "<table class=\"steps\"><tr><th>step</th><th>process</th><th>action</th>"
      "<th>outcome</th></tr>\n";
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const Action& a = s.actions[i];
    const bool have = i < r.result.actions.size();
    std::string outcome = have ? Outcome(r.result.actions[i]) : "";
    bool bad = have && r.result.actions[i].status == ActionStatus::kFailed && !a.expect;
    const std::string prefix = fmt::format("action {} (", i);
    for (const std::string& f : faults) bad |= f.rfind(prefix, 0) == 0;
    std::string text = PrintAction(s, a);
    if (!a.note.empty()) text += "  # " + a.note;
    out += fmt::format(
        "<tr{}><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td>"
        "<td>{}</td></tr>\n",
        bad ? " class=\"failed\"" : "", i, XmlEscape(s.procs[a.proc]), XmlEscape(text),
        XmlEscape(outcome));
  }
  return out + "</table>\n";
}

std::string LeftoverTable(const Scenario* s, const RunRecord& r) {
  if (r.verdict.leftovers.empty()) return "";
  std::string out =
      "<h4>Leftovers</h4>\n<table><tr><th>what</th><th>object</th><th>ino</th>"
      "<th>created by</th><th>sent by</th><th>where</th><th>census</th></tr>\n";
  auto step = [&](int i) {
    if (i < 0) return std::string("-");
    return s ? fmt::format("step {}: {}", i, DescribeAction(*s, i)) : fmt::format("step {}", i);
  };
  for (const Leftover& l : r.verdict.leftovers) {
    std::string sent;
    for (int i : l.sent_by) sent += (sent.empty() ? "" : "<br>") + XmlEscape(step(i));
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        XmlEscape(l.what), XmlEscape(l.object.empty() ? "-" : l.object),
        l.ino ? std::to_string(l.ino) : "-", XmlEscape(step(l.created_by)),
        sent.empty() ? "-" : sent, XmlEscape(l.where), XmlEscape(l.detail));
  }
  return out + "</table>\n";
}

std::string CensusTable(const Census& c) {
  std::string out = fmt::format(
      "<p class=\"meta\">method {}; unix sockets alive per /proc/net/protocols: {}; rows without "
      "an inode: {}</p>\n",
      CensusMethodName(c.method), c.proto_inuse < 0 ? "not read" : std::to_string(c.proto_inuse),
      c.anonymous);
  if (c.sockets.empty()) return out;
  out +=
      "<table><tr><th>ino</th><th>type</th><th>state</th><th>peer</th><th>rqueue</th>"
      "<th>wqueue</th><th>name</th><th>embryos (connecting ino)</th></tr>\n";
  for (const SocketInfo& so : c.sockets) {
    std::string embryos;
    for (uint64_t e : so.embryos) embryos += (embryos.empty() ? "" : ", ") + std::to_string(e);
    out += fmt::format(
        "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}{}</td><td>{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>\n",
        so.ino,
        so.type == SOCK_STREAM      ? "stream"
        : so.type == SOCK_DGRAM     ? "dgram"
        : so.type == SOCK_SEQPACKET ? "seqpacket"
                                    : "?",
        so.state, so.listening ? " (listening)" : "",
        so.peer                 ? std::to_string(so.peer)
        : so.peer_without_inode ? "closed (no inode)"
                                : "-",
        so.rqueue, so.wqueue, XmlEscape(so.name), embryos);
  }
  return out + "</table>\n";
}

std::string Svg(const std::string& doc) {
  const size_t at = doc.find("<svg");
  return at == std::string::npos ? std::string() : doc.substr(at);
}

std::string GraphSection(const Scenario& s, const RunRecord& r, const SvgRenderer& render,
                         const HtmlOptions& opt, bool drawn_budget_left) {
  std::string out = "<h4>Reference graph at the ruling</h4>\n";
  if (!drawn_budget_left)
    return out + fmt::format("<p class=\"meta\">Not drawn: only the first {} findings are.</p>\n",
                             opt.max_graphs);
  const RefGraph g = BuildRefGraph(s, r);
  const std::string dot =
      RefGraphToDot(g, fmt::format("{} ({} seed {}): {}", r.scenario, RunModeName(r.mode), r.seed,
                                   VerdictName(r.verdict.kind)));
  std::string svg;
  std::string why;
  if (g.nodes.size() > opt.max_graph_nodes) {
    why = fmt::format("{} nodes, more than the {} drawn", g.nodes.size(), opt.max_graph_nodes);
  } else if (auto rendered = render(dot); !rendered) {
    why = rendered.error().Text();
  } else {
    svg = Svg(*rendered);
    if (svg.empty()) why = "the renderer returned no <svg> element";
  }
  if (svg.empty()) {
    out += fmt::format("<p class=\"meta\">Not drawn ({}). The graph in Graphviz DOT:</p>\n",
                       XmlEscape(why));
    return out + "<pre class=\"dot\">" + XmlEscape(dot) + "</pre>\n";
  }
  out += "<figure class=\"graph\">\n" + svg +
         "\n<figcaption><div class=\"legend\">"
         "<span><b style=\"color:#c0392b\">red</b>: outlived the run (leftover), and what its "
         "queue holds</span><span>arrow <i>queue owner &rarr; descriptor</i>: a send left it "
         "in that socket's queue (step, process)</span><span>grey dashed: received again"
         "</span><span>grey: freed</span><span>boxes: processes (fork tree)</span></div>";
  for (const std::string& n : g.notes) out += "<div>" + XmlEscape(n) + "</div>";
  out += "</figcaption>\n</figure>\n";
  return out;
}

std::string RateText(const Report& report, const Group& g) {
  std::map<std::pair<std::string, RunMode>, size_t> total;
  for (const RunRecord& r : report.runs) ++total[{r.scenario, r.mode}];
  // Over every scenario that showed it: one bug in many scenarios is one finding.
  std::map<RunMode, size_t> hits, of;
  std::set<std::pair<std::string, RunMode>> counted;
  for (const RunRecord* r : g.runs) {
    ++hits[r->mode];
    if (counted.insert({r->scenario, r->mode}).second) of[r->mode] += total[{r->scenario, r->mode}];
  }
  std::string out;
  for (const auto& [mode, n] : hits)
    out += fmt::format("{}{} of {} {} run(s)", out.empty() ? "" : ", ", n, of[mode],
                       RunModeName(mode));
  std::set<std::string> scenarios;
  for (const RunRecord* r : g.runs) scenarios.insert(r->scenario);
  if (scenarios.size() > 1) {
    out += fmt::format(" in {} scenarios:", scenarios.size());
    for (const std::string& sc : scenarios) out += " " + sc;
  }
  return out;
}

// What to do with a finding whose scenario is `file`: shrink it, turn it into a C program,
// replay it.
std::string NextCommands(const std::string& file, const std::string& replay,
                         const std::string& done = "") {
  std::string stem = std::filesystem::path(file).stem().string();
  std::string out = "<details class=\"next\" open><summary>Next</summary><ul>\n";
  if (!done.empty()) out += "<li>" + done + "</li>\n";
  out += fmt::format("<li>shrink it: <code>inflight minimize {} -o {}_min.scn</code></li>\n",
                     XmlEscape(file), XmlEscape(stem));
  out += fmt::format(
      "<li>a C program for the bug report: <code>inflight csource {} -o {}.c &amp;&amp; cc -o {} "
      "{}.c &amp;&amp; ./{}</code></li>\n",
      XmlEscape(file), XmlEscape(stem), XmlEscape(stem), XmlEscape(stem), XmlEscape(stem));
  out += fmt::format("<li>replay it: <code>{}</code></li>\n", XmlEscape(replay));
  return out + "</ul></details>\n";
}

// The findings of `inflight fuzz` (report.json's fuzz.findings): one card each, with its
// re-runs' rate, its minimization and the files of its folder.
std::string FuzzFindingsSection(const nlohmann::json& fuzz) {
  const nlohmann::json findings = fuzz.value("findings", nlohmann::json::array());
  std::string out = fmt::format("<section id=\"fuzz-findings\">\n<h2>Fuzzer findings ({})</h2>\n",
                                findings.size());
  if (findings.empty()) out += "<p>The fuzzer found nothing.</p>\n";
  const std::string dir = fuzz.value("out", std::string("."));
  for (const auto& f : findings) {
    const std::string id = f.value("id", "");
    const std::string verdict = f.value("verdict", "leak");
    const std::string folder = dir + "/findings/" + id;
    out += fmt::format("<article class=\"finding {}\" id=\"fuzz-{}\">\n", XmlEscape(verdict),
                       XmlEscape(id));
    out += fmt::format("<h3><span class=\"badge {}\">{}</span> <code>{}</code></h3>\n",
                       XmlEscape(verdict), XmlEscape(verdict),
                       XmlEscape(f.value("signature", "")));
    out += fmt::format("<p>{}</p>\n", XmlEscape(f.value("summary", "")));
    out += fmt::format("<p class=\"meta\">{} hit(s); first seen after {:.0f} s of fuzzing; input "
                       "{} bytes in <code>{}/</code></p>\n",
                       f.value("hits", 0), f.value("first_seen_s", 0.0), f.value("input_size", 0),
                       XmlEscape(folder));
    const nlohmann::json repro = f.value("repro", nlohmann::json::object());
    const size_t runs = repro.value("runs", 0);
    if (runs)
      out += fmt::format("<p><b>Leak rate: {} of {} re-run(s)</b> ({} with this signature)</p>\n",
                         repro.value("findings", 0), runs, repro.value("same_signature", 0));
    else
      out += "<p>Not re-run.</p>\n";
    const nlohmann::json m = f.value("minimize", nlohmann::json::object());
    std::string done;
    std::string file = folder + "/scenario.scn";
    if (m.value("done", false)) {
      file = folder + "/repro.scn";
      done = fmt::format("minimized: {} of {} actions{}: <code>{}</code>, C program <code>{}/repro.c"
                         "</code>",
                         m.value("minimized_actions", 0), m.value("actions", 0),
                         m.value("cut_short", false) ? " (cut short, not proven minimal)" : "",
                         XmlEscape(file), XmlEscape(folder));
    } else if (!m.value("note", std::string()).empty()) {
      done = XmlEscape(m.value("note", std::string()));
    }
    out += NextCommands(file, "inflight repro " + folder + "/input", done);
    out += "</article>\n";
  }
  return out + "</section>\n";
}

std::string FindingArticle(const Report& report, const Group& g, size_t index,
                           const SvgRenderer& render, const HtmlOptions& opt, size_t& drawn) {
  const RunRecord& r = *g.runs.front();
  std::string out =
      fmt::format("<article class=\"finding {}\" id=\"finding-{}\">\n", VerdictName(g.kind), index);
  std::string kinds;
  for (const Leftover& l : r.verdict.leftovers)
    if (kinds.find(l.what) == std::string::npos) kinds += (kinds.empty() ? "" : ", ") + l.what;
  out += fmt::format("<h3><span class=\"badge {}\">{}</span> <code>{}</code></h3>\n",
                     VerdictName(g.kind), VerdictName(g.kind), XmlEscape(g.signature));
  out += fmt::format("<p class=\"meta\">Example: {}{}</p>\n", XmlEscape(r.scenario),
                     kinds.empty() ? "" : " &mdash; " + XmlEscape(kinds));
  out += fmt::format("<p><b>{}</b>; signature <code>{}</code></p>\n",
                     XmlEscape(RateText(report, g)), XmlEscape(g.signature));
  out += fmt::format("<p>{}</p>\n", XmlEscape(r.verdict.summary));
  out += fmt::format(
      "<p class=\"meta\">Example: {} run, seed {}, file <code>{}</code>. Replay: "
      "<code>{}</code></p>\n",
      RunModeName(r.mode), r.seed, XmlEscape(r.file), XmlEscape(ReplayCommand(report, r)));
  if (!r.result.error.empty() && g.kind != VerdictKind::kError)
    out += fmt::format("<p>{}</p>\n", XmlEscape(r.result.error));
  if (g.kind != VerdictKind::kError && r.file.size() > 4 &&
      r.file.compare(r.file.size() - 4, 4, ".scn") == 0)  // not a stress checkpoint, a fuzz input
    out += NextCommands(r.file, ReplayCommand(report, r));

  std::optional<Scenario> s;
  std::string parse_error;
  if (!r.scenario_text.empty()) {
    try {
      s = ParseScenario(r.scenario_text, r.file);
    } catch (const ParseError& e) {
      parse_error = e.what();
    }
  }
  out += LeftoverTable(s ? &*s : nullptr, r);
  if (!r.verdict.faults.empty()) {
    out += "<h4>Faults</h4>\n<ul>\n";
    for (const std::string& f : r.verdict.faults) out += "<li>" + XmlEscape(f) + "</li>\n";
    out += "</ul>\n";
  }
  if (!r.verdict.losses.empty()) {
    out += "<h4>Lost messages</h4>\n<ul>\n";
    for (const std::string& l : r.verdict.losses) out += "<li>" + XmlEscape(l) + "</li>\n";
    out += "</ul>\n";
  }
  if (s) {
    out += GraphSection(*s, r, render, opt, drawn < opt.max_graphs);
    ++drawn;
    out += "<h4>Scenario, step by step</h4>\n" + StepsTable(*s, r, r.verdict.faults);
  } else if (!parse_error.empty()) {
    out += fmt::format("<p class=\"meta\">The scenario text does not parse: {}</p>\n",
                       XmlEscape(parse_error));
  }
  if (!r.scenario_text.empty())
    out += "<details><summary>Scenario text</summary><pre>" + XmlEscape(r.scenario_text) +
           "</pre></details>\n";
  out += "<details><summary>Census at the ruling</summary>\n" + CensusTable(r.result.census) +
         "</details>\n";
  if (g.runs.size() > 1) {
    out +=
        "<details><summary>Every run with this finding</summary><table><tr><th>mode</th>"
        "<th>seed</th><th>summary</th></tr>\n";
    for (const RunRecord* x : g.runs)
      out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                         RunModeName(x->mode), x->seed, XmlEscape(x->verdict.summary));
    out += "</table></details>\n";
  }
  return out + "</article>\n";
}

}  // namespace

std::string ReportToHtml(const Report& report, const SvgRenderer& render, const HtmlOptions& opt) {
  // Runs, the command's own checks and a fuzzer's finds: the badge must not say CLEAN
  // beside a finding that no run carries.
  const size_t findings = report.Findings();
  const auto counts = report.Counts();
  const VerdictKind worst = report.Worst();
  const std::string verdict = report.interrupted             ? "INTERRUPTED"
                              : worst == VerdictKind::kError ? "ERROR"
                              : findings                     ? "FINDINGS"
                                                             : "CLEAN";
  const char* verdict_class = report.interrupted             ? "interrupted"
                              : worst == VerdictKind::kError ? "error"
                              : findings                     ? "leak"
                                                             : "clean";

  // Findings and errors grouped by signature, most severe and most frequent first.
  std::map<std::string, Group> by_sig;
  for (const RunRecord& r : report.runs) {
    if (r.verdict.kind == VerdictKind::kClean) continue;
    std::vector<std::string> sigs;
    if (r.verdict.kind == VerdictKind::kError)
      sigs = {"error|" + r.scenario + "|" + RunStatusName(r.result.status)};
    else if (IsFinding(r.verdict.kind))
      sigs = RecordSignatures(r);  // a stress checkpoint: one card per leak class
    else
      sigs = {FindingSignature(r)};
    for (const std::string& sig : sigs) {
      Group& g = by_sig[sig];
      g.signature = sig;
      g.kind = r.verdict.kind;
      g.runs.push_back(&r);
    }
  }
  std::vector<const Group*> groups;
  for (const auto& [_, g] : by_sig) groups.push_back(&g);
  std::stable_sort(groups.begin(), groups.end(), [](const Group* a, const Group* b) {
    if (Severity(a->kind) != Severity(b->kind)) return Severity(a->kind) < Severity(b->kind);
    return a->runs.size() > b->runs.size();
  });

  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>inflight {}: {} on Linux {}</title>\n", XmlEscape(report.command),
                     verdict, XmlEscape(report.sandbox.kernel));
  out += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n<header>\n";
  out += fmt::format("<h1>inflight {} <span class=\"badge {}\" id=\"verdict\">{}</span></h1>\n",
                     XmlEscape(report.command), verdict_class, verdict);
  std::string argv;
  for (const std::string& a : report.argv) argv += (argv.empty() ? "" : " ") + a;
  out += fmt::format(
      "<p class=\"meta\">Linux <b>{}</b> &middot; census {} &middot; {} run(s) in {:.2f} s "
      "&middot; started {} UTC{} &middot; inflight {}<br><code>{}</code></p>\n",
      XmlEscape(report.sandbox.kernel), XmlEscape(report.sandbox.census_method), report.runs.size(),
      report.duration_s, XmlEscape(report.started_at),
      report.sandbox.user_namespace ? " &middot; unprivileged (user namespace)" : "",
      XmlEscape(InflightVersionLine()), XmlEscape(argv));
  out += "<table class=\"counts\"><tr>";
  for (const char* k : {"clean", "unsettled", "leak", "hang", "fault", "loss", "error"})
    out += fmt::format("<th>{}</th>", k);
  out += "</tr><tr>";
  for (const char* k : {"clean", "unsettled", "leak", "hang", "fault", "loss", "error"})
    out += fmt::format("<td class=\"num\">{}</td>", counts.at(k));
  out += "</tr></table>\n";
  if (report.interrupted)
    out += "<p><b>Interrupted:</b> only the runs that finished are in this report.</p>\n";
  out += "<details><summary>Oracle layers</summary><ul>\n";
  for (const std::string& l : report.layers) out += "<li>active: " + XmlEscape(l) + "</li>\n";
  for (const std::string& l : report.inactive_layers)
    out += "<li>not active: " + XmlEscape(l) + "</li>\n";
  out += "</ul></details>\n</header>\n<main>\n";

  size_t nfind = 0;
  for (const Group* g : groups) nfind += g->kind != VerdictKind::kError;
  out += fmt::format("<section id=\"findings\">\n<h2>Findings ({})</h2>\n", nfind);
  if (nfind == 0) out += "<p>No leak, hang or fault.</p>\n";
  size_t index = 0, drawn = 0;
  for (const Group* g : groups)
    if (g->kind != VerdictKind::kError)
      out += FindingArticle(report, *g, ++index, render, opt, drawn);
  out += "</section>\n";
  if (auto it = report.extra.find("fuzz"); it != report.extra.end() && it->is_object())
    out += FuzzFindingsSection(*it);
  if (nfind < groups.size()) {
    out += "<section id=\"errors\">\n<h2>Errors of inflight (say nothing about the kernel)</h2>\n";
    for (const Group* g : groups)
      if (g->kind == VerdictKind::kError)
        out += FindingArticle(report, *g, ++index, render, opt, drawn);
    out += "</section>\n";
  }

  // Every scenario and mode: runs per verdict and timings.
  struct Row {
    std::map<std::string, size_t> v;
    size_t runs = 0;
    std::vector<double> exec_ms;
    double settle_max_ms = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  for (const RunRecord& r : report.runs) {
    Row& row = rows[{r.scenario, RunModeName(r.mode)}];
    ++row.runs;
    ++row.v[VerdictName(r.verdict.kind)];
    row.exec_ms.push_back(r.result.exec_us / 1000.0);
    row.settle_max_ms = std::max(row.settle_max_ms, r.result.settle_us / 1000.0);
  }
  out +=
      "<section id=\"runs\">\n<h2>Runs by scenario</h2>\n<table><tr><th>scenario</th>"
      "<th>mode</th><th>runs</th><th>clean</th><th>leak</th><th>hang</th><th>fault</th>"
      "<th>error</th><th>median exec ms</th><th>max settle ms</th></tr>\n";
  for (auto& [key, row] : rows) {
    std::sort(row.exec_ms.begin(), row.exec_ms.end());
    const bool bad = row.v["clean"] != row.runs;
    out += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{:.2f}</td><td class=\"num\">{:.1f}</td>"
        "</tr>\n",
        bad ? " class=\"finding\"" : "", XmlEscape(key.first), key.second, row.runs, row.v["clean"],
        row.v["leak"], row.v["hang"], row.v["fault"], row.v["error"],
        row.exec_ms.empty() ? 0.0 : row.exec_ms[row.exec_ms.size() / 2], row.settle_max_ms);
  }
  out += "</table>\n</section>\n</main>\n";
  out += fmt::format(
      "<footer><p class=\"meta\">Written by inflight; the record is report.json "
      "(schema {}).</p></footer>\n</body>\n</html>\n",
      kReportSchema);
  return out;
}

}  // namespace inflight
