// Every report format of real runs on this kernel, checked by outside parsers: the JSON
// against docs/report.schema.json (python3-jsonschema), the JUnit XML with an XML parser
// (python3 xml.etree), the KTAP lines against the format, and the HTML page rendered by
// headless Chromium: it loads without errors and shows the reference graph.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/ktap_check.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::CliPath;
using testing::CommandResult;
using testing::CorpusDir;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kChromium = "/usr/bin/chromium";

std::string Script(const std::string& name) {
  return std::string(INFLIGHT_SOURCE_DIR) + "/tests/" + name;
}
std::string Schema() {
  return std::string(INFLIGHT_SOURCE_DIR) + "/docs/report.schema.json";
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_TRUE(f) << path;
  fputs(text.c_str(), f);
  fclose(f);
}

// One planted leak, a clean scenario and a `check` on a small corpus, written in every
// format; a `check` with its stress smoke, a `stress` run with a planted leak and the
// selftest's report; shared by the tests below.
class ReportFormats : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::NamespaceSkipReason().empty()) return;
    dir_ = new TempDir();
    const std::string d = dir_->path();
    run_ =
        RunCommand(CliPath() + " run " + CorpusDir() + "/controls/hold_socket.scn " + CorpusDir() +
                   "/self_ref_stream.scn --hold inflight-hold --settle 5s "
                   "-n 2 --mode both -q --format json,junit,ktap,html --report " +
                   d + "/run");
    std::filesystem::create_directories(d + "/corpus/controls");
    for (const char* f :
         {"controls/hold_socket.scn", "controls/hold_cycle.scn", "self_ref_dgram.scn"})
      std::filesystem::copy_file(CorpusDir() + "/" + f, d + "/corpus/" + f);
    check_ = RunCommand(CliPath() + " check --no-stress --no-fuzz --corpus " + d +
                        "/corpus -n 1 --settle 5s -q " + "--format json,junit,ktap --report " +
                        d + "/check");
    // check with its stress smoke (cycles finds this kernel's real leak: 0 or 1), and a
    // stress run with a planted leak, so that records of leaking epochs are written.
    check_stress_ = RunCommand(CliPath() + " check --stress 2s --no-fuzz --corpus " + d +
                               "/corpus -n 1 --settle 5s -q --report " + d + "/check_stress");
    stress_ =
        RunCommand(CliPath() + " stress cycles --duration 2s --checkpoint 1s --hold " +
                   "inflight-hold -O cycles.leak_to_holder=1 -O cycles.nested=0 --settle 5s -q "
                   "--report " +
                   d + "/stress");
    selftest_ =
        RunCommand(CliPath() + " selftest -q --format json,junit,ktap --report " + d + "/selftest");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    INFLIGHT_REQUIRE_NAMESPACES();
    ASSERT_EQ(run_.status, 1) << "the planted leak is a finding: " << run_.out;
    ASSERT_EQ(check_.status, 0) << check_.out;
    ASSERT_TRUE(check_stress_.status == 0 || check_stress_.status == 1) << check_stress_.out;
    ASSERT_EQ(stress_.status, 1) << "the planted leak is a finding: " << stress_.out;
    ASSERT_EQ(selftest_.status, 0) << selftest_.out;
  }
  static std::string Dir() { return dir_->path(); }

  static TempDir* dir_;
  static CommandResult run_, check_, check_stress_, stress_, selftest_;
};
TempDir* ReportFormats::dir_ = nullptr;
CommandResult ReportFormats::run_, ReportFormats::check_, ReportFormats::check_stress_,
    ReportFormats::stress_, ReportFormats::selftest_;

int Validate(const std::string& files) {
  return RunCommand(std::string(kPython) + " " + Script("validate_report.py") + " " + Schema() +
                    " " + files)
      .status;
}

