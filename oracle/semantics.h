// Semantic checks of a lockstep run, while the graph ran, not only at its end:
//
// * every action's errno matches the scenario's `expect=`;
// * a receive installs exactly the descriptors its control messages carry (none cut off
//   by MSG_CTRUNC or a full descriptor table is installed anyway);
// * a received descriptor is an object that was sent toward that socket (for sockets
//   whose peer is known: both ends of a socketpair);
// * MSG_PEEK installs the same objects the next real receive from that socket gets.
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

}  // namespace inflight
