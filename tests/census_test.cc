// The census against known sockets, and each census layer firing on a real leftover
// and staying silent on a clean namespace.
#include "probe/census.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/scm.h"
#include "base/unique_fd.h"
#include "probe/liveness.h"
#include "probe/settle.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::InFreshNetns;

uint64_t Ino(int fd) {
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0);
  return st.st_ino;
}

sockaddr_un Abstract(const char* name, socklen_t& len) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path + 1, name, strlen(name));
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + strlen(name));
  return sun;
}

UniqueFd Listener(const char* name) {
  UniqueFd l(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len;
  sockaddr_un sun = Abstract(name, len);
  EXPECT_EQ(bind(l.Get(), reinterpret_cast<sockaddr*>(&sun), len), 0);
  EXPECT_EQ(listen(l.Get(), 8), 0);
  return l;
}

UniqueFd ConnectTo(const char* name) {
  UniqueFd c(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len;
  sockaddr_un sun = Abstract(name, len);
  EXPECT_EQ(connect(c.Get(), reinterpret_cast<sockaddr*>(&sun), len), 0) << strerror(errno);
  return c;
}

void SendFds(int via, std::initializer_list<int> fds) {
  ASSERT_EQ(SendWithFds(via, fds.begin(), fds.size()), 1) << strerror(errno);
}

Census Take(CensusSource& src) {
  auto c = src.Take();
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().Text());
  return c.ok() ? *c : Census{};
}

std::set<uint64_t> Inodes(const Census& c) {
  std::set<uint64_t> s;
  for (const SocketInfo& i : c.sockets) s.insert(i.ino);
  return s;
}

// Triggers the collector from the process's original namespace (the main thread's), so
// the trigger's own short-lived garbage never shows in the namespace under test.
void TriggerElsewhere() {
  std::thread t([] {
    UniqueFd home(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(home.Valid());
    ASSERT_EQ(setns(home.Get(), CLONE_NEWNET), 0);
    ASSERT_TRUE(TriggerCollector().ok());
  });
  t.join();
}

// Triggers the collector and polls until the delta against `baseline` is empty or the
// deadline passes; returns the last delta.
CensusDelta Settle(CensusSource& src, const Census& baseline, int64_t deadline_us) {
  const int64_t end = NowMicros() + deadline_us;
  CensusDelta d = DiffCensus(baseline, Take(src));
  while (!d.Empty() && NowMicros() < end) {
    TriggerElsewhere();
    usleep(2000);
    d = DiffCensus(baseline, Take(src));
  }
  return d;
}

TEST(Census, FreshNamespaceIsEmpty) {
  INFLIGHT_REQUIRE_NAMESPACES();
  InFreshNetns([] {
    auto src = CensusSource::Open();
    ASSERT_TRUE(src.ok()) << src.error().Text();
    EXPECT_EQ(src->method(), CensusMethod::kSockDiag);
    Census c = Take(*src);
    EXPECT_TRUE(c.sockets.empty());
    EXPECT_EQ(c.proto_inuse, 0);
  });
}

TEST(Census, SeesAKnownSetOfSockets) {
  INFLIGHT_REQUIRE_NAMESPACES();
  InFreshNetns([] {
    auto src = CensusSource::Open();
    ASSERT_TRUE(src.ok());
    const Census empty = Take(*src);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    ASSERT_EQ(write(a.Get(), "abc", 3), 3);
    UniqueFd x(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    socklen_t len;
    sockaddr_un sun = Abstract("x", len);
    ASSERT_EQ(bind(x.Get(), reinterpret_cast<sockaddr*>(&sun), len), 0);
    UniqueFd l = Listener("l");
    UniqueFd c = ConnectTo("l");

    Census now = Take(*src);
    EXPECT_EQ(Inodes(now), (std::set<uint64_t>{Ino(a.Get()), Ino(b.Get()), Ino(x.Get()),
                                               Ino(l.Get()), Ino(c.Get())}));
    const SocketInfo* sa = now.Find(Ino(a.Get()));
    const SocketInfo* sb = now.Find(Ino(b.Get()));
    const SocketInfo* sx = now.Find(Ino(x.Get()));
    const SocketInfo* sl = now.Find(Ino(l.Get()));
    ASSERT_TRUE(sa && sb && sx && sl);
    EXPECT_EQ(sa->peer, Ino(b.Get()));
    EXPECT_FALSE(sa->peer_without_inode);
    EXPECT_EQ(sb->peer, Ino(a.Get()));
    EXPECT_EQ(sb->rqueue, 3u);
    EXPECT_EQ(sa->type, SOCK_STREAM);
    EXPECT_EQ(sx->type, SOCK_DGRAM);
    EXPECT_EQ(sx->name, "@x");
    EXPECT_TRUE(sl->listening);
    EXPECT_FALSE(sa->listening);
    EXPECT_EQ(sl->embryos, std::vector<uint64_t>{Ino(c.Get())});
    EXPECT_EQ(now.proto_inuse, 6) << "five in the table and one embryo";

    CensusDelta d = DiffCensus(empty, now);
    EXPECT_EQ(d.new_sockets.size(), 5u);
    ASSERT_EQ(d.new_embryos.size(), 1u);
    EXPECT_EQ(d.new_embryos[0].listener, Ino(l.Get()));
    EXPECT_EQ(d.proto_excess, 0);
  });
}

TEST(Census, AClosedStreamPeerIsExplainedNotExcess) {
  INFLIGHT_REQUIRE_NAMESPACES();
  InFreshNetns([] {
    auto src = CensusSource::Open();
    ASSERT_TRUE(src.ok());
    Census empty = Take(*src);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]);
    close(sv[1]);  // b is released but a still holds it as its peer
    Census now = Take(*src);
    ASSERT_EQ(now.sockets.size(), 1u);
    EXPECT_TRUE(now.sockets[0].peer_without_inode);
    EXPECT_EQ(now.sockets[0].peer, 0u);
    EXPECT_EQ(now.proto_inuse, 2);
    CensusDelta d = DiffCensus(empty, now);
    EXPECT_EQ(d.new_sockets.size(), 1u);
    EXPECT_EQ(d.proto_excess, 0) << "the closed peer is accounted to a";
  });
}

TEST(Census, ProcFallbackSeesTheSameSockets) {
  INFLIGHT_REQUIRE_NAMESPACES();
  InFreshNetns([] {
    auto diag = CensusSource::Open(true);
    auto proc = CensusSource::Open(false);
    ASSERT_TRUE(diag.ok() && proc.ok());
    EXPECT_EQ(proc->method(), CensusMethod::kProcNetUnix);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    UniqueFd l = Listener("fallback");
    Census cd = Take(*diag), cp = Take(*proc);
    EXPECT_EQ(Inodes(cd), Inodes(cp));
    const SocketInfo* pl = cp.Find(Ino(l.Get()));
    ASSERT_TRUE(pl);
    EXPECT_TRUE(pl->listening);
    EXPECT_EQ(pl->name, "@fallback");
    EXPECT_EQ(cp.Find(Ino(a.Get()))->type, SOCK_SEQPACKET);
  });
}

// Each layer, on a real leftover: socket x kept in flight in the queue of an embryo that
// a holder (outside the "graph") never accepts; and on a clean namespace: a self-cycle
// the collector must free.
void LayerFiresAndStaysSilent(bool sock_diag) {
  InFreshNetns([sock_diag] {
    auto src = CensusSource::Open(sock_diag);
    ASSERT_TRUE(src.ok());
    UniqueFd holder = Listener("holder");
    const Census baseline = Take(*src);

    {  // Clean: a self-referencing pair, closed. Only the collector frees it.
      int sv[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
      SendFds(sv[1], {sv[0]});
      close(sv[0]);
      close(sv[1]);
      EXPECT_TRUE(Settle(*src, baseline, 2'000'000).Empty()) << "silent on a clean run";
    }

    uint64_t x_ino = 0;
    {  // Leftover: x in flight in the embryo's queue.
      UniqueFd x(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      x_ino = Ino(x.Get());
      UniqueFd c = ConnectTo("holder");
      SendFds(c.Get(), {x.Get()});
    }
    CensusDelta d = Settle(*src, baseline, 300'000);
    ASSERT_FALSE(d.Empty()) << "fires on the leftover";
    ASSERT_EQ(d.new_sockets.size(), 1u);
    EXPECT_EQ(d.new_sockets[0].ino, x_ino);
    if (sock_diag) {
      ASSERT_EQ(d.new_embryos.size(), 1u);
      EXPECT_EQ(d.new_embryos[0].added, std::vector<uint64_t>{0}) << "its connecting socket closed";
      EXPECT_EQ(d.new_anonymous, 0);
      EXPECT_EQ(d.proto_excess, 0);
    } else {
      EXPECT_TRUE(d.new_embryos.empty()) << "/proc/net/unix has no ICONS";
      EXPECT_EQ(d.new_anonymous, 1) << "it lists the embryo without an inode";
      EXPECT_EQ(d.proto_excess, 1) << "only the protocol count sees the closed connecting socket";
    }
    holder.Reset();  // releasing the holder frees everything it kept
    Census after = Take(*src);
    EXPECT_TRUE(after.sockets.empty());
    EXPECT_EQ(after.proto_inuse, 0);
  });
}

TEST(CensusLayer, SockDiagFiresOnALeftoverAndIsSilentWhenClean) {
  INFLIGHT_REQUIRE_NAMESPACES();
  LayerFiresAndStaysSilent(true);
}

TEST(CensusLayer, ProcNetUnixFiresOnALeftoverAndIsSilentWhenClean) {
  INFLIGHT_REQUIRE_NAMESPACES();
  LayerFiresAndStaysSilent(false);
}

// A dgram socket that is closed while another socket still has it as its peer is
// alive outside the table: neither sock_diag nor /proc/net/unix lists it, and only the
// per-namespace protocol count sees it.
void ProtocolCountSeesWhatTheTableCannot(bool sock_diag) {
  InFreshNetns([sock_diag] {
    auto src = CensusSource::Open(sock_diag);
    ASSERT_TRUE(src.ok());
    ASSERT_TRUE(src->has_protocols());
    UniqueFd y(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));  // the holder's
    const Census baseline = Take(*src);
    {
      UniqueFd x(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      socklen_t len;
      sockaddr_un sun = Abstract("peer", len);
      ASSERT_EQ(bind(x.Get(), reinterpret_cast<sockaddr*>(&sun), len), 0);
      ASSERT_EQ(connect(y.Get(), reinterpret_cast<sockaddr*>(&sun), len), 0);
    }  // x closed: y still holds it as its peer
    Census now = Take(*src);
    EXPECT_EQ(Inodes(now), Inodes(baseline)) << "the table shows nothing new";
    CensusDelta d = DiffCensus(baseline, now);
    EXPECT_EQ(d.proto_excess, 1) << "fires";
    EXPECT_FALSE(d.Empty());
    y.Reset();  // frees x too
    Census after = Take(*src);
    Census empty;
    empty.proto_inuse = 0;
    EXPECT_TRUE(DiffCensus(empty, after).Empty()) << "silent once nothing is left";
    EXPECT_EQ(after.proto_inuse, 0);
  });
}

TEST(CensusLayer, ProtocolCountSeesWhatTheTableCannotWithSockDiag) {
  INFLIGHT_REQUIRE_NAMESPACES();
  ProtocolCountSeesWhatTheTableCannot(true);
}

TEST(CensusLayer, ProtocolCountSeesWhatTheTableCannotWithProcNetUnix) {
  INFLIGHT_REQUIRE_NAMESPACES();
  ProtocolCountSeesWhatTheTableCannot(false);
}

TEST(Census, ParsesProcNetUnix) {
  const std::string text =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 7601 @inflight-hold\n"
      "0000000000000000: 00000003 00000000 00000000 0002 03 7700\n"
      "0000000000000000: 00000003 00000000 00000000 0005 03 7699 /run/x.sock\n"
      "0000000000000000: 00000002 00000000 00000000 0001 03 0 @inflight-hold\n";
  int64_t anonymous = -1;
  auto s = ParseProcNetUnix(text, &anonymous);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(anonymous, 1) << "the embryo row has no inode";
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].ino, 7601u);
  EXPECT_TRUE((*s)[0].listening);
  EXPECT_EQ((*s)[0].name, "@inflight-hold");
  EXPECT_EQ((*s)[1].ino, 7699u);  // sorted by inode
  EXPECT_EQ((*s)[1].type, 5);
  EXPECT_EQ((*s)[1].name, "/run/x.sock");
  EXPECT_EQ((*s)[2].type, 2);
  EXPECT_FALSE(ParseProcNetUnix("garbage\n").ok());
  EXPECT_FALSE(ParseProcNetUnix("Num x\n0: 1 2\n").ok());
}

TEST(Census, ParsesProtocolsForBothUnixLines) {
  const std::string text =
      "protocol  size sockets  memory press maxhdr  slab module     cl co di\n"
      "PACKET    1600      4      -1   NI       0   no   kernel      n  n  n\n"
      "UNIX-STREAM 1152    3      -1   NI       0   yes  kernel      y  n  n\n"
      "UNIX      1152      2      -1   NI       0   yes  kernel      y  n  n\n";
  auto n = ParseProtocolsUnixCount(text);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5);
  EXPECT_FALSE(ParseProtocolsUnixCount("protocol size sockets\nTCP 1 2\n").ok());
}

}  // namespace
}  // namespace inflight

