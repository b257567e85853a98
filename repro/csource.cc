// The C emitter: a fixed supervisor (namespace, census, settling, verdict), the helpers
// the scenario's operations need, and one function per process with a commented block
// per step.
#include "repro/csource.h"

#include <fmt/core.h>

#include <map>
#include <set>

#include "base/errno_names.h"
#include "scenario/text.h"

namespace inflight {

namespace {

// Helpers, emitted only when used (so that -Wall -Werror sees no unused function).
struct Helper {
  const char* name;
  std::vector<const char*> needs;
  const char* code;
};

const Helper kHelpers[] = {
    {"record", {}, R"(/* Notes what a step did: its errno when the call failed. */
static void record(int step, long ret)
{
	sh->err[step] = ret < 0 ? errno : 0;
	sh->status[step] = ret < 0 ? STEP_FAILED : STEP_OK;
}
)"},
    {"skip",
     {},
     R"(/* A step whose descriptor is not open in this process is skipped, not failed. */
static void skip(int step)
{
	sh->status[step] = STEP_SKIPPED;
}
)"},
    {"do_socketpair",
     {"record"},
     R"(/* a b = socketpair TYPE (non-blocking, like every socket of a lockstep run) */
static void do_socketpair(int step, int type, int out0, int out1)
{
	int sv[2];
	int r = socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);

	record(step, r);
	if (r == 0) {
		fd[out0] = sv[0];
		fd[out1] = sv[1];
	}
}
)"},
    {"do_socket", {"record"}, R"(/* s = socket TYPE */
static void do_socket(int step, int type, int out)
{
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	record(step, s);
	if (s >= 0)
		fd[out] = s;
}
)"},
    {"abstract_addr",
     {},
     R"(/* An abstract AF_UNIX address (a NUL byte, then the name): private to the namespace. */
static socklen_t abstract_addr(struct sockaddr_un *sun, const char *name)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}
)"},
    {"do_bind", {"record", "skip", "abstract_addr"}, R"(/* bind s @NAME */
static void do_bind(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(&sun, name);

	if (fd[s] < 0) {
		skip(step);
		return;
	}
	record(step, bind(fd[s], (struct sockaddr *)&sun, len));
}
)"},
    {"do_connect",
     {"record", "skip", "abstract_addr"},
     R"(/* connect s @NAME: to a listener this queues an embryo */
static void do_connect(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(&sun, name);

	if (fd[s] < 0) {
		skip(step);
		return;
	}
	record(step, connect(fd[s], (struct sockaddr *)&sun, len));
}
)"},
    {"do_listen", {"record", "skip"}, R"(/* listen s backlog=N */
static void do_listen(int step, int s, int backlog)
{
	if (fd[s] < 0) {
		skip(step);
		return;
	}
	record(step, listen(fd[s], backlog));
}
)"},
    {"do_accept", {"record", "skip"}, R"(/* c = accept s */
static void do_accept(int step, int s, int out)
{
	int c;

	if (fd[s] < 0) {
		skip(step);
		return;
	}
	c = accept4(fd[s], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	record(step, c);
	if (c >= 0)
		fd[out] = c;
}
)"},
    {"do_pipe", {"record"}, R"(/* r w = pipe */
static void do_pipe(int step, int out0, int out1)
{
	int p[2];
	int r = pipe2(p, O_CLOEXEC | O_NONBLOCK);

	record(step, r);
	if (r == 0) {
		fd[out0] = p[0];
		fd[out1] = p[1];
	}
}
)"},
    {"do_file", {"record"}, R"(/* f = file: an unnamed regular file on a tmpfs */
static void do_file(int step, int out)
{
	int f = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (f < 0)
		f = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	record(step, f);
	if (f >= 0)
		fd[out] = f;
}
)"},
    {"do_memfd", {"record"}, R"(/* m = memfd */
static void do_memfd(int step, int out)
{
	int m = memfd_create("inflight", MFD_CLOEXEC);

	record(step, m);
	if (m >= 0)
		fd[out] = m;
}
)"},
    {"do_eventfd", {"record"}, R"(/* e = eventfd */
static void do_eventfd(int step, int out)
{
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	record(step, e);
	if (e >= 0)
		fd[out] = e;
}
)"},
    {"do_epoll", {"record"}, R"(/* ep = epoll */
static void do_epoll(int step, int out)
{
	int e = epoll_create1(EPOLL_CLOEXEC);

	record(step, e);
	if (e >= 0)
		fd[out] = e;
}
)"},
    {"do_epoll_add", {"record", "skip"}, R"(/* epoll_add ep x: watch x for input. Skipped when either is not open. */
static void do_epoll_add(int step, int ep, int x)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd[ep] < 0 || fd[x] < 0) {
		skip(step);
		return;
	}
	record(step, epoll_ctl(fd[ep], EPOLL_CTL_ADD, fd[x], &ev));
}
)"},
    {"do_pidfd", {"record", "skip"}, R"(/* pd = pidfd OTHER: a pidfd of another process of the graph */
static void do_pidfd(int step, int other, int out)
{
	pid_t pid = sh->pid[other];
	int p;

	if (pid <= 0) {
		skip(step);
		return;
	}
	p = (int)syscall(SYS_pidfd_open, pid, 0);
	record(step, p);
	if (p >= 0) {
		fcntl(p, F_SETFD, FD_CLOEXEC);
		fd[out] = p;
	}
}
)"},
    {"do_io_uring", {"record"}, R"(/* u = io_uring: may be refused by the kernel */
static void do_io_uring(int step, int out)
{
	unsigned char params[120];	/* struct io_uring_params, zeroed */
	int u;

	memset(params, 0, sizeof(params));
	u = (int)syscall(SYS_io_uring_setup, 1, params);
	record(step, u);
	if (u >= 0)
		fd[out] = u;
}
)"},
    {"do_timerfd", {"record"}, R"(/* t = timerfd */
static void do_timerfd(int step, int out)
{
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	record(step, t);
	if (t >= 0)
		fd[out] = t;
}
)"},
    {"do_send", {"record", "skip"}, R"(/*
 * send s [...]: sendmsg with the descriptors of vars[i] counts[i] times each in
 * SCM_RIGHTS, split over ncmsgs control messages (the first ones one longer), and
 * `bytes` bytes of payload. Skipped when s or a descriptor to pass is not open.
 */
static void do_send(int step, int s, const int *vars, const int *counts, int nvars,
		    int ncmsgs, int flags, int bytes)
{
	static char payload[4096];
	static union {
		char buf[4096];
		struct cmsghdr align;
	} control;
	int rights[253];
	int n = 0, used = 0;
	size_t off = 0;
	struct iovec iov;
	struct msghdr msg;

	if (fd[s] < 0) {
		skip(step);
		return;
	}
	for (int i = 0; i < nvars; i++) {
		if (fd[vars[i]] < 0) {
			skip(step);
			return;
		}
		for (int k = 0; k < counts[i]; k++)
			rights[n++] = fd[vars[i]];
	}
	memset(payload, 'x', sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = bytes;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n > 0) {
		memset(control.buf, 0, sizeof(control.buf));
		for (int c = 0; c < ncmsgs; c++) {
			int k = n / ncmsgs + (c < n % ncmsgs ? 1 : 0);
			struct cmsghdr *h = (struct cmsghdr *)(control.buf + off);

			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(k * sizeof(int));
			memcpy(CMSG_DATA(h), rights + used, k * sizeof(int));
			used += k;
			off += CMSG_SPACE(k * sizeof(int));
		}
		msg.msg_control = control.buf;
		msg.msg_controllen = off;
	}
	record(step, sendmsg(fd[s], &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL));
}
)"},
    {"do_recv", {"record", "skip"}, R"(/*
 * x y = recv s: recvmsg; the descriptors received go to outs[] in order, any more stay
 * open in this process until it exits. The control buffer has room for `room`
 * descriptors (fewer than were sent means MSG_CTRUNC: the kernel drops the rest);
 * nofile > 0 lowers RLIMIT_NOFILE for the call (what does not fit is dropped too).
 */
static void do_recv(int step, int s, const int *outs, int nouts, int flags, int room,
		    int bytes, int nofile)
{
	static char data[4096];
	static union {
		char buf[4096];
		struct cmsghdr align;
	} control;
	struct iovec iov;
	struct msghdr msg;
	struct rlimit old, low;
	struct cmsghdr *h;
	ssize_t r;
	int err, got = 0;

	if (fd[s] < 0) {
		skip(step);
		return;
	}
	iov.iov_base = data;
	iov.iov_len = bytes;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (room > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_LEN(room * sizeof(int));
	}
	if (nofile > 0) {
		getrlimit(RLIMIT_NOFILE, &old);
		low = old;
		low.rlim_cur = nofile;
		setrlimit(RLIMIT_NOFILE, &low);
	}
	r = recvmsg(fd[s], &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	err = errno;
	if (nofile > 0)
		setrlimit(RLIMIT_NOFILE, &old);
	errno = err;
	record(step, r);
	if (r < 0 || msg.msg_controllen == 0)
		return;
	for (h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(h);

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (int j = 0; j < k; j++, got++)
			if (got < nouts)
				fd[outs[got]] = in[j];
	}
}
)"},
    {"do_close", {"record", "skip"}, R"(/* close a */
static void do_close(int step, int v)
{
	if (fd[v] < 0) {
		skip(step);
		return;
	}
	record(step, close(fd[v]));
	fd[v] = -1;
}
)"},
    {"do_shutdown", {"record", "skip"}, R"(/* shutdown s rd|wr|rdwr */
static void do_shutdown(int step, int s, int how)
{
	if (fd[s] < 0) {
		skip(step);
		return;
	}
	record(step, shutdown(fd[s], how));
}
)"},
    {"do_dup", {"record", "skip"}, R"(/* y = dup x: another descriptor for the same object */
static void do_dup(int step, int v, int out)
{
	int d;

	if (fd[v] < 0) {
		skip(step);
		return;
	}
	d = fcntl(fd[v], F_DUPFD_CLOEXEC, 0);
	record(step, d);
	if (d >= 0)
		fd[out] = d;
}
)"},
    {"do_fork",
     {"record"},
     R"(/* fork CHILD: the child starts with a copy of our descriptors and runs run_CHILD(). */
static void do_fork(int step, int child, void (*run)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		run();		/* never returns */
	record(step, pid);
	if (pid > 0)
		sh->pid[child] = pid;
	else
		sh->fork_failed = 1;
}
)"},
    {"do_kill",
     {"record"},
     R"(/* kill OTHER: SIGKILL, then wait until it is gone so the next step sees its descriptors closed. */
static void do_kill(int step, int victim)
{
	pid_t pid = sh->pid[victim];
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	int r;

	sh->killed[victim] = 1;
	r = kill(pid, SIGKILL);
	record(step, r);
	if (r == 0 && pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		poll(&p, 1, 5000);
	}
	if (pidfd >= 0)
		close(pidfd);
}
)"},
    {"do_sleep", {}, R"(/* sleep MS */
static void do_sleep(int step, int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	sh->status[step] = STEP_OK;
}
)"},
};

