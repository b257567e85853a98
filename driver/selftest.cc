// Positive and negative controls for the oracle.
#include "driver/selftest.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <set>

#include "base/errors.h"
#include "driver/interrupt.h"
#include "driver/runner.h"

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
  PoolOptions po = MakePoolOptions(args);
  po.jobs = 1;
  po.slots = 8;

  std::vector<std::string> failures;
  size_t oracle_failures = 0;  // failures that say the oracle itself cannot be trusted
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
    for (RunRecord& r : report.runs) {
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
      // A control cycle without the holder that was *proven* a leak (collector passes
      // freed nothing, or the collector is stalled) is the kernel's failure, not ours.
      const bool kernel_leak =
          !hold && r.verdict.kind == VerdictKind::kLeak && r.result.settle == SettleResult::kDirty;
      if (!problem.empty()) {
        failures.push_back(fmt::format("{} ({}, {}): {}", r.scenario, RunModeName(r.mode),
                                       hold ? "with holder" : "without holder", problem));
        if (kernel_leak)
          out.kernel_findings.push_back(r);
        else
          ++oracle_failures;
      }
      // The report's CI formats say whether the control went as planned: a planted leak
      // that was named passes.
      Expectation e;
      e.verdict = hold ? VerdictKind::kLeak : VerdictKind::kClean;
      e.met = problem.empty();
      e.note = !e.met ? std::move(problem)
               : hold ? fmt::format("the planted leak was named: {}", fmt::join(c.objects, ", "))
                      : "without the holder nothing is planted: clean";
      r.expected = std::move(e);
      out.runs.push_back(std::move(r));
    }
  }
  out.details = std::move(details);
  out.passed = failures.empty();
  out.kernel_fails = !out.passed && oracle_failures == 0;
  if (!out.kernel_fails) out.kernel_findings.clear();
  out.summary =
      out.passed ? fmt::format(
                       "the oracle named every planted leak and stayed silent without "
                       "them ({} control runs)",
                       out.details.size())
      : out.kernel_fails
          ? fmt::format(
                "the oracle named every planted leak, but this kernel leaks {} of the "
                "control runs without any holder (a kernel finding); first: {}",
                out.kernel_findings.size(), failures.front())
          : fmt::format("{} control run(s) failed; first: {}", failures.size(), failures.front());
  return out;
}

}  // namespace inflight