#include <sys/wait.h>

#include "probe/accounting.h"

namespace inflight {
namespace {


TEST(Accounting, AllowanceDropsByWhatIsStillCountedAndComesBack) {
  if (geteuid() != 0) GTEST_SKIP() << "skipped: measuring another uid's allowance needs root";
  const uint32_t uid = 0x2fff0000u + static_cast<uint32_t>(getpid() & 0xffff);
  auto fresh = MeasureInflightAllowance(uid, uid);
  ASSERT_TRUE(fresh.ok()) << fresh.error().Text();
  EXPECT_GT(*fresh, 0);
  EXPECT_LE(*fresh, kAllowanceLimit + 1) << "the kernel stops the uid near its RLIMIT_NOFILE";
  {
    UniqueFd held = testing::HoldInFlightAs(uid, 5);  // a real leftover: 5 of the uid's in flight
    auto now = MeasureInflightAllowance(uid, uid);
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(*fresh - *now, 5) << "fires, and says how many are counted";
  }
  auto after = MeasureInflightAllowance(uid, uid);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *fresh) << "silent once they are freed";
  // A wrong expectation is caught: the check compares with the fresh allowance.
  EXPECT_NE(*after, *fresh + 1);
}

}  // namespace
}  // namespace inflight

#include "probe/global_counts.h"