const Helper& FindHelper(const std::string& name) {
  for (const Helper& h : kHelpers)
    if (name == h.name) return h;
  throw std::logic_error("csource: no helper " + name);
}

// Text safe inside a C /* comment */ and a C string literal.
std::string CommentSafe(std::string s) {
  for (size_t at; (at = s.find("*/")) != std::string::npos;) s.replace(at, 2, "* /");
  for (size_t at; (at = s.find("/*")) != std::string::npos;) s.replace(at, 2, "/ *");
  return s;
}

std::string CString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

const char* CSockType(SockType t) {
  switch (t) {
    case SockType::kStream:
      return "SOCK_STREAM";
    case SockType::kDgram:
      return "SOCK_DGRAM";
    case SockType::kSeqpacket:
      return "SOCK_SEQPACKET";
  }
  return "SOCK_STREAM";
}

class Emitter {
 public:
  Emitter(const Scenario& s, const CsourceOptions& opt) : s_(s), opt_(opt) {}

  std::string Emit() {
    PlanTurns();
    std::string procs;
    for (size_t p = 0; p < s_.procs.size(); ++p) procs += ProcessFunction(p);
    std::string out = Header() + Includes() + Declarations() + TurnHelpers();
    // Helpers in table order, each after the ones it needs.
    std::set<std::string> closure;
    std::vector<std::string> todo(needed_.begin(), needed_.end());
    while (!todo.empty()) {
      std::string n = todo.back();
      todo.pop_back();
      if (!closure.insert(n).second) continue;
      for (const char* d : FindHelper(n).needs) todo.push_back(d);
    }
    for (const Helper& h : kHelpers)
      if (closure.count(h.name)) out += "\n" + std::string(h.code);
    out += "\n/* The graph's processes, one function each; fork runs the child's function. */\n";
    for (size_t p = 0; p < s_.procs.size(); ++p)
      out += fmt::format("static void run_{}(void);\n", s_.procs[p]);
    out += procs;
    out += Supervisor();
    return out;
  }

