// Fuzzer executions per second on a 2-process graph, side by side: the naive way (fork
// this fuzzer-sized process per input, fresh namespaces, no slots) against the graph
// fuzzer's way (a small fork server started before the process grew, reused network
// namespaces, results pipelined), and their ratio. Every execution is fully ruled by the
// oracle in both ways. Built like the fuzzers (ASan + UBSan, coverage on the decoder).
//
// Two graphs: self_ref (the child sends a over b and exits: only the kernel's collector
// frees a, so every run settles) and handoff (the parent receives what the child sent:
// clean at once, no settling). The process is grown to --rss-mb (default 256) after the
// fork server started, as libFuzzer's corpus, tables and ASan's quarantine grow it.
#include <fmt/core.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "fuzzers/graph_target.h"
#include "scenario/codec.h"
#include "scenario/text.h"

using namespace inflight;

namespace {

const char* kSelfRef = R"(scenario self_ref
p0: a b = socketpair stream
p0: fork p1
p1: send b [a]
p1: exit
p0: close a
p0: close b
)";

const char* kHandoff = R"(scenario handoff
p0: a b = socketpair stream
p0: fork p1
p1: send b [a]
p1: exit
p0: x = recv a
p0: close x
p0: close a
p0: close b
)";

struct Rate {
  double per_s = 0;
  uint64_t clean = 0, settled = 0, other = 0;
};

Rate Measure(GraphTarget& t, const std::string& input, int n) {
  const TargetStats before = t.stats();
  const int64_t t0 = NowMicros();
  for (int i = 0; i < n; ++i) t.Run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  t.Drain();
  Rate r;
  r.per_s = n / ((NowMicros() - t0) / 1e6);
  r.clean = t.stats().clean - before.clean;
  r.settled = t.stats().settled - before.settled;
  r.other = t.stats().ruled - before.ruled - r.clean;
  return r;
}

double BareForks(int n) {
  const int64_t t0 = NowMicros();
  for (int i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, nullptr, 0);
  }
  return n / ((NowMicros() - t0) / 1e6);
}

long RssMb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, rss = 0;
  in >> pages >> rss;
  return rss * sysconf(_SC_PAGESIZE) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  int naive_n = 200, server_n = 3000;
  size_t rss_mb = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--naive" && i + 1 < argc)
      naive_n = atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      server_n = atoi(argv[++i]);
    else if (a == "--rss-mb" && i + 1 < argc)
      rss_mb = static_cast<size_t>(atol(argv[++i]));
    else {
      fmt::print(stderr, "usage: fuzz_exec_bench [--runs N] [--naive N] [--rss-mb MB]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  setenv("INFLIGHT_SANDBOX", INFLIGHT_SANDBOX_PATH, 0);
  const std::string self_ref = *EncodeScenario(ParseScenario(kSelfRef));
  const std::string handoff = *EncodeScenario(ParseScenario(kHandoff));

  // The fork server starts while this process is small, as in LLVMFuzzerInitialize.
  GraphTargetOptions po;
  po.mode = TargetMode::kPipelined;
  GraphTarget pipelined(po);
  pipelined.Start();
  GraphTargetOptions so = po;
  so.mode = TargetMode::kSynchronous;
  GraphTarget sync(so);
  sync.Start();
  GraphTargetOptions no = po;
  no.mode = TargetMode::kNaive;
  GraphTarget naive(no);

  // Then it grows to a fuzzer's size.
  std::vector<char> ballast(rss_mb << 20);
  for (size_t k = 0; k < ballast.size(); k += 4096) ballast[k] = static_cast<char>(k);
  fmt::print(
      "fuzz_exec_bench: 2-process graphs, every execution ruled by the oracle; this "
      "process: ASan+UBSan, RSS {} MB\n",
      RssMb());
  fmt::print("  bare fork+_exit+wait of this process: {:.0f}/s\n", BareForks(200));

  bool all_clean = true;
  for (const auto& [name, input] :
       {std::pair{"self_ref", self_ref}, std::pair{"handoff", handoff}}) {
    Rate nv = Measure(naive, input, naive_n);
    Rate sy = Measure(sync, input, std::min(server_n, 1000));
    Rate pl = Measure(pipelined, input, server_n);
    fmt::print("  {} ({} runs naive, {} fork server):\n", name, naive_n, server_n);
    fmt::print("    naive (fork per input, fresh namespaces):    {:>8.0f} execs/s\n", nv.per_s);
    fmt::print("    fork server, one run at a time:               {:>8.0f} execs/s  ({:.1f}x)\n",
               sy.per_s, sy.per_s / nv.per_s);
    fmt::print("    fork server, pipelined over 16 slots:         {:>8.0f} execs/s  ({:.1f}x)\n",
               pl.per_s, pl.per_s / nv.per_s);
    fmt::print("    ratio pipelined/naive: {:.1f} (target >= 10)\n", pl.per_s / nv.per_s);
    fmt::print(
        "    outcomes naive {} clean ({} settled) {} other; pipelined {} clean ({} settled) "
        "{} other\n",
        nv.clean, nv.settled, nv.other, pl.clean, pl.settled, pl.other);
    all_clean = all_clean && nv.other == 0 && sy.other == 0 && pl.other == 0;
  }
  return all_clean ? 0 : 1;
}
