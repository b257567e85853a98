// Wire encodings of stress requests and outcomes.
#include "run/stress_types.h"

#include "base/wire.h"

namespace inflight {

namespace {
constexpr uint32_t kMaxOptions = 64;
constexpr uint32_t kMaxCounters = 64;
constexpr uint32_t kMaxTexts = 1024;
constexpr uint32_t kMaxObjects = 1u << 20;

// The field lists: one per message, for both directions (base/wire.h).

constexpr auto kStressRequestFields = [](auto& io, auto& r) {
  io.U64(r.id);
  io.Str(r.stressor);
  io.List(r.options, kMaxOptions, [&](auto& v) { io.I64(v); });
  io.U64(r.seed);
  io.U32(r.epoch);
  io.U32(r.worker);
  io.U32(r.epoch_ms);
  io.I64(r.run_end_us);
  io.U32(r.timeout_ms);
  io.U32(r.settle_ms);
  io.U8(r.log_objects);
};

constexpr auto kStressOutcomeFieldList = [](auto& io, auto& o) {
  io.Str(o.stressor);
  io.U32(o.epoch);
  io.U8(o.not_run);
  io.Str(o.skipped);
  io.I64(o.run_us);
  io.List(o.counters, kMaxCounters, [&](auto& c) { io.U64(c); });
  io.List(o.faults, kMaxTexts, [&](auto& f) { io.Str(f); });
  io.U32(o.faults_total);
  io.List(o.notes, kMaxTexts, [&](auto& n) { io.Str(n); });
  io.List(o.objects, kMaxObjects, [&](auto& ob) {
    io.U64(ob.ino);
    io.U16(ob.label);
    io.U8(ob.worker);
  });
  io.U8(o.log_truncated);
  io.List(o.losses, kMaxTexts, [&](auto& f) { io.Str(f); });
  io.U32(o.losses_total);
};

}  // namespace

INFLIGHT_WIRE_CODEC(EncodeStressRequest, DecodeStressRequest, StressRequest, kStressRequestFields)
void StressOutcomeFields(WireOut& io, const StressOutcome& o) {
  kStressOutcomeFieldList(io, o);
}
void StressOutcomeFields(WireIn& io, StressOutcome& o) {
  kStressOutcomeFieldList(io, o);
}

}  // namespace inflight
