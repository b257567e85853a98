// Kernel tests that run scenario text through the same SandboxPool the CLI uses: one small
// pool (one sandbox, four slots, optionally a holder at an address that keeps what is sent
// to its embryos in flight), and a run ruled as the CLI rules it.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight::testing {

inline PoolOptions SmallPool(std::string hold = "", bool sock_diag = true) {
  PoolOptions p;
  p.jobs = 1;
  p.slots = 4;
  p.sandbox_path = SandboxPath();
  p.hold_addr = std::move(hold);
  p.use_sock_diag = sock_diag;
  return p;
}

struct Ran {
  RunResult result;
  Verdict verdict;
};

// Runs one scenario (text) on the pool and rules it; a result missing after 60 s fails the
// test and comes back empty.
inline Ran RunText(SandboxPool& pool, const std::string& text, RunOptions opt = {}) {
  Scenario s = ParseScenario(text);
  RunRequest req;
  req.opt = opt;
  req.scenario_text = PrintScenario(s);
  req.id = pool.Submit(req);
  auto r = pool.Next(60'000);
  EXPECT_TRUE(r.has_value()) << "no result within 60 s";
  Ran out;
  if (!r) return out;
  EXPECT_EQ(r->id, req.id);
  out.result = std::move(*r);
  out.verdict = Rule(s, opt, out.result);
  return out;
}

}  // namespace inflight::testing
