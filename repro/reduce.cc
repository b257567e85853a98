// Dropping actions with repair, and single-action simplifications.
#include "repro/reduce.h"

#include <bitset>

#include "scenario/bounds.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {

ScenarioSize MeasureScenario(const Scenario& s) {
  ScenarioSize z;
  z.processes = s.procs.size();
  z.actions = s.actions.size();
  for (const Action& a : s.actions)
    if (a.op != Op::kRecv && a.op != Op::kDup) z.objects += a.out.size();
  return z;
}

namespace {

enum class State : uint8_t { kNotStarted, kRunning, kEnded };

}  // namespace

std::optional<Scenario> DropActions(const Scenario& s, const std::vector<bool>& drop) {
  std::vector<State> state(s.procs.size(), State::kNotStarted);
  if (state.empty()) return std::nullopt;
  state[0] = State::kRunning;
  std::vector<std::bitset<Bounds::kMaxVars>> bound(s.procs.size());
  std::vector<Action> kept;
  for (size_t i = 0; i < s.actions.size(); ++i) {
    if (i < drop.size() && drop[i]) continue;
    Action a = s.actions[i];
    const ProcId p = a.proc;
    if (p >= state.size() || state[p] != State::kRunning) continue;
    if (HasTarget(a.op) && (a.target >= s.vars.size() || !bound[p][a.target])) continue;
    bool outputs_free = true;
    for (VarId v : a.out) outputs_free &= v < s.vars.size() && !bound[p][v];
    if (!outputs_free) continue;
    if (a.op == Op::kFork && (a.other >= state.size() || state[a.other] != State::kNotStarted))
      continue;
    if (a.op == Op::kKill && (a.other >= state.size() || state[a.other] != State::kRunning))
      continue;
    if (a.op == Op::kPidfd && (a.other >= state.size() || state[a.other] == State::kNotStarted))
      continue;
    if (a.op == Op::kEpollAdd && (a.target2 >= s.vars.size() || !bound[p][a.target2])) continue;
    if (a.op == Op::kSend) {
      std::vector<Right> open;
      for (const Right& r : a.rights)
        if (r.var < s.vars.size() && bound[p][r.var]) open.push_back(r);
      if (open.size() != a.rights.size()) {
        a.rights = std::move(open);
        const uint32_t n = Scenario::RightsCount(a);
        if (a.cmsgs > n) a.cmsgs = static_cast<uint16_t>(n > 0 ? n : 1);
      }
    }
    for (VarId v : a.out) bound[p][v] = true;
    switch (a.op) {
      case Op::kClose:
        bound[p][a.target] = false;
        break;
      case Op::kFork:
        state[a.other] = State::kRunning;
        bound[a.other] = bound[p];
        break;
      case Op::kExit:
        state[p] = State::kEnded;
        break;
      case Op::kKill:
        state[a.other] = State::kEnded;
        break;
      default:
        break;
    }
    kept.push_back(std::move(a));
  }
  if (kept.empty()) return std::nullopt;

  // Processes that are never forked go; the rest keep their order.
  std::vector<int> pmap(s.procs.size(), -1);
  Scenario out = s;
  out.procs.clear();
  for (size_t p = 0; p < s.procs.size(); ++p) {
    if (state[p] == State::kNotStarted) continue;
    pmap[p] = static_cast<int>(out.procs.size());
    out.procs.push_back(s.procs[p]);
  }
  for (Action& a : kept) {
    a.proc = static_cast<ProcId>(pmap[a.proc]);
    if (a.op == Op::kFork || a.op == Op::kKill || a.op == Op::kPidfd)
      a.other = static_cast<ProcId>(pmap[a.other]);
  }
  out.actions = std::move(kept);
  Canonicalize(out);
  if (Validate(out)) return std::nullopt;
  return out;
}

std::vector<Scenario> Simplifications(const Scenario& s) {
  std::vector<Scenario> out;
  auto add = [&](Scenario c) {
    if (!Validate(c)) out.push_back(std::move(c));
  };
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const Action& a = s.actions[i];
    if (a.op != Op::kSend) continue;
    bool repeated = false;
    for (const Right& r : a.rights) repeated |= r.count > 1;
    if (repeated) {
      Scenario one = s, half = s;
      for (Right& r : one.actions[i].rights) r.count = 1;
      for (Right& r : half.actions[i].rights) r.count = static_cast<uint16_t>((r.count + 1) / 2);
      for (Scenario* c : {&one, &half}) {
        const uint32_t n = Scenario::RightsCount(c->actions[i]);
        if (c->actions[i].cmsgs > n) c->actions[i].cmsgs = static_cast<uint16_t>(n);
      }
      const bool same = half == one;
      add(std::move(one));
      if (!same) add(std::move(half));
    }
    if (a.cmsgs > 1) {
      Scenario c = s;
      c.actions[i].cmsgs = 1;
      add(std::move(c));
    }
    if (a.empty > 0) {
      Scenario c = s;
      c.actions[i].empty = 0;
      add(std::move(c));
    }
    if (a.bytes != Defaults::kSendBytes) {
      Scenario c = s;
      c.actions[i].bytes = Defaults::kSendBytes;
      add(std::move(c));
    }
  }
  return out;
}

}  // namespace inflight
