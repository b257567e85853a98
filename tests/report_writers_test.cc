// The report writers on a fixed report: KTAP lines follow the format, JUnit counts what
// the report holds, the HTML page shows findings first with their drawing (or the DOT
// text and the reason when drawing fails), text is escaped, and the reference graph
// puts each descriptor in the queue a send left it in.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>

#include "oracle/verdict.h"
#include "reports/escape.h"
#include "reports/html.h"
#include "reports/junit.h"
#include "reports/ktap.h"
#include "reports/ref_graph.h"
#include "reports/writer.h"
#include "scenario/text.h"
#include "tests/ktap_check.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

// The planted leak of corpus/controls/hold_socket.scn, as the sandbox reports it.
const char* kHoldText = R"(scenario hold_socket
about x waits in the queue of an embryo <never> accepted & "held"

p0: x = socket dgram
p0: c = socket stream
p0: connect c @inflight-hold
p0: send c [x]  # x now waits in the embryo's queue
)";

// A stream pair where a carries itself: a leaks, b stays alive as a's closed peer.
const char* kSelfRefText = R"(scenario self_ref

p0: a b = socketpair stream
p0: y z = socketpair dgram
p0: send b [a]
p0: send z [a b]
p0: g = recv y
p0: close a
p0: close b
p0: close g
)";

RunRecord HoldRun() {
  RunRecord r;
  r.scenario = "hold_socket";
  r.file = "corpus/controls/hold_socket.scn";
  r.seed = 7;
  r.scenario_text = kHoldText;
  r.full = true;
  RunResult& res = r.result;
  res.actions.assign(4, ActionOutcome{ActionStatus::kOk, 0, 0, 0, 0});
  res.events = {{0, EventType::kCreated, 0, 9, 100},
                {1, EventType::kCreated, 0, 9, 101},
                {3, EventType::kSentVia, 0, 9, 101},
                {3, EventType::kSent, 0, 9, 100}};
  res.procs = {ProcOutcome{ProcEnd::kExited, 0, -1}};
  SocketInfo holder;
  holder.ino = 50;
  holder.listening = true;
  holder.state = 10;
  holder.name = "@inflight-hold";
  res.baseline.sockets = {holder};
  res.baseline.proto_inuse = 1;
  SocketInfo x;
  x.ino = 100;
  x.type = SOCK_DGRAM;
  x.state = 7;
  res.census.sockets = {holder, x};
  res.census.sockets[0].embryos = {0};
  res.census.proto_inuse = 4;
  res.settle = SettleResult::kDirty;
  res.settle_us = 250'000;
  r.verdict = Rule(ParseScenario(kHoldText), RunOptions{}, res);
  return r;
}

RunRecord SelfRefRun() {
  RunRecord r;
  r.scenario = "self_ref";
  r.file = "self_ref.scn";
  r.scenario_text = kSelfRefText;
  r.full = true;
  RunResult& res = r.result;
  res.actions.assign(8, ActionOutcome{ActionStatus::kOk, 0, 0, 0, 0});
  res.actions[4].fds = 2;
  res.events = {{0, EventType::kCreated, 0, 9, 200}, {0, EventType::kCreated, 1, 9, 201},
                {1, EventType::kCreated, 0, 9, 202}, {1, EventType::kCreated, 1, 9, 203},
                {2, EventType::kSentVia, 0, 9, 201}, {2, EventType::kSent, 0, 9, 200},
                {3, EventType::kSentVia, 0, 9, 203}, {3, EventType::kSent, 0, 9, 200},
                {3, EventType::kSent, 1, 9, 201},    {4, EventType::kReceived, 0, 9, 200},
                {4, EventType::kReceived, 1, 9, 201}};
  SocketInfo a;
  a.ino = 200;
  a.type = SOCK_STREAM;
  a.state = 1;
  a.rqueue = 1;
  a.peer_without_inode = true;
  res.census.sockets = {a};
  res.census.proto_inuse = 2;
  res.baseline.proto_inuse = 0;
  res.settle = SettleResult::kDirty;
  r.verdict = Rule(ParseScenario(kSelfRefText), RunOptions{}, res);
  return r;
}

