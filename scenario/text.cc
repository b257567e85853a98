// Parser and canonical printer for the .scn text form (grammar: docs/scenario.md).
#include "scenario/text.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "base/errno_names.h"
#include "scenario/bounds.h"
#include "scenario/validate.h"

namespace inflight {

ParseError::ParseError(std::string file, uint32_t line, uint32_t col, std::string message)
    : std::runtime_error(fmt::format("{}:{}:{}: {}", file, line, col, message)),
      file_(std::move(file)),
      line_(line),
      col_(col),
      message_(std::move(message)) {}

namespace {

struct Token {
  std::string_view text;
  uint32_t col;  // 1-based
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

// "# text" -> "text"; "#" -> "".
std::string CommentText(std::string_view after_hash) {
  if (!after_hash.empty() && after_hash.front() == ' ') after_hash.remove_prefix(1);
  return std::string(TrimRight(after_hash));
}

// Calls fn(item, column) for each comma-separated item of a key's value (fault=cbuf,data,
// is=a,-,c); `col` is the value's first column. Empty items are passed on, for fn to judge.
template <typename Fn>
void ForEachListItem(std::string_view value, uint32_t col, Fn&& fn) {
  size_t from = 0;
  for (;;) {
    const size_t comma = value.find(',', from);
    fn(value.substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from),
       col + static_cast<uint32_t>(from));
    if (comma == std::string_view::npos) return;
    from = comma + 1;
  }
}

// Splits on blanks; '[' and ']' are tokens of their own.
std::vector<Token> Tokenize(std::string_view body) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < body.size()) {
    if (IsSpace(body[i])) {
      ++i;
      continue;
    }
    if (body[i] == '[' || body[i] == ']') {
      out.push_back({body.substr(i, 1), static_cast<uint32_t>(i + 1)});
      ++i;
      continue;
    }
    size_t j = i;
    while (j < body.size() && !IsSpace(body[j]) && body[j] != '[' && body[j] != ']') ++j;
    out.push_back({body.substr(i, j - i), static_cast<uint32_t>(i + 1)});
    i = j;
  }
  return out;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  Scenario Parse() {
    if (text_.size() > Bounds::kMaxTextBytes)
      Fail(1, 1, fmt::format("file larger than {} bytes", Bounds::kMaxTextBytes));
    enum { kPreamble, kHeader, kBody } where = kPreamble;
    std::vector<std::string> pending_comments;
    bool pending_blank = false;
    uint32_t lineno = 0;
    size_t start = 0;
    while (start <= text_.size()) {
      size_t end = text_.find('\n', start);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view raw = text_.substr(start, end - start);
      start = end + 1;
      ++lineno;
      if (end == text_.size() && raw.empty()) break;  // final newline
      for (size_t k = 0; k < raw.size(); ++k) {
        unsigned char c = static_cast<unsigned char>(raw[k]);
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
          Fail(lineno, static_cast<uint32_t>(k + 1), "control character in text");
      }
      std::string_view line = TrimRight(raw);
      std::string_view content = TrimLeft(line);
      const uint32_t indent = static_cast<uint32_t>(line.size() - content.size());
      if (content.empty()) {
        if (where == kHeader && !s_.actions.empty()) where = kBody;
        pending_blank = true;
        continue;
      }
      if (content.front() == '#') {
        std::string c = CommentText(content.substr(1));
        if (where == kPreamble) {
          s_.preamble.push_back(std::move(c));
        } else {
          // A comment below the header lines ends the header: it belongs to the first
          // action (an 'about' or 'ref' after it is an error that says so).
          where = kBody;
          pending_comments.push_back(std::move(c));
        }
        continue;
      }
      std::string_view word = content.substr(0, content.find_first_of(" \t"));
      if (word == "scenario" || word == "about" || word == "ref") {
        if (where == kBody || !s_.actions.empty())
          Fail(lineno, indent + 1, fmt::format("'{}' belongs in the header", word));
        std::string rest(TrimLeft(content.substr(word.size())));
        if (word == "scenario") {
          if (where != kPreamble) Fail(lineno, indent + 1, "a second 'scenario' line");
          if (!IsIdentifier(rest))
            Fail(lineno, indent + 10, "the scenario name is an identifier: [A-Za-z_][A-Za-z0-9_]*");
          s_.name = rest;
          where = kHeader;
        } else {
          if (where == kPreamble) Fail(lineno, indent + 1, "the file starts with 'scenario NAME'");
          if (rest.empty()) Fail(lineno, indent + 1, fmt::format("'{}' needs text", word));
          (word == "about" ? s_.about : s_.refs).push_back(rest);
        }
        pending_blank = false;
        continue;
      }
      if (where == kPreamble) Fail(lineno, indent + 1, "the file starts with 'scenario NAME'");
      where = kBody;
      Action a = ParseAction(content, lineno, indent);
      a.comments = std::move(pending_comments);
      pending_comments.clear();
      a.blank_before = pending_blank && !s_.actions.empty();
      pending_blank = false;
      s_.actions.push_back(std::move(a));
      if (s_.actions.size() > Bounds::kMaxActions)
        Fail(lineno, indent + 1, fmt::format("more than {} actions", Bounds::kMaxActions));
    }
    if (where == kPreamble) Fail(lineno, 1, "no 'scenario NAME' line");
    s_.epilogue = std::move(pending_comments);
    if (auto err = Validate(s_)) {
      if (err->action < 0) Fail(1, 1, err->message);
      const SourcePos& pos = s_.actions[err->action].pos;
      Fail(pos.line, pos.col, err->message);
    }
    return std::move(s_);
  }

