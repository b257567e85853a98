// The byte form of scenarios (see codec.h). One procedure, BuildAction, makes every
// choice of an action; decoding reads each choice from the bytes, encoding writes the
// choice that rebuilds the action being encoded, so the two cannot drift apart.
#include "scenario/codec.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <iterator>

#include "scenario/bounds.h"
#include "scenario/text.h"
#include "scenario/validate.h"

namespace inflight {

namespace {

// Ops by the first byte of an action; common ops appear more than once. Append only
// with a new format version: indices are part of every saved input.
// clang-format off
constexpr std::array<Op, 45> kOpTable = {
    Op::kSocketpair, Op::kSocketpair, Op::kSend,    Op::kSend,     Op::kSend,
    Op::kRecv,       Op::kRecv,       Op::kClose,   Op::kClose,    Op::kFork,
    Op::kExit,       Op::kSocket,     Op::kBind,    Op::kListen,   Op::kConnect,
    Op::kAccept,     Op::kPipe,       Op::kFile,    Op::kMemfd,    Op::kEventfd,
    Op::kShutdown,   Op::kDup,        Op::kKill,    Op::kBarrier,  Op::kSleep,
    Op::kEpoll,      Op::kEpollAdd,   Op::kPidfd,   Op::kIoUring,  Op::kTimerfd,
    Op::kSetuid,     Op::kDropCaps,   Op::kLimit,  // format 2
    Op::kSend,       Op::kRecv,                    // format 3: the extended send and recv
    Op::kSetsockopt,                               // format 4
    Op::kRecv,                                     // format 5: a recv whose buffers fault
    Op::kSend,       Op::kSetsockopt,              // format 6: credentials,
    Op::kDevnull,    Op::kPty,                     //   device files
    Op::kBind,       Op::kConnect,  Op::kUnlink,   // format 7: paths (./NAME)
    Op::kInet,                                     // format 8: inet sockets
};
// clang-format on
// Format 3's entries: the same op as before, then choices for what format 2 could not say
// (a send beyond SCM_MAX_FD, empty control messages, more messages than descriptors; a
// receive control buffer of exact bytes). Format 2's entries decode exactly as before.
constexpr uint32_t kFirstExtended = 33;
constexpr uint32_t kLastExtended = 34;
// Format 5's entry: the extended recv, then which of its buffers fault (fault=cbuf|data).
constexpr uint32_t kFaultRecv = 36;
// Format 6's entries: the extended send that may also carry an SCM_CREDENTIALS message
// (before or after its rights), and setsockopt with every option (format 4's entry keeps
// choosing among its three).
constexpr uint32_t kCredsSend = 37;
constexpr uint32_t kEverySockopt = 38;
constexpr uint32_t kFormat4Sockopts = 3;
// Format 7's entries: bind and connect to a path in the run's own directory, and unlink of
// one (the address choices are the abstract ones; a name starting with '.' is dropped).
constexpr uint32_t kPathBind = 41;
constexpr uint32_t kPathConnect = 42;
constexpr uint32_t kPathUnlink = 43;
static_assert(kOpTable.size() <= 256);

constexpr std::string_view kAddressChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
constexpr uint32_t kNumAddresses = std::size(kCodecAddresses);

// A byte in [0, kEscape) picks a small number; kEscape and above read the full range.
constexpr uint8_t kEscape = 0xF0;

// One choice source: either reads choices from bytes or records wanted choices.
class Chooser {
 public:
  virtual ~Chooser() = default;
  // A value in [0, n); n in [1, 65536]. n == 1 takes no byte, n <= 256 one, else two.
  virtual uint32_t Pick(uint32_t n, uint32_t want) = 0;
  // A value in [0, max], usually below `small` (one byte), any value after an escape.
  uint32_t Number(uint32_t max, uint32_t small, uint32_t want) {
    if (max < small) return Pick(max + 1, want);
    const uint32_t b = Pick(256, want < small ? want : kEscape);
    if (b < kEscape) return b % small;
    return Pick(max + 1, want);
  }
  uint32_t Flag(uint32_t bits, uint32_t want) { return Pick(1u << bits, want); }
};

class ByteReader : public Chooser {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool Empty() const { return p_ == end_; }
  uint32_t Pick(uint32_t n, uint32_t /*want*/) override {
    if (n <= 1) return 0;
    uint32_t v = Byte();
    if (n > 256) v |= Byte() << 8;
    return v % n;
  }