namespace inflight {
namespace {

TEST(GlobalCounts, ParsesFixedInputs) {
  auto n = ParseFileNr("4310\t0\t9223372036854775807\n");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4310);
  EXPECT_FALSE(ParseFileNr("garbage").ok());
  auto slabs = ParseSlabinfo(
      "slabinfo - version: 2.1\n"
      "# name            <active_objs> <num_objs> <objsize> ...\n"
      "sock_inode_cache   10943  11362    832   19    4 : tunables    0    0    0\n"
      "filp                4320   4599    192   21    1 : tunables    0    0    0\n"
      "dentry             55555  66666    192   21    1 : tunables    0    0    0\n");
  EXPECT_EQ(slabs.size(), 2u);
  EXPECT_EQ(slabs["sock_inode_cache"], 10943);
  EXPECT_EQ(slabs["filp"], 4320);
}

// 20 x 100 pipes, 4000 files, kept in flight in the queue of a socket nobody reads; they
// live as long as the returned end does.
UniqueFd HoldPipesInFlight() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd keep(sv[1]);
  UniqueFd send_end(sv[0]);
  for (int batch = 0; batch < 20; ++batch) {
    int fds[200];
    for (int i = 0; i < 100; ++i) EXPECT_EQ(pipe2(fds + 2 * i, O_CLOEXEC), 0);
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof fds)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    EXPECT_EQ(sendmsg(send_end.Get(), &msg, 0), 1) << strerror(errno);
    for (int fd : fds) close(fd);
  }
  return keep;
}

