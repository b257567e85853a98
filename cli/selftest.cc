// Positive and negative controls for the oracle.
#include "cli/selftest.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <set>

#include "base/errors.h"
#include "cli/interrupt.h"
#include "cli/runner.h"

namespace inflight {

namespace {

// What each control plants: the scenario objects left in flight, one embryo each.
struct Control {
  const char* name;
  std::set<std::string> objects;
};
const Control kControls[] = {
    {"control_hold_socket", {"x"}},
    {"control_hold_cycle", {"a", "b"}},
};

const Control* FindControl(const std::string& name) {
  for (const Control& c : kControls)
    if (name == c.name) return &c;
  return nullptr;
}

// Empty when the leak verdict names exactly what the control planted.
std::string CheckPlanted(const Control& c, const RunRecord& r, const Hello& h) {
  if (r.verdict.kind != VerdictKind::kLeak)
    return fmt::format("ruled {} ({}), expected leak", VerdictName(r.verdict.kind),
                       r.verdict.summary);
  std::set<std::string> named;
  int embryos = 0, outside = 0, other = 0;
  for (const Leftover& l : r.verdict.leftovers) {
    if (!l.object.empty()) {
      named.insert(l.object);
    } else if (l.what.rfind("embryo", 0) == 0) {
      ++embryos;
    } else if (l.what.rfind("unix sockets outside", 0) == 0) {
      ++outside;
    } else {
      ++other;
    }
  }
  if (named != c.objects)
    return fmt::format("named {{{}}}, expected {{{}}}", fmt::join(named, ", "),
                       fmt::join(c.objects, ", "));
  if (other) return fmt::format("{} leftover(s) not from the scenario", other);
  // sock_diag lists the embryo with its closed connecting socket (as a 0 in ICONS); the
  // /proc fallback lists the embryo without an inode, and only the protocol count sees
  // the closed connecting socket that the embryo keeps alive.
  const int want_outside = h.census_method != "sock_diag" && h.protocols_check ? 1 : 0;
  if (embryos != 1 || outside != want_outside)
    return fmt::format("{} embryo(s) and {} unexplained socket group(s), expected 1 and {}",
                       embryos, outside, want_outside);
  return "";
}

}  // namespace

SelftestResult RunSelftest(const std::string& controls_dir, const CommonRunArgs& args,
                           bool progress) {
  SelftestResult out;
  auto files = LoadScenarios({controls_dir});
  for (const ScenarioFile& f : files)
    if (!FindControl(f.scenario.name))
      throw UsageError(fmt::format("{}: not a known control scenario", f.path));
  if (files.size() != std::size(kControls))
    throw UsageError(
        fmt::format("{}: expected {} control scenarios", controls_dir, std::size(kControls)));
  RunPlan plan;
  plan.modes = {RunMode::kLockstep, RunMode::kFree};
  plan.repeat = 2;
  plan.base = BaseRunOptions(args);
  // The positive controls wait the whole settling deadline by design; a short one does.
  plan.base.settle_ms = std::min<uint32_t>(plan.base.settle_ms, 300);
  PoolOptions po = MakePoolOptions(args);
  po.jobs = 1;
  po.slots = 8;

  std::vector<std::string> failures;
  nlohmann::json details = nlohmann::json::array();
  for (bool hold : {true, false}) {
    po.hold_addr = hold ? kHoldAddress : "";
    SandboxPool pool(po);
    pool.Start();
    Report report;
    RunnerUi ui{progress, hold ? "selftest (planted leak)" : "selftest (no leak)"};
    if (!RunScenarios(pool, files, plan, ui, report)) {
      out.summary = "interrupted";
      out.hello = pool.hello();
      for (RunRecord& r : report.runs) out.runs.push_back(std::move(r));  // they finished
      return out;
    }
    out.hello = pool.hello();
    for (const RunRecord& r : report.runs) {
      const Control& c = *FindControl(r.scenario);
      std::string problem =
          hold ? CheckPlanted(c, r, pool.hello())
               : (r.verdict.kind == VerdictKind::kClean
                      ? ""
                      : fmt::format("ruled {} ({}), expected clean", VerdictName(r.verdict.kind),
                                    r.verdict.summary));
      details.push_back({{"control", r.scenario},
                         {"holder", hold},
                         {"mode", RunModeName(r.mode)},
                         {"verdict", VerdictName(r.verdict.kind)},
                         {"summary", r.verdict.summary},
                         {"ok", problem.empty()}});
      if (!problem.empty())
        failures.push_back(fmt::format("{} ({}, {}): {}", r.scenario, RunModeName(r.mode),
                                       hold ? "with holder" : "without holder", problem));
    }
    for (RunRecord& r : report.runs) out.runs.push_back(std::move(r));
  }
  out.details = std::move(details);
  out.passed = failures.empty();
  out.summary = out.passed ? fmt::format(
                                 "the oracle named every planted leak and stayed silent without "
                                 "them ({} control runs)",
                                 out.details.size())
                           : fmt::format("{} control run(s) failed; first: {}", failures.size(),
                                         failures.front());
  return out;
}

}  // namespace inflight
