// Semantic checks of a lockstep run, while the graph ran, not only at its end:
//
// * every action's errno matches the scenario's `expect=`;
// * a receive installs exactly the descriptors its control messages carry (none cut off
//   by MSG_CTRUNC or a full descriptor table is installed anyway);
// * a received descriptor is an object that was sent toward that socket (for sockets
//   whose peer is known: both ends of a socketpair);
// * MSG_PEEK installs the same objects the next real receive from that socket gets;
// * a recv's is=a,b: output k holds the object the last creation of that name made
//   (st_dev, st_ino, file type, access mode and an anonymous inode's kind, logged at
//   creation and arrival: a creator may have closed its descriptor long before).
// * a receive with creds=PROC got a whole SCM_CREDENTIALS message naming PROC's pid, and
//   its uid and gid as PROC ended (the graph's processes share their namespaces, so the
//   receiver sees the sender's own numbers).
//
// Objects are compared by inode; anonymous-inode objects (eventfd, epoll, timerfd,
// io_uring share one inode) cannot be told apart that way and are skipped. Free-run
// results vary by design, so only lockstep runs are checked. Pure logic: no syscalls.
#pragma once

#include <string>
#include <vector>

#include "run/run_types.h"
#include "scenario/scenario.h"

namespace inflight {

// One line per fault, each naming its action.
std::vector<std::string> SemanticFaults(const Scenario& s, const RunResult& r);

// Messages lost rather than leaked, in a lockstep run (free-run: oracle/free_loss.h): for each end of a socketpair the
// messages its peer queued are modelled in order (a datagram or seqpacket receive takes
// one, a stream receive glues data-only messages up to the first one with descriptors),
// and a receive that got fewer descriptors than the message carried (without MSG_CTRUNC,
// ctrunc= or nofile=), fewer data bytes, or nothing at all while the model holds a
// message, is a loss. The model stops for a socket where the kernel may drop messages by
// design or it cannot follow: out-of-band data, connect, bind, listen, accept or
// shutdown on either end, SO_PASSCRED or SO_SNDBUF set on either, a failed send from it (a datagram peer gone purges its queue),
// a receive error other than EAGAIN. A stream receive into a zero-byte buffer returns 0
// with data queued: it is not ruled on. One line per loss, each naming its action.
std::vector<std::string> LostMessages(const Scenario& s, const RunResult& r);

}  // namespace inflight
