// The logic of a fleet of fuzzing guests (`inflight vm --vms N -- fuzz`, vm/fleet.h): the
// corpus exchange through the host, findings deduplicated across guests by the signature
// each guest's oracle gave them (oracle/signature.h, computed inside the guest), and the
// one progress line. Pure logic but for CorpusExchange's writes into the fleet's corpus
// folder; no QEMU here.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inflight {

// The corpus the guests share. Each guest sends what its corpus gained (corpus/NAME, the
// name being libFuzzer's SHA-1 of the input, so one input has one name everywhere); the
// host keeps the union, writes each new one into `corpus_dir` at once, and hands every
// guest the inputs it does not have yet.
//
// Thread-safety: every member may be called from any thread (one thread per guest).
class CorpusExchange {
 public:
  // `corpus_dir` "" keeps the union in memory only (tests).
  CorpusExchange(size_t guests, std::string corpus_dir);

  // A file guest `k` sent back, by path relative to its report folder. corpus/NAME joins
  // the union (true when new to the fleet); findings/ID/meta.json records which guest has
  // which signature (for the progress line). Anything else is ignored.
  bool FromGuest(size_t k, const std::string& rel, const std::string& data);
  // Guest `k`'s fuzz is running (its progress line came): its corpus folder is there.
  void Ready(size_t k);
  // An input the fleet had before (a --resume): in the union, held by no guest yet.
  void AddKnown(const std::string& name, const std::string& data);
  // Guest `k` was booted again holding these corpus names (its --resume folder): it is
  // sent the rest once it shows its corpus is there.
  void Rebooted(size_t k, const std::vector<std::string>& names);
  // Corpus files guest `k` lacks, as (corpus/NAME, data), at most `max_bytes` of inputs
  // (at least one), marked as sent. Nothing before guest `k` has sent a corpus file of its
  // own or is Ready(): its `fuzz` makes the corpus folder, and one made earlier would look
  // like an earlier run.
  std::vector<std::pair<std::string, std::string>> ForGuest(size_t k, size_t max_bytes);

  size_t corpus_size() const;
  // Distinct signatures seen so far in the guests' findings/ID/meta.json.
  size_t signatures() const;
  struct GuestCounts {
    size_t sent_back = 0;  // corpus files the guest sent
    size_t fresh = 0;      // of those, new to the fleet
    size_t given = 0;      // corpus files handed to it
  };
  GuestCounts counts(size_t k) const;

 private:
  struct Guest {
    std::set<std::string> has;
    bool ready = false;
    GuestCounts counts;
  };
  mutable std::mutex mu_;
  std::string dir_;
  std::map<std::string, std::string> corpus_;  // NAME -> input
  std::vector<Guest> guests_;
  std::set<std::string> signatures_;
};

// One finding of the fleet: the guests' findings with one signature.
struct FleetFinding {
  std::string signature;
  std::string id;  // the guests' findings/ID (the same for one signature)
  std::string verdict;
  std::string summary;
  std::set<size_t> guests;   // which guests found it
  size_t hits = 0;           // summed over the guests
  double first_seen_s = -1;  // the earliest, in seconds of that guest's fuzzing
  size_t input_size = 0;     // the smallest input
  size_t input_from = 0;     // the guest whose input that is
  nlohmann::json repro;      // the re-runs of the guest with the most runs
};

// Merges each guest's findings (the meta.json objects, indexed by guest): one per
// signature, ordered by signature. Entries without a signature are dropped.
std::vector<FleetFinding> MergeFindings(const std::vector<std::vector<nlohmann::json>>& by_guest);
nlohmann::json FleetFindingToJson(const FleetFinding& f);

// What a guest's `fuzz` progress line says ("fuzz: 1m00s/5m00s  execs 1234 (20/s)  corpus
// 87  ...  findings 1 (hits 3) ..."); nullopt for any other line.
struct GuestProgress {
  uint64_t execs = 0;
  uint64_t corpus = 0;
  uint64_t findings = 0;
};
std::optional<GuestProgress> ParseFuzzProgress(std::string_view line);

// The fleet's one progress line.
struct FleetStatus {
  double elapsed_s = 0;
  double duration_s = 0;
  std::vector<GuestProgress> guests;  // the latest line of each
  std::vector<bool> running;
  size_t corpus = 0;      // the union
  size_t signatures = 0;  // distinct findings across guests
  size_t reboots = 0;
};
std::string FleetProgressLine(const FleetStatus& s);

}  // namespace inflight
