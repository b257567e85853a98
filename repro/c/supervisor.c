/* The supervisor: a network namespace of its own, the graph run and reaped
 * under a watchdog, the census settled by proof, and the verdict on the last
 * line. */
#include "repro.h"

int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sleep_us(int64_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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

/* A network namespace of our own; in a user namespace when not root. */
static int enter_netns(void)
{
	char map[64];
	unsigned int uid = getuid(), gid = getgid();

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

/*
 * The run's own directory, where the scenario's ./NAME paths live (inflight's
 * sandbox uses its slot's tmpfs): made only for a scenario that names paths,
 * the working directory of the graph, and removed with the paths at the end.
 */
static char run_dir[64];
static int run_dir_fd = -1;
static const struct repro_scenario *run_scn;

static int make_run_dir(const struct repro_scenario *s)
{
	run_scn = s;
	snprintf(run_dir, sizeof(run_dir), "/tmp/inflight-repro.XXXXXX");
	if (mkdtemp(run_dir) == NULL) {
		run_dir[0] = 0;
		return -1;
	}
	run_dir_fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return run_dir_fd >= 0 && chdir(run_dir) == 0 ? 0 : -1;
}

/* Async-signal-safe: on_signal calls it too. */
static void remove_run_dir(void)
{
	if (!run_dir[0])
		return;
	for (int i = 0; run_dir_fd >= 0 && i < run_scn->npaths; i++)
		unlinkat(run_dir_fd, run_scn->paths[i], 0);
	rmdir(run_dir); /* our working directory: Linux removes it all the same */
	run_dir[0] = 0;
}

/* Ctrl-C or a kill of the supervisor takes the graph (a pgroup) along. */
static pid_t graph_group;

static void on_signal(int sig)
{
	if (graph_group > 0)
		kill(-graph_group, SIGKILL);
	remove_run_dir();
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
		for (int p = 0; p < REPRO_MAX_PROCS; p++)
			if (sh->pid[p] == pid && sh->killed[p])
				return 1;
	}
	return 0;
}

static const char *errname(const struct repro_expect *e, int n, int err)
{
	if (err == 0)
		return "success";
	for (int i = 0; i < n; i++)
		for (int k = 0; k < e[i].nerr; k++)
			if (e[i].err[k] == err)
				return e[i].err_names[k];
	return strerror(err);
}

static int accepted(const struct repro_expect *e, int err)
{
	for (int k = 0; k < e->nerr; k++)
		if (e->err[k] == err)
			return 1;
	return 0;
}

/* "EAGAIN", or "success or ETOOMANYREFS" for expect=ok|ETOOMANYREFS. */
static void print_expected(const struct repro_expect *e)
{
	for (int k = 0; k < e->nerr; k++)
		printf("%s%s", k ? " or " : "", e->err_names[k]);
}

int check_creds(const struct repro_creds_expect *e, int n)
{
	int faults = 0;

	for (int i = 0; i < n; i++) {
		int s = e[i].step, p = e[i].proc;
		const struct ucred *c = &sh->cred[s];

		if (sh->status[s] != STEP_OK)
			continue;
		if (sh->creds[s] != 1) {
			printf("fault: step %d (%s): expected the credentials of "
			       "%s, %s\n",
			       s, e[i].text, e[i].proc_name,
			       sh->creds[s] ? "the SCM_CREDENTIALS message was "
					      "cut short (MSG_CTRUNC)"
					    : "no SCM_CREDENTIALS message arrived");
			faults++;
		} else if (sh->pid[p] > 0 &&
			   (c->pid != sh->pid[p] || c->uid != sh->uid[p] ||
			    c->gid != sh->gid[p])) {
			printf("fault: step %d (%s): expected the credentials of "
			       "%s (pid %d, uid %u, gid %u), got pid %d, uid %u, "
			       "gid %u\n",
			       s, e[i].text, e[i].proc_name, (int)sh->pid[p],
			       (unsigned)sh->uid[p], (unsigned)sh->gid[p],
			       (int)c->pid, (unsigned)c->uid, (unsigned)c->gid);
			faults++;
		}
	}
	return faults;
}

int check_expects(const struct repro_expect *e, int n)
{
	int faults = 0;

	for (int i = 0; i < n; i++) {
		int s = e[i].step;

		if (sh->status[s] == STEP_NOT_RUN)
			continue;
		if (sh->status[s] == STEP_SKIPPED) {
			printf("fault: step %d (%s): expected ", s, e[i].text);
			print_expected(&e[i]);
			printf(", got skipped (no descriptor)\n");
			faults++;
		} else if (!accepted(&e[i], sh->err[s])) {
			printf("fault: step %d (%s): expected ", s, e[i].text);
			print_expected(&e[i]);
			printf(", got %s\n", errname(e, n, sh->err[s]));
			faults++;
		}
	}
	return faults;
}

int check_sames(const struct repro_scenario *s)
{
	int faults = 0;

	for (int i = 0; i < s->nsames; i++) {
		const struct repro_same *e = &s->sames[i];
		const struct repro_ident *got = &sh->same_got[e->step];
		int k = sh->same_bad[e->step] - 1, count = 0, which;

		if (k < 0 || k >= e->nslots)
			continue;
		printf("fault: step %d (%s): slot %d (%s) ", e->step, e->text, k,
		       e->slot_names[k]);
		which = got->made ? same_which(got, &count) : -1;
		if (!got->made)
			printf("nothing arrived");
		else if (which < 0)
			printf("holds inode %llu (no object this scenario created)",
			       (unsigned long long)got->ino);
		else if (count == 1)
			printf("holds %s", s->made_names[which]);
		else
			printf("holds one of %d objects alike, e.g. %s", count,
			       s->made_names[which]);
		printf(", %s %s\n", got->made ? "not" : "expected",
		       s->made_names[e->keys[k]]);
		faults++;
	}
	return faults;
}

/*
 * Forks the graph's root as a process group of its own and reaps every graph
 * process (orphans come back to us: we are their subreaper); kills them all
 * when the graph overruns its watchdog. Returns -1 when the fork failed.
 */
static int run_graph(const struct repro_scenario *s, int *hung, int *unexpected)
{
	int64_t start = now_us();
	pid_t root = fork();

	if (root < 0)
		return -1;
	if (root == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0); /* one process group, for the watchdog */
		fresh_uid(); /* as in inflight: its own in-flight accounting */
		close_all(); /* descriptors start at 0, as in inflight */
		s->run_root();
		_exit(0);
	}
	setpgid(root, root);
	graph_group = root;
	sh->pid[0] = root;
	for (;;) {
		int status;
		pid_t pid;

		/* kills a graph process could not do itself (do_kill) */
		for (int p = 0; p < REPRO_MAX_PROCS; p++) {
			if (!sh->kill_ask[p])
				continue;
			sh->kill_ask[p] = 0;
			if (sh->pid[p] > 0 && sh->killed[p])
				kill(sh->pid[p], SIGKILL);
		}
		pid = waitpid(-root, &status, WNOHANG);

		if (pid > 0) {
			if (!expected_end(pid, status, *hung))
				(*unexpected)++;
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			return 0;
		if (!*hung && now_us() - start > s->timeout_ms * 1000) {
			*hung = 1;
			kill(-root, SIGKILL);
		}
		sleep_us(200);
	}
}

/*
 * Settles the namespace after the graph ended at `ended`: censuses with backoff
 * while witnesses prove collector passes (see settle.c). -1 when a census or
 * the witnesses cannot be read, or the witness maker is gone.
 */
static int settle(struct collector_clock *clk, struct settler *st,
		  const struct census *base, struct census *now, int64_t ended,
		  long settle_ms, enum settle_outcome *out)
{
	struct settle_options opt = settle_defaults((int64_t)settle_ms * 1000);
	int64_t t;

	if (take_census(now) != 0)
		return -1;
	if (census_clean(now, base)) {
		*out = SETTLE_CLEAN; /* clean at once: no wait */
		return 0;
	}
	t = now_us();
	settler_start(st, &opt, t, ended);
	if (clock_need(clk, st->round_since, t) != 0)
		return -1;
	for (;;) {
		t = now_us();
		if (st->next_at > t)
			sleep_us(st->next_at - t);
		/* the witnesses first, so that a census follows the passes it
		 * counts */
		if (clock_poll(clk, now_us()) != 0 || take_census(now) != 0)
			return -1;
		t = now_us();
		*out = settler_on_census(st, census_clean(now, base), now, t,
					 &clk->log);
		if (*out != SETTLE_PENDING)
			return 0;
		if (clock_need(clk, st->round_since, t) != 0)
			return -1;
	}
}

/*
 * Whether this kernel makes sockets of `family`; prints SKIP and why if not (a
 * kernel built without TCP/IP or IPv6 says nothing of descriptors in flight).
 */
static int family_available(int family, const char *name)
{
	int f = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (f < 0) {
		printf("SKIP: this kernel makes no %s sockets (%s), and the "
		       "graph's inet steps need them\n",
		       name, strerror(errno));
		return 0;
	}
	close(f);
	return 1;
}

static int run_and_rule(const struct repro_scenario *s);

int repro_main(const struct repro_scenario *s)
{
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s->npaths > 0 && make_run_dir(s) != 0) {
		printf("SKIP: cannot make a directory of the run's own for its "
		       "paths in /tmp (%s)\n",
		       strerror(errno));
		remove_run_dir();
		return REPRO_EXIT_NO_VERDICT;
	}
	r = run_and_rule(s);
	remove_run_dir();
	return r;
}