 private:
  [[noreturn]] void Fail(uint32_t line, uint32_t col, std::string msg) {
    throw ParseError(std::string(file_), line, col, std::move(msg));
  }

  uint8_t Intern(std::vector<std::string>& names, std::string_view name, size_t limit,
                 const char* what, uint32_t line, uint32_t col) {
    if (!IsIdentifier(name))
      Fail(line, col, fmt::format("a {} name is an identifier: [A-Za-z_][A-Za-z0-9_]*", what));
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return static_cast<uint8_t>(i);
    if (names.size() >= limit) Fail(line, col, fmt::format("more than {} {} names", limit, what));
    names.emplace_back(name);
    return static_cast<uint8_t>(names.size() - 1);
  }
  VarId Var(const Token& t, uint32_t line) {
    return Intern(s_.vars, t.text, Bounds::kMaxVars, "variable", line, t.col);
  }
  ProcId Proc(const Token& t, uint32_t line) {
    return Intern(s_.procs, t.text, Bounds::kMaxProcs, "process", line, t.col);
  }

  uint32_t Number(std::string_view text, uint32_t limit, uint32_t line, uint32_t col,
                  const char* what) {
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
      Fail(line, col, fmt::format("{} takes a decimal number", what));
    if (v > limit) Fail(line, col, fmt::format("{} is at most {}", what, limit));
    return v;
  }

