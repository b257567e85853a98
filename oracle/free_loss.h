// Messages lost rather than leaked, in a free-run run, where the order of sends and
// receives across processes is not known. Every free-run send's payload bytes carry its
// ticket (run/tickets.h) and every receive reports which tickets arrived
// (RunResult::tickets), so a receive says which sends it got. A loss is ruled only on
// evidence no correct kernel can give, for a socketpair end's queue (what its peer sent):
//
// * order: a receive got the bytes of send k, and send j, which provably returned before
//   k began (earlier in the same process, or in an ancestor before the fork that leads to
//   k's process) and went to the same queue, was received by no one: a queue is FIFO, so
//   j left it without being received;
// * nothing: a receive got EAGAIN (or a stream's end) although such a send j returned
//   before the receive began and was received by no one: j must still have been queued;
// * descriptors: a receive that got the message of send k (a datagram or seqpacket
//   record, or on a stream the only receive that got k's bytes) got fewer descriptors than
//   k carried, without MSG_CTRUNC, ctrunc=, cbuf=, nofile=, fault= or a `limit` action.
//
// A queue is not ruled on when something may take messages from it unseen or drop them by
// design: out-of-band data, connect/bind/listen/accept/shutdown/setsockopt (but sndbuf,
// rcvbuf) on either end, a send from it that failed with anything but EAGAIN or
// ETOOMANYREFS (a datagram peer gone purges the sender's own queue), a receive from it
// that failed with anything but EAGAIN, that used fault=data, or that took a datagram
// into a zero-byte buffer, and a process killed while it ran an action on either end (or
// on a descriptor the oracle cannot name: then no queue is ruled on). A receiver closing
// with data queued, MSG_PEEK, timeouts, truncated datagrams and glued stream bytes need
// no exception: they cannot make a later message arrive, or a receive find nothing, while
// an earlier one is still queued. Pure logic: no syscalls.
#pragma once

#include <string>
#include <vector>

#include "run/run_types.h"
#include "scenario/scenario.h"

namespace inflight {

// One line per loss, each naming its receive action.
std::vector<std::string> FreeRunLosses(const Scenario& s, const RunResult& r);

}  // namespace inflight