 private:
  uint32_t Byte() { return p_ < end_ ? *p_++ : 0; }
  const uint8_t* p_;
  const uint8_t* end_;
};

class ByteWriter : public Chooser {
 public:
  uint32_t Pick(uint32_t n, uint32_t want) override {
    if (n <= 1) return 0;
    if (want >= n) {
      ok_ = false;
      want = 0;
    }
    out_.push_back(static_cast<char>(want & 0xff));
    if (n > 256) out_.push_back(static_cast<char>(want >> 8));
    return want;
  }
  bool ok() const { return ok_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  bool ok_ = true;
};

template <typename T>
uint32_t IndexOf(const std::vector<T>& v, T x) {
  auto it = std::find(v.begin(), v.end(), x);
  return it == v.end() ? static_cast<uint32_t>(v.size()) : static_cast<uint32_t>(it - v.begin());
}

// The static state the validator keeps, advanced action by action.
struct State {
  Scenario s;
  std::vector<bool> running;
  std::vector<std::bitset<Bounds::kMaxVars>> bound;
  uint32_t objects = 0;
  uint32_t rights_total = 0;

  State() {
    s.name = kDecodedScenarioName;
    AddProc();
    running[0] = true;
  }
  void AddProc() {
    s.procs.push_back("p" + std::to_string(s.procs.size()));
    running.push_back(false);
    bound.emplace_back();
  }
  std::vector<ProcId> Running() const {
    std::vector<ProcId> out;
    for (size_t p = 0; p < running.size(); ++p)
      if (running[p]) out.push_back(static_cast<ProcId>(p));
    return out;
  }
  std::vector<VarId> Bound(ProcId p) const {
    std::vector<VarId> out;
    for (size_t v = 0; v < s.vars.size(); ++v)
      if (bound[p][v]) out.push_back(static_cast<VarId>(v));
    return out;
  }
  // Variables an output may bind in `p`: a new one (kNoVar) first, while there is room,
  // then every existing one not open in `p` and not bound earlier by the same action.
  std::vector<VarId> OutputChoices(ProcId p, const std::vector<VarId>& taken) const {
    std::vector<VarId> out;
    if (s.vars.size() + CountNew(taken) < Bounds::kMaxVars) out.push_back(kNoVar);
    for (size_t v = 0; v < s.vars.size(); ++v)
      if (!bound[p][v] && std::find(taken.begin(), taken.end(), v) == taken.end())
        out.push_back(static_cast<VarId>(v));
    return out;
  }
  size_t CountNew(const std::vector<VarId>& taken) const {
    size_t n = 0;
    for (VarId v : taken) n += v >= s.vars.size();
    return n;
  }
  // Effects of a built action on the state, as Validate() sees them.
  void Apply(const Action& a) {
    for (VarId v : a.out) {
      while (s.vars.size() <= v) s.vars.push_back("v" + std::to_string(s.vars.size()));
      bound[a.proc][v] = true;
    }
    objects += static_cast<uint32_t>(a.out.size());
    if (a.op == Op::kSend) rights_total += Scenario::RightsCount(a);
    switch (a.op) {
      case Op::kClose:
        bound[a.proc][a.target] = false;
        break;
      case Op::kFork:
        while (s.procs.size() <= a.other) AddProc();
        running[a.other] = true;
        bound[a.other] = bound[a.proc];
        break;
      case Op::kExit:
        running[a.proc] = false;
        break;
      case Op::kKill:
        running[a.other] = false;
        break;
      default:
        break;
    }
    s.actions.push_back(a);
  }
};

class Builder {
 public:
  Builder(State& st, Chooser& c, const Action* want) : st_(st), c_(c), want_(want) {}

