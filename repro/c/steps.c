/* One function per action of the scenario language, as inflight's executor runs
 * them in lockstep (executor/graph.cc): every socket non-blocking, every
 * descriptor close-on-exec, a step skipped when a descriptor it needs is not
 * open. */
#include "repro.h"

struct repro_shared *sh;
int var_fd[REPRO_MAX_VARS];

void vars_init(void)
{
	for (int v = 0; v < REPRO_MAX_VARS; v++)
		var_fd[v] = -1;
}

void step_record(int step, long ret)
{
	sh->err[step] = ret < 0 ? errno : 0;
	sh->status[step] = ret < 0 ? STEP_FAILED : STEP_OK;
}

void step_skip(int step)
{
	sh->status[step] = STEP_SKIPPED;
}

socklen_t abstract_addr(struct sockaddr_un *sun, const char *name)
{
	size_t len = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

socklen_t path_addr(struct sockaddr_un *sun, const char *name)
{
	size_t len = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Waits (5 s at most) until `pid` is dead: its pidfd, else /proc/PID/stat. */
void wait_dead(pid_t pid, int pidfd)
{
	char path[64], buf[256];
	int64_t end = now_us() + 5000000;

	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		poll(&p, 1, 5000);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (now_us() < end) {
		int f = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		const char *rp;

		if (f < 0)
			return;
		n = read(f, buf, sizeof(buf) - 1);
		close(f);
		if (n <= 0)
			return;
		buf[n] = 0;
		rp = strrchr(buf, ')');
		if (!rp || rp[1] == 0 || rp[2] == 'Z' || rp[2] == 'X')
			return;
		sleep_us(50);
	}
}

/* What an is= check compares: st_dev, st_ino, the file type with the open
 * file's access mode (a pipe's ends share one inode), and for an anonymous
 * inode (one serves every eventfd, epoll, timerfd, ...) a hash of its
 * /proc/self/fd link, which names its kind. */
static void ident_of(int fd, struct repro_ident *id)
{
	static const char anon[] = "anon_inode:";
	struct stat st;
	char path[48], link[128];
	ssize_t n;
	int fl = fcntl(fd, F_GETFL);

	memset(id, 0, sizeof(*id));
	if (fstat(fd, &st) != 0)
		return;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->mode = (uint32_t)(st.st_mode & S_IFMT) |
		   (uint32_t)(fl >= 0 ? (fl & O_ACCMODE) : 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n >= (ssize_t)sizeof(anon) - 1 &&
	    memcmp(link, anon, sizeof(anon) - 1) == 0) {
		uint32_t h = 2166136261u; /* FNV-1a */

		for (ssize_t k = 0; k < n; k++)
			h = (h ^ (unsigned char)link[k]) * 16777619u;
		id->tag = h | 1u;
	}
	id->made = 1;
}

void ident_note(int step, int index, int fd)
{
	ident_of(fd, &sh->made[step][index]);
}

static int ident_same(const struct repro_ident *a, const struct repro_ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mode == b->mode &&
	       a->tag == b->tag;
}

void same_check(int step, const int *outs, const int *keys, int n)
{
	struct repro_ident got;

	if (sh->status[step] != STEP_OK)
		return;
	for (int k = 0; k < n; k++) {
		const struct repro_ident *want;

		if (keys[k] < 0)
			continue;
		want = &sh->made[keys[k] / 2][keys[k] % 2];
		if (!want->made)
			continue; /* not created (refused, skipped) */
		memset(&got, 0, sizeof(got));
		if (var_fd[outs[k]] >= 0)
			ident_of(var_fd[outs[k]], &got);
		if (got.made && ident_same(&got, want))
			continue;
		sh->same_bad[step] = k + 1;
		sh->same_got[step] = got;
		return;
	}
}

int same_which(const struct repro_ident *got, int *count)
{
	int first = -1;

	*count = 0;
	for (int s = 0; s < REPRO_MAX_STEPS; s++)
		for (int i = 0; i < 2; i++)
			if (sh->made[s][i].made && ident_same(&sh->made[s][i], got)) {
				if (first < 0)
					first = 2 * s + i;
				(*count)++;
			}
	return first;
}

/* do_socketpair: a b = socketpair TYPE */
void do_socketpair(int step, int type, int out0, int out1)
{
	int sv[2];
	int r = socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);

	step_record(step, r);
	if (r == 0) {
		var_fd[out0] = sv[0];
		var_fd[out1] = sv[1];
		ident_note(step, 0, sv[0]);
		ident_note(step, 1, sv[1]);
	}
}

/* do_socket: s = socket TYPE */
void do_socket(int step, int type, int out)
{
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	step_record(step, s);
	if (s >= 0) {
		var_fd[out] = s;
		ident_note(step, 0, s);
	}
}

/* do_bind: bind s @NAME */
void do_bind(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(&sun, name);

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, bind(var_fd[s], (struct sockaddr *)&sun, len));
}

