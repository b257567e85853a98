// The registry: one line per stressor.
#include "stressors/registry.h"

namespace inflight {

extern const Stressor kCyclesStressor;
extern const Stressor kPeekStressor;
extern const Stressor kConnectStressor;
extern const Stressor kStormStressor;
extern const Stressor kKillStressor;
extern const Stressor kTruncateStressor;
extern const Stressor kSockfdStressor;

namespace {

const Stressor* const kRegistry[] = {
    &kCyclesStressor,    // self-references and cycles of every kind, nested ones too
    &kPeekStressor,      // MSG_PEEK of in-flight sockets racing closes and collection
    &kConnectStressor,   // connect/accept on listeners that are themselves in flight
    &kStormStressor,     // tens of thousands in flight, drains, per-user limits
    &kKillStressor,      // SIGKILL at random points, mid-sendmsg and mid-recvmsg
    &kTruncateStressor,  // short control buffers and nearly full descriptor tables
    &kSockfdStressor,    // the plain fd-passing throughput loop
};

}  // namespace

std::span<const Stressor* const> AllStressors() {
  return kRegistry;
}

const Stressor* FindStressor(std::string_view name) {
  for (const Stressor* s : kRegistry)
    if (name == s->name) return s;
  return nullptr;
}

}  // namespace inflight
