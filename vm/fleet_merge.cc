// The corpus exchange, the findings merge and the progress line of a fleet of guests.
#include "vm/fleet_merge.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "reports/writer.h"

namespace inflight {

namespace {

constexpr std::string_view kCorpus = "corpus/";

// corpus/NAME with a plain NAME (no folder, no dot file), or "".
std::string CorpusName(const std::string& rel) {
  if (rel.rfind(kCorpus, 0) != 0) return "";
  std::string name = rel.substr(kCorpus.size());
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) return "";
  return name;
}

}  // namespace

CorpusExchange::CorpusExchange(size_t guests, std::string corpus_dir)
    : dir_(std::move(corpus_dir)), guests_(guests) {}

bool CorpusExchange::FromGuest(size_t k, const std::string& rel, const std::string& data) {
  std::lock_guard<std::mutex> lock(mu_);
  if (k >= guests_.size()) return false;
  if (rel.rfind("findings/", 0) == 0 && rel.size() > 10 &&
      rel.compare(rel.size() - 10, 10, "/meta.json") == 0) {
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_object() && j.value("signature", "") != "")
      signatures_.insert(j.value("signature", ""));
    return false;
  }
  const std::string name = CorpusName(rel);
  if (name.empty()) return false;
  Guest& g = guests_[k];
  g.ready = true;
  g.has.insert(name);
  ++g.counts.sent_back;
  if (!corpus_.emplace(name, data).second) return false;
  ++g.counts.fresh;
  // The fleet's corpus on disk at once: a fleet stopped hard keeps what it had.
  if (!dir_.empty()) (void)WriteFileAtomically(dir_ + "/" + name, data);
  return true;
}

void CorpusExchange::Ready(size_t k) {
  std::lock_guard<std::mutex> lock(mu_);
  if (k < guests_.size()) guests_[k].ready = true;
}

void CorpusExchange::AddKnown(const std::string& name, const std::string& data) {
  std::lock_guard<std::mutex> lock(mu_);
  if (CorpusName(std::string(kCorpus) + name) == name) corpus_.emplace(name, data);
}

void CorpusExchange::Rebooted(size_t k, const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (k >= guests_.size()) return;
  Guest& g = guests_[k];
  g.has = std::set<std::string>(names.begin(), names.end());
  g.ready = false;
}

std::vector<std::pair<std::string, std::string>> CorpusExchange::ForGuest(size_t k,
                                                                          size_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  if (k >= guests_.size() || !guests_[k].ready) return out;
  Guest& g = guests_[k];
  size_t bytes = 0;
  for (const auto& [name, data] : corpus_) {
    if (g.has.count(name)) continue;
    if (!out.empty() && bytes + data.size() > max_bytes) break;
    bytes += data.size();
    out.emplace_back(std::string(kCorpus) + name, data);
    g.has.insert(name);
    ++g.counts.given;
  }
  return out;
}

size_t CorpusExchange::corpus_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return corpus_.size();
}

size_t CorpusExchange::signatures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signatures_.size();
}

CorpusExchange::GuestCounts CorpusExchange::counts(size_t k) const {
  std::lock_guard<std::mutex> lock(mu_);
  return k < guests_.size() ? guests_[k].counts : GuestCounts{};
}

std::vector<FleetFinding> MergeFindings(const std::vector<std::vector<nlohmann::json>>& by_guest) {
  std::map<std::string, FleetFinding> merged;
  std::map<std::string, size_t> repro_runs;
  for (size_t k = 0; k < by_guest.size(); ++k) {
    for (const nlohmann::json& m : by_guest[k]) {
      if (!m.is_object()) continue;
      const std::string sig = m.value("signature", "");
      if (sig.empty()) continue;
      auto [it, fresh] = merged.try_emplace(sig);
      FleetFinding& f = it->second;
      const size_t size = m.value("input_size", size_t{0});
      const double seen = m.value("first_seen_s", -1.0);
      if (fresh) {
        f.signature = sig;
        f.id = m.value("id", "");
        f.verdict = m.value("verdict", "");
        f.summary = m.value("summary", "");
        f.input_size = size;
        f.input_from = k;
      } else if (size > 0 && (f.input_size == 0 || size < f.input_size)) {
        f.input_size = size;
        f.input_from = k;
      }
      f.guests.insert(k);
      f.hits += m.value("hits", size_t{0});
      if (seen >= 0 && (f.first_seen_s < 0 || seen < f.first_seen_s)) f.first_seen_s = seen;
      if (m.contains("repro") && m["repro"].is_object()) {
        const size_t runs = m["repro"].value("runs", size_t{0});
        if (f.repro.is_null() || runs > repro_runs[sig]) {
          f.repro = m["repro"];
          repro_runs[sig] = runs;
        }
      }
    }
  }
  std::vector<FleetFinding> out;
  for (auto& [_, f] : merged) out.push_back(std::move(f));
  return out;
}

nlohmann::json FleetFindingToJson(const FleetFinding& f) {
  return {{"signature", f.signature},
          {"id", f.id},
          {"verdict", f.verdict},
          {"summary", f.summary},
          {"guests", std::vector<size_t>(f.guests.begin(), f.guests.end())},
          {"hits", f.hits},
          {"first_seen_s", f.first_seen_s},
          {"input_size", f.input_size},
          {"input_from_guest", f.input_from},
          {"repro", f.repro.is_null() ? nlohmann::json::object() : f.repro}};
}

std::optional<GuestProgress> ParseFuzzProgress(std::string_view line) {
  // Strip a log prefix, if any, up to our stable one.
  const size_t at = line.find("fuzz: ");
  if (at == std::string_view::npos) return std::nullopt;
  line = line.substr(at);
  auto number_after = [&](std::string_view word) -> std::optional<uint64_t> {
    const size_t w = line.find(word);
    if (w == std::string_view::npos) return std::nullopt;
    const char* b = line.data() + w + word.size();
    const char* e = line.data() + line.size();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p == b) return std::nullopt;
    return v;
  };
  auto execs = number_after("  execs ");
  auto corpus = number_after("  corpus ");
  auto findings = number_after("  findings ");
  if (!execs || !corpus || !findings) return std::nullopt;
  return GuestProgress{*execs, *corpus, *findings};
}

std::string FleetProgressLine(const FleetStatus& s) {
  auto clock = [](double secs) {
    const int64_t t = static_cast<int64_t>(secs);
    return t >= 3600 ? fmt::format("{}h{:02}m{:02}s", t / 3600, t / 60 % 60, t % 60)
           : t >= 60 ? fmt::format("{}m{:02}s", t / 60, t % 60)
                     : fmt::format("{}s", t);
  };
  uint64_t execs = 0;
  size_t running = 0;
  std::string each;
  for (size_t k = 0; k < s.guests.size(); ++k) {
    execs += s.guests[k].execs;
    const bool up = k < s.running.size() && s.running[k];
    running += up;
    each += fmt::format("{}{}", each.empty() ? "" : " ", s.guests[k].execs);
    if (!up) each += "(down)";
  }
  const double secs = std::max(1e-3, s.elapsed_s);
  return fmt::format(
      "fleet: {}/{}  guests {}/{}  execs {} ({:.0f}/s; per guest {})  corpus {}  findings {}"
      "{}",
      clock(s.elapsed_s), clock(s.duration_s), running, s.guests.size(), execs, execs / secs, each,
      s.corpus, s.signatures, s.reboots ? fmt::format("  reboots {}", s.reboots) : "");
}

}  // namespace inflight
