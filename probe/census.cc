// sock_diag, /proc/self/net/unix and /proc/self/net/protocols readers for the census.
#include "probe/census.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_set>

#include "base/file_util.h"

namespace inflight {

namespace {

constexpr uint8_t kTcpListen = 10;

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) f.push_back(line.substr(i, j - i));
    i = j;
  }
  return f;
}

template <typename T>
bool ParseNum(std::string_view s, T& v, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  return ec == std::errc() && p == s.data() + s.size();
}

int OpenProcNet(const char* name) {
  std::string path = std::string("/proc/thread-self/net/") + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT) return fd;
  path = std::string("/proc/self/net/") + name;  // kernels before 3.17
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace

const SocketInfo* Census::Find(uint64_t ino) const {
  auto it = std::lower_bound(sockets.begin(), sockets.end(), ino,
                             [](const SocketInfo& s, uint64_t i) { return s.ino < i; });
  return it != sockets.end() && it->ino == ino ? &*it : nullptr;
}

CensusDelta DiffCensus(const Census& baseline, const Census& now) {
  CensusDelta d;
  // An embryo is a socket of its own, outside the table; one whose connecting socket
  // was closed also keeps that socket alive (as its peer) outside the table.
  // Likewise a stream or seqpacket socket whose peer was closed keeps that peer alive
  // (peers are one to one there; several dgram sockets may share one closed peer, so
  // those are left for the count to report). A peer without an inode is either closed
  // or an embryo; the connecting sockets of embryos are listed in their listener's ICONS.
  auto outside_table = [](const Census& c) {
    std::unordered_set<uint64_t> connecting;
    for (const SocketInfo& l : c.sockets) connecting.insert(l.embryos.begin(), l.embryos.end());
    size_t n = 0;
    for (const SocketInfo& s : c.sockets) {
      for (uint64_t peer : s.embryos) n += peer == 0 ? 2 : 1;
      if (s.peer_without_inode && (s.type == SOCK_STREAM || s.type == SOCK_SEQPACKET) &&
          !connecting.count(s.ino))
        ++n;
    }
    return n;
  };
  size_t embryos_now = outside_table(now), embryos_base = outside_table(baseline);
  for (const SocketInfo& s : now.sockets) {
    const SocketInfo* b = baseline.Find(s.ino);
    if (!b) {
      d.new_sockets.push_back(s);
      if (!s.embryos.empty()) d.new_embryos.push_back({s.ino, s.embryos});
      continue;
    }
    if (s.embryos.size() > b->embryos.size()) {
      // Pending connections are a FIFO: the new ones are at the tail.
      CensusDelta::Embryos e{s.ino, {}};
      e.added.assign(s.embryos.begin() + static_cast<long>(b->embryos.size()), s.embryos.end());
      d.new_embryos.push_back(std::move(e));
    }
  }
  d.new_anonymous = now.anonymous - baseline.anonymous;
  embryos_now += static_cast<size_t>(std::max<int64_t>(0, now.anonymous));
  embryos_base += static_cast<size_t>(std::max<int64_t>(0, baseline.anonymous));
  if (now.proto_inuse >= 0 && baseline.proto_inuse >= 0) {
    // Alive per the protocol counter, beyond what the table and embryo lists explain.
    const int64_t explained_now = static_cast<int64_t>(now.sockets.size() + embryos_now);
    const int64_t explained_base = static_cast<int64_t>(baseline.sockets.size() + embryos_base);
    const int64_t unexplained_now = now.proto_inuse - explained_now;
    const int64_t unexplained_base = baseline.proto_inuse - explained_base;
    d.proto_excess = unexplained_now - unexplained_base;
  }
  return d;
}

Result<CensusSource> CensusSource::Open(bool allow_sock_diag) {
  CensusSource src;
  if (allow_sock_diag) {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd >= 0) src.diag_.Reset(fd);
  }
  if (src.diag_.Valid()) {
    // Probe once: a kernel without CONFIG_UNIX_DIAG answers ENOENT.
    auto probe = src.TakeSockDiag();
    if (!probe) src.diag_.Reset();
  }
  // thread-self: the namespace of this thread, which is what sock_diag sees too.
  int fd = OpenProcNet("unix");
  if (fd >= 0) src.proc_unix_.Reset(fd);
  fd = OpenProcNet("protocols");
  if (fd >= 0) src.protocols_.Reset(fd);
  if (src.protocols_.Valid() && !src.ProtoInuse()) src.protocols_.Reset();
  if (!src.diag_.Valid() && !src.proc_unix_.Valid())
    return SysError{ENOENT, "census: neither sock_diag nor /proc/self/net/unix is usable"};
  return src;
}

Result<Census> CensusSource::Take(bool with_protocols) {
  Result<Census> c = diag_.Valid() ? TakeSockDiag() : TakeProcNetUnix();
  if (!c || !with_protocols) return c;
  if (auto s = AddProtocols(*c); !s) return s.error();
  return c;
}

Status CensusSource::AddProtocols(Census& c) {
  if (!protocols_.Valid()) return {};
  auto n = ProtoInuse();
  if (!n) return n.error();
  c.proto_inuse = *n;
  return {};
}