  Action ParseAction(std::string_view content, uint32_t line, uint32_t indent) {
    Action a;
    std::string_view body = content;
    size_t hash = content.find('#');
    if (hash != std::string_view::npos) {
      a.note = CommentText(content.substr(hash + 1));
      body = TrimRight(content.substr(0, hash));
    }
    std::vector<Token> toks = Tokenize(body);
    for (auto& t : toks) t.col += indent;
    size_t i = 0;
    // "proc:" or "proc :"
    if (toks.empty()) Fail(line, indent + 1, "expected 'process: action'");
    Token proc_tok = toks[0];
    if (proc_tok.text.size() > 1 && proc_tok.text.back() == ':') {
      proc_tok.text.remove_suffix(1);
      i = 1;
    } else if (toks.size() > 1 && toks[1].text == ":") {
      i = 2;
    } else {
      Fail(line, toks[0].col, "an action starts with the process name and a colon: 'p0: ...'");
    }
    a.proc = Proc(proc_tok, line);
    // Outputs before a lone '='.
    size_t eq = toks.size();
    for (size_t k = i; k < toks.size(); ++k)
      if (toks[k].text == "=") {
        eq = k;
        break;
      }
    if (eq < toks.size()) {
      if (eq == i) Fail(line, toks[eq].col, "'=' needs variable names on its left");
      for (size_t k = i; k < eq; ++k) a.out.push_back(Var(toks[k], line));
      i = eq + 1;
    }
    if (i >= toks.size()) Fail(line, toks.back().col, "expected an action name");
    const Token& op_tok = toks[i++];
    auto op = OpFromName(op_tok.text);
    if (!op) Fail(line, op_tok.col, fmt::format("unknown action '{}'", op_tok.text));
    a.op = *op;
    a.pos = {line, op_tok.col};
    const int arity = OutputArity(a.op);
    if (arity >= 0 && a.out.size() != static_cast<size_t>(arity)) {
      Fail(line, op_tok.col,
           arity == 0 ? fmt::format("'{}' binds no variables", op_tok.text)
                      : fmt::format("'{}' binds {} variable(s): {}", op_tok.text, arity,
                                    arity == 2 ? "'a b = ...'" : "'x = ...'"));
    }
    Cursor c{toks, i, line, op_tok};
    ParseOperands(a, c);
    return a;
  }

  struct Cursor {
    const std::vector<Token>& toks;
    size_t i;
    uint32_t line;
    Token last;
    bool More() const { return i < toks.size(); }
  };

  const Token& Next(Cursor& c, const char* what) {
    if (!c.More())
      Fail(c.line, c.last.col + static_cast<uint32_t>(c.last.text.size()),
           fmt::format("expected {}", what));
    c.last = c.toks[c.i++];
    return c.last;
  }

