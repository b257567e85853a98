// Leak classes on real reference graphs: every corpus scenario runs once in
// lockstep on this kernel (for its object log), then is ruled as if everything it made
// had outlived it, and the classifier must name the expected class. And the findings this
// host really has (the scc_index bug of Linux 6.18.44) collapse to one signature.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "driver/sandbox_pool.h"
#include "oracle/verdict.h"
#include "reports/finding_signature.h"
#include "reports/ref_graph.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

// Scenario -> the class of its reference graph with everything left over. The cycles of
// a scenario name it whatever else it made; without a cycle, what holds what.
const std::map<std::string, std::string> kExpected = {
    {"cycle2_stream", "cycle(simple)|socket"},
    {"cycle2_mixed_types", "cycle(simple)|socket"},
    {"ring8_mixed_types", "cycle(simple)|socket"},
    {"nested_cycles_figure8", "cycle(nested)|socket"},
    {"mixed_lowpoint_stream", "cycle(nested)|socket"},
    // kselftest's backtrack_from_scc: a ring, and a vertex the walk backtracks from.
    {"backtrack_from_scc_stream", "cycle(simple)|socket"},
    {"backtrack_from_scc_seqpacket", "cycle(simple)|socket"},
    {"cross_edge_stream", "cycle(nested)|socket"},
    {"cross_edge_dgram", "cycle(nested)|socket"},
    {"oob_self_and_other", "cycle(self)+cycle(self,oob)|socket"},
    {"dgram_peer_closes", "chain|dgram socket"},
    {"oob_self_ref_stream", "cycle(self,oob)|socket"},
    {"oob_cycle2_stream", "cycle(simple,oob)|socket"},
    // (A listener's kind here is the one it was created with; a real run's census says
    // "stream listener", coarse "listener".)
    {"listener_self_ref_embryo", "cycle(simple,embryo)|embryo,socket"},
    {"all_exit_before_recv", "cycle(simple)|socket"},
    // The rest of the corpus, pinned as measured on Linux 6.18.44 (2026-12-06) after reading
    // each against its scenario: what a kernel that freed nothing of it would be named.
    {"all_kinds_to_exiting_child", "chain|stream socket"},
    {"closed_in_flight_not_cycle", "cycle(self)|socket"},
    {"creds_cut_short_drops_rights", "cycle(self)|socket"},
    {"ctrunc_drops_non_socket_kinds",
     "never-in-flight+orphan|eventfd,memfd,pipe read end,seqpacket socket"},
    {"ctrunc_drops_rest", "cycle(simple)|socket"},
    {"cycle_reachable_from_live", "cycle(self)|socket"},
    {"device_files_in_flight", "cycle(self)|socket"},
    {"path_unlinked_while_in_flight", "cycle(self)|socket"},
    {"dgram_both_close", "chain|dgram socket"},
    {"dgram_peer_closes_child", "cycle(self)|socket"},
    {"dgram_peer_reconnects", "chain|dgram socket"},
    {"dgram_queued_to_inflight", "chain|stream socket"},
    {"dgram_receiver_closes", "chain|dgram socket"},
    {"dgram_send_to_shut_reader",
     "never-in-flight+orphan|dgram socket,seqpacket socket,stream socket"},
    {"dgram_sender_closes", "chain|dgram socket"},
    {"dup_in_flight", "cycle(self)|socket"},
    {"embryo_accept_carries_listener", "chain|stream socket"},
    {"embryo_accept_with_rights", "chain|stream socket"},
    {"embryo_cross_listeners", "cycle(simple,embryo)|embryo,socket"},
    {"embryo_rights_listener_closed", "chain|stream socket"},
    {"epoll_in_own_watched_queue", "cycle(self)|socket"},
    {"epoll_nested_in_cycle", "cycle(simple)|socket"},
    {"eventfd_memfd_in_dgram_self_ref", "cycle(self)|socket"},
    {"file_to_embryo_listener_closed", "chain|stream socket"},
    {"fork_exchange_sockets", "cycle(simple)|socket"},
    {"freebsd_passfd_basics", "chain|stream socket"},
    {"freebsd_passfd_bundle_cancel", "cycle(self)|socket"},
    {"freebsd_passfd_copyout_rights_error", "chain|dgram socket,seqpacket socket"},
    {"freebsd_passfd_empty_rights_message", "cycle(self)|socket"},
    {"freebsd_passfd_rights_creds_payload", "never-in-flight+orphan|regular file,stream socket"},
    {"freebsd_passfd_samefile_every_kind", "chain|stream socket"},
    {"freebsd_passfd_send_a_lot_over", "cycle(self)|socket"},
    {"freebsd_passfd_send_and_shutdown", "chain|stream socket"},
    {"freebsd_passfd_truncated_rights", "never-in-flight+orphan|memfd,stream socket"},
    {"freebsd_passfd_truncated_rights_bytes", "never-in-flight+orphan|memfd,stream socket"},
    {"freebsd_unix_gc_complex_cycles", "cycle(simple)|socket"},
    {"freebsd_unix_gc_fivesome_drop", "chain|stream socket"},
    {"freebsd_unix_gc_listen_drop", "chain|stream socket"},
    {"freebsd_unix_gc_listen_drop_paths", "chain|stream socket"},
    {"freebsd_unix_gc_recursion", "chain|stream socket"},
    {"freebsd_unix_gc_recursion_deep", "chain|stream socket"},
    {"freebsd_unix_gc_threesome_drop", "chain|stream socket"},
    {"freebsd_unix_gc_twosome_drop", "cycle(self)|socket"},
    {"gc_spares_live_cycles", "cycle(self)|socket"},
    {"gc_vs_connect_inflight_listener", "cycle(simple,embryo)|embryo,socket"},
    {"inflight_all_kinds_in_cycle", "cycle(simple)|socket"},
    {"inflight_file_memfd_eventfd", "cycle(simple)|socket"},
    {"inflight_limit_given_back_by_collection", "cycle(self)|socket"},
    {"inflight_limit_privileged_exempt", "chain|stream socket"},
    {"inflight_limit_unprivileged", "chain|dgram socket,stream socket"},
    {"inflight_pipe_ends", "cycle(self)|socket"},
    {"io_uring_send_refused", "never-in-flight|io_uring,stream socket"},
    {"kill_holder_of_peeked", "cycle(simple)|socket"},
    {"kill_sender_mid_graph", "cycle(self)+cycle(simple)|socket"},
    {"kselftest_backtrack_from_scc_dgram", "cycle(simple)|socket"},
    {"kselftest_backtrack_from_scc_disabled", "chain|stream socket"},
    {"kselftest_backtrack_from_scc_stream_listener", "cycle(simple,embryo)|embryo,socket"},
    {"kselftest_backtrack_from_scc_stream_listener_oob", "cycle(simple,embryo,oob)|embryo,socket"},
    {"kselftest_backtrack_from_scc_stream_oob", "cycle(simple,oob)|socket"},
    {"kselftest_cross_edge_disabled", "chain|stream socket"},
    {"kselftest_cross_edge_stream_listener", "cycle(nested,embryo)|embryo,socket"},
    {"kselftest_cross_edge_stream_listener_oob", "cycle(nested,embryo,oob)|embryo,socket"},
    {"kselftest_cross_edge_stream_oob", "cycle(nested,oob)|socket"},
    {"kselftest_self_ref_disabled", "never-in-flight|dgram socket,stream socket"},
    {"kselftest_self_ref_listener_disabled", "chain|stream socket"},
    {"kselftest_triangle_disabled", "chain|stream socket"},
    {"kselftest_triangle_stream_listener_disabled", "chain|stream socket"},
    {"kselftest_triangle_stream_listener_oob", "cycle(simple,embryo,oob)|embryo,socket"},
    {"listener_self_ref_embryo_oob", "cycle(simple,embryo,oob)|embryo,socket"},
    {"listener_triangle", "cycle(simple,embryo)|embryo,socket"},
    {"many_copies_same_socket", "cycle(nested)|socket"},
    {"max_fds_253_one_message", "cycle(self)|socket"},
    {"multi_cmsgs_one_send", "cycle(self)|socket"},
    {"nested_chain_16", "cycle(self)|socket"},
    {"nested_chain_16_cycle", "cycle(simple)|socket"},
    {"nested_cycles_gc_midway", "cycle(nested)+cycle(self)|socket"},
    {"nofile_full_table", "cycle(nested)|socket"},
    {"oob_consumed_consecutive", "cycle(self)+cycle(self,oob)|socket"},
    {"oob_rights_before_oob_byte", "never-in-flight+orphan|stream socket"},
    {"oob_skipped_by_normal_recv", "cycle(self)|socket"},
    {"oob_triangle_stream", "cycle(simple,oob)|socket"},
    {"peek_copies_of_every_kind",
     "never-in-flight+orphan|dgram socket,eventfd,memfd,pipe read end,stream socket"},
    {"peek_race_two_procs", "cycle(self)|socket"},
    {"peek_then_close", "chain|stream socket"},
    {"peer_ref_stream", "cycle(simple)|socket"},
    {"pidfd_in_flight_after_exit", "cycle(self)|socket"},
    {"pidfd_of_killed_process_in_cycle", "cycle(simple)|socket"},
    {"pipe_ends_in_two_cycles", "cycle(self)|socket"},
    {"recv_breaks_cycle", "never-in-flight+orphan|dgram socket,seqpacket socket,stream socket"},
    {"ring8_stream", "cycle(simple)|socket"},
    {"self_ref_dgram", "cycle(self)|socket"},
    {"self_ref_seqpacket", "cycle(self)|socket"},
    {"self_ref_stream", "cycle(self)|socket"},
    {"seqpacket_listener_embryo", "cycle(simple,embryo)|embryo,socket"},
    {"shutdown_after_send", "cycle(simple)|socket"},
    {"shutdown_before_send", "cycle(self)|socket"},
    {"sndbuf_fill_partial_send", "cycle(self)|socket"},
    {"timerfd_in_cycle", "cycle(simple)|socket"},
    {"triangle_dgram", "cycle(simple)|socket"},
    {"triangle_stream", "cycle(simple)|socket"},
    // inet sockets as passengers (issue 16, word 5): they ride the cycles and queues, which
    // name the class; an inet socket holds no rights, so it is never a holder.
    {"freebsd_unix_gc_listen_inet", "chain|stream socket"},
    {"inet_sockets_in_garbage_cycle", "cycle(self)+cycle(simple)|socket"},
    {"inet6_sockets_in_flight", "cycle(self)|socket"},
};