static int run_and_rule(const struct repro_scenario *s)
{
	struct census base, now;
	struct rlimit nofile = { 4096, 4096 };
	struct collector_clock clk;
	struct settler st;
	enum settle_outcome out = SETTLE_CLEAN;
	int hung = 0, unexpected = 0, faults = 0, r;

	if (s->nprocs > REPRO_MAX_PROCS || s->nsteps > REPRO_MAX_STEPS) {
		printf("ERROR: the scenario is larger than this library's "
		       "bounds\n");
		return REPRO_EXIT_ERROR;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return REPRO_EXIT_ERROR;
	}
	sh->timeout_ms = s->timeout_ms;
	for (int p = 0; p < s->nprocs; p++)
		sem_init(&sh->turn[p], 1, p == 0 ? 1 : 0); /* the root starts */
	vars_init();
	signal(SIGPIPE, SIG_IGN); /* a dead witness maker fails a write */
	/* Witnesses live in the namespace we start in, never in the graph's
	 * census. */
	if (clock_start(&clk) != 0) {
		printf("SKIP: cannot start the collector's witness "
		       "maker (%s)\n",
		       strerror(errno));
		return REPRO_EXIT_NO_VERDICT;
	}
	if ((s->inet_families & REPRO_INET &&
	     !family_available(AF_INET, "AF_INET")) ||
	    (s->inet_families & REPRO_INET6 &&
	     !family_available(AF_INET6, "AF_INET6")))
		return REPRO_EXIT_NO_VERDICT;
	if (enter_netns() != 0) {
		printf("SKIP: cannot make a network namespace (%s): run "
		       "as root, or allow unprivileged user namespaces\n",
		       strerror(errno));
		return REPRO_EXIT_NO_VERDICT;
	}
	if (setrlimit(RLIMIT_NOFILE, &nofile) != 0 &&
	    getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
		nofile.rlim_cur =
			nofile.rlim_max < 4096 ? nofile.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* orphaned graph processes come back to us */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (take_census(&base) != 0) {
		printf("SKIP: cannot read /proc/net/unix or "
		       "/proc/net/protocols\n");
		return REPRO_EXIT_NO_VERDICT;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (run_graph(s, &hung, &unexpected) != 0) {
		perror("fork");
		return REPRO_EXIT_ERROR;
	}
	if (sh->fork_failed || unexpected) {
		printf("ERROR: %s; the run says nothing about the kernel\n",
		       sh->fork_failed ? "a fork failed"
				       : "a graph process died unexpectedly");
		return REPRO_EXIT_ERROR;
	}
	if (hung) {
		printf("HANG: the graph did not end within %ld ms\n",
		       s->timeout_ms);
		return REPRO_EXIT_FINDING;
	}
	faults = check_expects(s->expects, s->nexpects) +
		 check_creds(s->creds_expects, s->ncreds_expects);
	faults += check_sames(s);

	r = settle(&clk, &st, &base, &now, now_us(), s->settle_ms, &out);
	clock_stop(&clk);
	if (r != 0) {
		printf("ERROR: while settling, the census or the witnesses' "
		       "epoll (/proc/self/fdinfo) could not be read, or the "
		       "witness maker died; the run says nothing about the "
		       "kernel\n");
		return REPRO_EXIT_ERROR;
	}
	if (out == SETTLE_LEAK) {
		printf("LEAK: %ld AF_UNIX socket(s) listed and %ld alive "
		       "after the graph ended (at the start: %ld and %ld); "
		       "%s\n",
		       now.table, now.alive, base.table, base.alive, st.why);
		return REPRO_EXIT_FINDING;
	}
	if (faults) {
		printf("FAULT: %d step(s) did not give the expected result\n",
		       faults);
		return REPRO_EXIT_FINDING;
	}
	if (out == SETTLE_UNSETTLED) {
		printf("UNSETTLED: %ld AF_UNIX socket(s) listed and %ld alive "
		       "(at the start: %ld and %ld), %s: no verdict; a larger "
		       "SETTLE_MS may see them freed\n",
		       now.table, now.alive, base.table, base.alive, st.why);
		return REPRO_EXIT_NO_VERDICT;
	}
	printf("CLEAN: every AF_UNIX socket of the graph was freed\n");
	return REPRO_EXIT_CLEAN;
}