 private:
  uint32_t Steps() const { return static_cast<uint32_t>(s_.actions.size() + s_.procs.size()); }
  size_t Owner(uint32_t step) const {
    return step < s_.actions.size() ? s_.actions[step].proc : step - s_.actions.size();
  }
  std::string P(size_t p) const { return "P_" + s_.procs[p]; }
  std::string V(VarId v) const { return "V_" + s_.vars[v]; }

  // Which process gets the turn after each step: the owner of the next step whose
  // process is still running then (as the executor's lockstep hand-off decides).
  void PlanTurns() {
    enum { kNone, kRunning, kEnded };
    std::vector<int> state(s_.procs.size(), kNone);
    state[0] = kRunning;
    next_.assign(Steps(), -1);
    for (uint32_t i = 0; i < Steps(); ++i) {
      const size_t p = Owner(i);
      if (i < s_.actions.size()) {
        const Action& a = s_.actions[i];
        if (a.op == Op::kFork) state[a.other] = kRunning;
        if (a.op == Op::kExit) state[p] = kEnded;
        if (a.op == Op::kKill) state[a.other] = kEnded;
      } else {
        if (state[p] != kRunning) continue;  // exited or killed: no turn to end
        state[p] = kEnded;
      }
      uint32_t n = i + 1;
      while (n < Steps() && state[Owner(n)] != kRunning) ++n;
      next_[i] = n < Steps() ? static_cast<int>(Owner(n)) : -1;
    }
  }