Result<Census> CensusSource::TakeSockDiag() {
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = ++seq_;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  if (::send(diag_.Get(), &msg, sizeof msg, 0) != static_cast<ssize_t>(sizeof msg))
    return Errno("send(sock_diag dump)");

  Census census;
  census.method = CensusMethod::kSockDiag;
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = ::recv(diag_.Get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("recv(sock_diag dump)");
    }
    if (n == 0) return SysError{EPROTO, "recv(sock_diag dump): unexpected end"};
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq_) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        std::sort(census.sockets.begin(), census.sockets.end(),
                  [](const SocketInfo& a, const SocketInfo& b) { return a.ino < b.ino; });
        return census;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return SysError{-e->error, "sock_diag dump (AF_UNIX)"};
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      SocketInfo s;
      s.ino = m->udiag_ino;
      s.type = m->udiag_type;
      s.state = m->udiag_state;
      s.listening = m->udiag_state == kTcpListen;
      int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        const char* data = static_cast<const char*>(RTA_DATA(a));
        const size_t plen = RTA_PAYLOAD(a);
        switch (a->rta_type) {
          case UNIX_DIAG_NAME:
            if (plen > 0 && data[0] == '\0')
              s.name = "@" + std::string(data + 1, plen - 1);
            else
              s.name.assign(data, strnlen(data, plen));
            break;
          case UNIX_DIAG_PEER:
            if (plen >= 4) {
              uint32_t v;
              memcpy(&v, data, 4);
              s.peer = v;
              s.peer_without_inode = v == 0;  // present, but the peer has no inode any more
            }
            break;
          case UNIX_DIAG_ICONS:
            for (size_t k = 0; k + 4 <= plen; k += 4) {
              uint32_t v;
              memcpy(&v, data + k, 4);
              s.embryos.push_back(v);
            }
            break;
          case UNIX_DIAG_RQLEN:
            if (plen >= sizeof(unix_diag_rqlen)) {
              unix_diag_rqlen q;
              memcpy(&q, data, sizeof q);
              s.rqueue = q.udiag_rqueue;
              s.wqueue = q.udiag_wqueue;
            }
            break;
          default:
            break;
        }
      }
      census.sockets.push_back(std::move(s));
    }
  }
}

Result<Census> CensusSource::TakeProcNetUnix() {
  auto text = PreadWhole(proc_unix_.Get(), "/proc/self/net/unix");
  if (!text) return text.error();
  Census c;
  auto sockets = ParseProcNetUnix(*text, &c.anonymous);
  if (!sockets) return sockets.error();
  c.method = CensusMethod::kProcNetUnix;
  c.sockets = std::move(*sockets);
  return c;
}

Result<int64_t> CensusSource::ProtoInuse() {
  auto text = PreadWhole(protocols_.Get(), "/proc/self/net/protocols");
  if (!text) return text.error();
  return ParseProtocolsUnixCount(*text);
}

Result<std::vector<SocketInfo>> ParseProcNetUnix(const std::string& text, int64_t* anonymous) {
  // Num RefCount Protocol Flags Type St Inode [Path]
  std::vector<SocketInfo> out;
  if (anonymous) *anonymous = 0;
  std::string_view rest = text;
  bool header = true;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (header) {
      header = false;
      if (line.substr(0, 4) != "Num ") return SysError{EPROTO, "/proc/net/unix: unknown header"};
      continue;
    }
    auto f = Fields(line);
    if (f.empty()) continue;
    if (f.size() < 7) return SysError{EPROTO, "/proc/net/unix: short line"};
    SocketInfo s;
    uint32_t flags = 0, type = 0, st = 0;
    if (!ParseNum(f[3], flags, 16) || !ParseNum(f[4], type, 16) || !ParseNum(f[5], st, 16) ||
        !ParseNum(f[6], s.ino))
      return SysError{EPROTO, "/proc/net/unix: bad field"};
    s.type = static_cast<uint8_t>(type);
    s.listening = (flags & 0x10000) != 0;  // __SO_ACCEPTCON
    s.state = s.listening ? kTcpListen : static_cast<uint8_t>(100 + st);
    if (f.size() > 7) s.name = std::string(f[7]);
    if (s.ino == 0) {  // an embryo: no file, so no inode
      if (anonymous) ++*anonymous;
      continue;
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SocketInfo& a, const SocketInfo& b) { return a.ino < b.ino; });
  return out;
}

Result<int64_t> ParseProtocolsUnixCount(const std::string& text) {
  // "protocol size sockets memory ..."; UNIX and (since Linux 6.9?) UNIX-STREAM lines.
  int64_t total = 0;
  bool seen = false;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    auto f = Fields(line);
    if (f.size() < 3) continue;
    if (f[0] != "UNIX" && f[0] != "UNIX-STREAM") continue;
    int64_t n = 0;
    if (!ParseNum(f[2], n)) return SysError{EPROTO, "/proc/net/protocols: bad UNIX count"};
    total += n;
    seen = true;
  }
  if (!seen) return SysError{ENOENT, "/proc/net/protocols: no UNIX line"};
  return total;
}

const char* CensusMethodName(CensusMethod m) {
  return m == CensusMethod::kSockDiag ? "sock_diag" : "proc_net_unix";
}

}  // namespace inflight
