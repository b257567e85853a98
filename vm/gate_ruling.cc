// The gate's fail-closed ruling.
#include "vm/gate_ruling.h"

#include <fmt/core.h>

#include "base/exit_codes.h"
#include "vm/vm_report.h"

namespace inflight {

namespace {

GateRuling NoVerdict(int status, std::string why) {
  return {status, "NO VERDICT", std::move(why)};
}

GateRuling Worse(std::string why) {
  return {kExitFinding, "CANDIDATE WORSE", std::move(why)};
}

std::string FirstAndCount(const std::vector<std::string>& reasons) {
  if (reasons.size() == 1) return reasons.front();
  return fmt::format("{} (and {} more)", reasons.front(), reasons.size() - 1);
}

}  // namespace

CompareLabels GateLabels() {
  return {"the baseline", "the candidate"};
}

std::optional<GateRuling> RuleOnBaseline(const VmOutcome& base) {
  switch (base.end) {
    case VmEnd::kInterrupted:
      return GateRuling{kExitInterrupted, "INTERRUPTED", "stopped"};
    case VmEnd::kTimeout:
      return NoVerdict(kExitTimeout, "the baseline timed out: " + base.why);
    case VmEnd::kNoBoot:
      return NoVerdict(kExitNoBoot, "the baseline did not boot: " + base.why);
    case VmEnd::kCrashed:
    case VmEnd::kHang:
      return NoVerdict(
          kExitEnvironment,
          "the baseline itself went down, so there is nothing to compare with: " + base.why);
    case VmEnd::kCompleted:
      break;
  }
  if (base.guest_status == kExitUsage || base.guest_status == kExitEnvironment)
    return NoVerdict(
        base.guest_status,
        fmt::format("the suite could not run on the baseline (status {})", base.guest_status));
  if (base.expects_report && !base.guest_report)
    return NoVerdict(kExitInternal,
                     fmt::format("the baseline's report did not come back (its suite exited "
                                 "{}), so there is nothing to compare with",
                                 base.guest_status));
  if (base.guest_status == kExitInterrupted ||
      (base.guest_report && base.guest_report->value("interrupted", false)))
    return NoVerdict(kExitInternal,
                     "the baseline's suite was interrupted, so there is nothing complete to "
                     "compare with");
  return std::nullopt;
}

GateRuling RuleOnCandidate(const VmOutcome& base, const VmOutcome& cand, const Comparison& cmp) {
  switch (cand.end) {
    case VmEnd::kInterrupted:
      return {kExitInterrupted, "INTERRUPTED", "stopped"};
    case VmEnd::kNoBoot:
      return Worse("the candidate does not boot: " + cand.why);
    case VmEnd::kCrashed:
    case VmEnd::kHang:
      return Worse("the candidate went down during the suite: " + cand.why);
    case VmEnd::kTimeout:
      return Worse(
          fmt::format("the candidate timed out where the baseline finished in {:.0f} s: {}",
                      base.total_s, cand.why));
    case VmEnd::kCompleted:
      break;
  }
  if (!cmp.introduced.empty() || !cmp.worse.empty())
    return Worse(fmt::format("{} new finding(s), {} more frequent", cmp.introduced.size(),
                             cmp.worse.size()));
  if (!cmp.ended_worse.empty()) return Worse(FirstAndCount(cmp.ended_worse));
  if (!cmp.incomplete.empty())
    return {kExitIncomplete, "INCOMPLETE",
            "the candidate does not cover what the baseline ran: " + FirstAndCount(cmp.incomplete)};
  if (!cmp.errors.empty() || VmExitStatus(cand) == kExitInternal)
    return NoVerdict(kExitInternal,
                     "the candidate's run has errors (ours), so its verdicts are incomplete");
  return {kExitClean, "PASS", "the candidate is not worse than the baseline"};
}

}  // namespace inflight