  std::string PassTo(uint32_t step) const {
    return next_[step] < 0 ? "-1" : P(static_cast<size_t>(next_[step]));
  }

  std::string Header() const {
    std::string out =
        fmt::format("/*\n * {}: a standalone reproducer written by `inflight csource`", s_.name);
    out += opt_.source.empty() ? ".\n" : fmt::format("\n * from {}.\n", CommentSafe(opt_.source));
    if (!s_.about.empty()) {
      out += " *\n";
      for (const std::string& l : s_.about) out += " * " + CommentSafe(l) + "\n";
    }
    for (const std::string& l : s_.refs) out += " * ref: " + CommentSafe(l) + "\n";
    out += fmt::format(R"( *
 * It forks the scenario's processes in a network namespace of its own and runs the
 * steps below in the file's order, one process at a time: each process waits for its
 * turn on a semaphore in shared memory and hands the turn to the owner of the next
 * step. Every socket is non-blocking, so no step waits for another. After the last
 * step each process closes its descriptors and exits, in process order. Then it
 * counts the AF_UNIX sockets of the namespace (the rows of /proc/net/unix, and the
 * UNIX "sockets" counts of /proc/net/protocols, which include sockets that are closed
 * but not yet freed). If they are not back to where they started, it makes the
 * kernel's unix garbage collector run (a socket sent over itself, then closed), polls
 * for up to SETTLE_MS ms, triggers it once more and polls a final window. It prints:
 *
 *   CLEAN  every socket of the graph was freed                    exit 0
 *   LEAK   sockets outlived the graph and the settling deadline   exit 1
 *   HANG   the graph did not end within TIMEOUT_MS ms             exit 1
 *   FAULT  a step's result differed from its expect=              exit 1
 *   SKIP   this machine cannot make a network namespace           exit 3
 *   ERROR  a graph process died or a fork failed                  exit 4
 *
 * Build and run as root (or where unprivileged user namespaces are allowed):
 *   cc -Wall -Werror -o {0} {0}.c && ./{0}
 */
)",
                       s_.name);
    return out;
  }

  static std::string Includes() {
    return R"(#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
)";
  }

  std::string Declarations() const {
    std::string out = fmt::format("\n#define SETTLE_MS {}\n#define TIMEOUT_MS {}\n", opt_.settle_ms,
                                  opt_.timeout_ms);
    out += "\n/* The scenario's processes; P_" + s_.procs[0] + " is the root. */\nenum {";
    for (size_t p = 0; p < s_.procs.size(); ++p) out += (p ? ", " : " ") + P(p);
    out += ", NPROCS };\n";
    if (!s_.vars.empty()) {
      out +=
          "\n/* Its variables: descriptor slots. Every process has its own copy (fork copies\n"
          "   them, like the descriptors they hold); -1 is not open. */\nenum {";
      for (size_t v = 0; v < s_.vars.size(); ++v)
        out += (v ? ", " : " ") + V(static_cast<VarId>(v));
      out += ", NVARS };\nstatic int fd[NVARS];\n";
    }
    out += fmt::format(R"(
#define NSTEPS {}

enum {{ STEP_NOT_RUN, STEP_OK, STEP_FAILED, STEP_SKIPPED }};

/* Shared by every process of the graph and the supervisor. */
struct shared {{
	sem_t turn[NPROCS];	/* posted when it is that process's turn */
	pid_t pid[NPROCS];
	int killed[NPROCS];	/* SIGKILLed by a kill step, so its death is expected */
	int fork_failed;
	int status[NSTEPS];	/* STEP_* */
	int err[NSTEPS];	/* errno of a failed step */
}};
static struct shared *sh;
)",
                       s_.actions.size());
    return out;
  }

  static std::string TurnHelpers() {
    return R"(
/*
 * Waits until it is this process's turn. The whole graph ends within TIMEOUT_MS (or the
 * supervisor kills it), so a turn that has not come in twice that long never will: the
 * supervisor is gone, and this process leaves instead of waiting forever.
 */
static void wait_turn(int self)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2 * (TIMEOUT_MS / 1000) + 1;
	while (sem_timedwait(&sh->turn[self], &deadline) != 0)
		if (errno == ETIMEDOUT)
			_exit(3);
}

