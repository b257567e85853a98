// Encoding and parsing of the guest's results channel.
#include "vm/channel.h"

#include <zlib.h>

#include <array>
#include <charconv>
#include <cstdio>

namespace inflight {

namespace {

constexpr size_t kChunkBytes = 3 * 256;  // base64 lines of 1024 characters
constexpr size_t kMaxLineBytes = 1 << 20;

constexpr std::array<const char*, static_cast<size_t>(ChannelKind::kMaxValue) + 1> kNames = {
    "hello", "alive", "note", "started", "out", "count", "begin", "data", "end", "done", "stop"};

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

const char* ChannelKindName(ChannelKind k) {
  return kNames[static_cast<size_t>(k)];
}

std::string EncodeChannelLine(ChannelKind kind, std::string_view payload) {
  std::string line(kChannelPrefix);
  line += ChannelKindName(kind);
  if (!payload.empty()) {
    line += ' ';
    for (char c : payload) line += (c == '\n' || c == '\r') ? ' ' : c;
  }
  line += '\n';
  return line;
}

std::optional<ChannelMessage> ParseChannelLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.substr(0, kChannelPrefix.size()) != kChannelPrefix) return std::nullopt;
  line.remove_prefix(kChannelPrefix.size());
  const size_t sp = line.find(' ');
  const std::string_view name = line.substr(0, sp);
  for (size_t k = 0; k < kNames.size(); ++k) {
    if (name == kNames[k]) {
      ChannelMessage m;
      m.kind = static_cast<ChannelKind>(k);
      if (sp != std::string_view::npos) m.payload = std::string(line.substr(sp + 1));
      return m;
    }
  }
  return std::nullopt;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v =
        (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t v = uint8_t(data[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) return std::nullopt;  // data after padding
      v[k] = B64Value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(w >> 16);
    if (pad < 2) out += static_cast<char>((w >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(w & 0xff);
  }
  return out;
}

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ uint8_t(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string EncodeChannelFile(std::string_view name, std::string_view data) {
  uLongf packed_size = compressBound(static_cast<uLong>(data.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                Z_BEST_SPEED) != Z_OK)
    packed_size = 0;  // the reader then reports the file damaged
  packed.resize(packed_size);
  std::string out = EncodeChannelLine(
      ChannelKind::kFileBegin,
      std::string(name) + " " + std::to_string(data.size()) + " " + std::to_string(packed.size()));
  const std::string_view p = packed;
  for (size_t off = 0; off < p.size(); off += kChunkBytes)
    out += EncodeChannelLine(ChannelKind::kFileData, Base64Encode(p.substr(off, kChunkBytes)));
  char crc[16];
  snprintf(crc, sizeof crc, "%08x", Crc32(data));
  out += EncodeChannelLine(ChannelKind::kFileEnd, std::string(name) + " " + crc);
  return out;
}

std::vector<ChannelMessage> ChannelReader::Feed(std::string_view bytes) {
  std::vector<ChannelMessage> out;
  for (char c : bytes) {
    if (c == '\n') {
      OnLine(line_, out);
      line_.clear();
    } else if (line_.size() < kMaxLineBytes) {
      line_ += c;
    }
  }
  return out;
}

void ChannelReader::OnLine(std::string_view line, std::vector<ChannelMessage>& out) {
  auto m = ParseChannelLine(line);
  if (!m) {
    if (!line.empty() && line != "\r")
      problems_.push_back("not a channel line: " + std::string(line.substr(0, 120)));
    return;
  }
  switch (m->kind) {
    case ChannelKind::kFileBegin: {
      const size_t sp = m->payload.find(' ');
      file_name_ = m->payload.substr(0, sp);
      file_size_ = 0;
      if (sp != std::string::npos) {
        const std::string_view n = std::string_view(m->payload).substr(sp + 1);
        std::from_chars(n.data(), n.data() + n.size(), file_size_);
      }
      file_data_.clear();
      in_file_ = true;
      break;
    }
    case ChannelKind::kFileData: {
      if (!in_file_) {
        problems_.push_back("file data outside a file");
        return;
      }
      auto chunk = Base64Decode(m->payload);
      if (!chunk) {
        problems_.push_back("bad base64 in " + file_name_);
        in_file_ = false;
        return;
      }
      file_data_ += *chunk;
      return;  // consumed
    }
    case ChannelKind::kFileEnd: {
      if (!in_file_) {
        problems_.push_back("file end outside a file");
        break;
      }
      in_file_ = false;
      // file_data_ holds the compressed bytes: inflate them to the announced size.
      std::string data(file_size_, '\0');
      uLongf got = static_cast<uLongf>(file_size_);
      const bool inflated = file_size_ < (1u << 30) &&
                            uncompress(reinterpret_cast<Bytef*>(data.data()), &got,
                                       reinterpret_cast<const Bytef*>(file_data_.data()),
                                       static_cast<uLong>(file_data_.size())) == Z_OK &&
                            got == file_size_;
      if (!inflated) data.clear();
      file_data_ = std::move(data);
      char crc[16];
      snprintf(crc, sizeof crc, "%08x", Crc32(file_data_));
      const std::string expect = file_name_ + " " + crc;
      if (file_data_.size() != file_size_ || m->payload != expect) {
        problems_.push_back("file " + file_name_ + " arrived damaged (" +
                            std::to_string(file_data_.size()) + " of " +
                            std::to_string(file_size_) + " bytes, end '" + m->payload + "')");
        break;
      }
      files_[file_name_] = std::move(file_data_);
      file_data_.clear();
      break;
    }
    default:
      break;
  }
  out.push_back(std::move(*m));
}

}  // namespace inflight
