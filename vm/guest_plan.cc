// Planning the guest's run from the arguments after `--`.
#include "vm/guest_plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/errors.h"
#include "vm/input_log.h"

namespace inflight {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxFiles = 20'000;
constexpr uint64_t kMaxBytes = 64ull << 20;

bool StartsWith(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

class FileSet {
 public:
  explicit FileSet(GuestPlan& plan) : plan_(plan) {}

  // Adds a file, or a folder's *.scn files (what the scenario loader reads).
  void Add(const fs::path& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".scn") AddFile(it->path());
    } else if (fs::is_regular_file(p, ec)) {
      AddFile(p);
    }
  }

 private:
  void AddFile(const fs::path& p) {
    const std::string s = p.string();
    if (!seen_.insert(s).second) return;
    std::error_code ec;
    plan_.file_bytes += fs::file_size(p, ec);
    plan_.files.push_back(s);
    if (plan_.files.size() > kMaxFiles || plan_.file_bytes > kMaxBytes)
      throw UsageError(fmt::format(
          "the arguments name more than {} files or {} MiB of scenarios (at {}); an initramfs "
          "is no place for that much",
          kMaxFiles, kMaxBytes >> 20, s));
  }

  GuestPlan& plan_;
  std::set<std::string> seen_;
};

}  // namespace

GuestPlan PlanGuestRun(const std::vector<std::string>& args, const std::string& cwd,
                       const std::string& default_corpus) {
  GuestPlan plan;
  plan.cwd = cwd;
  size_t cmd_at = args.size();
  for (size_t i = 0; i < args.size(); ++i) {
    if (!StartsWith(args[i], "-")) {
      cmd_at = i;
      break;
    }
  }
  if (cmd_at == args.size())
    throw UsageError(
        "say what inflight runs inside the VM after `--`, e.g. "
        "`inflight vm --kernel IMAGE -- run corpus`");
  plan.command = args[cmd_at];
  if (plan.command == "vm" || plan.command == "gate")
    throw UsageError(
        fmt::format("`{}` cannot run inside the VM (there is no QEMU in there)", plan.command));
  bool has_corpus = false, has_controls = false, has_tolerance = false;
  for (const std::string& a : args) {
    if (a == "--report" || StartsWith(a, "--report="))
      throw UsageError(
          "give --report to inflight vm, not to the command inside the VM: the guest's "
          "report comes back into it");
    has_corpus = has_corpus || a == "--corpus" || StartsWith(a, "--corpus=");
    has_controls = has_controls || a == "--controls" || StartsWith(a, "--controls=");
    has_tolerance =
        has_tolerance || a == "--global-tolerance" || StartsWith(a, "--global-tolerance=");
  }
  plan.args = args;
  const auto after_command = [&](auto&& pred) {
    return std::any_of(args.begin() + static_cast<std::ptrdiff_t>(cmd_at) + 1, args.end(), pred);
  };
  // Help and `stress --list` run nothing and write no report.
  const bool runs_nothing = after_command([&](const std::string& a) {
    return a == "--help" || a == "-h" || (plan.command == "stress" && a == "--list");
  });
  if (plan.command == "run" || plan.command == "check") {
    plan.writes_report = !runs_nothing;
    plan.args.push_back("--report");
    plan.args.push_back(kGuestReportDir);
    // Nothing else runs in the guest, so the global counts are ruled at full strength
    // unless the arguments say otherwise: slabs flushed, a drift beyond one object is a
    // finding.
    if (!has_tolerance) {
      plan.args.push_back("--global-tolerance");
      plan.args.push_back(std::to_string(kGuestGlobalTolerance));
    }
  } else if (plan.command == "stress" || plan.command == "minimize" || plan.command == "repro") {
    // Their runs (a stress run's checkpoints) come back like run's.
    plan.writes_report = !runs_nothing;
    plan.args.push_back("--report");
    plan.args.push_back(kGuestReportDir);
  } else if (plan.command == "fuzz") {
    if (after_command([](const std::string& a) {
          return a == "--out" || StartsWith(a, "--out=") || StartsWith(a, "-o");
        }))
      throw UsageError(
          "give --report to inflight vm, not --out to the fuzz inside the VM: the guest's "
          "report comes back into it");
    plan.writes_report = !runs_nothing;
    plan.fuzzes = !runs_nothing;
    plan.resumes = after_command([](const std::string& a) { return a == "--resume"; });
    plan.args.push_back("--out");
    plan.args.push_back(kGuestReportDir);
  }
  if (plan.command == "check")
    plan.fuzzes = !runs_nothing && !after_command([](const std::string& a) {
      return a == "--no-fuzz";
    });
  if (plan.fuzzes) plan.env.emplace_back(kInputLogEnv, "kmsg");
  FileSet files(plan);
  auto host_path = [&](const std::string& a) { return (fs::path(cwd) / a).lexically_normal(); };
  for (size_t i = cmd_at + 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (StartsWith(a, "--") && a.find('=') != std::string::npos) a = a.substr(a.find('=') + 1);
    if (a.empty() || a == "-" || a == "--") continue;
    std::error_code ec;
    const fs::path p = host_path(a);
    if (fs::exists(p, ec)) files.Add(p);
  }
  const fs::path corpus = fs::path(default_corpus).lexically_normal();
  if (plan.command == "check" && (!has_corpus || plan.fuzzes)) {
    // Also with --corpus: the fuzz smoke seeds from the default corpus, as on the host.
    files.Add(corpus);
    plan.env.emplace_back("INFLIGHT_CORPUS", corpus.string());
  } else if (plan.command == "fuzz" &&
             !after_command([](const std::string& a) {
               return a == "--seeds" || StartsWith(a, "--seeds=");
             })) {
    // A fresh fuzz (or a --resume of a folder without a corpus) seeds from the corpus.
    files.Add(corpus);
    plan.env.emplace_back("INFLIGHT_CORPUS", corpus.string());
  } else if (plan.command == "selftest" && !has_controls) {
    files.Add(corpus / "controls");
    plan.env.emplace_back("INFLIGHT_CORPUS", corpus.string());
  }
  return plan;
}

nlohmann::json GuestJobToJson(const GuestJob& j) {
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : j.env) env[k] = v;
  return {{"args", j.args},
          {"cwd", j.cwd},
          {"env", env},
          {"modules", j.modules},
          {"inject", j.inject},
          {"report_file", j.report_file},
          {"send_dir", j.send_dir},
          {"exchange_ms", j.exchange_ms}};
}

bool GuestJobFromJson(const nlohmann::json& j, GuestJob& out) {
  try {
    out.args = j.at("args").get<std::vector<std::string>>();
    out.cwd = j.at("cwd").get<std::string>();
    out.env.clear();
    for (const auto& [k, v] : j.at("env").items()) out.env.emplace_back(k, v.get<std::string>());
    out.modules = j.at("modules").get<std::vector<std::string>>();
    out.inject = j.value("inject", "");
    out.report_file = j.value("report_file", "");
    out.send_dir = j.value("send_dir", "");
    out.exchange_ms = j.value("exchange_ms", uint32_t{0});
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace inflight