/* Hands the turn to the owner of the next step (-1: the graph is done). */
static void pass_turn(int next)
{
	if (next >= 0)
		sem_post(&sh->turn[next]);
}

/*
 * As inflight does, the graph runs as a uid of its own while keeping root's capabilities:
 * the kernel's per-user in-flight count then starts at zero, whatever root has in flight
 * elsewhere on the host (a user with many descriptors in flight makes every send wait
 * for a full collection, which changes when the collector runs). Nothing to do unless
 * we are root.
 */
static void fresh_uid(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	unsigned int uid = 0x30000000u | ((unsigned int)getpid() & 0x00ffffffu);

	if (geteuid() != 0)
		return;
	if (prctl(PR_SET_KEEPCAPS, 1) != 0 || setgroups(0, NULL) != 0 ||
	    setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)
		return;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return;
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	syscall(SYS_capset, &hdr, data);
}

/* Closes every descriptor of this process. */
static void close_all(void)
{
	if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0)
		for (int i = 0; i < 65536; i++)
			close(i);
}

/* A process ends: its descriptors are closed before the next step runs. */
static void end_process(int next)
{
	close_all();
	pass_turn(next);
	_exit(0);
}
)";
  }

  std::string Use(const char* helper) {
    needed_.insert(helper);
    return helper;
  }

  std::string StepCode(uint32_t i) {
    const Action& a = s_.actions[i];
    const std::string st = std::to_string(i);
    auto var = [&](VarId v) { return V(v); };
    switch (a.op) {
      case Op::kSocketpair:
        return fmt::format("\t{}({}, {}, {}, {});\n", Use("do_socketpair"), st, CSockType(a.type),
                           var(a.out[0]), var(a.out[1]));
      case Op::kSocket:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_socket"), st, CSockType(a.type),
                           var(a.out[0]));
      case Op::kBind:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_bind"), st, var(a.target),
                           CString(a.addr));
      case Op::kConnect:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_connect"), st, var(a.target),
                           CString(a.addr));
      case Op::kListen:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_listen"), st, var(a.target), a.backlog);
      case Op::kAccept:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_accept"), st, var(a.target),
                           var(a.out[0]));
      case Op::kPipe:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_pipe"), st, var(a.out[0]), var(a.out[1]));
      case Op::kFile:
        return fmt::format("\t{}({}, {});\n", Use("do_file"), st, var(a.out[0]));
      case Op::kMemfd:
        return fmt::format("\t{}({}, {});\n", Use("do_memfd"), st, var(a.out[0]));
      case Op::kEventfd:
        return fmt::format("\t{}({}, {});\n", Use("do_eventfd"), st, var(a.out[0]));
      case Op::kSend: {
        std::string flags = a.flags & kFlagOob ? "MSG_OOB" : "0";
        if (a.rights.empty())
          return fmt::format("\t{}({}, {}, NULL, NULL, 0, 1, {}, {});\n", Use("do_send"), st,
                             var(a.target), flags, a.bytes);
        std::string vars, counts;
        for (const Right& r : a.rights) {
          vars += (vars.empty() ? "" : ", ") + var(r.var);
          counts += (counts.empty() ? "" : ", ") + std::to_string(r.count);
        }
        return fmt::format(
            "\t{{\n\t\tstatic const int vars[] = {{ {} }};\n"
            "\t\tstatic const int counts[] = {{ {} }};\n\n"
            "\t\t{}({}, {}, vars, counts, {}, {}, {}, {});\n\t}}\n",
            vars, counts, Use("do_send"), st, var(a.target), a.rights.size(), a.cmsgs, flags,
            a.bytes);
      }
      case Op::kRecv: {
        std::string flags;
        if (a.flags & kFlagPeek) flags += "MSG_PEEK";
        if (a.flags & kFlagOob) flags += flags.empty() ? "MSG_OOB" : " | MSG_OOB";
        if (flags.empty()) flags = "0";
        const int room = a.ctrunc >= 0 ? a.ctrunc : a.max;
        if (a.out.empty())
          return fmt::format("\t{}({}, {}, NULL, 0, {}, {}, {}, {});\n", Use("do_recv"), st,
                             var(a.target), flags, room, a.bytes, a.nofile);
        std::string outs;
        for (VarId v : a.out) outs += (outs.empty() ? "" : ", ") + var(v);
        return fmt::format(
            "\t{{\n\t\tstatic const int outs[] = {{ {} }};\n\n"
            "\t\t{}({}, {}, outs, {}, {}, {}, {}, {});\n\t}}\n",
            outs, Use("do_recv"), st, var(a.target), a.out.size(), flags, room, a.bytes, a.nofile);
      }
      case Op::kClose:
        return fmt::format("\t{}({}, {});\n", Use("do_close"), st, var(a.target));
      case Op::kShutdown:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_shutdown"), st, var(a.target),
                           a.how == ShutHow::kRd   ? "SHUT_RD"
                           : a.how == ShutHow::kWr ? "SHUT_WR"
                                                   : "SHUT_RDWR");
      case Op::kDup:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_dup"), st, var(a.target), var(a.out[0]));
      case Op::kFork:
        return fmt::format("\t{}({}, {}, run_{});\n", Use("do_fork"), st, P(a.other),
                           s_.procs[a.other]);
      case Op::kKill:
        return fmt::format("\t{}({}, {});\n", Use("do_kill"), st, P(a.other));
      case Op::kBarrier:
        return fmt::format(
            "\tsh->status[{}] = STEP_OK;\t/* lockstep: the order is the barrier */\n", st);
      case Op::kSleep:
        return fmt::format("\t{}({}, {});\n", Use("do_sleep"), st, a.sleep_ms);
      case Op::kExit:
        return "";
      case Op::kEpoll:
        return fmt::format("\t{}({}, {});\n", Use("do_epoll"), st, var(a.out[0]));
      case Op::kEpollAdd:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_epoll_add"), st, var(a.target),
                           var(a.target2));
      case Op::kPidfd:
        return fmt::format("\t{}({}, {}, {});\n", Use("do_pidfd"), st, P(a.other), var(a.out[0]));
      case Op::kIoUring:
        return fmt::format("\t{}({}, {});\n", Use("do_io_uring"), st, var(a.out[0]));
      case Op::kTimerfd:
        return fmt::format("\t{}({}, {});\n", Use("do_timerfd"), st, var(a.out[0]));
    }
    return "";
  }

  std::string ProcessFunction(size_t p) {
    std::string out = fmt::format("\n/* Process {}", s_.procs[p]);
    if (p == 0) {
      out += ", the root. */\n";
    } else {
      for (size_t i = 0; i < s_.actions.size(); ++i)
        if (s_.actions[i].op == Op::kFork && s_.actions[i].other == p)
          out += fmt::format(": forked by {} at step {}. */\n", s_.procs[s_.actions[i].proc], i);
    }
    out += fmt::format("static void run_{}(void)\n{{\n", s_.procs[p]);
    bool ended = false;
    bool first = true;
    for (uint32_t i = 0; i < s_.actions.size(); ++i) {
      const Action& a = s_.actions[i];
      if (a.proc != p) continue;
      if (!first) out += "\n";
      first = false;
      for (const std::string& c : a.comments) out += "\t/* " + CommentSafe(c) + " */\n";
      out += fmt::format("\t/* step {}: {}{} */\n", i, CommentSafe(PrintAction(s_, a)),
                         a.note.empty() ? "" : "  (" + CommentSafe(a.note) + ")");
      out += fmt::format("\twait_turn({});\n", P(p));
      if (a.op == Op::kExit) {
        out += fmt::format("\tsh->status[{}] = STEP_OK;\n\tend_process({});\n", i, PassTo(i));
        ended = true;
        break;
      }
      out += StepCode(i);
      out += fmt::format("\tpass_turn({});\n", PassTo(i));
    }
    if (!ended) {
      const uint32_t exit_step = static_cast<uint32_t>(s_.actions.size() + p);
      out += fmt::format(
          "\n\t/* No steps left: at its turn to end (processes end in order after the last\n"
          "\t   step) it closes its descriptors and exits. */\n"
          "\twait_turn({});\n\tend_process({});\n",
          P(p), PassTo(exit_step));
    }
    return out + "}\n";
  }

  std::string Supervisor() const {
    // Expected results, checked after the graph as inflight does in lockstep mode.
    std::string expects, names;
    std::set<int> errnos;
    for (size_t i = 0; i < s_.actions.size(); ++i) {
      const Action& a = s_.actions[i];
      if (!a.expect) continue;
      const std::string name = *a.expect == 0 ? "0" : ErrnoName(*a.expect);
      const bool known = *a.expect == 0 || ErrnoFromName(name).has_value();
      expects += fmt::format("\t{{ {}, {}, {} }},\n", i, known ? name : std::to_string(*a.expect),
                             CString(s_.procs[a.proc] + ": " + PrintAction(s_, a)));
      errnos.insert(*a.expect);
    }
    std::string out = R"(
/* ---- The supervisor: namespace, census, settling, verdict. ---- */

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* AF_UNIX sockets of this network namespace: table rows, and alive per the kernel. */
struct census {
	long table;	/* rows of /proc/net/unix (embryos included) */
	long alive;	/* UNIX + UNIX-STREAM "sockets" of /proc/net/protocols */
};

static int take_census(struct census *c)
{
	char line[1024], name[64];
	long size, sockets;
	FILE *f = fopen("/proc/net/unix", "re");

	if (!f)
		return -1;
	c->table = -1;	/* the header */
	while (fgets(line, sizeof(line), f))
		if (strchr(line, '\n'))
			c->table++;
	fclose(f);
	f = fopen("/proc/net/protocols", "re");
	if (!f)
		return -1;
	c->alive = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld %ld", name, &size, &sockets) == 3 &&
		    (strcmp(name, "UNIX") == 0 || strcmp(name, "UNIX-STREAM") == 0))
			c->alive += sockets;
	fclose(f);
	return 0;
}

