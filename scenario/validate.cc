// Structural checks and bounds for scenarios (see validate.h).
#include "scenario/validate.h"

#include <fmt/core.h>

#include <bitset>

#include "scenario/bounds.h"

namespace inflight {

namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9');
}

enum class ProcState : uint8_t { kNotStarted, kRunning, kEnded };

struct Checker {
  const Scenario& s;
  std::vector<ProcState> state;
  std::vector<std::bitset<Bounds::kMaxVars>> bound;  // per process: which vars hold an fd

  std::optional<ValidationError> Fail(int i, std::string msg) {
    return ValidationError{i, std::move(msg)};
  }
  const std::string& VarName(VarId v) { return s.vars[v]; }
  const std::string& ProcName(ProcId p) { return s.procs[p]; }

  std::optional<ValidationError> NeedBound(int i, ProcId p, VarId v) {
    if (v >= s.vars.size()) return Fail(i, "variable index out of range");
    if (!bound[p][v])
      return Fail(i, fmt::format("'{}' is not an open descriptor in process '{}' here", VarName(v),
                                 ProcName(p)));
    return std::nullopt;
  }

  // Fields an op does not use stay at their defaults, so that every scenario has exactly
  // one text form and parse(print(s)) == s holds for decoded scenarios too.
  std::optional<ValidationError> CheckUnusedFields(int i, const Action& a) {
    const bool io = a.op == Op::kSend || a.op == Op::kRecv;
    bool clean = true;
    const bool addressed = a.op == Op::kBind || a.op == Op::kConnect || a.op == Op::kUnlink;
    if (!io && (a.bytes != 0 || (a.flags & ~(addressed ? kFlagPath : 0)) != 0)) clean = false;
    if (a.op != Op::kSend && (!a.rights.empty() || a.cmsgs != 1 || a.empty != 0)) clean = false;
    if (a.op != Op::kRecv && (a.ctrunc != -1 || a.cbuf != -1 || a.max != 0 || !a.same.empty()))
      clean = false;
    if (a.op != Op::kRecv && a.op != Op::kLimit && a.nofile != 0) clean = false;
    if (a.op != Op::kListen && a.backlog != 0) clean = false;
    if (a.op != Op::kSleep && a.sleep_ms != 0) clean = false;
    if (!addressed && !a.addr.empty()) clean = false;
    if (a.op != Op::kSocketpair && a.op != Op::kSocket && a.type != SockType::kStream)
      clean = false;
    if (a.op != Op::kInet && a.inet != InetKind::kTcp) clean = false;
    if (a.op != Op::kShutdown && a.how != ShutHow::kRdWr) clean = false;
    if (a.op != Op::kSetsockopt && (a.sockopt != SockOpt::kPassrights || a.optval != 0))
      clean = false;
    if (a.op != Op::kSend && a.creds != CredsAt::kNone) clean = false;
    if (a.op != Op::kRecv && a.cred_proc != kNoProc) clean = false;
    if (!clean) return Fail(i, fmt::format("'{}' has fields it does not use", OpName(a.op)));
    return std::nullopt;
  }

