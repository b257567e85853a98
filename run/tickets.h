// Free-run send tickets: in free-run mode every byte of a send's payload is the send's
// ticket, a number that names the send action, so that a receive can say which sends'
// bytes it got whatever order the processes ran in (oracle/free_loss.h rules on them).
//
// Payload format: ticket(send) = its ordinal among the scenario's send actions, in file
// order, modulo 256; all `bytes=` bytes of the send carry it. A scenario with more than
// 256 sends has tickets shared by several sends: the oracle then names no send by them.
// Lockstep sends are not tagged (their payload is 'x' bytes).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "scenario/scenario.h"

namespace inflight {

// The ticket of each action (0 for actions that are not sends), indexed by action.
std::vector<uint8_t> SendTickets(const Scenario& s);

// A set of tickets: bit t of word t / 64.
using TicketSet = std::array<uint64_t, 4>;

inline void AddTicket(TicketSet& set, uint8_t t) {
  set[t >> 6] |= uint64_t{1} << (t & 63);
}
inline bool HasTicket(const TicketSet& set, uint8_t t) {
  return (set[t >> 6] >> (t & 63)) & 1u;
}

}  // namespace inflight