/*
 * Socket pairs for triggering the collector, made before entering the new namespace so
 * that they never show in its census.
 */
#define TRIGGERS 64
static int trigger_fd[TRIGGERS][2];
static int triggers_left;

static void make_triggers(void)
{
	while (triggers_left < TRIGGERS &&
	       socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, trigger_fd[triggers_left]) == 0)
		triggers_left++;
}

/*
 * Makes the kernel's unix garbage collector run soon: one end of a pair is sent over
 * the other, so it sits in its own queue (a cycle only the collector frees), and both
 * are closed; closing a unix socket while anything is in flight schedules the collector.
 */
static void trigger_collector(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg;
	struct cmsghdr *h;
	int *pair;

	if (triggers_left == 0)
		return;
	pair = trigger_fd[--triggers_left];
	memset(&ctl, 0, sizeof(ctl));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	h = CMSG_FIRSTHDR(&msg);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &pair[0], sizeof(int));
	sendmsg(pair[1], &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(pair[0]);
	close(pair[1]);
}

static int write_file(const char *path, const char *text)
{
	int f = open(path, O_WRONLY | O_CLOEXEC);
	int ok;

	if (f < 0)
		return -1;
	ok = write(f, text, strlen(text)) == (ssize_t)strlen(text);
	close(f);
	return ok ? 0 : -1;
}

