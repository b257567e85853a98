// `inflight cover DIR --vmlinux V`: the kernel coverage page of a fuzzing run on a KCOV
// kernel (reports/cover.h): the PCs its workers kept in DIR/kcov/, every KCOV call site of
// V (objdump), both mapped to functions and lines (addr2line), written as DIR/cover.html
// and DIR/cover.json.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "base/unique_fd.h"
#include "cli/commands.h"
#include "probe/kcov_pcs.h"
#include "reports/cover.h"
#include "reports/writer.h"

namespace inflight {

namespace {

namespace fs = std::filesystem;

std::string FindTool(const std::string& name) {
  const char* path = getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':'))
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return "";
}

// Runs argv with stdin from `stdin_path` (or /dev/null), handing each line of its stdout
// to on_line; returns its exit status (128+signal when killed).
int RunTool(const std::vector<std::string>& argv, const std::string& stdin_path,
            const std::function<void(std::string_view)>& on_line) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw EnvironmentError(fmt::format("pipe2: {}", strerror(errno)));
  UniqueFd rd(out[0]), wr(out[1]);
  UniqueFd in(open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throw EnvironmentError(fmt::format("{}: {}", stdin_path, strerror(errno)));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw EnvironmentError(fmt::format("fork: {}", strerror(errno)));
  if (pid == 0) {
    dup2(in.Get(), STDIN_FILENO);
    dup2(wr.Get(), STDOUT_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  wr.Reset();
  std::string pending;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = read(rd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line(std::string_view(pending).substr(start, nl - start));
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string DefaultSourceDir() {
  const char* kb = getenv("INFLIGHT_KBUILD");
  const char* home = getenv("HOME");
  const std::string work =
      kb && *kb ? kb : std::string(home && *home ? home : "/root") + "/.cache/inflight/kbuild";
  return work + "/linux-source-6.12-kcov";
}

}  // namespace

CommandEntry AddCoverCommand(CLI::App& app) {
  struct Args {
    std::string dir;
    std::string vmlinux;
    std::string source = DefaultSourceDir();
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "cover",
      "The kernel coverage page of a fuzzing run on a KCOV kernel (inflight vm --kernel "
      "bzImage-V-kcov --report DIR -- fuzz ...): which functions and lines of net/unix/*.c, "
      "net/core/scm.c and fs/file.c the seed corpus reached, which fuzzing added, which "
      "nothing reached. Needs objdump and addr2line (binutils). Writes cover.html and "
      "cover.json.");
  cmd->add_option("dir", args->dir, "The fuzzing run's folder (fuzz --out, or vm --report)")
      ->required();
  cmd->add_option("--vmlinux", args->vmlinux,
                  "The guest kernel's vmlinux with line tables (vm/build-kernels.sh keeps "
                  "vmlinux-V-kcov beside bzImage-V-kcov)")
      ->required();
  cmd->add_option("--source", args->source,
                  "The kernel source tree the vmlinux was built from (for the source lines)")
      ->capture_default_str();
  cmd->add_option("-o,--out", args->out, "Folder for cover.html and cover.json (default: DIR)");
  return {cmd, [args]() -> int {
            KernelPcSet reached;
            size_t files = 0;
            std::string why;
            const std::string kdir = args->dir + "/kcov";
            if (!LoadKernelPcDir(kdir, reached, &files, &why)) throw UsageError(why);
            if (files == 0)
              throw UsageError(fmt::format(
                  "{} holds no kernel PCs (pcs-*.txt): fuzz a KCOV kernel first, e.g. "
                  "inflight vm --kernel bzImage-correct-kcov --report {} -- fuzz --duration 5m",
                  kdir, args->dir));
            if (!fs::is_regular_file(args->vmlinux))
              throw UsageError(fmt::format("--vmlinux {}: no such file", args->vmlinux));
            const std::string objdump = FindTool("objdump"), addr2line = FindTool("addr2line");
            if (objdump.empty() || addr2line.empty())
              throw EnvironmentError(
                  "objdump and addr2line are needed (binutils; scripts/install-deps.sh)");
            // Every KCOV call site of the kernel: the instrumented PCs, reached or not.
            KcovCallSites sites;
            const int ost = RunTool({objdump, "-d", "--no-show-raw-insn", args->vmlinux}, "",
                                    [&](std::string_view l) { sites.Line(l); });
            if (ost != 0)
              throw EnvironmentError(fmt::format("objdump -d {} exited {}", args->vmlinux, ost));
            std::vector<uint64_t> pcs = sites.sites();
            for (uint64_t pc : reached.Sorted()) pcs.push_back(pc);
            std::sort(pcs.begin(), pcs.end());
            pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
            // addr2line takes pc - 1: the call itself, not the instruction after it.
            const std::string out_dir = args->out.empty() ? args->dir : args->out;
            std::error_code ec;
            fs::create_directories(out_dir, ec);
            if (ec) throw UsageError(fmt::format("--out {}: {}", out_dir, ec.message()));
            const std::string list = out_dir + "/.cover-pcs.tmp";
            {
              std::ofstream f(list, std::ios::trunc);
              for (uint64_t pc : pcs) f << fmt::format("0x{:x}\n", pc - 1);
              if (!f.flush()) throw UsageError(fmt::format("{}: cannot write", list));
            }
            std::string a2l;
            int ast = 0;
            try {
              ast = RunTool({addr2line, "-a", "-f", "-i", "-e", args->vmlinux}, list,
                            [&](std::string_view l) {
                              a2l.append(l);
                              a2l += '\n';
                            });
            } catch (...) {
              fs::remove(list, ec);
              throw;
            }
            fs::remove(list, ec);
            if (ast != 0) throw EnvironmentError(fmt::format("addr2line exited {}", ast));
            std::vector<PcFrames> frames;
            if (!ParseAddr2Line(a2l, frames, &why))
              throw InternalError(fmt::format("addr2line's output: {}", why));
            // Sites only: a reached PC that is no call site stays out of the model.
            std::vector<PcFrames> site_frames;
            const std::vector<uint64_t>& s = sites.sites();
            std::vector<uint64_t> sorted_sites(s.begin(), s.end());
            std::sort(sorted_sites.begin(), sorted_sites.end());
            for (PcFrames& f : frames)
              if (std::binary_search(sorted_sites.begin(), sorted_sites.end(), f.pc))
                site_frames.push_back(std::move(f));
            const CoverModel m = BuildCoverModel(site_frames, reached);
            const std::string src = args->source;
            const bool have_source = fs::is_directory(src);
            SourceReader read = [&](const std::string& file) -> std::optional<std::string> {
              std::ifstream in(src + "/" + file, std::ios::binary);
              if (!in) return std::nullopt;
              std::stringstream ss;
              ss << in.rdbuf();
              return ss.str();
            };
            nlohmann::json j = CoverJson(m);
            j["dir"] = args->dir;
            j["vmlinux"] = args->vmlinux;
            j["source"] = have_source ? src : "";
            j["kernel_pcs_reached"] = reached.size();
            j["kernel_pcs_reached_by_seeds"] = reached.seed_count();
            j["kcov_call_sites"] = s.size();
            const std::string title =
                fmt::format("Kernel coverage of {} ({})", args->dir, fs::path(args->vmlinux).filename().string());
            if (auto st = WriteFileAtomically(out_dir + "/cover.json", j.dump(2) + "\n"); !st)
              throw UsageError(st.error().Text());
            if (auto st = WriteFileAtomically(out_dir + "/cover.html", CoverHtml(m, read, title));
                !st)
              throw UsageError(st.error().Text());
            fmt::print(
                "inflight cover: {} KCOV call sites in vmlinux, {} in the covered files; reached: "
                "{} by the seeds, {} more by fuzzing ({} PCs from {} file(s); {} outside these "
                "files, {} not call sites of this vmlinux){}\n"
                "inflight cover: page {}/cover.html, summary {}/cover.json\n",
                s.size(), m.pcs, m.seed, m.fuzz, reached.size(), files, m.reached_elsewhere,
                m.reached_unknown,
                have_source ? "" : fmt::format("; no source at {} (--source)", src), out_dir,
                out_dir);
            if (m.reached_unknown > reached.size() / 2)
              fmt::print("inflight cover: most reached PCs are not call sites of {}: is it the "
                         "guest's kernel?\n",
                         args->vmlinux);
            return kExitClean;
          }};
}

}  // namespace inflight