  void ParseOperands(Action& a, Cursor& c) {
    const std::string_view opname = OpName(a.op);
    switch (a.op) {
      case Op::kSocketpair:
      case Op::kSocket: {
        const Token& t = Next(c, "a socket type: stream, dgram or seqpacket");
        auto type = SockTypeFromName(t.text);
        if (!type) Fail(c.line, t.col, "socket type is stream, dgram or seqpacket");
        a.type = *type;
        break;
      }
      case Op::kInet: {
        const Token& t = Next(c, "an inet socket kind: tcp, udp, tcp6 or udp6");
        auto kind = InetKindFromName(t.text);
        if (!kind) Fail(c.line, t.col, "inet takes tcp, udp, tcp6 or udp6");
        a.inet = *kind;
        break;
      }
      case Op::kBind:
      case Op::kConnect: {
        a.target = Var(Next(c, "a socket variable"), c.line);
        const Token& t = Next(c, "an address: @name or ./name");
        if (t.text.starts_with("./")) {
          ParsePath(a, t, c.line);
          break;
        }
        if (t.text.size() < 2 || t.text[0] != '@' || !IsAddress(t.text.substr(1)))
          Fail(c.line, t.col,
               fmt::format("an address is '@' and 1 to {} of [A-Za-z0-9_.-], or a path './' and "
                           "such a name",
                           Bounds::kMaxAddrLen));
        a.addr = std::string(t.text.substr(1));
        break;
      }
      case Op::kUnlink: {
        const Token& t = Next(c, "a path: ./name");
        if (!t.text.starts_with("./"))
          Fail(c.line, t.col, "unlink takes a path in the run's own directory: ./name");
        ParsePath(a, t, c.line);
        break;
      }
      case Op::kListen:
        a.target = Var(Next(c, "a socket variable"), c.line);
        a.backlog = Defaults::kBacklog;
        break;
      case Op::kSend:
        a.target = Var(Next(c, "a socket variable"), c.line);
        a.bytes = Defaults::kSendBytes;
        ParseRights(a, c);
        break;
      case Op::kRecv:
        a.target = Var(Next(c, "a socket variable"), c.line);
        a.bytes = Defaults::kRecvBytes;
        a.max = Defaults::kRecvMax;
        break;
      case Op::kAccept:
      case Op::kClose:
      case Op::kDup:
        a.target = Var(Next(c, "a variable"), c.line);
        break;
      case Op::kShutdown: {
        a.target = Var(Next(c, "a socket variable"), c.line);
        const Token& t = Next(c, "rd, wr or rdwr");
        auto how = ShutHowFromName(t.text);
        if (!how) Fail(c.line, t.col, "shutdown takes rd, wr or rdwr");
        a.how = *how;
        break;
      }
      case Op::kFork:
      case Op::kKill:
      case Op::kPidfd: {
        const Token& t = Next(c, "a process name");
        a.other = Proc(t, c.line);
        break;
      }
      case Op::kEpollAdd:
        a.target = Var(Next(c, "an epoll variable"), c.line);
        a.target2 = Var(Next(c, "the descriptor to add"), c.line);
        break;
      case Op::kSetsockopt: {
        a.target = Var(Next(c, "a socket variable"), c.line);
        const Token& t = Next(c, "an option: passrights=0|1, sndbuf=N or rcvbuf=N");
        ParseSockOpt(a, t, c.line);
        break;
      }
      case Op::kSleep: {
        const Token& t = Next(c, "milliseconds");
        a.sleep_ms = Number(t.text, Bounds::kMaxSleepMs, c.line, t.col, "sleep");
        break;
      }
      case Op::kSetuid: {
        const Token& t = Next(c, "'second' (the run's second uid)");
        if (t.text != "second") Fail(c.line, t.col, "setuid takes 'second' (the run's second uid)");
        break;
      }
      case Op::kPipe:
      case Op::kFile:
      case Op::kMemfd:
      case Op::kEventfd:
      case Op::kExit:
      case Op::kBarrier:
      case Op::kEpoll:
      case Op::kIoUring:
      case Op::kTimerfd:
      case Op::kDropCaps:
      case Op::kLimit:
      case Op::kDevnull:
      case Op::kPty:
        break;
    }
    while (c.More()) {
      const Token& t = Next(c, "an option");
      ParseOption(a, t, c.line, opname);
    }
    if (a.op == Op::kLimit && a.nofile == 0)
      Fail(c.line, c.last.col + static_cast<uint32_t>(c.last.text.size()),
           "limit takes nofile=N (the process's RLIMIT_NOFILE from here on)");
  }

  // "./NAME": a path in the run's own directory; NAME as an abstract address, not starting
  // with '.' (so never '.' or '..', and no hidden files).
  void ParsePath(Action& a, const Token& t, uint32_t line) {
    const std::string_view name = t.text.substr(2);
    if (!IsPathName(name))
      Fail(line, t.col + 2,
           fmt::format("a path is './' and 1 to {} of [A-Za-z0-9_.-], not starting with '.'",
                       Bounds::kMaxAddrLen));
    a.addr = std::string(name);
    a.flags |= kFlagPath;
  }

  // setsockopt's one option: passrights=0|1, passcred=0|1, sndbuf=N, rcvbuf=N (N: 1 to the
  // bound).
  void ParseSockOpt(Action& a, const Token& t, uint32_t line) {
    const size_t eq = t.text.find('=');
    const std::string_view key = t.text.substr(0, eq);
    auto opt = SockOptFromName(key);
    if (!opt || eq == std::string_view::npos)
      Fail(line, t.col,
           "setsockopt takes one of passrights=0|1, sndbuf=N, rcvbuf=N, passcred=0|1");
    const std::string_view value = t.text.substr(eq + 1);
    const uint32_t vcol = t.col + static_cast<uint32_t>(eq) + 1;
    a.sockopt = *opt;
    if (*opt == SockOpt::kPassrights || *opt == SockOpt::kPasscred) {
      a.optval = Number(value, 1, line, vcol, SockOptName(*opt).data());
    } else {
      const char* what = *opt == SockOpt::kSndbuf ? "sndbuf" : "rcvbuf";
      a.optval = Number(value, Bounds::kMaxSockBuf, line, vcol, what);
      if (a.optval == 0) Fail(line, vcol, fmt::format("{} is at least 1", what));
    }
  }

