// Scheduling stress epochs, ruling checkpoints, rates, the stress report section.
#include "driver/stress_runner.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>

#include "base/clock.h"
#include "base/errors.h"
#include "driver/progress.h"
#include "oracle/stress_verdict.h"
#include "reports/finding_signature.h"
#include "stressors/registry.h"

namespace inflight {

namespace {

// Two epochs per worker in flight: the sandbox starts the second while the first's slot
// settles.
constexpr int kQueuedPerWorker = 2;

std::string Human(double v) {
  const double a = v < 0 ? -v : v;
  if (a >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
  if (a >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.2f}", v);
}

std::string Wrap(const std::string& text, size_t width, const std::string& indent) {
  std::string out, line;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t sp = text.find(' ', pos);
    if (sp == std::string::npos) sp = text.size();
    const std::string word = text.substr(pos, sp - pos);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    pos = sp + 1;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

// Totals of one stressor over the run.
struct Totals {
  uint32_t epochs = 0;
  int64_t run_us = 0;  // summed over epochs (and so over workers)
  std::vector<uint64_t> counters;
  std::map<std::string, size_t> verdicts;
  std::string skipped;
  std::set<std::string> notes;
  uint64_t faults = 0;
  int64_t max_settle_us = 0;
};

// Rate of counter i: per second of stressing with all workers together.
double Rate(const Totals& t, uint32_t workers, size_t i) {
  const double secs = t.run_us / 1e6 / std::max<uint32_t>(1, workers);
  return secs > 0 ? static_cast<double>(t.counters[i]) / secs : 0;
}

nlohmann::json CountersJson(const Stressor& s, const std::vector<uint64_t>& c) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < s.counters.size() && i < c.size(); ++i) j[s.counters[i].name] = c[i];
  return j;
}

nlohmann::json OptionsJson(const StressEntry& e) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < e.stressor->options.size(); ++i)
    j[e.stressor->options[i].name] = e.options[i];
  return j;
}

std::string OptionArgs(const StressEntry& e) {
  std::string out;
  for (size_t i = 0; i < e.stressor->options.size(); ++i)
    if (e.options[i] != e.stressor->options[i].def)
      out +=
          fmt::format(" -o {}.{}={}", e.stressor->name, e.stressor->options[i].name, e.options[i]);
  return out;
}