int64_t DriftOf(const std::vector<GlobalDrift>& drifts, const std::string& name) {
  for (const GlobalDrift& d : drifts)
    if (d.name == name) return d.Drift();
  ADD_FAILURE() << "no count " << name;
  return 0;
}

// The global layer fires on real leftovers (files kept in flight outside any scenario)
// and stays silent once they are gone, with a tolerance above this host's noise.
TEST(GlobalCounts, DriftFiresOnFilesKeptInFlightAndNotWithout) {
  constexpr int64_t kTolerance = 1500;
  const auto before = SampleGlobalRepeatedly(3, 10);
  ASSERT_FALSE(before.empty()) << "file-nr unreadable";
  UniqueFd keep = HoldPipesInFlight();
  auto held = CompareGlobal(before, SampleGlobalRepeatedly(3, 10));
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held[0].name, "files");
  EXPECT_GT(held[0].Drift(), kTolerance) << "fires";
  keep.Reset();  // frees all 4000
  // Released files go through RCU, and other processes of this shared host open and close
  // files meanwhile: it must come back within the tolerance, not at the first sample.
  int64_t drift = 0;
  for (int i = 0; i < 20; ++i) {
    auto after = CompareGlobal(before, SampleGlobalRepeatedly(3, 10));
    ASSERT_FALSE(after.empty());
    drift = after[0].Drift();
    if (drift <= kTolerance) break;
    usleep(50'000);
  }
  EXPECT_LE(drift, kTolerance) << "silent once they are freed";
}

