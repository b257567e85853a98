/* Settling by proof, as inflight's probe/settle.cc does it: a leftover is a
 * leak only once collector passes that provably started after the graph ended
 * freed nothing more of it. A timer is no evidence: a correct kernel may free
 * late (its collector runs from a work queue, files go through delayed fput),
 * and seconds late when slow. */
#include "repro.h"

#define FIRST_RETRIGGER_US 50000
#define MAX_RETRIGGER_US 1000000

int wlog_made(struct witness_log *l, uint64_t key, int64_t at)
{
	if (l->n == WITNESS_KEPT) {
		int i = 0;

		while (i < l->n && !l->w[i].freed_at)
			i++;
		if (i == l->n)
			return -1;
		memmove(&l->w[i], &l->w[i + 1],
			(l->n - i - 1) * sizeof(l->w[0]));
		l->n--;
	}
	l->w[l->n].key = key;
	l->w[l->n].made_at = at;
	l->w[l->n].freed_at = 0;
	l->n++;
	return 0;
}

void wlog_freed(struct witness_log *l, uint64_t key, int64_t at)
{
	for (int i = 0; i < l->n; i++)
		if (l->w[i].key == key && !l->w[i].freed_at)
			l->w[i].freed_at = at;
}

int64_t wlog_freed_after(const struct witness_log *l, int64_t since)
{
	int64_t first = 0;

	for (int i = 0; i < l->n; i++) {
		const struct witness *x = &l->w[i];

		if (x->made_at >= since && x->freed_at &&
		    (!first || x->freed_at < first))
			first = x->freed_at;
	}
	return first;
}

int64_t wlog_newest_made_since(const struct witness_log *l, int64_t since)
{
	if (l->n > 0 && l->w[l->n - 1].made_at >= since)
		return l->w[l->n - 1].made_at;
	return 0;
}

int wlog_any_freed_since(const struct witness_log *l, int64_t since)
{
	for (int i = 0; i < l->n; i++)
		if (l->w[i].freed_at && l->w[i].freed_at >= since)
			return 1;
	return 0;
}

int wlog_alive(const struct witness_log *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += !l->w[i].freed_at;
	return n;
}

int wlog_stalled(const struct witness_log *l, int64_t now, int64_t ceiling_us)
{
	for (int i = 0; i < l->n; i++)
		if (!l->w[i].freed_at) /* the oldest live one */
			return now - l->w[i].made_at >= ceiling_us;
	return 0;
}

struct settle_options settle_defaults(int64_t ceiling_us)
{
	struct settle_options o = {
		.ceiling_us = ceiling_us > 1000 ? ceiling_us : 1000,
		.stable_rounds = 2,
		.first_gap_us = 1000,
		.max_gap_us = 20000,
		.stall_grace_us = 1000000,
	};

	return o;
}

void settler_start(struct settler *s, const struct settle_options *opt,
		   int64_t now, int64_t garbage_since)
{
	memset(s, 0, sizeof(*s));
	s->opt = *opt;
	s->started = now;
	s->garbage_since = garbage_since;
	s->round_since = garbage_since;
	s->gap = opt->first_gap_us;
	s->next_at = now + s->gap;
	s->last_change = now;
}

enum settle_outcome settler_on_census(struct settler *s, int clean,
				      const struct census *fp, int64_t now,
				      const struct witness_log *log)
{
	int any_pass;

	s->polls++;
	if (clean) {
		snprintf(s->why, sizeof(s->why),
			 "clean after %d collector pass(es)", s->rounds);
		return SETTLE_CLEAN;
	}
	if (!s->have_fp || !census_same(fp, &s->last_fp)) {
		s->last_fp = *fp;
		s->have_fp = 1;
		s->last_change = now;
	}
	if (wlog_freed_after(log, s->round_since) != 0) {
		/* A pass that started after the last round's census ran and its
		   releases went through: did it free anything? */
		s->rounds++;
		s->stable = s->have_round_fp && census_same(fp, &s->round_fp)
				    ? s->stable + 1
				    : 0;
		s->round_fp = *fp;
		s->have_round_fp = 1;
		s->round_since = now;
		if (s->stable >= s->opt.stable_rounds) {
			snprintf(s->why, sizeof(s->why),
				 "%d collector passes completed after the "
				 "graph ended, the last %d freed nothing",
				 s->rounds, s->stable);
			return SETTLE_LEAK;
		}
	}
	any_pass = wlog_freed_after(log, s->garbage_since) != 0;
	if (!any_pass && wlog_stalled(log, now, s->opt.ceiling_us) &&
	    !wlog_any_freed_since(log, s->garbage_since) &&
	    now - s->started >= s->opt.stall_grace_us &&
	    now - s->last_change >= s->opt.stall_grace_us) {
		s->stalled = 1;
		snprintf(s->why, sizeof(s->why),
			 "the collector is stalled: a witness (a lone "
			 "self-referencing socket) has lived over %.0f s, none "
			 "was freed since the graph ended, and nothing changed "
			 "for %.1f s",
			 s->opt.ceiling_us / 1e6, (now - s->last_change) / 1e6);
		return SETTLE_LEAK;
	}
	if (now - s->started >= s->opt.ceiling_us) {
		if (!any_pass &&
		    now - s->last_change >= s->opt.stall_grace_us) {
			s->stalled = 1;
			snprintf(s->why, sizeof(s->why),
				 "the collector is stalled: no pass "
				 "completed in %.1f s, its witness (a lone "
				 "self-referencing socket made after the "
				 "graph ended) was never freed",
				 (now - s->started) / 1e6);
			return SETTLE_LEAK;
		}
		snprintf(s->why, sizeof(s->why),
			 "still changing after %d collector passes in %.1f s "
			 "(last change %.1f s ago)",
			 s->rounds, (now - s->started) / 1e6,
			 (now - s->last_change) / 1e6);
		return SETTLE_UNSETTLED;
	}
	s->gap =
		s->gap * 2 < s->opt.max_gap_us ? s->gap * 2 : s->opt.max_gap_us;
	s->next_at = now + s->gap;
	return SETTLE_PENDING;
}

