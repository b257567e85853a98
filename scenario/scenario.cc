// Keyword tables for the scenario model.
#include "scenario/scenario.h"

#include <algorithm>
#include <array>

namespace inflight {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Op::kMaxValue) + 1> kOpNames = {
    "socketpair", "socket", "bind", "listen", "connect", "accept", "pipe",
    "file",       "memfd",  "eventfd", "send", "recv", "close", "shutdown",
    "dup",        "fork",   "exit",    "kill", "barrier", "sleep", "epoll",
    "epoll_add",  "pidfd",  "io_uring", "timerfd", "setuid", "dropcaps", "limit",
    "setsockopt", "devnull", "pty", "unlink", "inet",
};
constexpr std::array<std::string_view, 3> kSockTypeNames = {"stream", "dgram", "seqpacket"};
constexpr std::array<std::string_view, 4> kInetKindNames = {"tcp", "udp", "tcp6", "udp6"};
constexpr std::array<std::string_view, 3> kShutHowNames = {"rd", "wr", "rdwr"};
constexpr std::array<std::string_view, 4> kSockOptNames = {"passrights", "sndbuf", "rcvbuf",
                                                           "passcred"};
constexpr std::array<std::string_view, 3> kCredsAtNames = {"", "before", "after"};

template <typename E, size_t N>
std::optional<E> Lookup(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

uint32_t Scenario::RightsCount(const Action& a) {
  uint32_t n = 0;
  for (const Right& r : a.rights) n += r.count;
  return n;
}

std::vector<int> ExpectedOutcomes(const Action& a) {
  std::vector<int> out;
  if (!a.expect) return out;
  out.push_back(*a.expect);
  out.insert(out.end(), a.expect_or.begin(), a.expect_or.end());
  return out;
}

bool ExpectAccepts(const Action& a, int err) {
  if (!a.expect) return true;
  if (*a.expect == err) return true;
  for (int e : a.expect_or)
    if (e == err) return true;
  return false;
}

std::string AddressText(const Action& a) {
  return ((a.flags & kFlagPath) ? "./" : "@") + a.addr;
}

std::string_view OpName(Op op) {
  return kOpNames[static_cast<size_t>(op)];
}
std::string_view SockTypeName(SockType t) {
  return kSockTypeNames[static_cast<size_t>(t)];
}
std::string_view InetKindName(InetKind k) {
  return kInetKindNames[static_cast<size_t>(k)];
}

std::string ObjectKindName(const Action& a, uint8_t out_index) {
  switch (a.op) {
    case Op::kPipe:
      return out_index == 0 ? "pipe read end" : "pipe write end";
    case Op::kFile:
      return "regular file";
    case Op::kMemfd:
      return "memfd";
    case Op::kEventfd:
      return "eventfd";
    case Op::kEpoll:
      return "epoll";
    case Op::kPidfd:
      return "pidfd";
    case Op::kIoUring:
      return "io_uring";
    case Op::kTimerfd:
      return "timerfd";
    case Op::kDevnull:
      return "character device (/dev/null)";
    case Op::kPty:
      return out_index == 0 ? "pty master" : "pty terminal";
    case Op::kInet:
      return std::string(InetKindName(a.inet)) + " socket";
    case Op::kSocketpair:
    case Op::kSocket:
      return std::string(SockTypeName(a.type)) + " socket";
    case Op::kAccept:
      return "accepted socket";
    default:
      return "";
  }
}
std::string_view ShutHowName(ShutHow h) {
  return kShutHowNames[static_cast<size_t>(h)];
}
std::string_view SockOptName(SockOpt o) {
  return kSockOptNames[static_cast<size_t>(o)];
}
std::optional<SockOpt> SockOptFromName(std::string_view name) {
  return Lookup<SockOpt>(kSockOptNames, name);
}
std::string_view CredsAtName(CredsAt c) {
  return kCredsAtNames[static_cast<size_t>(c)];
}
std::optional<CredsAt> CredsAtFromName(std::string_view name) {
  if (name.empty()) return std::nullopt;
  return Lookup<CredsAt>(kCredsAtNames, name);
}
std::optional<Op> OpFromName(std::string_view name) {
  return Lookup<Op>(kOpNames, name);
}
std::optional<SockType> SockTypeFromName(std::string_view name) {
  return Lookup<SockType>(kSockTypeNames, name);
}
std::optional<InetKind> InetKindFromName(std::string_view name) {
  return Lookup<InetKind>(kInetKindNames, name);
}
std::optional<ShutHow> ShutHowFromName(std::string_view name) {
  return Lookup<ShutHow>(kShutHowNames, name);
}

int OutputArity(Op op) {
  switch (op) {
    case Op::kSocketpair:
    case Op::kPipe:
    case Op::kPty:
      return 2;
    case Op::kSocket:
    case Op::kAccept:
    case Op::kFile:
    case Op::kMemfd:
    case Op::kEventfd:
    case Op::kDup:
    case Op::kEpoll:
    case Op::kPidfd:
    case Op::kIoUring:
    case Op::kTimerfd:
    case Op::kDevnull:
    case Op::kInet:
      return 1;
    case Op::kRecv:
      return -1;
    default:
      return 0;
  }
}

bool CreatesObject(Op op) {
  return op != Op::kDup && OutputArity(op) > 0;
}

std::optional<Creation> CreationOf(const Scenario& s, size_t before, VarId v) {
  for (size_t i = std::min(before, s.actions.size()); i-- > 0;) {
    const Action& a = s.actions[i];
    if (!CreatesObject(a.op)) continue;
    for (size_t k = 0; k < a.out.size(); ++k)
      if (a.out[k] == v) return Creation{static_cast<uint16_t>(i), static_cast<uint8_t>(k)};
  }
  return std::nullopt;
}

bool HasTarget(Op op) {
  switch (op) {
    case Op::kBind:
    case Op::kListen:
    case Op::kConnect:
    case Op::kAccept:
    case Op::kSend:
    case Op::kRecv:
    case Op::kClose:
    case Op::kShutdown:
    case Op::kDup:
    case Op::kEpollAdd:
    case Op::kSetsockopt:
      return true;
    default:
      return false;
  }
}

}  // namespace inflight