/* A network namespace of our own; inside a user namespace when we are not root. */
static int enter_netns(void)
{
	char map[64];
	unsigned uid = getuid(), gid = getgid();

	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
		return -1;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map) != 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", gid);
	return write_file("/proc/self/gid_map", map);
}

/* Ctrl-C or a kill of the supervisor takes the graph (its own process group) with it. */
static pid_t graph_group;

static void on_signal(int sig)
{
	if (graph_group > 0)
		kill(-graph_group, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Whether a reaped graph process ended the way the scenario says it may. */
static int expected_end(pid_t pid, int status, int hung)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		if (hung)
			return 1;
		for (int p = 0; p < NPROCS; p++)
			if (sh->pid[p] == pid && sh->killed[p])
				return 1;
	}
	return 0;
}
)";
    if (!expects.empty()) {
      out +=
          "\n/* Steps with an expected result (0: success), as the scenario says. */\n"
          "static const struct {\n\tint step;\n\tint err;\n\tconst char *text;\n} expects[] = {\n" +
          expects + "};\n";
      out +=
          "\nstatic const char *errname(int e)\n{\n\tswitch (e) {\n\tcase 0:\n\t\treturn "
          "\"success\";\n";
      std::set<std::string> seen;
      for (int e : errnos) {
        if (e == 0) continue;
        const std::string name = ErrnoName(e);
        if (!ErrnoFromName(name) || !seen.insert(name).second) continue;
        out += fmt::format("\tcase {0}:\n\t\treturn \"{0}\";\n", name);
      }
      out += "\t}\n\treturn strerror(e);\n}\n";
      out += R"(
/* Prints every step whose result differs from its expect=; returns how many. */
static int check_expects(void)
{
	int faults = 0;

	for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		int s = expects[i].step;

		if (sh->status[s] == STEP_NOT_RUN)
			continue;
		if (sh->status[s] == STEP_SKIPPED) {
			printf("fault: step %d (%s): expected %s, got skipped (no descriptor)\n", s,
			       expects[i].text, errname(expects[i].err));
			faults++;
		} else if (sh->err[s] != expects[i].err) {
			printf("fault: step %d (%s): expected %s, got %s\n", s, expects[i].text,
			       errname(expects[i].err), errname(sh->err[s]));
			faults++;
		}
	}
	return faults;
}
)";
    }
    out += fmt::format(R"(
int main(void)
{{
	struct census base, now;
	struct rlimit nofile = {{ 4096, 4096 }};
	long start, last_trigger, gap, final_window;
	int second = 0, hung = 0, unexpected = 0, faults = 0;
	pid_t root;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {{
		perror("mmap");
		return 4;
	}}
	for (int p = 0; p < NPROCS; p++)
		sem_init(&sh->turn[p], 1, p == P_{0} ? 1 : 0);	/* the root starts */
	make_triggers();
	if (enter_netns() != 0) {{
		printf("SKIP: cannot make a network namespace (%s): run as root, or allow "
		       "unprivileged user namespaces\n", strerror(errno));
		return 3;
	}}
	if (setrlimit(RLIMIT_NOFILE, &nofile) != 0 && getrlimit(RLIMIT_NOFILE, &nofile) == 0) {{
		nofile.rlim_cur = nofile.rlim_max < 4096 ? nofile.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}}
	prctl(PR_SET_CHILD_SUBREAPER, 1);	/* orphaned graph processes come back to us */
	if (take_census(&base) != 0) {{
		printf("SKIP: cannot read /proc/net/unix or /proc/net/protocols\n");
		return 3;
	}}
	fflush(stdout);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	root = fork();
	if (root < 0) {{
		perror("fork");
		return 4;
	}}
	if (root == 0) {{
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setpgid(0, 0);	/* the graph is one process group, for the watchdog */
		fresh_uid();	/* as in inflight: its own in-flight accounting */
		close_all();	/* the graph's descriptors start at 0, as in inflight */
		run_{0}();
	}}
	setpgid(root, root);
	graph_group = root;
	sh->pid[P_{0}] = root;

	/* Reap every graph process; kill them all if the graph overruns TIMEOUT_MS. */
	start = now_us();
	for (;;) {{
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {{
			if (!expected_end(pid, status, hung))
				unexpected++;
			continue;
		}}
		if (pid < 0 && errno == ECHILD)
			break;
		if (!hung && now_us() - start > TIMEOUT_MS * 1000L) {{
			hung = 1;
			kill(-root, SIGKILL);
		}}
		sleep_us(200);
	}}
	if (sh->fork_failed || unexpected) {{
		printf("ERROR: %s; the run says nothing about the kernel\n",
		       sh->fork_failed ? "a fork failed" : "a graph process died unexpectedly");
		return 4;
	}}
	if (hung) {{
		printf("HANG: the graph did not end within %d ms\n", TIMEOUT_MS);
		return 1;
	}}
)",
                       s_.procs[0]);
    if (!expects.empty()) out += "\tfaults = check_expects();\n";
    out += R"(
	/* Settle: a correct kernel may free in-flight garbage late (its collector runs from a
	   work queue), so trigger the collector and poll before ruling. */
	if (take_census(&now) != 0)
		return 4;
	start = now_us();
	last_trigger = start;
	gap = 1000;
	final_window = SETTLE_MS * 1000L / 8 > 50000 ? SETTLE_MS * 1000L / 8 : 50000;
	if (now.table != base.table || now.alive != base.alive)
		trigger_collector();
	while (now.table != base.table || now.alive != base.alive) {
		long t;

		sleep_us(gap);
		if (take_census(&now) != 0)
			return 4;
		t = now_us();
		if (!second && t >= start + SETTLE_MS * 1000L) {
			second = 1;	/* the deadline: one more trigger, then a final window */
			trigger_collector();
			last_trigger = t;
			gap = 1000;
		} else if (second && t >= start + SETTLE_MS * 1000L + final_window) {
			printf("LEAK: %ld AF_UNIX socket(s) listed and %ld alive after the graph "
			       "ended and %ld ms of settling (at the start: %ld and %ld)\n",
			       now.table, now.alive, (t - start) / 1000, base.table, base.alive);
			return 1;
		} else if (t - last_trigger >= 50000) {
			trigger_collector();	/* in case a collection already running missed it */
			last_trigger = t;
		}
		gap = gap * 2 < 20000 ? gap * 2 : 20000;
	}
	if (faults) {
		printf("FAULT: %d step(s) did not give the expected result\n", faults);
		return 1;
	}
	printf("CLEAN: every AF_UNIX socket of the graph was freed\n");
	return 0;
}
)";
    return out;
  }

  const Scenario& s_;
  const CsourceOptions& opt_;
  std::vector<int> next_;
  std::set<std::string> needed_;
};

}  // namespace

std::string EmitCSource(const Scenario& s, const CsourceOptions& opt) {
  return Emitter(s, opt).Emit();
}

}  // namespace inflight