  // Makes every choice of one action. Returns nullopt when the chosen op cannot run
  // here (no descriptor to work on, no process to kill, a bound reached): the input's
  // bytes for it are spent and no action is added.
  std::optional<Action> Build() {
    const uint32_t op_index =
        c_.Pick(kOpTable.size(), want_ ? (Faults(*want_)          ? kFaultRecv
                                          : NeedsExtended(*want_) ? ExtendedIndex(*want_)
                                                                  : FirstIndex(want_->op))
                                       : 0);
    fault_ = op_index == kFaultRecv;
    ext_ = (op_index >= kFirstExtended && op_index <= kLastExtended) || fault_ ||
           op_index == kCredsSend;
    creds_ = op_index == kCredsSend;
    every_sockopt_ = op_index == kEverySockopt;
    const bool path = op_index >= kPathBind && op_index <= kPathUnlink;
    const std::vector<ProcId> procs = st_.Running();
    if (procs.empty()) return std::nullopt;
    Action a;
    a.op = kOpTable[op_index];
    a.proc = procs[c_.Pick(static_cast<uint32_t>(procs.size()),
                           want_ ? IndexOf(procs, want_->proc) : 0)];
    if (HasTarget(a.op)) {
      if (!Target(a, a.target, want_ ? want_->target : kNoVar)) return std::nullopt;
    }
    switch (a.op) {
      case Op::kSocketpair:
      case Op::kSocket:
        a.type = static_cast<SockType>(c_.Pick(static_cast<uint32_t>(SockType::kMaxValue) + 1,
                                               want_ ? static_cast<uint32_t>(want_->type) : 0));
        break;
      case Op::kInet:  // format 8
        a.inet = static_cast<InetKind>(c_.Pick(static_cast<uint32_t>(InetKind::kMaxValue) + 1,
                                                want_ ? static_cast<uint32_t>(want_->inet) : 0));
        break;
      case Op::kBind:
      case Op::kConnect:
      case Op::kUnlink:
        a.addr = Address();
        if (path) {
          if (!IsPathName(a.addr)) return std::nullopt;
          a.flags |= kFlagPath;
        }
        break;
      case Op::kListen: {
        const bool custom = c_.Flag(1, want_ && want_->backlog != Defaults::kBacklog);
        a.backlog = custom ? static_cast<uint16_t>(
                                 c_.Number(Bounds::kMaxBacklog, 16, want_ ? want_->backlog : 0))
                           : Defaults::kBacklog;
        break;
      }
      case Op::kSend:
        Send(a);
        break;
      case Op::kShutdown:
        a.how = static_cast<ShutHow>(c_.Pick(static_cast<uint32_t>(ShutHow::kMaxValue) + 1,
                                             want_ ? static_cast<uint32_t>(want_->how) : 0));
        break;
      case Op::kFork:
        if (st_.s.procs.size() >= Bounds::kMaxProcs) return std::nullopt;
        a.other = static_cast<ProcId>(st_.s.procs.size());
        break;
      case Op::kKill: {
        std::vector<ProcId> others;
        for (ProcId p : procs)
          if (p != a.proc) others.push_back(p);
        if (others.empty()) return std::nullopt;
        a.other = others[c_.Pick(static_cast<uint32_t>(others.size()),
                                 want_ ? IndexOf(others, want_->other) : 0)];
        break;
      }
      case Op::kSleep:
        a.sleep_ms = c_.Number(Bounds::kMaxSleepMs, 8, want_ ? want_->sleep_ms : 0);
        break;
      case Op::kEpollAdd:
        if (!Target(a, a.target2, want_ ? want_->target2 : kNoVar)) return std::nullopt;
        break;
      case Op::kPidfd:
        a.other = static_cast<ProcId>(
            c_.Pick(static_cast<uint32_t>(st_.s.procs.size()), want_ ? want_->other : 0));
        break;
      case Op::kLimit:
        a.nofile = static_cast<uint16_t>(
            1 + c_.Number(Bounds::kMaxNofile - 1, 16, want_ ? want_->nofile - 1u : 0));
        break;
      case Op::kSetsockopt:
        a.sockopt = static_cast<SockOpt>(
            c_.Pick(every_sockopt_ ? static_cast<uint32_t>(SockOpt::kMaxValue) + 1 : kFormat4Sockopts,
                    want_ ? static_cast<uint32_t>(want_->sockopt) : 0));
        if (a.sockopt == SockOpt::kPassrights || a.sockopt == SockOpt::kPasscred)
          a.optval = c_.Pick(2, want_ ? want_->optval : 0);
        else  // bytes: one byte picks 1..64 (the kernel's minimum), any size after the escape
          a.optval = 1 + c_.Number(Bounds::kMaxSockBuf - 1, 64, want_ ? want_->optval - 1u : 0);
        break;
      default:
        break;
    }
    // Outputs: a fixed number, or recv's chosen number (it binds what arrives).
    int arity = OutputArity(a.op);
    if (arity < 0) {
      arity = static_cast<int>(c_.Number(Bounds::kScmMaxFd, 4,
                                         want_ ? static_cast<uint32_t>(want_->out.size()) : 0));
    }
    for (int k = 0; k < arity; ++k) {
      const std::vector<VarId> choices = st_.OutputChoices(a.proc, a.out);
      if (choices.empty() || st_.objects + a.out.size() >= Bounds::kMaxObjects) {
        if (a.op == Op::kRecv) break;  // recv binds fewer; the rest stay unnamed
        return std::nullopt;
      }
      uint32_t want = 0;
      if (want_ && static_cast<size_t>(k) < want_->out.size()) {
        const VarId w = want_->out[k];
        want = IndexOf(choices, w >= st_.s.vars.size() + st_.CountNew(a.out) ? kNoVar : w);
      }
      const VarId v = choices[c_.Pick(static_cast<uint32_t>(choices.size()), want)];
      a.out.push_back(v == kNoVar ? static_cast<VarId>(st_.s.vars.size() + st_.CountNew(a.out))
                                  : v);
    }
    if (a.op == Op::kRecv) Recv(a);
    return a;
  }