std::string Seconds(uint32_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

struct Worker {
  size_t entry = 0;
  uint32_t index = 0;
  uint32_t next_epoch = 0;
  int queued = 0;
  bool stopped = false;
};

struct Sent {
  size_t worker = 0;
  uint32_t epoch = 0;
  uint64_t seed = 0;
};

class Progress {
 public:
  Progress(const RunnerUi& ui, const StressPlan& plan)
      : ui_(ui), plan_(plan), line_(ui.progress, 500'000, 5'000'000) {}

  void Update(const std::vector<Totals>& totals, const std::map<std::string, size_t>& counts,
              bool force = false) {
    if (!line_.Due(force)) return;
    std::string line = fmt::format("{}: {:.0f}/{:.0f} s", ui_.label,
                                   (NowMicros() - line_.start_us()) / 1e6, plan_.duration_ms / 1e3);
    for (size_t k = 0; k < plan_.entries.size(); ++k) {
      const Stressor& s = *plan_.entries[k].stressor;
      const Totals& t = totals[k];
      if (!t.skipped.empty()) {
        line += fmt::format(" | {} skipped", s.name);
      } else if (!s.counters.empty() && !t.counters.empty()) {
        line += fmt::format(" | {} {} {}/s", s.name, Human(Rate(t, plan_.workers, 0)),
                            s.counters[0].name);
      }
    }
    size_t n = 0;
    for (const auto& [_, c] : counts) n += c;
    line += fmt::format(" | checkpoints {}: clean {} leak {} hang {} fault {} error {}", n,
                        counts.at("clean"), counts.at("leak"), counts.at("hang"),
                        counts.at("fault"), counts.at("error"));
    line_.Show(line);
  }
  void Done() { line_.End(); }

 private:
  const RunnerUi& ui_;
  const StressPlan& plan_;
  ProgressLine line_;
};

// A finding's signatures (reports/finding_signature.h): a leak, one per leak class of
// its leftovers by the labels the stressor logged them under; anything else, one.
std::vector<std::string> StressSignatures(const Stressor& s, const RunRecord& rec) {
  if (rec.verdict.kind == VerdictKind::kLoss)
    return {fmt::format("loss|stress({})|messages", s.name)};
  if (rec.verdict.kind != VerdictKind::kLeak) return {RunSignature(rec)};
  std::map<std::string, std::string> class_of;  // label text -> leak class
  for (uint16_t i = 0; i < s.labels.size(); ++i)
    class_of[StressLabel(s, i)] = i < s.label_classes.size() ? s.label_classes[i] : "";
  std::set<std::string> out;
  // Leftovers without an inode (closed peers the leftover sockets keep alive, counted
  // beyond the table; the in-flight count) follow from the objects: a class of their own
  // only when nothing else outlived the epoch.
  bool objects = false;
  for (const Leftover& l : rec.verdict.leftovers) objects |= l.ino != 0;
  for (const Leftover& l : rec.verdict.leftovers) {
    if (l.what == "in-flight accounting" || (objects && l.ino == 0)) continue;
    auto it = class_of.find(l.object);
    out.insert(StressLeakSignature(it == class_of.end() ? "" : it->second,
                                   l.object.empty() ? "unlogged" : l.object, l.what));
  }
  if (out.empty()) out.insert("leak|accounting|");
  return {out.begin(), out.end()};
}

}  // namespace

std::vector<StressEntry> ChooseStressors(const std::vector<std::string>& names) {
  std::vector<StressEntry> out;
  std::set<std::string> seen;
  auto add = [&](const Stressor* s) {
    StressEntry e;
    e.stressor = s;
    for (const StressOption& o : s->options) e.options.push_back(o.def);
    out.push_back(std::move(e));
  };
  if (names.empty()) {
    for (const Stressor* s : AllStressors()) add(s);
    return out;
  }
  for (const std::string& n : names) {
    const Stressor* s = FindStressor(n);
    if (!s) {
      std::string known;
      for (const Stressor* k : AllStressors())
        known += fmt::format("{}{}", known.empty() ? "" : ", ", k->name);
      throw UsageError(fmt::format("no stressor called '{}' (there are: {})", n, known));
    }
    if (!seen.insert(n).second) throw UsageError(fmt::format("stressor '{}' named twice", n));
    add(s);
  }
  return out;
}

void ApplyStressOptions(std::vector<StressEntry>& entries,
                        const std::vector<std::string>& settings) {
  for (const std::string& set : settings) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError(fmt::format("-o {}: expected KEY=VALUE or STRESSOR.KEY=VALUE", set));
    std::string key = set.substr(0, eq), only;
    const std::string value = set.substr(eq + 1);
    if (const size_t dot = key.find('.'); dot != std::string::npos) {
      only = key.substr(0, dot);
      key = key.substr(dot + 1);
    }
    errno = 0;
    char* end = nullptr;
    const long long v = strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end || errno == ERANGE)
      throw UsageError(fmt::format("-o {}: '{}' is not an integer", set, value));
    bool applied = false;
    for (StressEntry& e : entries) {
      if (!only.empty() && only != e.stressor->name) continue;
      for (size_t i = 0; i < e.stressor->options.size(); ++i) {
        const StressOption& o = e.stressor->options[i];
        if (key != o.name) continue;
        if (v < o.min || v > o.max)
          throw UsageError(
              fmt::format("-o {}: {}.{} is {}..{}", set, e.stressor->name, o.name, o.min, o.max));
        e.options[i] = v;
        applied = true;
      }
    }
    if (!applied)
      throw UsageError(fmt::format("-o {}: no chosen stressor has an option '{}'{}", set, key,
                                   only.empty() ? "" : " (for " + only + ")"));
  }
}

std::string StressListText(const std::vector<std::string>& names) {
  std::string out;
  if (names.empty()) {
    size_t w = 0;
    for (const Stressor* s : AllStressors()) w = std::max(w, std::string(s->name).size());
    for (const Stressor* s : AllStressors())
      out += fmt::format("{:<{}}  {}\n", s->name, w, s->help);
    return out;
  }
  for (const StressEntry& e : ChooseStressors(names)) {
    const Stressor& s = *e.stressor;
    out += fmt::format("{}: {}\n\n", s.name, s.help);
    out += Wrap(s.about, 88, "  ");
    out += "\n  options (-o " + std::string(s.name) + ".KEY=VALUE):\n";
    for (const StressOption& o : s.options)
      out += fmt::format("    {:<16} {:>6}  [{}..{}]\n{}", o.name, o.def, o.min, o.max,
                         Wrap(o.help, 72, "      "));
    out += "  counters:\n";
    for (const StressCounter& c : s.counters)
      out += fmt::format("    {:<18} {}{}\n", c.name, c.help,
                         c.kind == CounterKind::kMax ? " (high-water mark)" : " (a rate)");
    out += "\n";
  }
  return out;
}