// With per-CPU slabs flushed (how a VM rules), the filp slab counts the held files: the
// 4000 held give a drift of about 4000 (others on this shared host move it by some
// dozens), and it is back within the host's noise once they are freed.
TEST(GlobalCounts, FlushedSlabsCountHeldFiles) {
  if (access("/sys/kernel/slab/filp/shrink", W_OK) != 0 || access("/proc/slabinfo", R_OK) != 0)
    GTEST_SKIP() << "no writable /sys/kernel/slab/filp/shrink or readable /proc/slabinfo "
                    "(not root, or a kernel without SLUB sysfs)";
  constexpr int64_t kTolerance = 1500;
  const auto before = SampleGlobalRepeatedly(3, 10, /*flush_slabs=*/true);
  UniqueFd keep = HoldPipesInFlight();
  EXPECT_GE(DriftOf(CompareGlobal(before, SampleGlobalRepeatedly(3, 10, true)), "filp"),
            4000 - kTolerance)
      << "fires on the held files";
  keep.Reset();
  int64_t drift = 0;
  for (int i = 0; i < 20; ++i) {  // released files go through RCU: let them settle
    drift = DriftOf(CompareGlobal(before, SampleGlobalRepeatedly(3, 10, true)), "filp");
    if (drift <= kTolerance) break;
    usleep(100'000);
  }
  EXPECT_LE(drift, kTolerance) << "silent once they are freed";
}

}  // namespace
}  // namespace inflight