  std::optional<ValidationError> Run() {
    if (!IsIdentifier(s.name))
      return Fail(-1, fmt::format("the scenario needs a name (an identifier of at most {} bytes)",
                                  Bounds::kMaxNameLen));
    if (s.procs.empty() || s.procs.size() > Bounds::kMaxProcs)
      return Fail(-1, fmt::format("a scenario has 1 to {} processes", Bounds::kMaxProcs));
    if (s.vars.size() > Bounds::kMaxVars)
      return Fail(-1, fmt::format("at most {} variable names", Bounds::kMaxVars));
    if (s.actions.empty()) return Fail(-1, "a scenario needs at least one action");
    if (s.actions.size() > Bounds::kMaxActions)
      return Fail(-1, fmt::format("at most {} actions", Bounds::kMaxActions));
    for (const auto* lines : {&s.about, &s.refs, &s.preamble, &s.epilogue}) {
      if (lines->size() > 64) return Fail(-1, "at most 64 header or comment lines of a kind");
      for (const auto& l : *lines)
        if (l.size() > Bounds::kMaxCommentLen || l.find('\n') != std::string::npos)
          return Fail(-1, fmt::format("header and comment lines are single lines of at most {} "
                                      "bytes",
                                      Bounds::kMaxCommentLen));
    }
    for (const auto& p : s.procs)
      if (!IsIdentifier(p))
        return Fail(-1, fmt::format("process names are identifiers of at most {} bytes",
                                    Bounds::kMaxNameLen));
    for (const auto& v : s.vars)
      if (!IsIdentifier(v))
        return Fail(-1, fmt::format("variable names are identifiers of at most {} bytes",
                                    Bounds::kMaxNameLen));
    for (size_t a = 0; a < s.procs.size(); ++a)
      for (size_t b = a + 1; b < s.procs.size(); ++b)
        if (s.procs[a] == s.procs[b]) return Fail(-1, "process names must be unique");
    for (size_t a = 0; a < s.vars.size(); ++a)
      for (size_t b = a + 1; b < s.vars.size(); ++b)
        if (s.vars[a] == s.vars[b]) return Fail(-1, "variable names must be unique");

    state.assign(s.procs.size(), ProcState::kNotStarted);
    state[0] = ProcState::kRunning;
    bound.assign(s.procs.size(), {});
    uint32_t objects = 0, rights_total = 0;

    for (size_t idx = 0; idx < s.actions.size(); ++idx) {
      const int i = static_cast<int>(idx);
      const Action& a = s.actions[idx];
      if (a.op > Op::kMaxValue) return Fail(i, "unknown operation");
      if (a.proc >= s.procs.size()) return Fail(i, "process index out of range");
      if (state[a.proc] == ProcState::kNotStarted)
        return Fail(i, fmt::format("process '{}' acts before it is forked", ProcName(a.proc)));
      if (state[a.proc] == ProcState::kEnded)
        return Fail(
            i, fmt::format("process '{}' acts after it exited or was killed", ProcName(a.proc)));
      if (a.note.size() > Bounds::kMaxCommentLen || a.comments.size() > 64)
        return Fail(i, fmt::format("a comment is at most {} bytes, and at most 64 comment lines "
                                   "go above an action",
                                   Bounds::kMaxCommentLen));

      // Operands.
      const int arity = OutputArity(a.op);
      if (arity >= 0 && a.out.size() != static_cast<size_t>(arity))
        return Fail(i, fmt::format("'{}' binds {} variable(s)", OpName(a.op), arity));
      if (a.op == Op::kRecv && a.out.size() > Bounds::kScmMaxFd)
        return Fail(i, fmt::format("recv binds at most {} variables", Bounds::kScmMaxFd));
      if (HasTarget(a.op)) {
        if (auto e = NeedBound(i, a.proc, a.target)) return e;
      } else if (a.target != kNoVar) {
        return Fail(i, fmt::format("'{}' takes no descriptor", OpName(a.op)));
      }
      if (a.type > SockType::kMaxValue) return Fail(i, "unknown socket type");
      if (a.how > ShutHow::kMaxValue) return Fail(i, "unknown shutdown direction");
      if (a.inet > InetKind::kMaxValue)
        return Fail(i, "unknown inet socket kind (tcp, udp, tcp6, udp6)");
      if (a.flags &
          ~(kFlagOob | kFlagDontwait | kFlagPeek | kFlagFaultCbuf | kFlagFaultData | kFlagPath))
        return Fail(i, "unknown flag");
      if ((a.flags & kFlagPath) && a.op != Op::kBind && a.op != Op::kConnect &&
          a.op != Op::kUnlink)
        return Fail(i, "a path address is for bind, connect and unlink");
      if ((a.flags & (kFlagFaultCbuf | kFlagFaultData)) && a.op != Op::kRecv)
        return Fail(i, "'fault' is for recv");
      if ((a.flags & kFlagPeek) && a.op != Op::kRecv) return Fail(i, "'peek' is for recv");
      if ((a.flags & (kFlagOob | kFlagDontwait)) && a.op != Op::kRecv && a.op != Op::kSend)
        return Fail(i, "'oob' and 'dontwait' are for send and recv");
      if (!a.expect && !a.expect_or.empty())
        return Fail(i, "expect= alternatives without a first one");
      if (a.expect_or.size() + 1 > Bounds::kMaxExpectAlternatives)
        return Fail(i, fmt::format("expect= lists at most {} alternatives",
                                   Bounds::kMaxExpectAlternatives));
      {
        const std::vector<int> outcomes = ExpectedOutcomes(a);
        for (size_t k = 0; k < outcomes.size(); ++k) {
          if (outcomes[k] < 0 || outcomes[k] > 4095) return Fail(i, "bad expected errno");
          for (size_t j = 0; j < k; ++j)
            if (outcomes[j] == outcomes[k])
              return Fail(i, "an outcome listed twice in expect=");
        }
      }

      // Per-op operands and bounds.
      switch (a.op) {
        case Op::kBind:
        case Op::kConnect:
        case Op::kUnlink:
          if (a.op == Op::kUnlink && !(a.flags & kFlagPath))
            return Fail(i, "unlink takes a path in the run's own directory: ./name");
          if ((a.flags & kFlagPath) && !IsPathName(a.addr))
            return Fail(i, fmt::format("a path is ./ and 1 to {} of [A-Za-z0-9_.-], not "
                                       "starting with '.'",
                                       Bounds::kMaxAddrLen));
          if (!IsAddress(a.addr))
            return Fail(i, fmt::format("an address is @ and 1 to {} of [A-Za-z0-9_.-]",
                                       Bounds::kMaxAddrLen));
          break;
        case Op::kListen:
          if (a.backlog > Bounds::kMaxBacklog)
            return Fail(i, fmt::format("backlog is at most {}", Bounds::kMaxBacklog));
          break;
        case Op::kSend: {
          uint32_t n = 0;
          for (const Right& r : a.rights) {
            if (auto e = NeedBound(i, a.proc, r.var)) return e;
            if (r.count == 0) return Fail(i, "a repeat count is at least 1");
            n += r.count;
          }
          if (a.rights.size() > Bounds::kMaxRightsEntries)
            return Fail(i, fmt::format("a send's list has at most {} entries",
                                       Bounds::kMaxRightsEntries));
          if (n > Bounds::kMaxRightsPerSend)
            return Fail(i, fmt::format("one send lists at most {} descriptors (the kernel "
                                       "refuses more than {} with EINVAL)",
                                       Bounds::kMaxRightsPerSend, Bounds::kScmMaxFd));
          rights_total += n;
          if (rights_total > Bounds::kMaxRightsTotal)
            return Fail(i, fmt::format("at most {} descriptors passed over the scenario",
                                       Bounds::kMaxRightsTotal));
          if (a.cmsgs < 1 || a.cmsgs > Bounds::kMaxCmsgs)
            return Fail(i, fmt::format("cmsgs is 1 to {}", Bounds::kMaxCmsgs));
          if (a.cmsgs > 1 && n == 0)
            return Fail(i, "cmsgs needs descriptors to split; empty=N sends messages with none");
          if (a.empty > Bounds::kMaxCmsgs || (n > 0 ? a.cmsgs : 0) + a.empty > Bounds::kMaxCmsgs)
            return Fail(i, fmt::format("cmsgs and empty add up to at most {} control messages",
                                       Bounds::kMaxCmsgs));
          if (a.bytes > Bounds::kMaxBytes)
            return Fail(i, fmt::format("bytes is at most {}", Bounds::kMaxBytes));
          if (a.creds > CredsAt::kMaxValue) return Fail(i, "creds is before or after");
          break;
        }
        case Op::kRecv:
          if (a.cred_proc != kNoProc && (a.cred_proc >= s.procs.size() ||
                                         state[a.cred_proc] == ProcState::kNotStarted))
            return Fail(i, "creds= names a process that has not started here");
          if (a.bytes > Bounds::kMaxBytes)
            return Fail(i, fmt::format("bytes is at most {}", Bounds::kMaxBytes));
          if (a.max < 1 || a.max > Bounds::kScmMaxFd)
            return Fail(i, fmt::format("max is 1 to {}", Bounds::kScmMaxFd));
          if (a.out.size() > a.max) return Fail(i, "recv binds more variables than max");
          if (a.ctrunc < -1 || a.ctrunc >= static_cast<int>(a.max))
            return Fail(i, "ctrunc is 0 to max-1 (fds the short control buffer holds)");
          if (a.cbuf < -1 || a.cbuf > Bounds::kMaxCbuf)
            return Fail(i, fmt::format("cbuf is 0 to {} bytes", Bounds::kMaxCbuf));
          if (a.cbuf >= 0 && a.ctrunc >= 0)
            return Fail(i, "ctrunc and cbuf both size the control buffer: give one");
          if (a.nofile > Bounds::kMaxNofile)
            return Fail(i, fmt::format("nofile is at most {}", Bounds::kMaxNofile));
          if ((a.flags & kFlagFaultCbuf) && (a.cbuf == 0 || (a.cbuf < 0 && a.ctrunc == 0)))
            return Fail(i, "fault=cbuf needs a control buffer (not ctrunc=0 or cbuf=0)");
          if ((a.flags & kFlagFaultData) && a.bytes == 0)
            return Fail(i, "fault=data needs a data buffer (bytes=1 or more)");
          if (a.same.size() > Bounds::kMaxSameSlots)
            return Fail(i, fmt::format("is= names at most {} slots", Bounds::kMaxSameSlots));
          if (a.same.size() > a.out.size())
            return Fail(i, fmt::format("is= names {} slot(s), recv binds {} variable(s): one "
                                       "name per output",
                                       a.same.size(), a.out.size()));
          for (VarId v : a.same) {
            if (v == kNoVar) continue;
            if (v >= s.vars.size()) return Fail(i, "variable index out of range");
            if (!CreationOf(s, idx, v))
              return Fail(i, fmt::format("is=: no action above creates '{}' (an output of "
                                         "socketpair, socket, accept, pipe, file, memfd, "
                                         "eventfd, epoll, pidfd, io_uring or timerfd)",
                                         VarName(v)));
          }
          break;
        case Op::kLimit:
          if (a.nofile < 1 || a.nofile > Bounds::kMaxNofile)
            return Fail(i, fmt::format("limit nofile is 1 to {}", Bounds::kMaxNofile));
          break;
        case Op::kSetsockopt:
          if (a.sockopt > SockOpt::kMaxValue) return Fail(i, "unknown socket option");
          if ((a.sockopt == SockOpt::kPassrights || a.sockopt == SockOpt::kPasscred) &&
              a.optval > 1)
            return Fail(i, fmt::format("{} is 0 or 1", SockOptName(a.sockopt)));
          if ((a.sockopt == SockOpt::kSndbuf || a.sockopt == SockOpt::kRcvbuf) &&
              (a.optval < 1 || a.optval > Bounds::kMaxSockBuf))
            return Fail(i, fmt::format("{} is 1 to {} bytes", SockOptName(a.sockopt),
                                       Bounds::kMaxSockBuf));
          break;
        case Op::kSleep:
          if (a.sleep_ms > Bounds::kMaxSleepMs)
            return Fail(i, fmt::format("sleep is at most {} ms", Bounds::kMaxSleepMs));
          break;
        case Op::kFork:
          if (a.other >= s.procs.size()) return Fail(i, "fork needs a new process name");
          if (state[a.other] != ProcState::kNotStarted)
            return Fail(i, fmt::format("process '{}' is forked twice", ProcName(a.other)));
          break;
        case Op::kKill:
          if (a.other >= s.procs.size()) return Fail(i, "kill needs a process name");
          if (a.other == a.proc) return Fail(i, "a process cannot kill itself; use exit");
          if (state[a.other] != ProcState::kRunning)
            return Fail(i, fmt::format("process '{}' is not running here", ProcName(a.other)));
          break;
        case Op::kPidfd:
          if (a.other >= s.procs.size()) return Fail(i, "pidfd needs a process name");
          if (state[a.other] == ProcState::kNotStarted)
            return Fail(i, fmt::format("process '{}' is not forked yet", ProcName(a.other)));
          break;
        case Op::kEpollAdd:
          if (auto e = NeedBound(i, a.proc, a.target2)) return e;
          break;
        default:
          if (a.other != kNoProc) return Fail(i, "unexpected process operand");
          break;
      }
      if (a.op != Op::kFork && a.op != Op::kKill && a.op != Op::kPidfd && a.other != kNoProc)
        return Fail(i, "unexpected process operand");
      if (a.op != Op::kEpollAdd && a.target2 != kNoVar)
        return Fail(i, "unexpected second descriptor");
      if (auto e = CheckUnusedFields(i, a)) return e;

      // Outputs: distinct, not currently open.
      for (size_t k = 0; k < a.out.size(); ++k) {
        VarId v = a.out[k];
        if (v >= s.vars.size()) return Fail(i, "variable index out of range");
        for (size_t j = 0; j < k; ++j)
          if (a.out[j] == v) return Fail(i, fmt::format("'{}' is bound twice", VarName(v)));
        if (bound[a.proc][v])
          return Fail(i, fmt::format("'{}' is still open in process '{}'; close it first",
                                     VarName(v), ProcName(a.proc)));
      }
      objects += static_cast<uint32_t>(a.out.size());
      if (objects > Bounds::kMaxObjects)
        return Fail(i, fmt::format("at most {} descriptors created", Bounds::kMaxObjects));

      // Effects on the static state.
      for (VarId v : a.out) bound[a.proc][v] = true;
      switch (a.op) {
        case Op::kClose:
          bound[a.proc][a.target] = false;
          break;
        case Op::kFork:
          state[a.other] = ProcState::kRunning;
          bound[a.other] = bound[a.proc];
          break;
        case Op::kExit:
          state[a.proc] = ProcState::kEnded;
          break;
        case Op::kKill:
          state[a.other] = ProcState::kEnded;
          break;
        default:
          break;
      }
    }
    for (size_t p = 1; p < s.procs.size(); ++p)
      if (state[p] == ProcState::kNotStarted)
        return Fail(-1, fmt::format("process '{}' is never forked", s.procs[p]));
    return std::nullopt;
  }
};

}  // namespace

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > Bounds::kMaxNameLen || !IsIdentStart(s[0])) return false;
  for (char c : s)
    if (!IsIdentChar(c)) return false;
  return true;
}

bool IsAddress(std::string_view s) {
  if (s.empty() || s.size() > Bounds::kMaxAddrLen) return false;
  for (char c : s)
    if (!IsIdentChar(c) && c != '.' && c != '-') return false;
  return true;
}

bool IsPathName(std::string_view s) {
  return IsAddress(s) && s.front() != '.';
}

std::optional<ValidationError> Validate(const Scenario& s) {
  return Checker{s, {}, {}}.Run();
}

}  // namespace inflight