RunRecord CleanRun(const std::string& name, uint64_t seed) {
  RunRecord r;
  r.scenario = name;
  r.file = name + ".scn";
  r.seed = seed;
  r.result.settle = SettleResult::kCleanAtOnce;
  r.verdict.summary = "clean";
  return r;
}

Report FixedReport() {
  Report rep;
  rep.command = "run";
  rep.argv = {"inflight", "run", "corpus"};
  rep.started_at = "2025-01-02T03:04:05Z";
  rep.duration_s = 1.5;
  rep.sandbox.kernel = "6.18.0-test";
  rep.sandbox.census_method = "sock_diag";
  rep.runs.push_back(CleanRun("quiet", 1));
  rep.runs.push_back(HoldRun());
  rep.runs.push_back(CleanRun("quiet", 2));
  RunRecord hang = CleanRun("stuck", 3);
  hang.verdict.kind = VerdictKind::kHang;
  hang.verdict.summary = "watchdog: the graph did not finish # in time";
  rep.runs.push_back(hang);
  RunRecord err = CleanRun("broken", 4);
  err.verdict.kind = VerdictKind::kError;
  err.verdict.summary = "executor-error: graph process 'p1' died\nby signal 11";
  rep.runs.push_back(err);
  return rep;
}

Result<std::string> FakeSvg(const std::string& dot) {
  return "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- " +
         std::to_string(dot.size()) + " --></svg>";
}

TEST(RefGraph, TheEmbryoOfAnOutsideListenerHoldsTheLeftover) {
  const RunRecord r = HoldRun();
  ASSERT_EQ(r.verdict.kind, VerdictKind::kLeak);
  const RefGraph g = BuildRefGraph(ParseScenario(kHoldText), r);
  auto node = [&](const std::string& first_line) -> const RefNode* {
    for (const RefNode& n : g.nodes)
      if (n.label.substr(0, n.label.find('\n')) == first_line) return &n;
    return nullptr;
  };
  const RefNode* x = node("x");
  const RefNode* c = node("c");
  const RefNode* embryo = node("embryo");
  const RefNode* holder = node("@inflight-hold");
  ASSERT_TRUE(x && c && embryo && holder);
  EXPECT_TRUE(x->leftover);
  EXPECT_TRUE(embryo->leftover) << "the verdict names an embryo";
  EXPECT_FALSE(c->leftover);
  EXPECT_FALSE(c->alive) << "c is not in the last census: freed";
  EXPECT_EQ(holder->kind, RefNode::Kind::kOutside);
  auto edge = [&](const RefNode* from, const RefNode* to) -> const RefEdge* {
    for (const RefEdge& e : g.edges)
      if (e.from == from->id && e.to == to->id) return &e;
    return nullptr;
  };
  const RefEdge* held = edge(embryo, x);
  ASSERT_TRUE(held) << "the send over c lands in the embryo's queue";
  EXPECT_EQ(held->kind, RefEdge::Kind::kInFlight);
  EXPECT_EQ(held->label, "step 3 (p0)");
  ASSERT_TRUE(edge(holder, embryo));
  EXPECT_EQ(edge(holder, embryo)->kind, RefEdge::Kind::kPending);
  EXPECT_FALSE(edge(c, x)) << "nothing is in c's own queue";
}

