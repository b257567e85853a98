// Scenario: a process graph as plain data. Processes form a fork tree; one global,
// ordered list of actions says which process does what. Lockstep mode runs the list in
// exactly this order; free-run mode lets each process run its own sub-list and race.
//
// Everything is named by index: processes by ProcId (0 is the root), variables by VarId.
// A variable names a descriptor slot; every process has its own value for it, and fork
// copies the parent's values. Only Validate() (validate.h) decides whether a Scenario is
// runnable; the parser, the fuzz decoder and the generators all go through it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inflight {

using ProcId = uint8_t;
using VarId = uint8_t;
inline constexpr VarId kNoVar = 0xff;
inline constexpr ProcId kNoProc = 0xff;

enum class SockType : uint8_t { kStream, kDgram, kSeqpacket, kMaxValue = kSeqpacket };

enum class ShutHow : uint8_t { kRd, kWr, kRdWr, kMaxValue = kRdWr };

// The AF_INET / AF_INET6 sockets `inet` makes: TCP (SOCK_STREAM) or UDP (SOCK_DGRAM).
enum class InetKind : uint8_t { kTcp, kUdp, kTcp6, kUdp6, kMaxValue = kUdp6 };

// The socket options `setsockopt` sets (SOL_SOCKET): SO_PASSRIGHTS (Linux 6.16+; 0: the
// socket refuses SCM_RIGHTS, a send of rights to it fails EPERM), SO_SNDBUF, SO_RCVBUF,
// SO_PASSCRED (1: each receive gets an SCM_CREDENTIALS message first).
enum class SockOpt : uint8_t { kPassrights, kSndbuf, kRcvbuf, kPasscred, kMaxValue = kPasscred };

// Where a send puts its SCM_CREDENTIALS message (the sender's own pid, uid and gid) among
// its SCM_RIGHTS messages: none, before every other message, after every other message.
enum class CredsAt : uint8_t { kNone, kBefore, kAfter, kMaxValue = kAfter };

enum class Op : uint8_t {
  kSocketpair,  // a b = socketpair TYPE
  kSocket,      // s = socket TYPE
  kBind,        // bind s @ADDR | ./PATH   (abstract address, private to the sandbox; or a
                //                          path in the run's own directory)
  kListen,      // listen s [backlog=N]
  kConnect,     // connect s @ADDR | ./PATH (to a listener: queues an embryo)
  kAccept,      // c = accept s
  kPipe,        // r w = pipe
  kFile,        // f = file                (O_TMPFILE on the sandbox tmpfs)
  kMemfd,       // m = memfd
  kEventfd,     // e = eventfd
  kSend,        // send s [a b*3] [oob] [dontwait] [cmsgs=N] [empty=N] [creds=before|after] [bytes=N]
  kRecv,        // x y = recv s [peek] [oob] [dontwait] [ctrunc=K|cbuf=B] [nofile=N] [max=N] [bytes=N]
                //   [fault=cbuf|data|cbuf,data] [is=a,b] [creds=PROC]
  kClose,       // close a
  kShutdown,    // shutdown s rd|wr|rdwr
  kDup,         // y = dup x
  kFork,        // fork CHILD
  kExit,        // exit                    (the process's last action)
  kKill,        // kill OTHER              (SIGKILL)
  kBarrier,     // barrier                 (free-run: wait for the other live processes)
  kSleep,       // sleep MS
  kEpoll,       // ep = epoll
  kEpollAdd,    // epoll_add ep x          (EPOLL_CTL_ADD x to ep, EPOLLIN)
  kPidfd,       // pd = pidfd OTHER        (pidfd_open of another process of the graph)
  kIoUring,     // u = io_uring            (io_uring_setup; may be refused by the kernel)
  kTimerfd,     // t = timerfd
  kSetuid,      // setuid second           (become the run's second uid, keeping capabilities)
  kDropCaps,    // dropcaps                (drop every capability of this process)
  kLimit,       // limit nofile=N          (setrlimit RLIMIT_NOFILE, soft limit, for good)
  kSetsockopt,  // setsockopt s passrights=0|1 | sndbuf=N | rcvbuf=N | passcred=0|1  (SOL_SOCKET)
  kDevnull,     // d = devnull             (open /dev/null: a character device)
  kPty,         // m t = pty               (a pseudo-terminal: /dev/ptmx and its peer)
  kUnlink,      // unlink ./PATH           (a path in the run's own directory)
  kInet,        // s = inet tcp|udp|tcp6|udp6  (an AF_INET/AF_INET6 socket, unbound)
  kMaxValue = kInet,
};