bool RunStress(SandboxPool& pool, const StressPlan& plan, const RunnerUi& ui, Report& report) {
  const int64_t run_start = NowMicros();
  const int64_t run_end = run_start + static_cast<int64_t>(plan.duration_ms) * 1000;
  std::vector<Worker> workers;
  for (size_t k = 0; k < plan.entries.size(); ++k)
    for (uint32_t i = 0; i < plan.workers; ++i) workers.push_back({k, i, 0, 0, false});
  std::vector<Totals> totals(plan.entries.size());
  for (size_t k = 0; k < plan.entries.size(); ++k)
    totals[k].counters.assign(plan.entries[k].stressor->counters.size(), 0);
  std::map<std::string, size_t> counts;
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    counts[VerdictName(static_cast<VerdictKind>(k))] = 0;
  std::map<uint64_t, Sent> sent;
  Progress progress(ui, plan);

  auto submit = [&](size_t w) {
    Worker& wk = workers[w];
    const StressEntry& e = plan.entries[wk.entry];
    StressRequest req;
    req.stressor = e.stressor->name;
    req.options = e.options;
    req.seed = plan.seed + wk.index * kWorkerSeedStride + wk.next_epoch;
    req.epoch = wk.next_epoch++;
    req.worker = wk.index;
    req.epoch_ms = plan.checkpoint_ms;
    req.run_end_us = run_end;
    req.timeout_ms = plan.timeout_ms;
    req.settle_ms = std::max(plan.settle_ms, e.stressor->settle_ms);
    req.log_objects = plan.log_objects;
    sent[pool.SubmitStress(req)] = {w, req.epoch, req.seed};
    ++wk.queued;
  };

  bool interrupted = false;
  for (;;) {
    if (ui.stop && ui.stop()) {
      interrupted = true;
      break;
    }
    const bool time_left = NowMicros() + 100'000 < run_end;
    bool busy = false;
    for (size_t w = 0; w < workers.size(); ++w) {
      while (time_left && !workers[w].stopped && workers[w].queued < kQueuedPerWorker) submit(w);
      busy |= workers[w].queued > 0;
    }
    if (!busy) break;
    auto res = pool.Next(100);
    progress.Update(totals, counts);
    if (!res) continue;
    auto it = sent.find(res->id);
    if (it == sent.end())
      throw InternalError(fmt::format("the sandbox answered an unknown stress id {}", res->id));
    const Sent info = it->second;
    sent.erase(it);
    Worker& wk = workers[info.worker];
    --wk.queued;
    const StressEntry& e = plan.entries[wk.entry];
    const Stressor& s = *e.stressor;
    Totals& t = totals[wk.entry];
    if (res->stress.not_run) continue;
    if (!res->stress.skipped.empty() && res->status == RunStatus::kCompleted &&
        res->settle != SettleResult::kDirty) {
      // This machine cannot run it: say why once, and stop scheduling it.
      for (Worker& other : workers)
        if (other.entry == wk.entry) other.stopped = true;
      t.skipped = res->stress.skipped;
      continue;
    }
    RunRecord rec;
    rec.scenario = s.name;
    rec.file = "stressors";
    rec.seed = info.seed;
    rec.mode = RunMode::kFree;
    rec.repeat = info.epoch;
    rec.verdict = RuleStress(s, *res);
    ++counts[VerdictName(rec.verdict.kind)];
    ++t.verdicts[VerdictName(rec.verdict.kind)];
    ++t.epochs;
    t.run_us += res->stress.run_us;
    t.faults += res->stress.faults_total;
    t.max_settle_us = std::max(t.max_settle_us, res->settle_us);
    for (const std::string& n : res->stress.notes) t.notes.insert(n);
    nlohmann::json rates = nlohmann::json::object();
    const double secs = res->stress.run_us / 1e6;
    for (size_t i = 0; i < s.counters.size() && i < res->stress.counters.size(); ++i) {
      const uint64_t c = res->stress.counters[i];
      if (s.counters[i].kind == CounterKind::kMax) {
        t.counters[i] = std::max(t.counters[i], c);
      } else {
        t.counters[i] += c;
        if (secs > 0) rates[s.counters[i].name] = c / secs;
      }
    }
    rec.extra = {
        {"stressor", s.name},
        {"worker", wk.index},
        {"epoch", info.epoch},
        {"checkpoint", info.epoch + 1},
        {"run_time_s", secs},
        {"counters", CountersJson(s, res->stress.counters)},
        {"rates", rates},
        {"faults_total", res->stress.faults_total},
        {"replay", fmt::format("inflight stress {} --seed {} --workers 1 --duration {} "
                               "--checkpoint {}{}",
                               s.name, info.seed, Seconds(plan.checkpoint_ms),
                               Seconds(plan.checkpoint_ms), OptionArgs(e))},
    };
    if (IsFinding(rec.verdict.kind)) rec.extra["signatures"] = StressSignatures(s, rec);
    if (!res->stress.notes.empty()) rec.extra["notes"] = res->stress.notes;
    if (res->stress.log_truncated) rec.extra["object_log_truncated"] = true;
    if (rec.verdict.kind == VerdictKind::kClean) {
      res->baseline.sockets.clear();
      res->census.sockets.clear();
    } else {
      rec.full = true;
    }
    rec.result = std::move(*res);
    report.runs.push_back(std::move(rec));
    progress.Update(totals, counts);
  }
  progress.Update(totals, counts, true);
  progress.Done();

  nlohmann::json section = {
      {"duration_s", plan.duration_ms / 1e3},
      {"checkpoint_s", plan.checkpoint_ms / 1e3},
      {"workers", plan.workers},
      {"seed", plan.seed},
      {"rates_are", "per second of stressing, all workers of a stressor together"},
  };
  nlohmann::json per = nlohmann::json::object();
  for (size_t k = 0; k < plan.entries.size(); ++k) {
    const StressEntry& e = plan.entries[k];
    const Stressor& s = *e.stressor;
    const Totals& t = totals[k];
    nlohmann::json rates = nlohmann::json::object(), peaks = nlohmann::json::object();
    for (size_t i = 0; i < s.counters.size(); ++i) {
      if (s.counters[i].kind == CounterKind::kMax)
        peaks[s.counters[i].name] = t.counters[i];
      else
        rates[s.counters[i].name] = Rate(t, plan.workers, i);
    }
    nlohmann::json j = {
        {"workers", plan.workers},
        {"epochs", t.epochs},
        {"stressing_s", t.run_us / 1e6 / std::max<uint32_t>(1, plan.workers)},
        {"counters", CountersJson(s, t.counters)},
        {"rates", rates},
        {"high_water", peaks},
        {"verdicts", t.verdicts},
        {"faults", t.faults},
        {"max_settle_s", t.max_settle_us / 1e6},
        {"options", OptionsJson(e)},
        {"notes", std::vector<std::string>(t.notes.begin(), t.notes.end())},
    };
    if (!t.skipped.empty()) j["skipped"] = t.skipped;
    per[s.name] = std::move(j);
  }
  section["stressors"] = std::move(per);
  report.extra["stress"] = std::move(section);
  if (interrupted) {
    pool.Stop();
    report.interrupted = true;
    return false;
  }
  return true;
}

