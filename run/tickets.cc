// Free-run send tickets (see tickets.h).
#include "run/tickets.h"

namespace inflight {

std::vector<uint8_t> SendTickets(const Scenario& s) {
  std::vector<uint8_t> out(s.actions.size(), 0);
  uint32_t sends = 0;
  for (size_t i = 0; i < s.actions.size(); ++i)
    if (s.actions[i].op == Op::kSend) out[i] = static_cast<uint8_t>(sends++ & 0xff);
  return out;
}

}  // namespace inflight