PoolOptions Options() {
  PoolOptions p;
  p.jobs = 1;
  p.slots = 4;
  p.sandbox_path = testing::SandboxPath();
  return p;
}

// The run's reference graph with every object it created left over.
std::string EverythingLeftOver(const Scenario& s, RunResult r) {
  RunRecord rec;
  rec.mode = RunMode::kLockstep;
  rec.verdict.kind = VerdictKind::kLeak;
  bool listener = false;
  for (const ObjectEvent& e : r.events) {
    if (e.type != EventType::kCreated || e.action >= s.actions.size()) continue;
    const Action& a = s.actions[e.action];
    Leftover l;
    l.ino = e.ino;
    l.what = ObjectKindName(a, e.index);
    rec.verdict.leftovers.push_back(l);
  }
  for (const Action& a : s.actions) listener |= a.op == Op::kListen;
  if (listener) rec.verdict.leftovers.push_back(Leftover{.what = "embryo"});
  rec.result = std::move(r);
  return LeakClassOf(BuildRefGraph(s, rec), rec.verdict);
}

class Signature : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

TEST_F(Signature, EachCorpusScenarioHasItsLeakClass) {
  SandboxPool pool(Options());
  ASSERT_TRUE(pool.Start());
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::CorpusDir())) {
    if (entry.path().extension() != ".scn") continue;
    const Scenario s = LoadScenarioFile(entry.path().string());
    RunRequest req;
    req.opt.mode = RunMode::kLockstep;
    req.scenario_text = PrintScenario(s);
    req.id = pool.Submit(req);
    auto r = pool.Next(60'000);
    ASSERT_TRUE(r.has_value()) << s.name;
    const std::string got = EverythingLeftOver(s, std::move(*r));
    auto want = kExpected.find(s.name);
    // Every corpus scenario has its expected class: a new one is pinned when it is added.
    if (want == kExpected.end()) {
      ADD_FAILURE() << "corpus scenario " << s.name << " is not in kExpected; its class here: {\""
                    << s.name << "\", \"" << got << "\"}";
      continue;
    }
    EXPECT_EQ(got, want->second) << s.name;
    ++checked;
  }
  pool.Finish();
  EXPECT_EQ(checked, kExpected.size()) << "a scenario of the table is missing from the corpus";
}

}  // namespace
}  // namespace inflight
