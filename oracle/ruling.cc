// The ruling sequence shared by graph and stress verdicts.
#include "oracle/ruling.h"

#include <fmt/core.h>

namespace inflight {

Verdict RuleRun(const RunResult& r, const RunRuling& how) {
  Verdict v;
  if (r.status == RunStatus::kSetupError || r.status == RunStatus::kExecutorError) {
    v.kind = VerdictKind::kError;
    v.summary = fmt::format("{}: {}", RunStatusName(r.status), r.error);
    return v;
  }
  if (how.faults) v.faults = how.faults();
  if (how.losses) v.losses = how.losses();

  // Leftovers after settling (also what an unsettled run still held at the ceiling).
  if (r.settle == SettleResult::kDirty || r.settle == SettleResult::kUnsettled) {
    const CensusDelta d = DiffCensus(r.baseline, r.census);
    if (how.socket_leftovers) how.socket_leftovers(d, v.leftovers);
    const auto label =
        how.label ? how.label : [](uint64_t ino) { return fmt::format("socket {}", ino); };
    AppendOutOfTableLeftovers(d, r.census, label, v.leftovers);
    if (how.more_leftovers) how.more_leftovers(v.leftovers);
  }
  if (r.accounting_deficit > 0) {
    Leftover l;
    l.what = "in-flight accounting";
    l.detail = fmt::format(
        "uid {:#x}: {} descriptor(s) still counted in flight after every object was freed "
        "(sendmsg would fail with ETOOMANYREFS that many descriptors early)",
        r.uid, r.accounting_deficit);
    v.leftovers.push_back(std::move(l));
  }
  v.kernel_log = r.kernel_log;

  if (r.status == RunStatus::kHang) {
    v.kind = VerdictKind::kHang;
    v.summary = r.error;
  } else if (!r.kernel_log.empty()) {
    v.kind = VerdictKind::kFault;
    v.summary = fmt::format("kernel fault: {}", r.kernel_log.front());
  } else if (r.settle == SettleResult::kDirty || r.accounting_deficit > 0) {
    v.kind = VerdictKind::kLeak;
    v.summary = how.leak_summary ? how.leak_summary(v)
                                 : fmt::format("{} object(s) outlived the run; {}",
                                               v.leftovers.size(), SettleEvidence(r));
  } else if (!v.losses.empty()) {
    v.kind = VerdictKind::kLoss;
    v.summary = fmt::format("{} receive(s) lost messages: {}", v.losses.size(), v.losses.front());
  } else if (!v.faults.empty()) {
    v.kind = VerdictKind::kFault;
    v.summary = how.fault_summary
                    ? how.fault_summary(v)
                    : fmt::format("{} fault(s): {}", v.faults.size(), v.faults.front());
  } else if (r.settle == SettleResult::kUnsettled) {
    v.kind = VerdictKind::kUnsettled;
    v.summary = fmt::format("unsettled, neither clean nor proven a leak: {} object(s) left; {}",
                            v.leftovers.size(), SettleEvidence(r));
  } else {
    v.kind = VerdictKind::kClean;
    v.summary = r.settle == SettleResult::kCleanSettled
                    ? fmt::format("clean after {:.1f} ms of settling", r.settle_us / 1000.0)
                    : "clean";
  }
  return v;
}

}  // namespace inflight
