// A fleet of fuzzing guests: one thread per guest around RunVm, the corpus exchange between
// them, the progress line, and the fleet's report.
#include "vm/fleet.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "base/errors.h"
#include "base/exit_codes.h"
#include "reports/report.h"
#include "reports/writer.h"
#include "vm/channel.h"
#include "vm/fleet_merge.h"
#include "vm/guest_plan.h"
#include "vm/vm_report.h"

namespace inflight {

namespace fs = std::filesystem;

std::vector<std::string> GuestFuzzResumed(const std::vector<std::string>& guest_args,
                                          uint32_t duration_ms) {
  std::vector<std::string> out;
  bool resume = false;
  for (size_t i = 0; i < guest_args.size(); ++i) {
    const std::string& a = guest_args[i];
    if (a == "--duration") {
      ++i;
      continue;
    }
    if (a.rfind("--duration=", 0) == 0) continue;
    resume = resume || a == "--resume";
    out.push_back(a);
  }
  if (!resume) out.push_back("--resume");
  out.push_back("--duration");
  out.push_back(fmt::format("{}s", std::max<uint32_t>(1, duration_ms / 1000)));
  return out;
}

void RunFuzzBoots(VmConfig& c, const FuzzBootsConfig& cfg, FuzzBoots& out) {
  out.last = RunVm(c);
  while ((out.last.end == VmEnd::kCrashed || out.last.end == VmEnd::kHang) &&
         !(cfg.stop && cfg.stop()) && out.down.size() < kMaxFuzzBoots) {
    const int64_t left_ms = int64_t{cfg.fuzz_ms} - (NowMicros() - cfg.started_us) / 1000;
    if (left_ms < kMinFuzzBootMs) break;
    const std::string sub = fmt::format("boot-{}", out.down.size() + 1);
    if (auto s = PrepareReportDir(cfg.dir + "/" + sub); !s) throw InternalError(s.error().Text());
    WriteReturnedFiles(cfg.dir, out.last.files);
    out.last.files.clear();
    WriteVmReportFolder(cfg.dir + "/" + sub, c, out.last, cfg.argv, cfg.started_at);
    if (cfg.on_down) cfg.on_down(sub, left_ms, out.last);
    out.down.emplace_back(sub, std::move(out.last));
    c.guest_args = GuestFuzzResumed(c.guest_args, static_cast<uint32_t>(left_ms));
    out.last = RunVm(c);
  }
}

int FoldEarlierBoots(nlohmann::json& report, const std::string& dir, const FuzzBoots& boots,
                     int status) {
  if (boots.down.empty()) return status;
  nlohmann::json earlier = nlohmann::json::array();
  for (const auto& [sub, o] : boots.down) {
    AppendKernelRecords(report, o, sub);
    earlier.push_back({{"folder", sub}, {"end", VmEndName(o.end)}, {"why", o.why}});
  }
  report["vm"]["earlier_boots"] = earlier;
  if (auto s = WriteFileAtomically(dir + "/report.json", report.dump(2) + "\n"); !s)
    throw InternalError(s.error().Text());
  return status == kExitClean ? kExitFinding : status;
}

namespace {
// Corpus sent into a guest per poll of its loop: the channel moves about 60 KB/s.
constexpr size_t kExchangeBytes = 16u << 10;

bool Has(const std::vector<std::string>& args, const char* word) {
  return std::find(args.begin(), args.end(), word) != args.end();
}

std::vector<std::string> CorpusNames(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
    if (it->is_regular_file()) out.push_back(it->path().filename().string());
  return out;
}

nlohmann::json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

// Each guest, on its thread.
struct Guest {
  size_t index = 0;
  std::string dir;
  VmConfig c;
  FuzzBoots boots;
  std::exception_ptr error;
  std::atomic<bool> running{false};
  std::atomic<size_t> reboots{0};
  std::mutex mu;  // guards progress
  GuestProgress progress;
};

// The fleet's report: the first guest's report that holds a fuzz section is the frame;
// every guest's runs (re-runs of its findings, its kernel faults) join it, named by guest.
nlohmann::json FleetReport(const std::vector<std::unique_ptr<Guest>>& guests,
                           const std::vector<nlohmann::json>& reports,
                           const std::vector<FleetFinding>& findings, const CorpusExchange& ex,
                           const FleetConfig& cfg, double seconds) {
  nlohmann::json j = reports.front();
  for (const nlohmann::json& r : reports)
    if (r.contains("fuzz")) {
      j = r;
      break;
    }
  j["argv"] = cfg.argv;
  j["duration_s"] = seconds;
  j["interrupted"] = cfg.vm.interrupted && cfg.vm.interrupted();
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json command_findings = nlohmann::json::array();
  std::map<std::string, size_t> counts;
  for (int k = 0; k <= static_cast<int>(VerdictKind::kMaxValue); ++k)
    counts[VerdictName(static_cast<VerdictKind>(k))] = 0;
  VerdictKind worst = VerdictKind::kClean;
  for (size_t k = 0; k < reports.size(); ++k) {
    const std::string folder = fmt::format("guest-{}", k);
    for (nlohmann::json run : reports[k].value("runs", nlohmann::json::array())) {
      run["guest"] = k;
      if (run.contains("file") && run["file"].is_string()) {
        const std::string f = run["file"];
        if (!f.empty() && f[0] != '/') run["file"] = folder + "/" + f;
      }
      const std::string v = run.value("verdict", "");
      if (const auto kind = VerdictFromName(v)) {
        ++counts[v];
        if (VerdictSeverity(*kind) > VerdictSeverity(worst)) worst = *kind;
      }
      runs.push_back(std::move(run));
    }
    for (const auto& f : reports[k].value("command_findings", nlohmann::json::array()))
      command_findings.push_back(
          f.is_string() ? nlohmann::json(folder + ": " + f.get<std::string>()) : f);
  }
  if (!command_findings.empty() && VerdictSeverity(worst) < VerdictSeverity(VerdictKind::kLeak))
    worst = VerdictKind::kLeak;
  j["runs"] = runs;
  j["command_findings"] = command_findings;
  j["counts"] = counts;
  j["verdict"] = VerdictName(worst);

  // One fuzz section: totals over the guests, findings once per signature.
  uint64_t execs = 0, fuzz_runs = 0;
  double per_s = 0, fuzz_s = 0;
  size_t hits = 0;
  nlohmann::json per_guest = nlohmann::json::array();
  for (size_t k = 0; k < reports.size(); ++k) {
    const nlohmann::json f = reports[k].value("fuzz", nlohmann::json::object());
    execs += f.value("execs", uint64_t{0});
    fuzz_runs += f.value("runs", uint64_t{0});
    per_s += f.value("execs_per_s", 0.0);
    fuzz_s = std::max(fuzz_s, f.value("seconds", 0.0));
    const Guest& g = *guests[k];
    const CorpusExchange::GuestCounts c = ex.counts(k);
    nlohmann::json boots = nlohmann::json::array();
    for (const auto& [sub, earlier] : g.boots.down)
      boots.push_back({{"folder", fmt::format("guest-{}/{}", k, sub)},
                       {"end", VmEndName(earlier.end)},
                       {"why", earlier.why}});
    per_guest.push_back({{"index", k},
                         {"folder", fmt::format("guest-{}", k)},
                         {"end", VmEndName(g.boots.last.end)},
                         {"why", g.boots.last.why},
                         {"exit_status", VmExitStatus(g.boots.last)},
                         {"earlier_boots", boots},
                         {"execs", f.value("execs", uint64_t{0})},
                         {"execs_per_s", f.value("execs_per_s", 0.0)},
                         {"findings", f.value("findings", nlohmann::json::array()).size()},
                         {"corpus_sent_back", c.sent_back},
                         {"corpus_new_to_fleet", c.fresh},
                         {"corpus_given", c.given}});
  }
  nlohmann::json fj = nlohmann::json::array();
  for (const FleetFinding& f : findings) {
    hits += f.hits;
    nlohmann::json one = FleetFindingToJson(f);
    one["folder"] = "findings/" + f.id;
    fj.push_back(std::move(one));
  }
  nlohmann::json fuzz = j.value("fuzz", nlohmann::json::object());
  fuzz["out"] = fs::absolute(cfg.dir).lexically_normal().string();
  fuzz["guests"] = reports.size();
  fuzz["seconds"] = fuzz_s;
  fuzz["execs"] = execs;
  fuzz["execs_per_s"] = per_s;
  fuzz["runs"] = fuzz_runs;
  fuzz["corpus"] = CorpusNames(cfg.dir + "/corpus").size();
  fuzz["findings"] = fj;
  fuzz["finding_hits"] = hits;
  // The guests' runs may all be clean while the fuzzers found something (their finds live
  // in the fuzz section): the fleet's verdict is then the first finding's, never clean.
  if ((worst == VerdictKind::kClean || worst == VerdictKind::kUnsettled) && !findings.empty()) {
    j["verdict"] = VerdictName(VerdictKind::kLeak);
    if (const auto k = VerdictFromName(findings.front().verdict);
        k && VerdictSeverity(*k) > VerdictSeverity(VerdictKind::kClean))
      j["verdict"] = findings.front().verdict;
  }
  fuzz["per_guest"] = per_guest;
  fuzz.erase("workers");
  j["fuzz"] = fuzz;
  nlohmann::json vm = j.value("vm", nlohmann::json::object());
  vm["fleet"] = {{"guests", reports.size()},
                 {"exchange_s", cfg.vm.exchange_ms / 1000.0},
                 {"corpus_union", ex.corpus_size()}};
  vm["console_log"] = "guest-K/console.log";
  vm["guest_output"] = "guest-K/guest.log";
  vm.erase("last_inputs");
  j["vm"] = vm;
  return j;
}

// DIR/findings/ID/: the smallest input of the guests', its scenario, the merged meta.json.
void WriteFindings(const std::string& dir, const std::vector<FleetFinding>& findings) {
  for (const FleetFinding& f : findings) {
    if (f.id.empty() || f.id.find('/') != std::string::npos || f.id[0] == '.') continue;
    const std::string to = dir + "/findings/" + f.id;
    const std::string from = fmt::format("{}/guest-{}/findings/{}", dir, f.input_from, f.id);
    std::error_code ec;
    fs::create_directories(to, ec);
    for (const char* name : {"input", "scenario.scn"})
      fs::copy_file(from + "/" + name, to + "/" + name, fs::copy_options::overwrite_existing, ec);
    nlohmann::json meta = FleetFindingToJson(f);
    nlohmann::json found_in = nlohmann::json::array();
    for (size_t k : f.guests) found_in.push_back(fmt::format("guest-{}/findings/{}", k, f.id));
    meta["found_in"] = found_in;
    if (auto s = WriteFileAtomically(to + "/meta.json", meta.dump(2) + "\n"); !s)
      throw InternalError(s.error().Text());
  }
}

}  // namespace

int RunFleet(const FleetConfig& cfg) {
  if (cfg.guests < 1 || cfg.guests > kMaxFleetGuests)
    throw UsageError(
        fmt::format("--vms takes 1 to {} guests (got {}): each is a QEMU with its "
                    "own memory and a host thread per vCPU",
                    kMaxFleetGuests, cfg.guests));
  const std::optional<uint32_t> fuzz_ms =
      cfg.duration_ms ? std::optional<uint32_t>(cfg.duration_ms) : std::nullopt;
  if (!fuzz_ms)
    throw UsageError(
        "--vms runs a fleet of fuzzing guests: the command inside must be fuzz "
        "(`inflight vm --kernel K --vms N -- fuzz ...`)");
  const bool resume = Has(cfg.vm.guest_args, "--resume");
  std::error_code ec;
  const std::string corpus_dir = cfg.dir + "/corpus";
  if (!resume && fs::is_directory(corpus_dir, ec) && !fs::is_empty(corpus_dir, ec))
    throw UsageError(fmt::format(
        "{} holds an earlier fleet's run: pass --resume to the fuzz inside to go on with it, "
        "or another --report",
        cfg.dir));
  {
    // Input first, before any folder: a bad image or bad arguments cost no boot.
    VmConfig probe = cfg.vm;
    probe.out_dir.clear();
    CheckVmInput(probe);
  }
  fs::create_directories(corpus_dir, ec);
  if (ec) throw UsageError(fmt::format("--report {}: {}", cfg.dir, ec.message()));

  CorpusExchange exchange(cfg.guests, corpus_dir);
  for (const std::string& name : CorpusNames(corpus_dir)) {
    std::ifstream in(corpus_dir + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    exchange.AddKnown(name, ss.str());  // the earlier fleet's union
  }
  std::atomic<bool> stop_all{false};
  const bool stop_at_first = Has(cfg.vm.guest_args, "--stop-at-first");
  auto interrupted = [&cfg] { return cfg.vm.interrupted && cfg.vm.interrupted(); };
  auto stopped = [&] { return interrupted() || stop_all.load(); };

  std::vector<std::unique_ptr<Guest>> guests;
  for (uint32_t k = 0; k < cfg.guests; ++k) {
    auto g = std::make_unique<Guest>();
    g->index = k;
    g->dir = fmt::format("{}/guest-{}", cfg.dir, k);
    if (auto s = PrepareReportDir(g->dir); !s)
      throw UsageError(fmt::format("{}: {}", g->dir, s.error().Text()));
    g->c = cfg.vm;
    g->c.out_dir = fs::absolute(g->dir).lexically_normal().string();
    // Progress lines to add up; the guest's own quiet would hide them.
    g->c.guest_args.erase(
        std::remove_if(g->c.guest_args.begin(), g->c.guest_args.end(),
                       [](const std::string& a) { return a == "-q" || a == "--quiet"; }),
        g->c.guest_args.end());
    g->c.guest_env = {{"INFLIGHT_FUZZ_SEED_OFFSET", std::to_string(k)},
                      {"INFLIGHT_FUZZ_PROGRESS_S", "5"}};
    if (resume) {
      // Every guest goes on from the fleet's union, not only from its own corpus.
      fs::create_directories(g->dir + "/corpus", ec);
      for (const std::string& name : CorpusNames(corpus_dir))
        fs::copy_file(corpus_dir + "/" + name, g->dir + "/corpus/" + name,
                      fs::copy_options::skip_existing, ec);
      exchange.Rebooted(k, CorpusNames(g->dir + "/corpus"));
    }
    Guest* raw = g.get();
    g->c.interrupted = stopped;
    g->c.on_file = [raw, &exchange, &stop_all, stop_at_first](const std::string& rel,
                                                              const std::string& data) {
      exchange.FromGuest(raw->index, rel, data);
      if (stop_at_first && exchange.signatures() > 0) stop_all = true;
    };
    g->c.to_guest = [raw, &exchange]() {
      std::string out;
      for (const auto& [rel, data] : exchange.ForGuest(raw->index, kExchangeBytes))
        out += EncodeChannelFile(rel, data);
      return out;
    };
    // The guests' own lines are in guest-K/guest.log; the terminal gets one line.
    g->c.on_output = [raw, &exchange](const std::string& line) {
      if (auto p = ParseFuzzProgress(line)) {
        exchange.Ready(raw->index);
        std::lock_guard<std::mutex> lock(raw->mu);
        raw->progress = *p;
      }
    };
    guests.push_back(std::move(g));
  }

  const std::string started_at = UtcNow();
  const int64_t t0 = NowMicros();
  std::vector<std::thread> threads;
  for (auto& gp : guests) {
    Guest* g = gp.get();
    g->running = true;
    threads.emplace_back([g, &cfg, &exchange, &stopped, fuzz_ms, t0, started_at] {
      try {
        FuzzBootsConfig b;
        b.dir = g->dir;
        b.fuzz_ms = *fuzz_ms;
        b.started_us = t0;
        b.started_at = started_at;
        b.argv = cfg.argv;
        b.stop = stopped;
        // Its corpus and findings so far come back with the exchange as well.
        b.on_down = [g, &exchange](const std::string&, int64_t, const VmOutcome&) {
          ++g->reboots;
          exchange.Rebooted(g->index, CorpusNames(g->dir + "/corpus"));
        };
        RunFuzzBoots(g->c, b, g->boots);
      } catch (...) {
        g->error = std::current_exception();
      }
      g->running = false;
    });
  }

  int64_t shown_at = 0;
  for (;;) {
    bool any = false;
    for (auto& g : guests) any = any || g->running;
    if (!any) break;
    if (cfg.show_progress && NowMicros() - shown_at >= 1'000'000) {
      shown_at = NowMicros();
      FleetStatus s;
      s.elapsed_s = (NowMicros() - t0) / 1e6;
      s.duration_s = *fuzz_ms / 1e3;
      for (auto& g : guests) {
        std::lock_guard<std::mutex> lock(g->mu);
        s.guests.push_back(g->progress);
        s.running.push_back(g->running);
        s.reboots += g->reboots;
      }
      s.corpus = exchange.corpus_size();
      s.signatures = exchange.signatures();
      cfg.show_progress(FleetProgressLine(s));
    }
    usleep(100'000);
  }
  for (std::thread& t : threads) t.join();  // every QEMU has been reaped by its RunVm
  const double seconds = (NowMicros() - t0) / 1e6;

  // A guest whose RunVm threw (QEMU could not start, ...): the first error is the fleet's,
  // after the others' results are kept.
  std::exception_ptr error;
  std::vector<nlohmann::json> reports;
  std::vector<std::vector<nlohmann::json>> metas;
  int worst = kExitClean;
  for (auto& g : guests) {
    if (g->error && !error) error = g->error;
    if (g->error) {
      reports.push_back(nlohmann::json::object());
      metas.emplace_back();
      continue;
    }
    nlohmann::json r = WriteVmReportFolder(g->dir, g->c, g->boots.last, cfg.argv, started_at);
    int status = FoldEarlierBoots(r, g->dir, g->boots, VmExitStatus(g->boots.last));
    // A guest the fleet stopped (--stop-at-first, another guest found it) was not
    // interrupted by anyone.
    if (status == kExitInterrupted && !interrupted()) status = kExitClean;
    if (status == kExitFinding || (worst == kExitClean && status != kExitClean)) worst = status;
    // Its findings: what its report lists, else what came back of them (findings/ID/meta.json
    // sent while it ran, or by an earlier boot).
    std::vector<nlohmann::json> m;
    for (auto it = fs::directory_iterator(g->dir + "/findings", ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      nlohmann::json one = ReadJson(it->path() / "meta.json");
      if (one.is_object()) m.push_back(std::move(one));
    }
    ec.clear();
    metas.push_back(std::move(m));
    reports.push_back(std::move(r));
  }
  if (reports.empty() || std::all_of(reports.begin(), reports.end(),
                                     [](const nlohmann::json& r) { return r.empty(); })) {
    if (error) std::rethrow_exception(error);
    throw InternalError("no guest of the fleet left a report");
  }
  for (auto& r : reports)
    if (r.empty()) r = nlohmann::json{{"runs", nlohmann::json::array()}};
  const std::vector<FleetFinding> findings = MergeFindings(metas);
  WriteFindings(cfg.dir, findings);
  nlohmann::json report = FleetReport(guests, reports, findings, exchange, cfg, seconds);
  report["started_at"] = started_at;
  if (auto s = WriteFileAtomically(cfg.dir + "/report.json", report.dump(2) + "\n"); !s)
    throw InternalError(s.error().Text());

  // One screen.
  const nlohmann::json& fz = report["fuzz"];
  std::string out = fmt::format(
      "inflight vm: fleet of {} guest(s) on Linux {}, {:.0f} s: execs {} ({:.1f}/s in all), "
      "corpus {} (union), findings {} distinct\n",
      cfg.guests, report.value("kernel", "?"), seconds, fz.value("execs", uint64_t{0}),
      fz.value("execs_per_s", 0.0), fz.value("corpus", size_t{0}), findings.size());
  for (const auto& g : fz["per_guest"])
    out += fmt::format(
        "  guest {}: {} ({}), execs {}, {} finding(s), corpus sent {} (new {}), "
        "given {}\n",
        g["index"].get<size_t>(), g["end"].get<std::string>(), g["why"].get<std::string>(),
        g["execs"].get<uint64_t>(), g["findings"].get<size_t>(),
        g["corpus_sent_back"].get<size_t>(), g["corpus_new_to_fleet"].get<size_t>(),
        g["corpus_given"].get<size_t>());
  for (const FleetFinding& f : findings)
    out += fmt::format(
        "  - {} {}: {}\n      found by guest(s) {}, {} hit(s); input {} bytes: "
        "{}/findings/{}/input\n",
        f.id, f.verdict, f.signature, fmt::join(f.guests, ","), f.hits, f.input_size, cfg.dir,
        f.id);
  out += fmt::format("inflight vm: report: {}/report.json; each guest's folder: {}/guest-K/\n",
                     cfg.dir, cfg.dir);
  fmt::print("{}", out);
  fflush(stdout);
  if (error) std::rethrow_exception(error);
  if (interrupted()) return kExitInterrupted;
  if (!findings.empty()) return kExitFinding;
  return worst;
}

}  // namespace inflight