 private:
  static uint32_t FirstIndex(Op op) {
    for (uint32_t i = 0; i < kOpTable.size(); ++i)
      if (kOpTable[i] == op) return i;
    return 0;
  }
  static bool IsPath(const Action& a) {
    return (a.op == Op::kBind || a.op == Op::kConnect) && (a.flags & kFlagPath);
  }
  static uint32_t ExtendedIndex(const Action& a) {
    if (IsPath(a)) return a.op == Op::kBind ? kPathBind : kPathConnect;
    if (a.op == Op::kSend && a.creds != CredsAt::kNone) return kCredsSend;
    if (a.op == Op::kSetsockopt) return kEverySockopt;
    for (uint32_t i = kFirstExtended; i <= kLastExtended; ++i)
      if (kOpTable[i] == a.op) return i;
    return 0;
  }
  static bool Faults(const Action& a) {
    return a.op == Op::kRecv && (a.flags & (kFlagFaultCbuf | kFlagFaultData));
  }
  // Whether an action says what only format 3's (or 6's) entries can.
  static bool NeedsExtended(const Action& a) {
    if (IsPath(a)) return true;
    if (a.op == Op::kSetsockopt) return static_cast<uint32_t>(a.sockopt) >= kFormat4Sockopts;
    if (a.op == Op::kSend && a.creds != CredsAt::kNone) return true;
    if (a.op == Op::kSend)
      return a.empty != 0 || Scenario::RightsCount(a) > Bounds::kScmMaxFd ||
             a.cmsgs > std::max<uint32_t>(Scenario::RightsCount(a), 1);
    if (a.op == Op::kRecv) return a.cbuf >= 0;
    return false;
  }

  // Picks a descriptor open in the acting process.
  bool Target(const Action& a, VarId& out, VarId want) {
    const std::vector<VarId> open = st_.Bound(a.proc);
    if (open.empty()) return false;
    out = open[c_.Pick(static_cast<uint32_t>(open.size()), IndexOf(open, want))];
    return true;
  }

  std::string Address() {
    uint32_t want = kNumAddresses;
    if (want_) {
      for (uint32_t i = 0; i < kNumAddresses; ++i)
        if (kCodecAddresses[i] == want_->addr) want = i;
    }
    const uint32_t k = c_.Pick(kNumAddresses + 1, want);
    if (k < kNumAddresses) return std::string(kCodecAddresses[k]);
    const std::string_view w = want_ ? std::string_view(want_->addr) : std::string_view();
    const uint32_t len =
        1 + c_.Pick(Bounds::kMaxAddrLen, w.empty() ? 0 : static_cast<uint32_t>(w.size() - 1));
    std::string addr;
    for (uint32_t i = 0; i < len; ++i) {
      const uint32_t ch = i < w.size() ? static_cast<uint32_t>(kAddressChars.find(w[i])) : 0;
      addr += kAddressChars[c_.Pick(static_cast<uint32_t>(kAddressChars.size()), ch)];
    }
    return addr;
  }

