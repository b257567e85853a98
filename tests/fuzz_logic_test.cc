// Pure logic behind the fuzzers: finding signatures and reference shapes, the folding
// of kernel PCs into libFuzzer counters, artifact names, and whether KCOV is here.
#include <gtest/gtest.h>

#include <set>

#include "base/sha1.h"
#include "oracle/signature.h"
#include "probe/kcov.h"
#include "scenario/text.h"

namespace inflight {
namespace {

TEST(Sha1, KnownVectors) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex(std::string(1000, 'a')).size(), 40u);
}

TEST(KernelCoverage, FoldingIsFixedForFixedPcs) {
  const uint64_t pcs[] = {0xffffffff81000010ull, 0xffffffff81000020ull, 0xffffffff81000010ull,
                          0xffffffff81000020ull};
  uint8_t counters[64] = {};
  FoldKernelPcs(pcs, 4, counters, sizeof counters);
  // Edges: (0 -> a), (a -> b), (b -> a), (a -> b): the last one repeats the second.
  const size_t e0 = KernelEdgeIndex(0, pcs[0], 64), e1 = KernelEdgeIndex(pcs[0], pcs[1], 64),
               e2 = KernelEdgeIndex(pcs[1], pcs[2], 64);
  EXPECT_EQ(e0, 36u);
  EXPECT_EQ(e1, 9u);
  EXPECT_EQ(e2, 40u);
  int total = 0;
  for (uint8_t c : counters) total += c;
  EXPECT_EQ(total, 4);
  EXPECT_EQ(counters[e1], e1 == e0 || e1 == e2 ? 3 : 2);
}

TEST(KernelCoverage, CountersSaturateAndDirectionMatters) {
  std::vector<uint64_t> pcs(600, 0xffffffff81234567ull);
  uint8_t counters[16] = {};
  FoldKernelPcs(pcs.data(), pcs.size(), counters, sizeof counters);
  EXPECT_EQ(counters[KernelEdgeIndex(pcs[0], pcs[0], 16)], 255);
  std::set<size_t> seen;
  for (uint64_t a = 0; a < 32; ++a)
    seen.insert(KernelEdgeIndex(0xffffffff81000000ull + 16 * a, 0xffffffff81000100ull, 1 << 16));
  EXPECT_GT(seen.size(), 30u) << "edges into one PC from nearby PCs spread over the counters";
  EXPECT_NE(KernelEdgeIndex(1, 2, 1 << 16), KernelEdgeIndex(2, 1, 1 << 16));
}

TEST(KernelCoverage, AvailableHereOrSaysWhyNot) {
  std::string why;
  if (!KcovAvailable(&why)) {
    EXPECT_FALSE(why.empty());
    GTEST_SKIP() << "skipped: no KCOV on this kernel (" << why
                 << "); the fuzzers run unguided by the kernel";
  }
  EXPECT_TRUE(why.empty());
}

// Two stream pairs whose ends sit in each other's queues (a cycle of two: c in a's
// queue, a in c's), and a pipe end in a's queue held by the cycle: scc(2n,2e) +held.
TEST(Signature, ShapeOfACycleAndWhatItHolds) {
  const Scenario s = ParseScenario(
      "scenario t\n\np0: a b = socketpair stream\np0: c d = socketpair stream\n"
      "p0: r w = pipe\np0: send b [c w]\np0: send d [a]\np0: close a\np0: close b\n"
      "p0: close c\np0: close d\np0: close r\np0: close w\n");
  RunResult r;
  auto ev = [&](uint16_t action, EventType type, uint8_t index, uint64_t ino) {
    ObjectEvent e;
    e.action = action;
    e.type = type;
    e.index = index;
    e.ino = ino;
    r.events.push_back(e);
  };
  ev(0, EventType::kCreated, 0, 100);
  ev(0, EventType::kCreated, 1, 101);
  ev(1, EventType::kCreated, 0, 102);
  ev(1, EventType::kCreated, 1, 103);
  ev(2, EventType::kCreated, 1, 200);
  ev(3, EventType::kSentVia, 0, 101);
  ev(4, EventType::kSentVia, 0, 103);
  auto sock = [](uint64_t ino, uint64_t peer) {
    SocketInfo so;
    so.ino = ino;
    so.peer = peer;
    return so;
  };
  r.census.sockets = {sock(100, 101), sock(101, 100), sock(102, 103), sock(103, 102)};
  Verdict v;
  v.kind = VerdictKind::kLeak;
  v.leftovers = {
      Leftover{"stream socket", 100, "a", 0, {4}, "", ""},   // in c's queue
      Leftover{"stream socket", 102, "c", 1, {3}, "", ""},   // in a's queue
      Leftover{"pipe write end", 200, "w", 2, {3}, "", ""},  // in a's queue
  };
  EXPECT_EQ(ReferenceShape(s, r, v), "scc(2n,2e) +held");
  EXPECT_EQ(FindingSignatureOf(s, r, v), "leak|pipe write end,stream socket|scc(2n,2e) +held");
  // Names, inodes and the scenario's name do not matter.
  Scenario renamed = s;
  renamed.name = "other";
  for (auto& n : renamed.vars) n += "_x";
  RunResult r2 = r;
  for (auto& e : r2.events) e.ino += 1000;
  for (auto& so : r2.census.sockets) {
    so.ino += 1000;
    so.peer += 1000;
  }
  Verdict v2 = v;
  for (auto& l : v2.leftovers) l.ino += 1000;
  EXPECT_EQ(FindingSignatureOf(renamed, r2, v2), FindingSignatureOf(s, r, v));
}

TEST(Signature, EmbryoHeldObjectsAndOtherVerdicts) {
  const Scenario s = ParseScenario(
      "scenario t\n\np0: x = socket dgram\np0: c = socket stream\np0: connect c @h\n"
      "p0: send c [x]\n");
  RunResult r;
  ObjectEvent via;
  via.action = 3;
  via.type = EventType::kSentVia;
  via.ino = 7;
  r.events = {via};
  SocketInfo c;
  c.ino = 7;
  c.peer_without_inode = true;
  r.census.sockets = {c};
  Verdict v;
  v.kind = VerdictKind::kLeak;
  v.leftovers = {Leftover{"dgram socket", 5, "x", 0, {3}, "", ""},
                 Leftover{"embryo (connection never accepted)", 0, "", -1, {}, "", ""}};
  EXPECT_EQ(FindingSignatureOf(s, r, v),
            "leak|dgram socket,embryo (connection never accepted)|no cycle +held +in-embryo");

  Verdict hang;
  hang.kind = VerdictKind::kHang;
  RunResult hr;
  hr.procs = {ProcOutcome{ProcEnd::kKilledByWatchdog, 9, 3}};
  EXPECT_EQ(FindingSignatureOf(s, hr, hang), "hang|send");

  Verdict fault;
  fault.kind = VerdictKind::kFault;
  fault.faults = {
      "action 12 (p0: v3 = recv v1 ctrunc=2): received inode 4711, which was never sent"};
  EXPECT_EQ(FindingSignatureOf(s, r, fault),
            "fault|semantic|recv: received inode #, which was never sent");
  fault.kernel_log = {"[  12.345] BUG: KASAN: slab-use-after-free in unix_gc+0x1/0x2"};
  // By its console title: two faults of one kind in different functions are two bugs.
  EXPECT_EQ(FindingSignatureOf(s, r, fault),
            "fault|kernel|BUG: KASAN: slab-use-after-free in unix_gc+#x#/#x#");
}

}  // namespace
}  // namespace inflight