// Flag bits of Action::flags.
enum ActionFlag : uint8_t {
  kFlagOob = 1 << 0,       // MSG_OOB
  kFlagDontwait = 1 << 1,  // MSG_DONTWAIT (free-run; lockstep never blocks anyway)
  kFlagPeek = 1 << 2,      // MSG_PEEK
  // recv fault=cbuf|data: the control / data buffer is a PROT_NONE page (EFAULT paths)
  kFlagFaultCbuf = 1 << 3,
  kFlagFaultData = 1 << 4,
  // bind, connect: the address is ./NAME, a path in the run's own directory (the sandbox
  // slot's tmpfs; the C reproducer's private directory), not an abstract @NAME. Always
  // set on unlink.
  kFlagPath = 1 << 5,
};

// One entry of a send's rights list: `var` passed `count` times in a row ("a*3").
struct Right {
  VarId var = kNoVar;
  uint16_t count = 1;
  bool operator==(const Right&) const = default;
};

// Where an action came from in a text file; line 0 when it was not parsed.
struct SourcePos {
  uint32_t line = 0;
  uint32_t col = 0;
  bool operator==(const SourcePos&) const { return true; }  // not part of identity
};

struct Action {
  Op op = Op::kExit;
  ProcId proc = 0;                    // who runs it
  std::vector<VarId> out;             // variables bound by it (created or received descriptors)
  VarId target = kNoVar;              // the descriptor it works on (send/recv/close/dup/...)
  VarId target2 = kNoVar;             // epoll_add: the descriptor added to the epoll
  ProcId other = kNoProc;             // fork: the new child; kill: the victim; pidfd: its process
  SockType type = SockType::kStream;  // socketpair, socket
  InetKind inet = InetKind::kTcp;     // inet
  ShutHow how = ShutHow::kRdWr;       // shutdown
  std::string addr;             // bind, connect, unlink: the name without '@' or './'
                                // (kFlagPath says which)
  std::vector<Right> rights;    // send
  uint8_t flags = 0;            // ActionFlag bits
  uint16_t cmsgs = 1;           // send: SCM_RIGHTS messages the rights are split into
                                // (more than the descriptors: the last ones carry none)
  uint16_t empty = 0;           // send: SCM_RIGHTS messages with no descriptor, first
  CredsAt creds = CredsAt::kNone;  // send: an SCM_CREDENTIALS message, and where
  uint16_t bytes = 0;           // send: payload bytes; recv: buffer bytes (see Defaults)
  int16_t ctrunc = -1;          // recv: control buffer sized for this many fds; -1: for max
  int16_t cbuf = -1;            // recv: control buffer of exactly this many bytes; -1: unset
  uint16_t nofile = 0;          // recv: RLIMIT_NOFILE while receiving; 0: unchanged; limit:
                                // the process's RLIMIT_NOFILE from here on
  uint16_t max = 0;             // recv: most fds one receive expects (buffer size)
  uint16_t backlog = 0;         // listen
  uint32_t sleep_ms = 0;        // sleep
  ProcId cred_proc = kNoProc;   // recv creds=PROC: the SCM_CREDENTIALS that must arrive are
                                // PROC's (its pid, uid, gid); an assertion, like expect=
  SockOpt sockopt = SockOpt::kPassrights;  // setsockopt: which option
  uint32_t optval = 0;                     // setsockopt: its value
  std::vector<VarId> same;      // recv is=a,-,c: output k must hold the object the last
                                // creation of same[k] above made (kNoVar, "-": unchecked).
                                // An assertion like expect=: not in the codec's form
  std::optional<int> expect;    // expected errno; 0 means success. Unset: not checked.
  std::vector<int> expect_or;   // expect=A|B: outcomes accepted besides *expect (kernels
                                // differ); empty for a single expectation

