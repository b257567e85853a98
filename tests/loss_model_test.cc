// The loss ruling over generated graphs, on this kernel: the queue model
// (oracle/semantics.h, LostMessages) must rule no loss on any graph the fuzzer's codec
// can make. The kernel under test is the host's; it leaks nested cycles (scc_index,
// docs/fuzzing.md) but loses no message, so any loss ruled here is a false alarm of the
// model. Inputs: random bytes and byte-flipped encodings of the corpus, from a fixed
// seed; INFLIGHT_LOSS_INPUTS=N runs more (a hunt), INFLIGHT_LOSS_SEED another seed.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "driver/sandbox_pool.h"
#include "oracle/semantics.h"
#include "oracle/verdict.h"
#include "scenario/codec.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

uint64_t Mix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Fixed-seed inputs: half random bytes, half corpus encodings with a few bytes changed
// (graphs shaped like the corpus's, with sends and receives that line up).
std::vector<std::string> Inputs(size_t n, uint64_t seed) {
  std::vector<std::string> corpus;
  for (const auto& e : std::filesystem::directory_iterator(testing::CorpusDir())) {
    if (e.path().extension() != ".scn") continue;
    if (auto bytes = EncodeScenario(ParseScenario(testing::ReadFile(e.path().string()))))
      corpus.push_back(*bytes);
  }
  std::vector<std::string> out;
  uint64_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    std::string b;
    if (i % 2 == 0 || corpus.empty()) {
      b.resize(8 + Mix(x) % 320);
      for (char& c : b) c = static_cast<char>(Mix(x));
    } else {
      b = corpus[Mix(x) % corpus.size()];
      const size_t flips = 1 + Mix(x) % 4;
      for (size_t k = 0; k < flips && !b.empty(); ++k)
        b[Mix(x) % b.size()] = static_cast<char>(Mix(x));
    }
    out.push_back(std::move(b));
  }
  return out;
}

uint64_t SleepMs(const Scenario& s) {
  uint64_t ms = 0;
  for (const Action& a : s.actions)
    if (a.op == Op::kSleep) ms += a.sleep_ms;
  return ms;
}

TEST(LossModel, NoLossIsRuledOnGeneratedGraphsOnThisKernel) {
  INFLIGHT_REQUIRE_NAMESPACES();
  const size_t n = EnvNumber("INFLIGHT_LOSS_INPUTS", 600);
  const uint64_t seed = EnvNumber("INFLIGHT_LOSS_SEED", 14);
  PoolOptions po;
  po.jobs = 1;
  po.slots = 8;
  po.sandbox_path = testing::SandboxPath();
  po.accounting_every = 0;
  SandboxPool pool(po);
  pool.Start();
  RunOptions opt;
  opt.timeout_ms = 5'000;
  opt.settle_ms = 100;  // leaks and their settling are not this test's business
  std::map<uint64_t, Scenario> sent;
  size_t ruled = 0, with_recv = 0, false_losses = 0;
  auto rule = [&](RunResult r) {
    auto it = sent.find(r.id);
    ASSERT_NE(it, sent.end());
    const Scenario s = std::move(it->second);
    sent.erase(it);
    if (r.status != RunStatus::kCompleted) return;  // a hang or error is not this test's
    ++ruled;
    for (size_t i = 0; i < s.actions.size() && i < r.actions.size(); ++i)
      if (s.actions[i].op == Op::kRecv && r.actions[i].status == ActionStatus::kOk) ++with_recv;
    const std::vector<std::string> losses = LostMessages(s, r);
    if (losses.empty()) return;
    ++false_losses;
    ADD_FAILURE() << "a loss ruled on this kernel (a false alarm of the queue model): "
                  << losses.front() << "\n"
                  << PrintScenario(s);
  };
  for (const std::string& in : Inputs(n, seed)) {
    Scenario s = DecodeScenario(in);
    if (SleepMs(s) > 100) continue;
    RunRequest req;
    req.opt = opt;
    req.scenario_text = PrintScenario(s);
    sent.emplace(pool.Submit(req), std::move(s));
    while (pool.Pending() > 16)
      if (auto r = pool.Next(60'000)) rule(std::move(*r));
    if (false_losses >= 5) break;
  }
  while (pool.Pending() > 0) {
    auto r = pool.Next(60'000);
    ASSERT_TRUE(r.has_value()) << "no result within 60 s";
    rule(std::move(*r));
  }
  pool.Finish();
  fmt::print("{} generated graphs ruled, none lost a message\n", ruled);
  EXPECT_GT(ruled, n / 2) << "most generated graphs must complete";
  EXPECT_GT(with_recv, ruled / 8) << "the graphs receive";
}

}  // namespace
}  // namespace inflight