/*
 * do_bind_path: bind s ./NAME, a path in the run's own directory (the working
 * directory the supervisor made); the socket holds the path's inode until it
 * is released, unlinked or not
 */
void do_bind_path(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = path_addr(&sun, name);

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, bind(var_fd[s], (struct sockaddr *)&sun, len));
}

/* do_unlink: unlink ./NAME, a path in the run's own directory */
void do_unlink(int step, const char *name)
{
	step_record(step, unlink(name));
}

/* do_listen: listen s backlog=N */
void do_listen(int step, int s, int backlog)
{
	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, listen(var_fd[s], backlog));
}

/* do_connect: connect s @NAME; to a listener this queues an embryo */
void do_connect(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(&sun, name);

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, connect(var_fd[s], (struct sockaddr *)&sun, len));
}

/* do_connect_path: connect s ./NAME, a path in the run's own directory */
void do_connect_path(int step, int s, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = path_addr(&sun, name);

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, connect(var_fd[s], (struct sockaddr *)&sun, len));
}

/* do_accept: c = accept s */
void do_accept(int step, int s, int out)
{
	int c;

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	c = accept4(var_fd[s], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	step_record(step, c);
	if (c >= 0) {
		var_fd[out] = c;
		ident_note(step, 0, c);
	}
}

/* do_pipe: r w = pipe */
void do_pipe(int step, int out0, int out1)
{
	int p[2];
	int r = pipe2(p, O_CLOEXEC | O_NONBLOCK);

	step_record(step, r);
	if (r == 0) {
		var_fd[out0] = p[0];
		var_fd[out1] = p[1];
		ident_note(step, 0, p[0]);
		ident_note(step, 1, p[1]);
	}
}

/* do_file: f = file, an unnamed regular file on a tmpfs */
void do_file(int step, int out)
{
	int f = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (f < 0)
		f = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	step_record(step, f);
	if (f >= 0) {
		var_fd[out] = f;
		ident_note(step, 0, f);
	}
}

/* do_memfd: m = memfd */
void do_memfd(int step, int out)
{
	int m = (int)syscall(SYS_memfd_create, "inflight", MFD_CLOEXEC);

	step_record(step, m);
	if (m >= 0) {
		var_fd[out] = m;
		ident_note(step, 0, m);
	}
}

/* do_eventfd: e = eventfd */
void do_eventfd(int step, int out)
{
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	step_record(step, e);
	if (e >= 0) {
		var_fd[out] = e;
		ident_note(step, 0, e);
	}
}

/*
 * do_send: send s [...]: sendmsg with nempty SCM_RIGHTS control messages that
 * carry no descriptor, then the descriptors of vars[i], counts[i] times each,
 * split over ncmsgs SCM_RIGHTS messages (the first ones one longer; with more
 * messages than descriptors the last ones carry none), and `bytes` bytes of
 * payload. Up to REPRO_MAX_RIGHTS descriptors: more than SCM_MAX_FD (253) is
 * the kernel's to refuse (EINVAL). Skipped when s or a descriptor to pass is
 * not open. creds (CREDS_BEFORE, CREDS_AFTER) adds an SCM_CREDENTIALS message
 * with this process's own pid, uid and gid before or after all the others.
 */
static size_t put_creds(char *buf, size_t off)
{
	struct cmsghdr *h = (struct cmsghdr *)(buf + off);
	struct ucred me;

	me.pid = getpid();
	me.uid = getuid();
	me.gid = getgid();
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_CREDENTIALS;
	h->cmsg_len = CMSG_LEN(sizeof(me));
	memcpy(CMSG_DATA(h), &me, sizeof(me));
	return off + CMSG_SPACE(sizeof(me));
}

void do_send(int step, int s, const int *vars, const int *counts, int nvars,
	     int ncmsgs, int nempty, int flags, int bytes, int creds)
{
	static char payload[4096];
	static union {
		char buf[4096];
		struct cmsghdr align;
	} control;
	int rights[REPRO_MAX_RIGHTS];
	int n = 0, used = 0;
	size_t off = 0;
	struct iovec iov;
	struct msghdr msg;

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	for (int i = 0; i < nvars; i++) {
		if (var_fd[vars[i]] < 0) {
			step_skip(step);
			return;
		}
		for (int k = 0; k < counts[i] && n < REPRO_MAX_RIGHTS; k++)
			rights[n++] = var_fd[vars[i]];
	}
	memset(payload, 'x', sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = (size_t)bytes;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n > 0 || nempty > 0 || creds != CREDS_NONE) {
		memset(control.buf, 0, sizeof(control.buf));
		if (creds == CREDS_BEFORE)
			off = put_creds(control.buf, off);
		for (int c = 0; c < nempty; c++) {
			struct cmsghdr *h =
				(struct cmsghdr *)(control.buf + off);

			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(0);
			off += CMSG_SPACE(0);
		}
		for (int c = 0; n > 0 && c < ncmsgs; c++) {
			int k = n / ncmsgs + (c < n % ncmsgs ? 1 : 0);
			struct cmsghdr *h =
				(struct cmsghdr *)(control.buf + off);

			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(k * sizeof(int));
			memcpy(CMSG_DATA(h), rights + used, k * sizeof(int));
			used += k;
			off += CMSG_SPACE(k * sizeof(int));
		}
		if (creds == CREDS_AFTER)
			off = put_creds(control.buf, off);
		msg.msg_control = control.buf;
		msg.msg_controllen = off;
	}
	step_record(step, sendmsg(var_fd[s], &msg,
				  flags | MSG_DONTWAIT | MSG_NOSIGNAL));
}

/*
 * do_recv: x y = recv s: recvmsg; the descriptors received go to outs[] in
 * order, any more stay open in this process until it exits. The control buffer
 * is controllen bytes (0: none; room for fewer descriptors than were sent:
 * MSG_CTRUNC, the kernel drops the rest); nofile > 0 lowers RLIMIT_NOFILE for
 * the call (what does not fit is dropped too). fault (REPRO_FAULT_*) points
 * the control or data buffer at a PROT_NONE page: the kernel's copy-out fails
 * (EFAULT), and the descriptors it could not hand over must not stay open.
 */
void do_recv(int step, int s, const int *outs, int nouts, int flags,
	     int controllen, int bytes, int nofile, int fault)
{
	static void *fault_page = MAP_FAILED;
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

	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	iov.iov_base = data;
	iov.iov_len = (size_t)bytes;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (controllen > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = (size_t)controllen;
	}
	if (fault && fault_page == MAP_FAILED)
		fault_page = mmap(NULL, 4096, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault && fault_page == MAP_FAILED) {
		perror("mmap");
		exit(REPRO_EXIT_ERROR);
	}
	if ((fault & REPRO_FAULT_CBUF) && controllen > 0)
		msg.msg_control = fault_page;
	if (fault & REPRO_FAULT_DATA)
		iov.iov_base = fault_page;
	if (nofile > 0) {
		getrlimit(RLIMIT_NOFILE, &old);
		low = old;
		low.rlim_cur = (rlim_t)nofile;
		setrlimit(RLIMIT_NOFILE, &low);
	}
	r = recvmsg(var_fd[s], &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	err = errno;
	if (nofile > 0)
		setrlimit(RLIMIT_NOFILE, &old);
	errno = err;
	step_record(step, r);
	/* a faulting control buffer cannot be read back */
	if (r < 0 || msg.msg_controllen == 0 || (fault & REPRO_FAULT_CBUF))
		return;
	for (h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int in[253];

		if (h->cmsg_level == SOL_SOCKET &&
		    h->cmsg_type == SCM_CREDENTIALS) {
			/* first of all; MSG_CTRUNC may have cut it short */
			if (h->cmsg_len < CMSG_LEN(sizeof(struct ucred))) {
				sh->creds[step] = 2;
				continue;
			}
			memcpy(&sh->cred[step], CMSG_DATA(h),
			       sizeof(struct ucred));
			sh->creds[step] = 1;
			continue;
		}
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(in, CMSG_DATA(h), (k < 253 ? k : 253) * sizeof(int));
		for (int j = 0; j < k && j < 253; j++, got++)
			if (got < nouts)
				var_fd[outs[got]] = in[j];
	}
}

/* do_close: close a */
void do_close(int step, int v)
{
	if (var_fd[v] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, close(var_fd[v]));
	var_fd[v] = -1;
}

/* do_shutdown: shutdown s rd|wr|rdwr */
void do_shutdown(int step, int s, int how)
{
	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, shutdown(var_fd[s], how));
}

/* do_dup: y = dup x, another descriptor for the same object */
void do_dup(int step, int v, int out)
{
	int d;

	if (var_fd[v] < 0) {
		step_skip(step);
		return;
	}
	d = fcntl(var_fd[v], F_DUPFD_CLOEXEC, 0);
	step_record(step, d);
	if (d >= 0)
		var_fd[out] = d;
}

/* do_fork: fork CHILD; it starts with a copy of our descriptors, runs run() */
void do_fork(int step, int child, void (*run)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		run(); /* never returns */
	step_record(step, pid);
	if (pid > 0)
		sh->pid[child] = pid;
	else
		sh->fork_failed = 1;
}

/*
 * do_kill: kill OTHER, SIGKILL; then wait until it is gone, so that the next
 * step sees its descriptors closed. Marked killed first: its death is then
 * expected. A kill the kernel refuses (EPERM: this process dropped its
 * capabilities and the victim took another uid) is asked of the supervisor,
 * which has the privilege: the victim dies at this step all the same.
 */
void do_kill(int step, int victim)
{
	pid_t pid = sh->pid[victim];
	int pidfd, r, err;

	if (pid <= 0) {
		step_skip(step);
		return;
	}
	sh->killed[victim] = 1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r = kill(pid, SIGKILL);
	err = errno;
	if (r != 0 && err == EPERM) {
		sh->kill_ask[victim] = 1;
		r = 0;
	}
	if (r == 0)
		wait_dead(pid, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	errno = err;
	step_record(step, r);
}

/* do_barrier: barrier; in lockstep the order of the steps is the barrier */
void do_barrier(int step)
{
	sh->status[step] = STEP_OK;
}

/* do_sleep: sleep MS */
void do_sleep(int step, int ms)
{
	sleep_us((int64_t)ms * 1000);
	sh->status[step] = STEP_OK;
}

/* do_epoll: ep = epoll */
void do_epoll(int step, int out)
{
	int e = epoll_create1(EPOLL_CLOEXEC);

	step_record(step, e);
	if (e >= 0) {
		var_fd[out] = e;
		ident_note(step, 0, e);
	}
}

/* do_epoll_add: epoll_add ep x, watch x for input */
void do_epoll_add(int step, int ep, int x)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (var_fd[ep] < 0 || var_fd[x] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, epoll_ctl(var_fd[ep], EPOLL_CTL_ADD, var_fd[x], &ev));
}

/* do_pidfd: pd = pidfd OTHER, a pidfd of another process of the graph */
void do_pidfd(int step, int other, int out)
{
	pid_t pid = sh->pid[other];
	int p;

	if (pid <= 0) {
		step_skip(step);
		return;
	}
	p = (int)syscall(SYS_pidfd_open, pid, 0);
	step_record(step, p);
	if (p >= 0) {
		fcntl(p, F_SETFD, FD_CLOEXEC);
		var_fd[out] = p;
		ident_note(step, 0, p);
	}
}

/* do_io_uring: u = io_uring, which the kernel may refuse */
void do_io_uring(int step, int out)
{
	unsigned char params[120]; /* struct io_uring_params, zeroed */
	int u;

	memset(params, 0, sizeof(params));
	u = (int)syscall(SYS_io_uring_setup, 1, params);
	step_record(step, u);
	if (u >= 0) {
		var_fd[out] = u;
		ident_note(step, 0, u);
	}
}

/* do_timerfd: t = timerfd */
void do_timerfd(int step, int out)
{
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	step_record(step, t);
	if (t >= 0) {
		var_fd[out] = t;
		ident_note(step, 0, t);
	}
}

/*
 * do_setuid_second: setuid second, the run's second uid: the graph's uid with
 * a high bit set (as root, the network namespace's inode), keeping every
 * capability, so that its in-flight count is its own
 */
void do_setuid_second(int step)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	unsigned int u = (unsigned int)getuid();
	struct stat st;

	if (u == 0)
		u = stat("/proc/self/ns/net", &st) == 0 ?
			    (unsigned int)(st.st_ino & 0x0fffffffu) : 1u;
	u = 0x40000000u | (u & 0x3fffffffu);
	memset(data, 0, sizeof(data));
	if (prctl(PR_SET_KEEPCAPS, 1) != 0 || setgroups(0, NULL) != 0 ||
	    setresgid(u, u, u) != 0 || setresuid(u, u, u) != 0 ||
	    syscall(SYS_capget, &hdr, data) != 0) {
		step_record(step, -1);
		return;
	}
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	step_record(step, syscall(SYS_capset, &hdr, data));
}