  // Presentation, kept so that the text form round-trips exactly.
  std::vector<std::string> comments;  // full-line comments just above the action
  std::string note;                   // trailing "# ..." on the action's line
  bool blank_before = false;          // an empty line above (after the comments)
  SourcePos pos;

  bool operator==(const Action&) const = default;
};

struct Scenario {
  std::string name;                   // identifier, unique in a corpus
  std::vector<std::string> about;     // what pattern or bug it stands for
  std::vector<std::string> refs;      // public references: bug ids, fix commits, tests
  std::vector<std::string> preamble;  // comment lines above the `scenario` line
  std::vector<std::string> procs;     // names; procs[0] is the root process
  std::vector<std::string> vars;      // names, indexed by VarId
  std::vector<Action> actions;        // the global order
  std::vector<std::string> epilogue;  // comment lines after the last action

  bool operator==(const Scenario&) const = default;

  // Total descriptors one send passes (the sum of the counts).
  static uint32_t RightsCount(const Action& a);
};

// Every outcome expect= accepts, in the order written (0: success); empty: unchecked.
std::vector<int> ExpectedOutcomes(const Action& a);
// Whether outcome `err` (0: success) is one expect= accepts; true when unchecked.
bool ExpectAccepts(const Action& a, int err);

// Defaults the text form leaves out.
struct Defaults {
  static constexpr uint16_t kSendBytes = 1;
  static constexpr uint16_t kRecvBytes = 256;
  static constexpr uint16_t kRecvMax = 253;  // SCM_MAX_FD
  static constexpr uint16_t kBacklog = 16;
};

// An address as the text form writes it: "@NAME" or "./NAME" (kFlagPath).
std::string AddressText(const Action& a);

// Keyword tables shared by the parser, the printer and reports.
std::string_view OpName(Op op);
std::string_view SockTypeName(SockType t);
std::string_view InetKindName(InetKind k);  // "tcp", "udp", "tcp6", "udp6"
std::optional<InetKind> InetKindFromName(std::string_view name);
// What output `out_index` of `a` is, in reports and verdicts: "stream socket", "pipe read
// end", "regular file", "memfd", ...; "" when the action creates no object of its own.
std::string ObjectKindName(const Action& a, uint8_t out_index);
std::string_view ShutHowName(ShutHow h);
std::string_view SockOptName(SockOpt o);  // "passrights", "sndbuf", "rcvbuf", "passcred"
std::string_view CredsAtName(CredsAt c);  // "", "before", "after"
std::optional<CredsAt> CredsAtFromName(std::string_view name);
std::optional<SockOpt> SockOptFromName(std::string_view name);
std::optional<Op> OpFromName(std::string_view name);
std::optional<SockType> SockTypeFromName(std::string_view name);
std::optional<ShutHow> ShutHowFromName(std::string_view name);

// Whether an op makes new objects (socketpair, socket, accept, pipe, file, memfd,
// eventfd, epoll, pidfd, io_uring, timerfd, devnull, pty, inet); dup and recv bind objects made elsewhere.
bool CreatesObject(Op op);
// The object `v` names for an is= check of action `before`: the last action above it in
// the file's order that created an object into `v` (its index, and which output).
struct Creation {
  uint16_t action = 0;
  uint8_t out_index = 0;
};
std::optional<Creation> CreationOf(const Scenario& s, size_t before, VarId v);

// How many variables an op binds: exact for most, 0..max for recv (returns -1).
int OutputArity(Op op);
// Whether an op takes a descriptor operand (Action::target).
bool HasTarget(Op op);

}  // namespace inflight