  void ParseRights(Action& a, Cursor& c) {
    const Token& open = Next(c, "'[' and the descriptors to pass");
    if (open.text != "[") Fail(c.line, open.col, "send takes a list of descriptors: [a b*3]");
    for (;;) {
      const Token& t = Next(c, "']'");
      if (t.text == "]") break;
      if (t.text == "[") Fail(c.line, t.col, "lists do not nest");
      Right r;
      std::string_view name = t.text;
      size_t star = name.find('*');
      if (star != std::string_view::npos) {
        r.count = static_cast<uint16_t>(Number(name.substr(star + 1), Bounds::kMaxRightsPerSend,
                                               c.line, t.col + static_cast<uint32_t>(star) + 1,
                                               "a repeat count"));
        if (r.count == 0) Fail(c.line, t.col, "a repeat count is at least 1");
        name = name.substr(0, star);
      }
      r.var = Var(Token{name, t.col}, c.line);
      a.rights.push_back(r);
      if (a.rights.size() > Bounds::kMaxRightsEntries)
        Fail(c.line, t.col,
             fmt::format("a send's list has at most {} entries", Bounds::kMaxRightsEntries));
    }
  }

  void ParseOption(Action& a, const Token& t, uint32_t line, std::string_view opname) {
    std::string_view key = t.text, value;
    size_t eq = key.find('=');
    const bool has_value = eq != std::string_view::npos;
    if (has_value) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    const uint32_t vcol = t.col + static_cast<uint32_t>(key.size()) + 1;
    auto need = [&](bool allowed) {
      if (!allowed) Fail(line, t.col, fmt::format("'{}' does not take '{}'", opname, key));
    };
    auto flag = [&](uint8_t bit) {
      if (has_value) Fail(line, t.col, fmt::format("'{}' takes no value", key));
      if (a.flags & bit) Fail(line, t.col, fmt::format("'{}' given twice", key));
      a.flags |= bit;
    };
    const bool send = a.op == Op::kSend, recv = a.op == Op::kRecv;
    if (key == "expect") {
      if (!has_value)
        Fail(line, t.col, "expect=ok or expect=ERRNO, e.g. expect=EAGAIN or expect=ok|ETOOMANYREFS");
      if (a.expect) Fail(line, t.col, "'expect' given twice");
      std::vector<int> outcomes;
      size_t from = 0;
      for (;;) {
        const size_t bar = value.find('|', from);
        const std::string_view name =
            value.substr(from, bar == std::string_view::npos ? std::string_view::npos : bar - from);
        const uint32_t col = vcol + static_cast<uint32_t>(from);
        int e = 0;
        if (name == "ok") {
          e = 0;
        } else if (auto n = ErrnoFromName(name)) {
          e = *n;
        } else if (name.empty()) {
          Fail(line, col, "an empty alternative in expect= (write expect=A|B)");
        } else {
          Fail(line, col, fmt::format("unknown errno name '{}'", name));
        }
        for (int seen : outcomes)
          if (seen == e) Fail(line, col, fmt::format("'{}' listed twice in expect=", name));
        outcomes.push_back(e);
        if (outcomes.size() > Bounds::kMaxExpectAlternatives)
          Fail(line, col,
               fmt::format("expect= lists at most {} alternatives", Bounds::kMaxExpectAlternatives));
        if (bar == std::string_view::npos) break;
        from = bar + 1;
      }
      a.expect = outcomes[0];
      a.expect_or.assign(outcomes.begin() + 1, outcomes.end());
      return;
    }
    if (SockOptFromName(key)) {
      if (a.op == Op::kSetsockopt) Fail(line, t.col, "setsockopt sets one option; write one action each");
      need(false);
    }
    if (key == "oob") return need(send || recv), flag(kFlagOob);
    if (key == "dontwait") return need(send || recv), flag(kFlagDontwait);
    if (key == "peek") return need(recv), flag(kFlagPeek);
    if (!has_value) Fail(line, t.col, fmt::format("unknown option '{}' for '{}'", key, opname));
    if (key == "bytes") {
      need(send || recv);
      a.bytes = static_cast<uint16_t>(Number(value, Bounds::kMaxBytes, line, vcol, "bytes"));
    } else if (key == "cmsgs") {
      need(send);
      a.cmsgs = static_cast<uint16_t>(Number(value, Bounds::kMaxCmsgs, line, vcol, "cmsgs"));
    } else if (key == "ctrunc") {
      need(recv);
      a.ctrunc =
          static_cast<int16_t>(Number(value, Bounds::kScmMaxFd, line, vcol, "ctrunc"));
    } else if (key == "cbuf") {
      need(recv);
      a.cbuf = static_cast<int16_t>(Number(value, Bounds::kMaxCbuf, line, vcol, "cbuf"));
    } else if (key == "empty") {
      need(send);
      a.empty = static_cast<uint16_t>(Number(value, Bounds::kMaxCmsgs, line, vcol, "empty"));
    } else if (key == "nofile") {
      need(recv || a.op == Op::kLimit);
      if (a.nofile != 0) Fail(line, t.col, "'nofile' given twice");
      a.nofile = static_cast<uint16_t>(Number(value, Bounds::kMaxNofile, line, vcol, "nofile"));
      if (a.nofile == 0) Fail(line, vcol, "nofile is at least 1");
    } else if (key == "creds" && send) {
      if (a.creds != CredsAt::kNone) Fail(line, t.col, "'creds' given twice");
      auto at = CredsAtFromName(value);
      if (!at) Fail(line, vcol, "a send's creds= is 'before' or 'after' (its rights messages)");
      a.creds = *at;
    } else if (key == "creds" && recv) {
      if (a.cred_proc != kNoProc) Fail(line, t.col, "'creds' given twice");
      auto it = std::find(s_.procs.begin(), s_.procs.end(), value);
      if (it == s_.procs.end())
        Fail(line, vcol,
             fmt::format("creds={} names no process of the graph so far", value));
      a.cred_proc = static_cast<ProcId>(it - s_.procs.begin());
    } else if (key == "max") {
      need(recv);
      a.max = static_cast<uint16_t>(Number(value, Bounds::kScmMaxFd, line, vcol, "max"));
    } else if (key == "fault") {
      need(recv);
      if (a.flags & (kFlagFaultCbuf | kFlagFaultData)) Fail(line, t.col, "'fault' given twice");
      // fault=cbuf, fault=data or fault=cbuf,data: those buffers are a PROT_NONE page.
      uint8_t bits = 0;
      ForEachListItem(value, vcol, [&](std::string_view name, uint32_t col) {
        const uint8_t bit = name == "cbuf"   ? kFlagFaultCbuf
                            : name == "data" ? kFlagFaultData
                                             : 0;
        if (bit == 0) Fail(line, col, "fault= is cbuf, data or cbuf,data");
        if (bits & bit) Fail(line, col, fmt::format("'{}' listed twice in fault=", name));
        bits |= bit;
      });
      a.flags |= bits;
    } else if (key == "is") {
      need(recv);
      if (!a.same.empty()) Fail(line, t.col, "'is' given twice");
      // is=a,-,c: one variable name (or '-', unchecked) per output, from the first.
      ForEachListItem(value, vcol, [&](std::string_view name, uint32_t col) {
        if (name.empty())
          Fail(line, col, "is= lists variable names or '-', comma-separated: is=a,-,c");
        if (a.same.size() >= Bounds::kMaxSameSlots)
          Fail(line, col, fmt::format("is= names at most {} slots", Bounds::kMaxSameSlots));
        a.same.push_back(name == "-" ? kNoVar : Var(Token{name, col}, line));
      });
    } else if (key == "backlog") {
      need(a.op == Op::kListen);
      a.backlog = static_cast<uint16_t>(Number(value, Bounds::kMaxBacklog, line, vcol, "backlog"));
    } else {
      Fail(line, t.col, fmt::format("unknown option '{}' for '{}'", key, opname));
    }
  }