TEST_F(ReportFormats, JsonFollowsTheSchema) {
  const std::string run = Dir() + "/run/report.json", check = Dir() + "/check/report.json";
  CommandResult r = RunCommand(std::string(kPython) + " " + Script("validate_report.py") + " " +
                               Schema() + " " + run + " " + check);
  if (r.status == 3) GTEST_SKIP() << "skipped: " << r.out;
  ASSERT_EQ(r.status, 0) << r.out;
  // Every other command's report: check with its stress smoke, stress, selftest.
  for (const char* which : {"check_stress", "stress", "selftest"}) {
    const std::string path = Dir() + "/" + which + "/report.json";
    EXPECT_EQ(Validate(path), 0) << which << ": "
                                 << RunCommand(std::string(kPython) + " " +
                                               Script("validate_report.py") + " " + Schema() + " " +
                                               path)
                                        .out;
  }
  const auto stress = nlohmann::json::parse(ReadFile(Dir() + "/stress/report.json"));
  const auto smoke = nlohmann::json::parse(ReadFile(Dir() + "/check_stress/report.json"));
  EXPECT_TRUE(stress.contains("stress") && smoke.contains("stress"));
  size_t leaking_epochs = 0, smoke_epochs = 0;
  for (const auto& x : stress["runs"]) leaking_epochs += x["verdict"] == "leak";
  for (const auto& x : smoke["runs"]) smoke_epochs += x.contains("stressor");
  EXPECT_GT(leaking_epochs, 0u) << "a record of a leaking epoch was validated";
  EXPECT_GT(smoke_epochs, 0u) << "the smoke's epochs are in check's report";
  // A stress epoch is a closed record too.
  for (size_t i = 0; i < stress["runs"].size(); ++i) {
    if (stress["runs"][i]["verdict"] != "leak") continue;
    nlohmann::json bad = stress;
    bad["runs"][i].erase("replay");
    WriteText(Dir() + "/mutated.json", bad.dump());
    EXPECT_EQ(Validate(Dir() + "/mutated.json"), 1) << "an epoch without its replay command";
    bad = stress;
    bad["runs"][i]["census"] = 7;
    WriteText(Dir() + "/mutated.json", bad.dump());
    EXPECT_EQ(Validate(Dir() + "/mutated.json"), 1) << "an epoch with a broken census";
    break;
  }
  auto j = nlohmann::json::parse(ReadFile(run));
  ASSERT_EQ(j["runs"].size(), 8u);
  bool leak_with_events = false;
  for (const auto& x : j["runs"])
    if (x["verdict"] == "leak") leak_with_events |= !x["events"].empty();
  EXPECT_TRUE(leak_with_events);
  EXPECT_TRUE(nlohmann::json::parse(ReadFile(check)).contains("selftest"));

  // The schema rejects what breaks the record: each mutation must fail validation.
  auto leak_index = [&] {
    for (size_t i = 0; i < j["runs"].size(); ++i)
      if (j["runs"][i]["verdict"] == "leak") return i;
    return size_t{0};
  }();
  std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> mutations = {
      {"unknown verdict", [](nlohmann::json& x) { x["runs"][0]["verdict"] = "fine"; }},
      {"leak without events", [&](nlohmann::json& x) { x["runs"][leak_index].erase("events"); }},
      {"leak without leftovers",
       [&](nlohmann::json& x) { x["runs"][leak_index]["leftovers"] = nlohmann::json::array(); }},
      {"unknown run field", [](nlohmann::json& x) { x["runs"][0]["colour"] = "blue"; }},
      {"another schema", [](nlohmann::json& x) { x["schema"] = "inflight-report/2"; }},
      {"no counts", [](nlohmann::json& x) { x.erase("counts"); }},
      {"bad event type",
       [&](nlohmann::json& x) { x["runs"][leak_index]["events"][0]["type"] = "teleported"; }},
  };
  for (auto& [name, mutate] : mutations) {
    nlohmann::json bad = j;
    mutate(bad);
    const std::string path = Dir() + "/mutated.json";
    WriteText(path, bad.dump());
    EXPECT_EQ(Validate(path), 1) << "the schema accepted a report with " << name;
  }
}

TEST_F(ReportFormats, JUnitParsesAndMatchesTheRecord) {
  for (const char* which : {"run", "check", "selftest"}) {
    CommandResult r =
        RunCommand(std::string(kPython) + " " + Script("check_junit.py") + " " + Dir() + "/" +
                   which + "/junit.xml " + Dir() + "/" + which + "/report.json");
    EXPECT_EQ(r.status, 0) << which << ": " << r.out;
  }
  // The selftest passed, and its JUnit file says so: planted leaks named as planted are
  // no failures.
  const std::string selftest = ReadFile(Dir() + "/selftest/junit.xml");
  EXPECT_NE(selftest.find("<testsuites name=\"inflight selftest\" tests=\"16\" failures=\"0\" "
                          "errors=\"0\""),
            std::string::npos)
      << selftest;
  EXPECT_NE(selftest.find("as planned: the planted leak was named"), std::string::npos);
  // Malformed XML must not pass.
  std::string xml = ReadFile(Dir() + "/run/junit.xml");
  WriteText(Dir() + "/broken.xml", xml.substr(0, xml.size() / 2));
  CommandResult r = RunCommand(std::string(kPython) + " " + Script("check_junit.py") + " " + Dir() +
                               "/broken.xml " + Dir() + "/run/report.json");
  EXPECT_NE(r.status, 0) << r.out;
}

