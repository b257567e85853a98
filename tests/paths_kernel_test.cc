// Filesystem paths in the sandbox (issue 16, word 5): a socket bound to ./NAME holds an
// inode of its slot's tmpfs. The oracle's tmpfs check must not cry wolf on a path still
// linked at the end (its inode is expected), must rule a leak on an unlinked path whose
// socket outlived the graph (the inode is a real leftover), and each run must find the
// slot's directory empty whatever the last one left linked.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <set>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "scenario/text.h"
#include "tests/pool_util.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::Ran;
using testing::RunText;

PoolOptions Options(std::string hold = "") { return testing::SmallPool(std::move(hold)); }

// A stream socket x bound to ./p, its path unlinked or not, then sent into the queue of an
// embryo of the holder (a listener at @inflight-hold outside the scenario that never
// accepts): with the holder x outlives the graph, without it the connect fails and
// nothing is in flight.
std::string HeldScenario(bool unlink) {
  return fmt::format(
      "scenario held_path\n\np0: x = socket stream\np0: bind x ./p expect=ok\n{}"
      "p0: c = socket stream\np0: connect c @inflight-hold\np0: send c [x]\n",
      unlink ? "p0: unlink ./p expect=ok\n" : "");
}

bool NamesTmpfsInodes(const Verdict& v) {
  for (const Leftover& l : v.leftovers)
    if (l.what == "inodes in use on the run's tmpfs") return true;
  return false;
}

class Paths : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

TEST_F(Paths, AnUnlinkedPathWhoseSocketLivesOnIsALeftoverInode) {
  RunOptions opt;
  opt.settle_ms = 5000;
  SandboxPool pool(Options("inflight-hold"));
  pool.Start();
  Ran r = RunText(pool, HeldScenario(/*unlink=*/true), opt);
  ASSERT_EQ(r.verdict.kind, VerdictKind::kLeak) << r.verdict.summary;
  EXPECT_EQ(r.result.tmpfs_inodes_excess, 1) << "x holds its unlinked path's inode";
  EXPECT_TRUE(NamesTmpfsInodes(r.verdict)) << r.verdict.summary;
  // Linked, the same socket's inode is expected: the socket is the leftover, not the path.
  Ran linked = RunText(pool, HeldScenario(/*unlink=*/false), opt);
  ASSERT_EQ(linked.verdict.kind, VerdictKind::kLeak) << linked.verdict.summary;
  EXPECT_EQ(linked.result.tmpfs_inodes_excess, 0);
  EXPECT_FALSE(NamesTmpfsInodes(linked.verdict)) << linked.verdict.summary;
  std::set<std::string> named;
  for (const Leftover& l : linked.verdict.leftovers)
    if (!l.object.empty()) named.insert(l.object);
  EXPECT_TRUE(named.count("x")) << linked.verdict.summary;
}

TEST_F(Paths, LinkedPathsAreNoLeakAndEveryRunFindsTheDirectoryEmpty) {
  SandboxPool pool(Options());
  pool.Start();
  // Without the holder: the same graphs are clean, linked path or not.
  for (bool unlink : {false, true}) {
    for (RunMode mode : {RunMode::kLockstep, RunMode::kFree}) {
      RunOptions opt;
      opt.mode = mode;
      Ran r = RunText(pool, HeldScenario(unlink), opt);
      EXPECT_EQ(r.verdict.kind, VerdictKind::kClean)
          << (unlink ? "unlinked, " : "linked, ") << RunModeName(mode) << ": "
          << r.verdict.summary;
      EXPECT_LE(r.result.tmpfs_inodes_excess, 0);
    }
  }
  // More runs than slots, each binding the same name with expect=ok: a slot reused after
  // a run that left ./p linked must have removed it first, or the bind is EADDRINUSE (a
  // semantic fault in lockstep).
  const std::string again =
      "scenario linked_again\n\np0: l = socket stream\np0: bind l ./p expect=ok\n"
      "p0: listen l expect=ok\np0: c = socket stream\np0: connect c ./p expect=ok\n"
      "p0: a b = socketpair stream\np0: send a [l c b]\n";
  std::set<int> slots;
  for (int k = 0; k < 10; ++k) {
    Ran r = RunText(pool, again, RunOptions{});
    EXPECT_EQ(r.verdict.kind, VerdictKind::kClean) << "run " << k << ": " << r.verdict.summary;
    EXPECT_LE(r.result.tmpfs_inodes_excess, 0);
    slots.insert(r.result.slot);
  }
  EXPECT_LT(slots.size(), 10u) << "no slot was reused";
}

}  // namespace
}  // namespace inflight
