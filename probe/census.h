// The socket census: every AF_UNIX socket alive in one network namespace.
//
// Linux seam: sock_diag (NETLINK_SOCK_DIAG, AF_UNIX) is the primary source, with
// /proc/self/net/unix as the fallback, and the per-namespace "sockets" counts of the
// UNIX protocols in /proc/self/net/protocols as a cross-check that also counts what the
// table cannot show (embryos, released sockets still referenced). A CensusSource is
// bound to the namespace it was opened in and keeps reading that one after setns().
// A FreeBSD census (sysctl net.local.*.pcblist) would implement the same interface.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

struct SocketInfo {
  uint64_t ino = 0;
  uint8_t type = 0;                 // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  uint8_t state = 0;                // TCP_* as sock_diag reports (10 = listening); proc: SS_* + 100
  uint64_t peer = 0;                // peer inode, 0 when none or unknown
  bool peer_without_inode = false;  // it has a peer with no inode: one that was closed (and
                                    // that it keeps alive), or an embryo of a listener
  uint32_t rqueue = 0;              // bytes queued to read (listeners: pending connections)
  uint32_t wqueue = 0;
  bool listening = false;
  std::string name;               // bound address; abstract ones start with '@'
  std::vector<uint64_t> embryos;  // listener: for each pending connection, the
                                  // connecting socket's inode (0 once it is gone)
  bool operator==(const SocketInfo&) const = default;
};

enum class CensusMethod : uint8_t { kSockDiag, kProcNetUnix };

struct Census {
  std::vector<SocketInfo> sockets;  // sorted by inode
  int64_t proto_inuse = -1;         // UNIX sockets alive per /proc/net/protocols; -1: unknown
  int64_t anonymous = 0;            // /proc/net/unix rows without an inode: embryos
                                    // (sock_diag leaves them out and lists them as ICONS)
  CensusMethod method = CensusMethod::kSockDiag;

  const SocketInfo* Find(uint64_t ino) const;
  bool operator==(const Census&) const = default;
};

// What is in `now` and was not in `baseline`.
struct CensusDelta {
  std::vector<SocketInfo> new_sockets;
  struct Embryos {
    uint64_t listener = 0;
    std::vector<uint64_t> added;  // connecting-socket inodes of the new embryos
  };
  std::vector<Embryos> new_embryos;
  int64_t new_anonymous = 0;  // more inode-less sockets (embryos) than the baseline had
  int64_t proto_excess = 0;   // sockets alive beyond the baseline count and the table's

  bool Empty() const {
    return new_sockets.empty() && new_embryos.empty() && new_anonymous <= 0 && proto_excess <= 0;
  }
};

CensusDelta DiffCensus(const Census& baseline, const Census& now);

class CensusSource {
 public:
  // Opens the sources of the calling thread's current network namespace.
  // Fails only when neither sock_diag nor /proc/self/net/unix can be used.
  static Result<CensusSource> Open(bool allow_sock_diag = true);

  // The table, and the protocol counts unless `with_protocols` is false (they cost
  // about twice the table; proto_inuse is then -1 and DiffCensus skips that check).
  Result<Census> Take(bool with_protocols = true);
  // Adds the protocol counts to a census taken without them.
  Status AddProtocols(Census& c);

  CensusMethod method() const {
    return diag_.Valid() ? CensusMethod::kSockDiag : CensusMethod::kProcNetUnix;
  }
  bool has_protocols() const { return protocols_.Valid(); }

 private:
  Result<Census> TakeSockDiag();
  Result<Census> TakeProcNetUnix();
  Result<int64_t> ProtoInuse();

  UniqueFd diag_;
  UniqueFd proc_unix_;
  UniqueFd protocols_;
  uint32_t seq_ = 0;
};

// Parsers, exposed for tests with fixed inputs. Rows without an inode are counted in
// `anonymous`, not listed.
Result<std::vector<SocketInfo>> ParseProcNetUnix(const std::string& text,
                                                 int64_t* anonymous = nullptr);
Result<int64_t> ParseProtocolsUnixCount(const std::string& text);

const char* CensusMethodName(CensusMethod m);

}  // namespace inflight