  std::string_view text_;
  std::string_view file_;
  Scenario s_;
};

void AppendComment(std::string& out, const std::string& c) {
  out += c.empty() ? "#\n" : "# " + c + "\n";
}

}  // namespace

Scenario ParseScenario(std::string_view text, std::string_view file) {
  return Parser(text, file).Parse();
}

Scenario LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ParseError(path, 0, 0, "cannot open the file");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > Bounds::kMaxTextBytes)
      throw ParseError(path, 0, 0, fmt::format("larger than {} bytes", Bounds::kMaxTextBytes));
  }
  if (in.bad()) throw ParseError(path, 0, 0, "read error");
  return ParseScenario(text, path);
}

std::string PrintAction(const Scenario& s, const Action& a) {
  std::string out;
  for (size_t k = 0; k < a.out.size(); ++k) {
    out += s.vars[a.out[k]];
    out += ' ';
  }
  if (!a.out.empty()) out += "= ";
  out += OpName(a.op);
  auto var = [&](VarId v) {
    out += ' ';
    out += v < s.vars.size() ? s.vars[v] : std::string("?");
  };
  switch (a.op) {
    case Op::kSocketpair:
    case Op::kSocket:
      out += ' ';
      out += SockTypeName(a.type);
      break;
    case Op::kInet:
      out += ' ';
      out += InetKindName(a.inet);
      break;
    case Op::kBind:
    case Op::kConnect:
      var(a.target);
      out += " " + AddressText(a);
      break;
    case Op::kUnlink:
      out += " " + AddressText(a);
      break;
    case Op::kListen:
      var(a.target);
      if (a.backlog != Defaults::kBacklog) out += fmt::format(" backlog={}", a.backlog);
      break;
    case Op::kSend: {
      var(a.target);
      out += " [";
      for (size_t k = 0; k < a.rights.size(); ++k) {
        if (k) out += ' ';
        out += s.vars[a.rights[k].var];
        if (a.rights[k].count != 1) out += fmt::format("*{}", a.rights[k].count);
      }
      out += ']';
      if (a.flags & kFlagOob) out += " oob";
      if (a.flags & kFlagDontwait) out += " dontwait";
      if (a.cmsgs != 1) out += fmt::format(" cmsgs={}", a.cmsgs);
      if (a.empty != 0) out += fmt::format(" empty={}", a.empty);
      if (a.creds != CredsAt::kNone) out += fmt::format(" creds={}", CredsAtName(a.creds));
      if (a.bytes != Defaults::kSendBytes) out += fmt::format(" bytes={}", a.bytes);
      break;
    }
    case Op::kRecv:
      var(a.target);
      if (a.flags & kFlagPeek) out += " peek";
      if (a.flags & kFlagOob) out += " oob";
      if (a.flags & kFlagDontwait) out += " dontwait";
      if (a.ctrunc >= 0) out += fmt::format(" ctrunc={}", a.ctrunc);
      if (a.cbuf >= 0) out += fmt::format(" cbuf={}", a.cbuf);
      if (a.nofile != 0) out += fmt::format(" nofile={}", a.nofile);
      if (a.max != Defaults::kRecvMax) out += fmt::format(" max={}", a.max);
      if (a.bytes != Defaults::kRecvBytes) out += fmt::format(" bytes={}", a.bytes);
      if (a.flags & (kFlagFaultCbuf | kFlagFaultData)) {
        const bool cbuf = a.flags & kFlagFaultCbuf, data = a.flags & kFlagFaultData;
        out += cbuf && data ? " fault=cbuf,data" : cbuf ? " fault=cbuf" : " fault=data";
      }
      for (size_t k = 0; k < a.same.size(); ++k) {
        out += k == 0 ? " is=" : ",";
        out += a.same[k] == kNoVar ? std::string("-") : s.vars[a.same[k]];
      }
      if (a.cred_proc != kNoProc)
        out += " creds=" + (a.cred_proc < s.procs.size() ? s.procs[a.cred_proc] : std::string("?"));
      break;
    case Op::kAccept:
    case Op::kClose:
    case Op::kDup:
      var(a.target);
      break;
    case Op::kShutdown:
      var(a.target);
      out += ' ';
      out += ShutHowName(a.how);
      break;
    case Op::kFork:
    case Op::kKill:
    case Op::kPidfd:
      out += ' ';
      out += a.other < s.procs.size() ? s.procs[a.other] : std::string("?");
      break;
    case Op::kEpollAdd:
      var(a.target);
      var(a.target2);
      break;
    case Op::kSleep:
      out += fmt::format(" {}", a.sleep_ms);
      break;
    case Op::kSetuid:
      out += " second";
      break;
    case Op::kLimit:
      out += fmt::format(" nofile={}", a.nofile);
      break;
    case Op::kSetsockopt:
      var(a.target);
      out += fmt::format(" {}={}", SockOptName(a.sockopt), a.optval);
      break;
    default:
      break;
  }
  const std::vector<int> outcomes = ExpectedOutcomes(a);
  for (size_t k = 0; k < outcomes.size(); ++k) {
    out += k == 0 ? " expect=" : "|";
    out += outcomes[k] == 0 ? std::string("ok") : ErrnoName(outcomes[k]);
  }
  return out;
}