#include "probe/kmemleak.h"

namespace inflight {
namespace {

TEST(Kmemleak, ReportsAreSplitAndFilteredToAfUnix) {
  const std::string text =
      "unreferenced object 0xffff888003a1c000 (size 1152):\n"
      "  comm \"inflight-sandbo\", pid 123, jiffies 4294\n"
      "  backtrace:\n"
      "    [<000000001>] sk_prot_alloc+0x3f/0x1b0\n"
      "    [<000000002>] unix_create1+0x4a/0x280\n"
      "unreferenced object 0xffff888003b00000 (size 64):\n"
      "  comm \"systemd\", pid 1, jiffies 4295\n"
      "  backtrace:\n"
      "    [<000000003>] kmalloc_trace+0x25/0x90\n"
      "    [<000000004>] ext4_fill_super+0x10/0x20\n";
  auto all = ParseKmemleakReports(text, false);
  ASSERT_EQ(all.size(), 2u);
  auto unix_only = ParseKmemleakReports(text, true);
  ASSERT_EQ(unix_only.size(), 1u);
  EXPECT_NE(unix_only[0].find("unix_create1"), std::string::npos);
}

TEST(Kmemleak, ScanWhereTheKernelHasIt) {
  std::string why;
  if (!KmemleakAvailable(&why)) GTEST_SKIP() << "skipped: " << why;
  ASSERT_TRUE(KmemleakClear().ok());
  auto leaks = KmemleakScan(6000);
  ASSERT_TRUE(leaks.ok()) << leaks.error().Text();
  EXPECT_TRUE(leaks->empty()) << "kmemleak reports AF_UNIX objects on an idle kernel:\n"
                              << (leaks->empty() ? "" : leaks->front());
}

}  // namespace
}  // namespace inflight

namespace inflight {
namespace {

// The collector clock on this kernel: each witness it makes is freed by a collector pass,
// and its poll sees that, so settling gets its proof here.
TEST(CollectorClock, ItsWitnessesAreFreedByCollectorPassesOnThisKernel) {
  auto clock = CollectorClock::Create();
  ASSERT_TRUE(clock.ok()) << clock.error().Text();
  for (int round = 0; round < 3; ++round) {
    const int64_t since = NowMicros();
    clock->Need(since, since);
    ASSERT_NE(clock->log().NewestMadeSince(since), 0) << "a witness was made";
    const int64_t end = since + 20'000'000;
    while (clock->log().FreedAfter(since) == 0 && NowMicros() < end) {
      ASSERT_TRUE(clock->Poll(NowMicros()).ok());
      clock->Need(since, NowMicros());
      usleep(1000);
    }
    ASSERT_NE(clock->log().FreedAfter(since), 0) << "no collector pass freed the witness in 20 s";
  }
  EXPECT_EQ(clock->log().Alive(), 0u);
}

// While its file lives, a witness-style epoll item stays: the poll reads items, not time.
TEST(CollectorClock, AnItemWhoseFileIsAliveIsNotSeenFreed) {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  epoll_event ev{};
  ev.data.u64 = 42;
  ASSERT_EQ(epoll_ctl(ep.Get(), EPOLL_CTL_ADD, a.Get(), &ev), 0);
  auto items =
      ParseEpollFdinfo(*ReadWholeFile(fmt::format("/proc/self/fdinfo/{}", ep.Get()).c_str()));
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(*items, std::vector<uint64_t>{42});
  a.Reset();
  items = ParseEpollFdinfo(*ReadWholeFile(fmt::format("/proc/self/fdinfo/{}", ep.Get()).c_str()));
  ASSERT_TRUE(items.ok());
  EXPECT_TRUE(items->empty()) << "released with its last reference";
}

}  // namespace
}  // namespace inflight