/*
 * `a` is sent over its peer into its own receive queue and closed first, so
 * that it is garbage before b's release schedules the collector (closing a unix
 * socket while anything is in flight does).
 */
int make_self_reference(int epfd, uint64_t key)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg;
	struct cmsghdr *h;
	int sv[2], r = 0;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if (epfd >= 0) {
		/* never wakes anyone: only its presence in fdinfo matters */
		struct epoll_event ev = { .events = 0, .data.u64 = key };

		r = epoll_ctl(epfd, EPOLL_CTL_ADD, sv[0], &ev);
	}
	if (r == 0) {
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
		memcpy(CMSG_DATA(h), &sv[0], sizeof(int));
		r = sendmsg(sv[1], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0
									   : -1;
	}
	close(sv[0]);
	close(sv[1]);
	return r;
}

int epoll_fdinfo_keys(FILE *f, uint64_t *keys, int max)
{
	char line[256];
	int n = 0;

	/* "tfd:  5 events:  0 data:  1  pos:0 ino:3a4 sdev:e", padded wider */
	while (fgets(line, sizeof(line), f)) {
		const char *d;
		char *end;

		if (strncmp(line, "tfd:", 4) != 0)
			continue;
		d = strstr(line, "data:");
		if (!d || n == max)
			return -1;
		d += 5;
		while (*d == ' ')
			d++;
		keys[n] = strtoull(d, &end, 16);
		if (end == d)
			return -1;
		n++;
	}
	return n;
}

/* The witness maker: a witness per key it reads; answers 1 (made) or 0. */
static void witness_maker(int epfd, int req, int ack)
{
	for (;;) {
		uint64_t key;
		ssize_t n = read(req, &key, sizeof(key));
		char ok;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(key))
			_exit(0); /* EOF: the supervisor is gone */
		ok = make_self_reference(epfd, key) == 0;
		if (write(ack, &ok, 1) != 1)
			_exit(0);
	}
}

int clock_start(struct collector_clock *c)
{
	int req[2], ack[2];
	pid_t parent = getpid();

	memset(c, 0, sizeof(*c));
	c->epfd = c->req_fd = c->ack_fd = -1;
	c->next_key = 1;
	c->backoff_us = FIRST_RETRIGGER_US;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return -1;
	if (pipe2(req, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(ack, O_CLOEXEC) != 0)
		return -1;
	c->maker = fork();
	if (c->maker < 0)
		return -1;
	if (c->maker == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		close(req[1]);
		close(ack[0]);
		witness_maker(c->epfd, req[0], ack[1]);
		_exit(0);
	}
	close(req[0]);
	close(ack[1]);
	c->req_fd = req[1];
	c->ack_fd = ack[0];
	return 0;
}

/*
 * A witness made by the maker, best effort: one not made (all alive, or the
 * maker could not) only slows settling. -1 when the maker is gone: then no
 * witness will ever come, and its silence must not pass for a stalled
 * collector.
 */
static int clock_make(struct collector_clock *c, int64_t now)
{
	uint64_t key = c->next_key;
	char ok = 0;

	if (wlog_alive(&c->log) >= WITNESS_MAX_ALIVE)
		return 0;
	if (write(c->req_fd, &key, sizeof(key)) != sizeof(key) ||
	    read(c->ack_fd, &ok, 1) != 1)
		return -1;
	c->next_key++;
	if (!ok)
		return 0;
	c->made++;
	wlog_made(&c->log, key, now);
	return 0;
}

int clock_need(struct collector_clock *c, int64_t since, int64_t now)
{
	if (wlog_newest_made_since(&c->log, since) == 0)
		return clock_make(c, now);
	if (wlog_freed_after(&c->log, since) != 0)
		return 0; /* proven already */
	/* The newest witness lives: the pass it triggered may have begun before
	   it was garbage, and a collector already scheduled is not scheduled
	   again. */
	if (now - wlog_newest_made_since(&c->log, 0) >= c->backoff_us) {
		c->backoff_us = c->backoff_us * 2 < MAX_RETRIGGER_US
					? c->backoff_us * 2
					: MAX_RETRIGGER_US;
		return clock_make(c, now);
	}
	return 0;
}

int clock_poll(struct collector_clock *c, int64_t now)
{
	uint64_t keys[WITNESS_KEPT];
	char path[64];
	int n, freed = 0;
	FILE *f;

	if (wlog_alive(&c->log) == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", c->epfd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = epoll_fdinfo_keys(f, keys, WITNESS_KEPT);
	fclose(f);
	if (n < 0)
		return -1;
	for (int i = 0; i < c->log.n; i++) {
		struct witness *w = &c->log.w[i];
		int alive = 0;

		for (int k = 0; k < n && !alive; k++)
			alive = keys[k] == w->key;
		if (w->freed_at || alive)
			continue;
		w->freed_at = now;
		freed = 1;
	}
	if (freed)
		c->backoff_us = FIRST_RETRIGGER_US;
	return 0;
}

void clock_stop(struct collector_clock *c)
{
	int *fds[] = { &c->req_fd, &c->ack_fd, &c->epfd };

	for (int i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]); /* the maker reads EOF and leaves */
		*fds[i] = -1;
	}
	if (c->maker > 0)
		waitpid(c->maker, NULL, 0);
	c->maker = 0;
}
