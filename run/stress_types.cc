// Wire encodings of stress requests and outcomes.
#include "run/stress_types.h"

#include "base/wire.h"

namespace inflight {

namespace {
constexpr uint32_t kMaxOptions = 64;
constexpr uint32_t kMaxCounters = 64;
constexpr uint32_t kMaxTexts = 1024;
constexpr uint32_t kMaxObjects = 1u << 20;
}  // namespace

std::string EncodeStressRequest(const StressRequest& r) {
  WireWriter w;
  w.U64(r.id);
  w.Str(r.stressor);
  w.U32(static_cast<uint32_t>(r.options.size()));
  for (int64_t v : r.options) w.I64(v);
  w.U64(r.seed);
  w.U32(r.epoch);
  w.U32(r.worker);
  w.U32(r.epoch_ms);
  w.I64(r.run_end_us);
  w.U32(r.timeout_ms);
  w.U32(r.settle_ms);
  w.U8(r.log_objects);
  return w.Take();
}

bool DecodeStressRequest(std::string_view payload, StressRequest& r) {
  WireReader in(payload);
  r.id = in.U64();
  r.stressor = in.Str();
  r.options.resize(in.Count(kMaxOptions));
  for (int64_t& v : r.options) v = in.I64();
  r.seed = in.U64();
  r.epoch = in.U32();
  r.worker = in.U32();
  r.epoch_ms = in.U32();
  r.run_end_us = in.I64();
  r.timeout_ms = in.U32();
  r.settle_ms = in.U32();
  r.log_objects = in.U8() != 0;
  return in.ok() && in.AtEnd();
}

void PutStressOutcome(WireWriter& w, const StressOutcome& o) {
  w.Str(o.stressor);
  w.U32(o.epoch);
  w.U8(o.not_run);
  w.Str(o.skipped);
  w.I64(o.run_us);
  w.U32(static_cast<uint32_t>(o.counters.size()));
  for (uint64_t c : o.counters) w.U64(c);
  w.U32(static_cast<uint32_t>(o.faults.size()));
  for (const std::string& f : o.faults) w.Str(f);
  w.U32(o.faults_total);
  w.U32(static_cast<uint32_t>(o.notes.size()));
  for (const std::string& n : o.notes) w.Str(n);
  w.U32(static_cast<uint32_t>(o.objects.size()));
  for (const StressObject& ob : o.objects) {
    w.U64(ob.ino);
    w.U16(ob.label);
    w.U8(ob.worker);
  }
  w.U8(o.log_truncated);
}

void GetStressOutcome(WireReader& r, StressOutcome& o) {
  o.stressor = r.Str();
  o.epoch = r.U32();
  o.not_run = r.U8() != 0;
  o.skipped = r.Str();
  o.run_us = r.I64();
  o.counters.resize(r.Count(kMaxCounters));
  for (uint64_t& c : o.counters) c = r.U64();
  o.faults.resize(r.Count(kMaxTexts));
  for (std::string& f : o.faults) f = r.Str();
  o.faults_total = r.U32();
  o.notes.resize(r.Count(kMaxTexts));
  for (std::string& n : o.notes) n = r.Str();
  o.objects.resize(r.Count(kMaxObjects));
  for (StressObject& ob : o.objects) {
    ob.ino = r.U64();
    ob.label = r.U16();
    ob.worker = r.U8();
    if (!r.ok()) return;
  }
  o.log_truncated = r.U8() != 0;
}

}  // namespace inflight