TEST(RefGraph, ReceivedDescriptorsLeaveTheQueueAndClosedPeersAreMarked) {
  const RunRecord r = SelfRefRun();
  const RefGraph g = BuildRefGraph(ParseScenario(kSelfRefText), r);
  std::map<std::string, const RefNode*> by_name;
  for (const RefNode& n : g.nodes) by_name[n.label.substr(0, n.label.find('\n'))] = &n;
  ASSERT_TRUE(by_name.count("a") && by_name.count("b") && by_name.count("y"));
  const RefNode& a = *by_name["a"];
  const RefNode& b = *by_name["b"];
  const RefNode& y = *by_name["y"];
  EXPECT_TRUE(a.leftover);
  EXPECT_TRUE(b.closed_peer) << "a's peer was closed and lives on as its peer";
  EXPECT_NE(a.label.find("received as g"), std::string::npos) << a.label;
  int self = 0, taken = 0;
  for (const RefEdge& e : g.edges) {
    if (e.from == a.id && e.to == a.id && e.kind == RefEdge::Kind::kInFlight) ++self;
    if (e.from == y.id && e.kind == RefEdge::Kind::kTaken) {
      ++taken;
      EXPECT_NE(e.label.find("taken at step 4"), std::string::npos) << e.label;
    }
  }
  EXPECT_EQ(self, 1) << "a's own queue holds a: the send over b lands at b's peer";
  EXPECT_EQ(taken, 2) << "recv y took both descriptors of the message in y's queue";
  const std::string dot = RefGraphToDot(g, "t \"q\"");
  EXPECT_NE(dot.find("label=\"t \\\"q\\\"\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("LEFTOVER"), std::string::npos);
}

TEST(Ktap, FollowsTheFormatAndCountsEveryRun) {
  const Report rep = FixedReport();
  const std::string ktap = ReportToKtap(rep);
  testing::KtapSummary s;
  const auto problems = testing::CheckKtap(ktap, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << ktap;
  EXPECT_EQ(s.plan, 5u);
  EXPECT_EQ(s.ok, 2u);
  EXPECT_EQ(s.not_ok, 3u);
  EXPECT_EQ(s.timeout, 1u);
  EXPECT_EQ(s.error, 1u);
  EXPECT_EQ(s.descriptions[1], "hold_socket lockstep seed=7");
  EXPECT_NE(ktap.find("# leftover: dgram socket 'x' ino 100"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("# Totals: pass:2 fail:2 xfail:0 xpass:0 skip:0 error:1"), std::string::npos);
  // The checker itself rejects what breaks the format.
  EXPECT_FALSE(testing::CheckKtap("TAP version 13\n1..2\nok 1 a\n").empty());
  EXPECT_FALSE(testing::CheckKtap("TAP version 13\n1..1\nok 2 a\n").empty());
  EXPECT_FALSE(testing::CheckKtap("TAP version 13\n1..1\nok 1 a # FROB x\n").empty());
  EXPECT_FALSE(testing::CheckKtap("1..1\nok 1 a\n").empty());
  EXPECT_FALSE(testing::CheckKtap("TAP version 13\n1..1\nfine 1 a\n").empty());
}

TEST(JUnit, OneTestcasePerRunAndFailuresForFindings) {
  const std::string xml = ReportToJUnit(FixedReport());
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = xml.find(what); at != std::string::npos; at = xml.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<testcase "), 5u);
  EXPECT_EQ(count("<testsuite "), 4u) << "one suite per scenario";
  EXPECT_EQ(count("<failure "), 2u);
  EXPECT_EQ(count("<error "), 1u);
  EXPECT_NE(xml.find("<testsuites name=\"inflight run\" tests=\"5\" failures=\"2\" errors=\"1\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("replay: inflight run corpus/controls/hold_socket.scn --seed 7"),
            std::string::npos);
  EXPECT_EQ(xml.find("<never>"), std::string::npos) << "text is escaped";
}

// A check whose runs are all clean but whose own checks and fuzz smoke found something:
// KTAP and JUnit carry those findings too (a consumer of either alone missed them before),
// and a known one is expected there as in the runs.
Report CheckWithFindingsBesideRuns() {
  Report rep;
  rep.command = "check";
  rep.started_at = "2025-01-02T03:04:05Z";
  rep.sandbox.kernel = "6.18.0-test";
  rep.runs.push_back(CleanRun("hold_socket", 1));
  rep.command_findings.push_back("in-flight accounting: uid 1000 can pass 3 fewer descriptors");
  rep.command_findings.push_back("fuzz smoke: 1 finding(s), see fuzz/report.json");
  rep.extra["fuzz_smoke"] = {{"signatures", {"leak|cycle(nested)|socket"}}};
  return rep;
}

TEST(Ktap, FindingsBesideTheRunsAreTestsToo) {
  Report rep = CheckWithFindingsBesideRuns();
  std::string ktap = ReportToKtap(rep);
  testing::KtapSummary s;
  auto problems = testing::CheckKtap(ktap, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << ktap;
  EXPECT_EQ(s.plan, 3u) << ktap;
  EXPECT_EQ(s.passed, (std::vector<bool>{true, false, false})) << ktap;
  EXPECT_NE(ktap.find("not ok 2 finding leak|cycle(nested)|socket\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("not ok 3 finding command|in-flight accounting\n"), std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find("# in-flight accounting: uid 1000 can pass 3 fewer descriptors\n"),
            std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find("# Totals: pass:1 fail:2 xfail:0"), std::string::npos) << ktap;

  rep.known.file = "k.txt";
  rep.known.comment["command|in-flight accounting"] = "the leak's count";
  ktap = ReportToKtap(rep);
  problems = testing::CheckKtap(ktap, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << ktap;
  EXPECT_NE(ktap.find("ok 3 finding command|in-flight accounting # XFAIL known: "
                      "command|in-flight accounting (the leak's count)\n"),
            std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find("# Totals: pass:1 fail:1 xfail:1"), std::string::npos) << ktap;
}

// `inflight fuzz --repro 0` (or a finding no re-run reproduced): its findings live in
// extra.fuzz only. The report is not clean for it: report.json's verdict, the finding count
// that picks the summary's word, and the HTML badge (each said CLEAN before).
TEST(Report, AFuzzFindingWithoutRunsIsNotClean) {
  Report rep;
  rep.command = "fuzz";
  rep.extra["fuzz"] = {{"findings", {{{"signature", "loss|recv|messages"}, {"verdict", "loss"}}}}};
  EXPECT_EQ(rep.Findings(), 1u);
  EXPECT_EQ(rep.Overall(), VerdictKind::kLoss);
  EXPECT_EQ(ReportToJson(rep)["verdict"], "loss");
  const std::string html = ReportToHtml(rep, FakeSvg);
  EXPECT_NE(html.find("id=\"verdict\">FINDINGS<"), std::string::npos) << html.substr(0, 2000);
  rep.extra["fuzz"]["findings"] = nlohmann::json::array();
  EXPECT_EQ(rep.Findings(), 0u);
  EXPECT_EQ(ReportToJson(rep)["verdict"], "clean");
  // A command finding beside clean runs is a leak, as before.
  rep.command_findings.push_back("in-flight accounting: uid 5 short by 2");
  EXPECT_EQ(ReportToJson(rep)["verdict"], "leak");
}

TEST(JUnit, FindingsBesideTheRunsAreTestsToo) {
  Report rep = CheckWithFindingsBesideRuns();
  std::string xml = ReportToJUnit(rep);
  EXPECT_NE(xml.find("<testsuites name=\"inflight check\" tests=\"3\" failures=\"2\" errors=\"0\" "
                     "skipped=\"0\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"findings\" tests=\"2\" failures=\"2\""), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"finding\" message=\"command|in-flight accounting\">"),
            std::string::npos)
      << xml;
  rep.known.file = "k.txt";
  rep.known.comment["leak|cycle(nested)|socket"] = "";
  xml = ReportToJUnit(rep);
  EXPECT_NE(xml.find("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<skipped message=\"known finding (k.txt): leak|cycle(nested)|socket\">"),
            std::string::npos)
      << xml;
}

// The selftest's report: controls whose outcome was planned. A planted leak the oracle
// named, and a clean control, pass; a planted leak it missed fails.
Report SelftestReport() {
  Report rep;
  rep.command = "selftest";
  rep.started_at = "2025-01-02T03:04:05Z";
  rep.sandbox.kernel = "6.18.0-test";
  RunRecord named = HoldRun();
  named.expected = Expectation{VerdictKind::kLeak, true, "the planted leak was named: x"};
  rep.runs.push_back(named);
  RunRecord clean = CleanRun("hold_socket", 8);
  clean.expected = Expectation{VerdictKind::kClean, true, "nothing is planted: clean"};
  rep.runs.push_back(clean);
  RunRecord missed = CleanRun("hold_socket", 9);
  missed.expected = Expectation{VerdictKind::kLeak, false, "ruled clean (clean), expected leak"};
  rep.runs.push_back(missed);
  return rep;
}

TEST(Ktap, PlannedRunsPassWhenThePlanHeld) {
  const std::string ktap = ReportToKtap(SelftestReport());
  testing::KtapSummary s;
  const auto problems = testing::CheckKtap(ktap, &s);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << ktap;
  EXPECT_EQ(s.passed, (std::vector<bool>{true, true, false})) << ktap;
  EXPECT_NE(ktap.find("ok 1 hold_socket lockstep seed=7 # XFAIL the planted leak was named: x\n"),
            std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find("# leftover: dgram socket 'x' ino 100"), std::string::npos) << ktap;
  const size_t missed = ktap.find("# planned leak, not met: ruled clean (clean), expected leak\n");
  EXPECT_NE(missed, std::string::npos) << ktap;
  EXPECT_LT(missed, ktap.find("not ok 3 hold_socket lockstep seed=9\n")) << ktap;
  EXPECT_NE(ktap.find("# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:0 error:0"), std::string::npos)
      << ktap;
}

TEST(JUnit, PlannedRunsPassWhenThePlanHeld) {
  const std::string xml = ReportToJUnit(SelftestReport());
  EXPECT_NE(xml.find("<testsuites name=\"inflight selftest\" tests=\"3\" failures=\"1\" "
                     "errors=\"0\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<system-out>ruled leak as planned: the planted leak was named: x"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"planned-leak\" message=\"planned leak, ruled clean: ruled "
                     "clean (clean), expected leak\""),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("type=\"leak\""), std::string::npos) << "the named planted leak passes";
}

TEST(Html, FindingsFirstWithTheirDrawing) {
  const std::string html = ReportToHtml(FixedReport(), FakeSvg);
  const size_t findings = html.find("id=\"findings\"");
  const size_t runs = html.find("id=\"runs\"");
  ASSERT_NE(findings, std::string::npos);
  ASSERT_NE(runs, std::string::npos);
  EXPECT_LT(findings, runs);
  // Hang before leak (severity), both in the findings section; the error apart.
  const size_t hang = html.find("id=\"finding-1\"");
  ASSERT_NE(hang, std::string::npos);
  EXPECT_NE(html.find("stuck", hang), std::string::npos);
  EXPECT_LT(html.find("finding hang"), html.find("finding leak"));
  EXPECT_LT(html.find("finding leak"), html.find("id=\"errors\""));
  EXPECT_EQ(html.find("<?xml"), std::string::npos) << "the SVG is embedded without its prolog";
  EXPECT_NE(html.find("<figure class=\"graph\">\n<svg"), std::string::npos);
  EXPECT_NE(html.find("step 3: p0: send c [x]"), std::string::npos) << "leftover sent by";
  EXPECT_EQ(html.find("<never>"), std::string::npos) << "text is escaped";
  EXPECT_NE(html.find("&lt;never&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "a static page";
}

TEST(Html, AFindingCardSaysWhatToDoNext) {
  Report rep = FixedReport();
  for (RunRecord& r : rep.runs) r.file = "corpus/x.scn";
  const std::string html = ReportToHtml(rep, FakeSvg);
  EXPECT_NE(html.find("<code>inflight minimize corpus/x.scn -o x_min.scn</code>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("<code>inflight csource corpus/x.scn -o x.c &amp;&amp; cc -o x x.c"),
            std::string::npos);
  // Without a scenario file (a stress checkpoint, a fuzz input) there is nothing to shrink.
  for (RunRecord& r : rep.runs) r.file = "fz/findings/abc/input";
  const std::string bare = ReportToHtml(rep, FakeSvg);
  EXPECT_EQ(bare.find("inflight minimize"), std::string::npos);
  EXPECT_EQ(bare.find("Fuzzer findings"), std::string::npos) << "not a fuzz report";
}

TEST(Html, FuzzFindingsHaveCardsWithRateMinimizationAndNextCommands) {
  Report rep = FixedReport();
  rep.command = "fuzz";
  rep.extra["fuzz"] = {
      {"out", "fz"},
      {"findings",
       {{{"id", "abc"},
         {"signature", "leak|chain|embryo"},
         {"verdict", "leak"},
         {"summary", "2 object(s) outlived <it>"},
         {"hits", 4},
         {"first_seen_s", 1.0},
         {"input_size", 13},
         {"repro", {{"runs", 20}, {"findings", 19}, {"same_signature", 18}}},
         {"minimize", {{"done", true}, {"actions", 9}, {"minimized_actions", 4}}}},
        {{"id", "def"},
         {"signature", "leak|cycle(self)|socket"},
         {"verdict", "leak"},
         {"repro", {{"runs", 20}, {"findings", 0}}},
         {"minimize", {{"done", false}, {"note", "not minimized: no re-run reproduced it"}}}}}}};
  const std::string html = ReportToHtml(rep, FakeSvg);
  EXPECT_NE(html.find("Fuzzer findings (2)"), std::string::npos) << html;
  EXPECT_NE(html.find("Leak rate: 19 of 20 re-run(s)</b> (18 with this signature)"),
            std::string::npos);
  EXPECT_NE(html.find("minimized: 4 of 9 actions: <code>fz/findings/abc/repro.scn</code>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("inflight csource fz/findings/abc/repro.scn -o repro.c"), std::string::npos);
  EXPECT_NE(html.find("inflight repro fz/findings/abc/input"), std::string::npos);
  EXPECT_NE(html.find("not minimized: no re-run reproduced it"), std::string::npos);
  EXPECT_NE(html.find("inflight minimize fz/findings/def/scenario.scn"), std::string::npos);
  EXPECT_NE(html.find("outlived &lt;it&gt;"), std::string::npos) << "escaped";
}

TEST(Html, AGraphThatCannotBeDrawnShowsItsDotAndWhy) {
  auto failing = [](const std::string&) -> Result<std::string> {
    return SysError{ENOENT, "cannot run 'dot'"};
  };
  const std::string html = ReportToHtml(FixedReport(), failing);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Not drawn (cannot run &#39;dot&#39;"), std::string::npos) << html;
  EXPECT_NE(html.find("<pre class=\"dot\">digraph inflight_refs"), std::string::npos);
}

TEST(Formats, ParseLists) {
  ReportFormats f;
  EXPECT_EQ(ParseReportFormats("json", f), "");
  EXPECT_FALSE(f.junit || f.ktap || f.html);
  EXPECT_EQ(ParseReportFormats("json,junit,ktap,html", f), "");
  EXPECT_TRUE(f.junit && f.ktap && f.html);
  EXPECT_EQ(ParseReportFormats("html", f), "");
  EXPECT_TRUE(f.html && !f.junit);
  EXPECT_NE(ParseReportFormats("json,pdf", f).find("unknown format 'pdf'"), std::string::npos);
  EXPECT_NE(ParseReportFormats("json,", f), "");
}

TEST(Formats, WriteReportWritesEveryFormatAndNothingElse) {
  testing::TempDir d;
  ReportFormats f;
  ASSERT_EQ(ParseReportFormats("json,junit,ktap", f), "");
  ASSERT_TRUE(WriteReport(d.path() + "/out", FixedReport(), f));
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(d.path() + "/out"))
    names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"junit.xml", "report.json", "report.ktap"}));
  auto j = nlohmann::json::parse(testing::ReadFile(d.path() + "/out/report.json"));
  ASSERT_EQ(j["runs"].size(), 5u);
  const auto& leak = j["runs"][1];
  ASSERT_TRUE(leak.contains("events"));
  EXPECT_EQ(leak["events"].size(), 4u);
  EXPECT_EQ(leak["events"][3]["type"], "sent");
  EXPECT_EQ(leak["events"][3]["ino"], 100);
  EXPECT_FALSE(j["runs"][0].contains("events")) << "clean records stay small";
  EXPECT_FALSE(WriteReport("/proc/inflight-no/such", FixedReport(), f));
}

TEST(Replay, CarriesTheHolderOfTheRun) {
  Report rep = FixedReport();
  const RunRecord& r = rep.runs[1];
  EXPECT_EQ(ReplayCommand(rep, r),
            "inflight run corpus/controls/hold_socket.scn --seed 7 --repeat 1 --mode lockstep");
  rep.argv = {"inflight", "run", "x.scn", "--hold", "inflight-hold"};
  EXPECT_EQ(ReplayCommand(rep, r), ReplayCommand(r) + " --hold inflight-hold");
  rep.argv = {"inflight", "run", "x.scn", "--hold=h2"};
  EXPECT_EQ(ReplayCommand(rep, r), ReplayCommand(r) + " --hold h2");
  EXPECT_NE(ReportToKtap(rep).find("# replay: " + ReplayCommand(r) + " --hold h2"),
            std::string::npos);
}

TEST(Escape, XmlAndDot) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&#39;?");
  EXPECT_EQ(DotEscape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace inflight