  void Send(Action& a) {
    const std::vector<VarId> open = st_.Bound(a.proc);
    // Format 2's send lists at most SCM_MAX_FD; the extended one up to the bound.
    const uint32_t per_send = ext_ ? Bounds::kMaxRightsPerSend : Bounds::kScmMaxFd;
    const uint32_t entries = c_.Number(Bounds::kMaxRightsEntries, 4,
                                       want_ ? static_cast<uint32_t>(want_->rights.size()) : 0);
    uint32_t n = 0;
    for (uint32_t k = 0; k < entries; ++k) {
      const Right* w = want_ && k < want_->rights.size() ? &want_->rights[k] : nullptr;
      Right r;
      r.var = open[c_.Pick(static_cast<uint32_t>(open.size()), w ? IndexOf(open, w->var) : 0)];
      uint32_t count = 1 + c_.Number(per_send - 1, 2, w ? w->count - 1u : 0);
      count = std::min({count, per_send - n, Bounds::kMaxRightsTotal - st_.rights_total - n});
      if (count == 0) continue;
      r.count = static_cast<uint16_t>(count);
      n += count;
      a.rights.push_back(r);
    }
    uint32_t want_mods = 0;
    if (want_) {
      want_mods = (want_->flags & (kFlagOob | kFlagDontwait)) | (want_->cmsgs != 1 ? 4u : 0u) |
                  (want_->bytes != Defaults::kSendBytes ? 8u : 0u);
    }
    const uint32_t mods = c_.Flag(4, want_mods);
    a.flags = static_cast<uint8_t>(mods & (kFlagOob | kFlagDontwait));
    if (mods & 4) {
      const uint32_t cmsgs = 1 + c_.Number(Bounds::kMaxCmsgs - 1, 4, want_ ? want_->cmsgs - 1u : 0);
      // Format 2: at most one message per descriptor; format 3: the last ones may be empty.
      a.cmsgs = static_cast<uint16_t>(n == 0 ? 1 : ext_ ? cmsgs : std::min(cmsgs, n));
    }
    a.bytes = (mods & 8)
                  ? static_cast<uint16_t>(c_.Number(Bounds::kMaxBytes, 8, want_ ? want_->bytes : 0))
                  : Defaults::kSendBytes;
    if (ext_) {
      // Empty SCM_RIGHTS messages ahead of the others, as many as the bound leaves room for.
      const uint32_t room = Bounds::kMaxCmsgs - (n > 0 ? a.cmsgs : 0u);
      a.empty = static_cast<uint16_t>(c_.Pick(room + 1, want_ ? want_->empty : 0));
    }
    if (creds_)  // format 6: where the SCM_CREDENTIALS message goes (none, before, after)
      a.creds = static_cast<CredsAt>(c_.Pick(static_cast<uint32_t>(CredsAt::kMaxValue) + 1,
                                             want_ ? static_cast<uint32_t>(want_->creds) : 0));
  }

  void Recv(Action& a) {
    uint32_t want_mods = 0;
    if (want_) {
      want_mods = ((want_->flags & kFlagPeek) ? 1u : 0u) | ((want_->flags & kFlagOob) ? 2u : 0u) |
                  ((want_->flags & kFlagDontwait) ? 4u : 0u) | (want_->ctrunc >= 0 ? 8u : 0u) |
                  (want_->nofile != 0 ? 16u : 0u) | (want_->max != Defaults::kRecvMax ? 32u : 0u) |
                  (want_->bytes != Defaults::kRecvBytes ? 64u : 0u);
    }
    const uint32_t mods = c_.Flag(7, want_mods);
    a.flags = static_cast<uint8_t>(((mods & 1) ? kFlagPeek : 0) | ((mods & 2) ? kFlagOob : 0) |
                                   ((mods & 4) ? kFlagDontwait : 0));
    uint32_t max = Defaults::kRecvMax;
    if (mods & 32)
      max = 1 + c_.Number(Bounds::kScmMaxFd - 1, 8, want_ ? want_->max - 1u : 0);
    a.max = static_cast<uint16_t>(std::max<size_t>(max, a.out.size()));
    if (mods & 8) {
      const uint32_t ctrunc = c_.Number(Bounds::kScmMaxFd - 1, 4,
                                        want_ ? static_cast<uint32_t>(want_->ctrunc) : 0);
      a.ctrunc = static_cast<int16_t>(std::min<uint32_t>(ctrunc, a.max - 1u));
    }
    if (mods & 16)
      a.nofile = static_cast<uint16_t>(
          1 + c_.Number(Bounds::kMaxNofile - 1, 16, want_ ? want_->nofile - 1u : 0));
    a.bytes = (mods & 64)
                  ? static_cast<uint16_t>(c_.Number(Bounds::kMaxBytes, 8, want_ ? want_->bytes : 0))
                  : Defaults::kRecvBytes;
    // Format 5's recv first says whether it takes an exact control buffer at all.
    if (ext_ && (!fault_ || c_.Pick(2, want_ && want_->cbuf >= 0 ? 1 : 0))) {
      // A control buffer of exact bytes; it replaces ctrunc. Mostly around the header and
      // a few descriptors (a byte below the escape picks 0..63), any size after it.
      a.cbuf = static_cast<int16_t>(
          c_.Number(Bounds::kMaxCbuf, 64, want_ ? static_cast<uint32_t>(want_->cbuf) : 0));
      a.ctrunc = -1;
    }
    if (fault_) {
      // 1: the control buffer faults, 2: the data buffer, 3: both; a buffer of no bytes
      // cannot fault, so its bit is dropped.
      uint32_t want = 0;
      if (want_)
        want = ((want_->flags & kFlagFaultCbuf) ? 1u : 0u) | ((want_->flags & kFlagFaultData) ? 2u : 0u);
      const uint32_t bits = 1 + c_.Pick(3, want > 0 ? want - 1 : 0);
      if ((bits & 1) && a.cbuf != 0 && !(a.cbuf < 0 && a.ctrunc == 0)) a.flags |= kFlagFaultCbuf;
      if ((bits & 2) && a.bytes != 0) a.flags |= kFlagFaultData;
    }
  }