std::string StressSummary(const Report& report) {
  if (!report.extra.contains("stress")) return "";
  const nlohmann::json& st = report.extra["stress"];
  std::string out = fmt::format("{:<10} {:>7} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5}\n", "stressor",
                                "workers", "epochs", "clean", "leak", "hang", "fault", "error");
  out += "    (rates: per second of stressing, all workers of the stressor together)\n";
  for (const auto& item : st["stressors"].items()) {
    const std::string& name = item.key();
    const nlohmann::json& j = item.value();
    if (j.contains("skipped")) {
      out += fmt::format("{:<10} skipped: {}\n", name, j["skipped"].get<std::string>());
      continue;
    }
    auto v = [&j](const char* k) { return j["verdicts"].value(k, 0); };
    const Stressor* s = FindStressor(name);
    std::string rates;
    if (s) {
      for (const StressCounter& c : s->counters) {
        if (c.kind == CounterKind::kMax) {
          rates += fmt::format("{}{} {}", rates.empty() ? "" : ", ", c.name,
                               j["high_water"].value(c.name, 0));
        } else {
          rates += fmt::format("{}{} {}/s", rates.empty() ? "" : ", ", c.name,
                               Human(j["rates"].value(c.name, 0.0)));
        }
      }
    }
    out += fmt::format("{:<10} {:>7} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5}\n", name,
                       j["workers"].get<uint32_t>(), j["epochs"].get<uint32_t>(), v("clean"),
                       v("leak"), v("hang"), v("fault"), v("error"));
    out += Wrap(rates, 96, "    ");
    for (const auto& n : j["notes"]) out += fmt::format("    note: {}\n", n.get<std::string>());
  }
  return out;
}

bool AllStressorsSkipped(const Report& report) {
  if (!report.extra.contains("stress")) return false;
  const auto& per = report.extra["stress"]["stressors"];
  if (per.empty()) return false;
  for (const auto& [_, j] : per.items())
    if (!j.contains("skipped")) return false;
  return true;
}

}  // namespace inflight