std::string PrintScenario(const Scenario& s) {
  std::string out;
  for (const auto& c : s.preamble) AppendComment(out, c);
  out += "scenario " + s.name + "\n";
  for (const auto& l : s.about) out += "about " + l + "\n";
  for (const auto& l : s.refs) out += "ref " + l + "\n";
  out += "\n";
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const Action& a = s.actions[i];
    if (a.blank_before && i > 0) out += "\n";
    for (const auto& c : a.comments) AppendComment(out, c);
    out += s.procs[a.proc] + ": " + PrintAction(s, a);
    if (!a.note.empty()) out += "  # " + a.note;
    out += "\n";
  }
  for (const auto& c : s.epilogue) AppendComment(out, c);
  return out;
}

void Canonicalize(Scenario& s) {
  std::vector<int> pmap(s.procs.size(), -1), vmap(s.vars.size(), -1);
  std::vector<std::string> procs, vars;
  auto proc = [&](ProcId& p) {
    if (p >= pmap.size()) return;
    if (pmap[p] < 0) {
      pmap[p] = static_cast<int>(procs.size());
      procs.push_back(s.procs[p]);
    }
    p = static_cast<ProcId>(pmap[p]);
  };
  auto var = [&](VarId& v) {
    if (v >= vmap.size()) return;
    if (vmap[v] < 0) {
      vmap[v] = static_cast<int>(vars.size());
      vars.push_back(s.vars[v]);
    }
    v = static_cast<VarId>(vmap[v]);
  };
  // Same visiting order as the parser: proc, outputs, operands left to right.
  for (Action& a : s.actions) {
    proc(a.proc);
    for (VarId& v : a.out) var(v);
    if (a.op == Op::kFork || a.op == Op::kKill || a.op == Op::kPidfd) proc(a.other);
    if (a.op == Op::kRecv) proc(a.cred_proc);
    var(a.target);
    var(a.target2);
    for (Right& r : a.rights) var(r.var);
    for (VarId& v : a.same) var(v);  // kNoVar ('-') stays
  }
  for (size_t p = 0; p < s.procs.size(); ++p)  // never-acting processes keep a place
    if (pmap[p] < 0) procs.push_back(s.procs[p]);
  s.procs = std::move(procs);
  s.vars = std::move(vars);
}

}  // namespace inflight