  State& st_;
  Chooser& c_;
  const Action* want_;
  bool ext_ = false;  // a format 3 entry: the extended send or recv (or format 5's recv, 6's send)
  bool fault_ = false;          // format 5's recv: its buffers may fault
  bool creds_ = false;          // format 6's send: it may carry credentials
  bool every_sockopt_ = false;  // format 6's setsockopt: every option
};

// Compares what the codec keeps of an action.
bool SameAction(const Action& a, const Action& b) {
  return a.op == b.op && a.proc == b.proc && a.out == b.out && a.target == b.target &&
         a.target2 == b.target2 && a.other == b.other && a.type == b.type && a.inet == b.inet &&
         a.how == b.how &&
         a.addr == b.addr && a.rights == b.rights && a.flags == b.flags && a.cmsgs == b.cmsgs &&
         a.empty == b.empty && a.cbuf == b.cbuf &&
         a.bytes == b.bytes && a.ctrunc == b.ctrunc && a.nofile == b.nofile && a.max == b.max &&
         a.backlog == b.backlog && a.sleep_ms == b.sleep_ms && a.sockopt == b.sockopt &&
         a.optval == b.optval && a.creds == b.creds;
}

}  // namespace

Scenario DecodeScenario(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  State st;
  while (!in.Empty() && st.s.actions.size() < Bounds::kMaxActions) {
    Builder b(st, in, nullptr);
    if (auto a = b.Build()) st.Apply(*a);
  }
  if (st.s.actions.empty()) {
    Action exit;
    exit.op = Op::kExit;
    exit.proc = 0;
    st.Apply(exit);
  }
  return std::move(st.s);
}

Scenario CodecForm(const Scenario& in) {
  Scenario s = in;
  for (Action& a : s.actions) a.same.clear();  // is= is an assertion, like expect=
  Canonicalize(s);
  s.name = kDecodedScenarioName;
  s.about.clear();
  s.refs.clear();
  s.preamble.clear();
  s.epilogue.clear();
  for (size_t p = 0; p < s.procs.size(); ++p) s.procs[p] = "p" + std::to_string(p);
  for (size_t v = 0; v < s.vars.size(); ++v) s.vars[v] = "v" + std::to_string(v);
  for (Action& a : s.actions) {
    a.expect.reset();
    a.expect_or.clear();
    a.cred_proc = kNoProc;  // an assertion, like expect=
    a.comments.clear();
    a.note.clear();
    a.blank_before = false;
    a.pos = {};
  }
  return s;
}

std::optional<std::string> EncodeScenario(const Scenario& original) {
  if (Validate(original)) return std::nullopt;
  const Scenario s = CodecForm(original);
  ByteWriter out;
  State st;
  for (const Action& want : s.actions) {
    Builder b(st, out, &want);
    auto a = b.Build();
    if (!a || !out.ok() || !SameAction(*a, want)) return std::nullopt;
    st.Apply(*a);
  }
  // The decoder's stand-in for an empty input is exactly this scenario.
  std::string bytes = out.Take();
  if (DecodeScenario(bytes) != s) return std::nullopt;
  return bytes;
}

}  // namespace inflight
