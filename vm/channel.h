// The results channel between the guest's init (inflight-vminit) and `inflight vm`: text
// lines on the guest's second serial port, each "@inflight KIND PAYLOAD" (all from the
// guest, but for one request from the host to stop). Text survives any tty translation;
// files travel zlib-compressed (a serial port under emulation moves about 60 KB/s, and
// reports are JSON) and base64-encoded in chunks, checked by size and CRC-32.
//
// Shared by both sides; pure logic, no syscalls. Encoders allocate, so the guest calls
// them only in its init process, never after fork.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inflight {

enum class ChannelKind : uint8_t {
  kHello,      // init is running: "RELEASE UPTIME_S"
  kAlive,      // heartbeat, about once a second: "UPTIME_S"
  kNote,       // a diagnostic of the init (module loading, ...)
  kStarted,    // the suite was started: "UPTIME_S"
  kOut,        // one line the suite printed (stdout and stderr)
  kCount,      // a global count: "PHASE NAME VALUE..." (file-nr, slabs)
  kFileBegin,  // "NAME SIZE COMPRESSED_SIZE"
  kFileData,   // base64 of the next chunk
  kFileEnd,    // "NAME CRC32HEX"
  kDone,       // the suite ended: "STATUS UPTIME_S"
  kStop,       // host to guest: stop the suite as Ctrl-C would, and send what it has
  kMaxValue = kStop,
};
const char* ChannelKindName(ChannelKind k);

inline constexpr std::string_view kChannelPrefix = "@inflight ";

struct ChannelMessage {
  ChannelKind kind = ChannelKind::kNote;
  std::string payload;
};

// One line, '\n'-terminated. Newlines and carriage returns in the payload become spaces.
std::string EncodeChannelLine(ChannelKind kind, std::string_view payload);
// Parses one line without its '\n' (a trailing '\r' is ignored); nullopt when it is not a
// channel line.
std::optional<ChannelMessage> ParseChannelLine(std::string_view line);

// A whole file as channel lines: begin, data chunks, end. NAME must not contain spaces.
std::string EncodeChannelFile(std::string_view name, std::string_view data);

std::string Base64Encode(std::string_view data);
std::optional<std::string> Base64Decode(std::string_view text);
uint32_t Crc32(std::string_view data);

// The host's side: splits bytes into lines, parses them, reassembles files.
class ChannelReader {
 public:
  // Returns the messages completed by these bytes. File data lines are consumed here;
  // begin and end are returned too (a completed file is in files() by then).
  std::vector<ChannelMessage> Feed(std::string_view bytes);

  const std::map<std::string, std::string>& files() const { return files_; }
  // Lines that were not channel lines, files that failed their checks.
  const std::vector<std::string>& problems() const { return problems_; }
  // Bytes of an incomplete last line.
  size_t pending() const { return line_.size(); }

 private:
  void OnLine(std::string_view line, std::vector<ChannelMessage>& out);

  std::string line_;
  std::string file_name_;
  size_t file_size_ = 0;
  std::string file_data_;
  bool in_file_ = false;
  std::map<std::string, std::string> files_;
  std::vector<std::string> problems_;
};

}  // namespace inflight