/* do_dropcaps: dropcaps, every capability of this process */
void do_dropcaps(int step)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[2];

	memset(none, 0, sizeof(none));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL) {
		step_record(step, -1);
		return;
	}
	step_record(step, syscall(SYS_capset, &hdr, none));
}

/* do_setsockopt: setsockopt s passrights=0|1, sndbuf=N or rcvbuf=N (SOL_SOCKET) */
void do_setsockopt(int step, int s, int name, int val)
{
	if (var_fd[s] < 0) {
		step_skip(step);
		return;
	}
	step_record(step, setsockopt(var_fd[s], SOL_SOCKET, name, &val, sizeof(val)));
}

/*
 * do_inet: s = inet tcp|udp|tcp6|udp6, an unbound AF_INET or AF_INET6 socket
 * (domain AF_INET or AF_INET6, type SOCK_STREAM or SOCK_DGRAM)
 */
void do_inet(int step, int domain, int type, int out)
{
	int s = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	step_record(step, s);
	if (s >= 0) {
		var_fd[out] = s;
		ident_note(step, 0, s);
	}
}

/* do_devnull: d = devnull, /dev/null opened for reading and writing */
void do_devnull(int step, int out)
{
	int f = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);

	step_record(step, f);
	if (f >= 0)
		var_fd[out] = f;
}

/*
 * do_pty: m t = pty, a pseudo-terminal: the master from /dev/ptmx, unlocked,
 * and its terminal by TIOCGPTPEER (no /dev/pts path needed)
 */
void do_pty(int step, int master, int peer)
{
	int unlock = 0, m, t = -1, err;

	m = open("/dev/ptmx", O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (m < 0) {
		step_record(step, -1);
		return;
	}
	if (ioctl(m, TIOCSPTLCK, &unlock) != 0 ||
	    (t = ioctl(m, TIOCGPTPEER,
		       O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		err = errno;
		close(m);
		errno = err;
		step_record(step, -1);
		return;
	}
	step_record(step, 0);
	var_fd[master] = m;
	var_fd[peer] = t;
}

/* do_limit_nofile: limit nofile=N, this process's RLIMIT_NOFILE from here on */
void do_limit_nofile(int step, int n)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
		step_record(step, -1);
		return;
	}
	lim.rlim_cur = (rlim_t)n;
	if (lim.rlim_max < lim.rlim_cur)
		lim.rlim_max = lim.rlim_cur;
	step_record(step, setrlimit(RLIMIT_NOFILE, &lim));
}