TEST_F(ReportFormats, KtapLinesFollowTheFormat) {
  for (const char* which : {"run", "check", "selftest"}) {
    const std::string ktap = ReadFile(Dir() + "/" + which + "/report.ktap");
    const auto j = nlohmann::json::parse(ReadFile(Dir() + "/" + which + "/report.json"));
    testing::KtapSummary s;
    const auto problems = testing::CheckKtap(ktap, &s);
    EXPECT_TRUE(problems.empty()) << which << ": " << problems.front() << "\n" << ktap;
    ASSERT_EQ(s.plan, j["runs"].size());
    for (size_t i = 0; i < s.descriptions.size(); ++i) {
      const auto& run = j["runs"][i];
      EXPECT_EQ(s.descriptions[i], run["scenario"].get<std::string>() + " " +
                                       run["mode"].get<std::string>() +
                                       " seed=" + std::to_string(run["seed"].get<uint64_t>()));
      // A planned run (the selftest's controls) passes when its plan held.
      EXPECT_EQ(s.passed[i], run.contains("expected") ? run["expected"]["met"].get<bool>()
                                                      : run["verdict"] == "clean")
          << which << " run " << i;
    }
  }
  // The selftest passed, and its KTAP file says so: every control is ok, the planted leaks
  // as kselftest's expected failures.
  const std::string ktap = ReadFile(Dir() + "/selftest/report.ktap");
  testing::KtapSummary s;
  testing::CheckKtap(ktap, &s);
  EXPECT_EQ(s.ok, 16u) << ktap;
  EXPECT_EQ(s.not_ok, 0u) << ktap;
  EXPECT_NE(ktap.find("# Totals: pass:8 fail:0 xfail:8 xpass:0 skip:0 error:0"), std::string::npos)
      << ktap;
  EXPECT_NE(ktap.find(" # XFAIL the planted leak was named: "), std::string::npos) << ktap;
}

// Runs headless Chromium on a file; returns its exit status, with stdout in *out and
// the browser's log in *log.
int Chromium(const std::string& args, const std::string& page, std::string* out, std::string* log) {
  TempDir profile;
  const std::string log_path = profile.path() + "/log";
  CommandResult r =
      RunCommand(std::string("( timeout 120 ") + kChromium +
                 " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                 "--disable-background-networking --disable-component-update --disable-sync "
                 "--enable-logging=stderr --v=0 --user-data-dir=" +
                 profile.path() + "/profile " + args + " file://" + page + " 2>" + log_path + " )");
  *out = r.out;
  *log = ReadFile(log_path);
  return r.status;
}

// Console errors Chromium logged for the page (script errors, failed loads).
std::vector<std::string> ConsoleErrors(const std::string& log) {
  std::vector<std::string> errors;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(":CONSOLE") != std::string::npos) errors.push_back(line);
  return errors;
}

TEST_F(ReportFormats, HtmlLoadsInChromiumAndShowsTheGraph) {
  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << "skipped: no " << kChromium;
  const std::string page = Dir() + "/run/report.html";
  const std::string html = ReadFile(page);
  EXPECT_EQ(html.find(" src="), std::string::npos) << "self-contained: nothing to fetch";
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<pre class=\"dot\">"), std::string::npos)
      << "every graph was drawn (is Graphviz installed?)";

  std::string dom, log;
  ASSERT_EQ(Chromium("--dump-dom", page, &dom, &log), 0) << log;
  EXPECT_TRUE(ConsoleErrors(log).empty()) << ConsoleErrors(log).front();
  const size_t svg = dom.find("<svg");
  ASSERT_NE(svg, std::string::npos) << "the drawing is in the DOM";
  const size_t svg_end = dom.find("</svg>", svg);
  ASSERT_NE(svg_end, std::string::npos);
  const std::string drawing = dom.substr(svg, svg_end - svg);
  EXPECT_NE(drawing.find("class=\"node\""), std::string::npos);
  EXPECT_NE(drawing.find("class=\"edge\""), std::string::npos);
  EXPECT_NE(drawing.find("LEFTOVER"), std::string::npos) << "the leftover is drawn";
  EXPECT_NE(drawing.find("@inflight-hold"), std::string::npos) << "and who holds it";
  EXPECT_LT(dom.find("id=\"findings\""), dom.find("id=\"runs\""));

  const std::string png = Dir() + "/shot.png";
  std::string out;
  ASSERT_EQ(Chromium("--screenshot=" + png + " --window-size=1280,1800", page, &out, &log), 0)
      << log;
  EXPECT_TRUE(ConsoleErrors(log).empty()) << ConsoleErrors(log).front();
  CommandResult px = RunCommand(std::string(kPython) + " " + Script("check_png.py") + " " + png);
  ASSERT_EQ(px.status, 0) << px.out;
  int width = 0, height = 0, red = 0, colours = 0;
  double nonwhite = 0;
  ASSERT_EQ(sscanf(px.out.c_str(), "%d %d %lf %d %d", &width, &height, &nonwhite, &red, &colours),
            5)
      << px.out;
  EXPECT_EQ(width, 1280);
  EXPECT_EQ(height, 1800);
  EXPECT_GT(nonwhite, 0.03) << "the page shows text, tables and the drawing";
  EXPECT_GT(colours, 30);
  EXPECT_GT(red, 2000) << "the leftover's red node and edges are on screen";

  // The same checks see a broken page.
  const std::string bad = Dir() + "/bad.html";
  WriteText(bad, "<!DOCTYPE html><html><body><p>x</p><script>no_such_fn();</script></body></html>");
  ASSERT_EQ(Chromium("--dump-dom", bad, &dom, &log), 0);
  EXPECT_FALSE(ConsoleErrors(log).empty()) << "a script error is seen in the log";
  EXPECT_EQ(dom.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace inflight
