/*
 * Tests of the reproducer's library, linked with its .c files as they are.
 *
 *   repro_test unit    parsers and settling rules (fixed inputs, a fake clock)
 *   repro_test kernel  census, witnesses, steps and turns on this kernel
 *
 * Prints KTAP; exits 0 when all passed, 1 when one failed, 77: none could run.
 */
#include "repro.h"

#include <sys/stat.h>

static int tests, failures, skips;

static void result(int ok, const char *name, const char *detail)
{
	tests++;
	if (!ok)
		failures++;
	printf("%s %d %s%s%s\n", ok ? "ok" : "not ok", tests, name,
	       detail && *detail ? ": " : "", detail ? detail : "");
}

static void skipped(const char *name, const char *why)
{
	tests++;
	skips++;
	printf("ok %d %s # SKIP %s\n", tests, name, why);
}

#define EXPECT(name, cond, ...)                                  \
	do {                                                     \
		char detail_[512];                               \
		snprintf(detail_, sizeof(detail_), __VA_ARGS__); \
		result((cond), (name), (cond) ? "" : detail_);   \
	} while (0)

static FILE *text(const char *s)
{
	return fmemopen((void *)s, strlen(s), "r");
}

/* ---- unit: fixed inputs, known outputs ---- */

/*
 * About 120 bytes of a path. Real rows are shorter; one longer than the
 * reader's line buffer must still count once.
 */
#define PATH120                                                     \
	"/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/" \
	"/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/" \
	"/and/"
#define PATH1200                                                        \
	PATH120 PATH120 PATH120 PATH120 PATH120 PATH120 PATH120 PATH120 \
		PATH120 PATH120

static const char unix_rows[] =
	"Num       RefCount Protocol Flags    Type St Inode Path\n"
	"00000000c380715b: 00000003 00000000 00000000 0001 03  1157\n"
	"000000002beae9e1: 00000002 00000000 00010000 0001 01 9275633 " PATH1200
	"\n"
	"0000000049347d00: 00000002 00000000 00000000 0002 01 9275634 @srv\n";

/* The same rows in another order. */
static const char unix_reordered[] =
	"Num       RefCount Protocol Flags    Type St Inode Path\n"
	"0000000049347d00: 00000002 00000000 00000000 0002 01 9275634 @srv\n"
	"00000000c380715b: 00000003 00000000 00000000 0001 03  1157\n"
	"000000002beae9e1: 00000002 00000000 00010000 0001 01 9275633 /x\n";

/* One socket changed state (03 -> 04). */
static const char unix_changed[] =
	"Num       RefCount Protocol Flags    Type St Inode Path\n"
	"0000000049347d00: 00000002 00000000 00000000 0002 01 9275634 @srv\n"
	"00000000c380715b: 00000003 00000000 00000000 0001 04  1157\n"
	"000000002beae9e1: 00000002 00000000 00010000 0001 01 9275633 /x\n";

static void test_census_parsers(void)
{
	struct census a = { 0 }, b = { 0 }, c = { 0 };
	FILE *f;
	int r;

	f = text(unix_rows);
	r = census_read_unix(f, &a);
	fclose(f);
	EXPECT("census_reads_rows_of_proc_net_unix", r == 0 && a.table == 3,
	       "r=%d table=%ld (want 3: a long path is one row)", r, a.table);
	f = text(unix_reordered);
	census_read_unix(f, &b);
	fclose(f);
	f = text(unix_changed);
	census_read_unix(f, &c);
	fclose(f);
	EXPECT("census_rows_hash_ignores_order_and_paths", a.rows == b.rows,
	       "%llx != %llx", (unsigned long long)a.rows,
	       (unsigned long long)b.rows);
	EXPECT("census_rows_hash_sees_a_state_change", b.rows != c.rows,
	       "a socket's state changed, the fingerprint did not");
	f = text("Num RefCount\n0000: garbage\n");
	r = census_read_unix(f, &a);
	fclose(f);
	EXPECT("census_refuses_a_malformed_row", r == -1, "r=%d", r);
	f = text("");
	r = census_read_unix(f, &a);
	fclose(f);
	EXPECT("census_refuses_an_empty_table", r == -1, "r=%d", r);

	f = text("protocol  size sockets  memory press maxhdr  slab module\n"
		 "PACKET    1600      4      -1   NI       0   no   kernel\n"
		 "UNIX-STREAM 1152      3      -1   NI       0   yes  kernel\n"
		 "UNIX      1152      5      -1   NI       0   yes  kernel\n");
	r = census_read_protocols(f, &a);
	fclose(f);
	EXPECT("census_sums_unix_and_unix_stream", r == 0 && a.alive == 8,
	       "r=%d alive=%ld (want 8)", r, a.alive);
	f = text("protocol  size sockets\nTCP 1 2\n");
	r = census_read_protocols(f, &a);
	fclose(f);
	EXPECT("census_refuses_protocols_without_unix", r == -1, "r=%d", r);

	a.table = 2, a.alive = 3, a.rows = 7;
	b = a;
	b.rows = 8;
	EXPECT("census_clean_compares_counts_only",
	       census_clean(&a, &b) && !census_same(&a, &b), "-");
}

static void test_fdinfo_parser(void)
{
	uint64_t keys[4];
	FILE *f = text("pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n"
		       "tfd:        4 events:       18 data:                1"
		       "  pos:0 ino:8d8f1c sdev:f\n"
		       "tfd:        7 events:        0 data:               2a"
		       "  pos:0 ino:8d8f1d sdev:f\n");
	int n = epoll_fdinfo_keys(f, keys, 4);

	fclose(f);
	EXPECT("fdinfo_keys_of_every_item",
	       n == 2 && keys[0] == 1 && keys[1] == 0x2a, "n=%d", n);
	f = text("tfd:        4 events:       18\n");
	n = epoll_fdinfo_keys(f, keys, 4);
	fclose(f);
	EXPECT("fdinfo_item_without_data_is_malformed", n == -1, "n=%d", n);
	f = text("tfd: 1 data: 1\ntfd: 2 data: 2\n");
	n = epoll_fdinfo_keys(f, keys, 1);
	fclose(f);
	EXPECT("fdinfo_more_items_than_room_is_an_error", n == -1, "n=%d", n);
}

static void test_witness_log(void)
{
	static struct witness_log l;
	int ok = 1;

	wlog_made(&l, 1, 100);
	wlog_made(&l, 2, 200);
	wlog_made(&l, 3, 300);
	wlog_freed(&l, 2, 250);
	EXPECT("wlog_freed_after_counts_only_witnesses_made_since",
	       wlog_freed_after(&l, 150) == 250 &&
		       wlog_freed_after(&l, 201) == 0,
	       "%lld %lld", (long long)wlog_freed_after(&l, 150),
	       (long long)wlog_freed_after(&l, 201));
	EXPECT("wlog_newest_and_alive",
	       wlog_newest_made_since(&l, 250) == 300 &&
		       wlog_newest_made_since(&l, 301) == 0 &&
		       wlog_alive(&l) == 2,
	       "-");
	EXPECT("wlog_stalled_by_the_oldest_live_witness",
	       wlog_stalled(&l, 1100, 1000) && !wlog_stalled(&l, 1099, 1000),
	       "-");
	for (uint64_t k = 4; k <= WITNESS_KEPT; k++)
		ok &= wlog_made(&l, k, 300 + k) == 0;
	ok &= wlog_made(&l, 1000, 5000) == 0; /* forgets witness 2, freed */
	EXPECT("wlog_forgets_only_freed_witnesses",
	       ok && l.n == WITNESS_KEPT && l.w[0].key == 1 && l.w[1].key == 3,
	       "n=%d", l.n);
	EXPECT("wlog_full_of_live_witnesses_refuses",
	       wlog_made(&l, 1001, 6000) == -1, "-");
}

/* A collector that completes a pass `pass_us` after each witness is made. */
struct fake_collector {
	struct witness_log log;
	uint64_t key;
	int64_t pass_us;
	int works;
	uint64_t pending[WITNESS_KEPT];
	int64_t made[WITNESS_KEPT];
	int npending;
};

static void fake_init(struct fake_collector *c, int64_t pass_us)
{
	memset(c, 0, sizeof(*c));
	c->key = 1;
	c->pass_us = pass_us;
	c->works = 1;
}

static void fake_need(struct fake_collector *c, int64_t since, int64_t now)
{
	if (wlog_newest_made_since(&c->log, since) != 0)
		return;
	wlog_made(&c->log, c->key, now);
	c->pending[c->npending] = c->key++;
	c->made[c->npending++] = now;
}

static void fake_advance(struct fake_collector *c, int64_t now)
{
	int i = 0;

	while (c->works && i < c->npending) {
		if (now < c->made[i] + c->pass_us) {
			i++;
			continue;
		}
		wlog_freed(&c->log, c->pending[i], now);
		c->npending--;
		memmove(&c->pending[i], &c->pending[i + 1],
			(c->npending - i) * sizeof(c->pending[0]));
		memmove(&c->made[i], &c->made[i + 1],
			(c->npending - i) * sizeof(c->made[0]));
	}
}

/* The census at `now`: `sockets` sockets; clean when none. */
typedef long (*sockets_at)(int64_t now, int64_t pass_us);

static enum settle_outcome drive(struct settler *s,
				 const struct settle_options *o,
				 struct fake_collector *c, int64_t start,
				 int64_t garbage_since, sockets_at fp,
				 int64_t *end)
{
	settler_start(s, o, start, garbage_since);
	fake_need(c, s->round_since, start);
	for (int i = 0; i < 1000000; i++) {
		int64_t now = s->next_at;
		struct census f = { 0 };
		enum settle_outcome out;

		fake_advance(c, now);
		f.table = f.alive = fp(now, c->pass_us);
		out = settler_on_census(s, f.table == 0, &f, now, &c->log);
		if (out != SETTLE_PENDING) {
			*end = now;
			return out;
		}
		fake_need(c, s->round_since, now);
	}
	return SETTLE_PENDING;
}

static long none(int64_t now, int64_t pass_us)
{
	(void)now, (void)pass_us;
	return 0;
}

static long four(int64_t now, int64_t pass_us)
{
	(void)now, (void)pass_us;
	return 4;
}

static long freed_at_1500ms(int64_t now, int64_t pass_us)
{
	(void)pass_us;
	return now < 1500000 ? 4 : 0;
}

static long falling(int64_t now, int64_t pass_us)
{
	(void)pass_us;
	return 1000000 - now / 1000; /* one fewer every millisecond */
}

static long freeing_three_passes(int64_t now, int64_t pass_us)
{
	return now < 4 * pass_us ? 10 - now / pass_us : 6;
}

static void test_settler(void)
{
	static struct fake_collector c;
	struct settle_options o = settle_defaults(60000000);
	struct settler s;
	enum settle_outcome out;
	int64_t end = 0;

	fake_init(&c, 5000);
	out = drive(&s, &o, &c, 10, 7, none, &end);
	EXPECT("settle_clean_at_the_first_census",
	       out == SETTLE_CLEAN && s.polls == 1, "out=%d polls=%d", out,
	       s.polls);

	fake_init(&c, 5000);
	out = drive(&s, &o, &c, 0, 0, four, &end);
	EXPECT("settle_leak_only_after_passes_that_freed_nothing",
	       out == SETTLE_LEAK && s.rounds == o.stable_rounds + 1 &&
		       end >= (o.stable_rounds + 1) * c.pass_us && !s.stalled,
	       "out=%d rounds=%d end=%lld", out, s.rounds, (long long)end);
	EXPECT("settle_leak_says_why",
	       strstr(s.why, "3 collector passes completed after the graph "
			     "ended, the last 2 freed nothing") != NULL,
	       "%s", s.why);

	fake_init(&c, 2000000); /* a pass takes 2 s: a slow kernel */
	out = drive(&s, &o, &c, 0, 0, freed_at_1500ms, &end);
	EXPECT("settle_waits_for_a_slow_collector_not_a_timer",
	       out == SETTLE_CLEAN && end >= 1500000, "out=%d end=%lld", out,
	       (long long)end);

	o = settle_defaults(2000000);
	fake_init(&c, 5000);
	out = drive(&s, &o, &c, 0, 0, falling, &end);
	EXPECT("settle_counts_still_falling_at_the_ceiling_are_unsettled",
	       out == SETTLE_UNSETTLED && end >= o.ceiling_us,
	       "out=%d end=%lld", out, (long long)end);

	fake_init(&c, 5000);
	c.works = 0;
	out = drive(&s, &o, &c, 0, 0, four, &end);
	EXPECT("settle_no_pass_at_all_is_a_stalled_collector_leak",
	       out == SETTLE_LEAK && s.stalled && end >= o.ceiling_us &&
		       strstr(s.why, "the collector is stalled") != NULL,
	       "out=%d stalled=%d end=%lld %s", out, s.stalled, (long long)end,
	       s.why);

	fake_init(&c, 5000);
	o = settle_defaults(60000000);
	out = drive(&s, &o, &c, 0, 0, freeing_three_passes, &end);
	EXPECT("settle_passes_that_still_free_restart_the_count",
	       out == SETTLE_LEAK && end >= 6 * c.pass_us, "out=%d end=%lld",
	       out, (long long)end);

	/* A witness older than the garbage proves nothing. */
	fake_init(&c, 5000);
	wlog_made(&c.log, 99, 100);
	wlog_freed(&c.log, 99, 250);
	settler_start(&s, &o, 300, 200);
	{
		struct census f = { 3, 3, 0 };

		out = settler_on_census(&s, 0, &f, 300, &c.log);
		out = settler_on_census(&s, 0, &f, 400, &c.log);
	}
	EXPECT("settle_a_witness_older_than_the_garbage_proves_nothing",
	       out == SETTLE_PENDING && s.rounds == 0, "out=%d rounds=%d", out,
	       s.rounds);
}

/* ---- kernel: against this kernel ---- */

/* Descriptors open in this process. */
static int open_fds(void)
{
	int n = 0;

	for (int f = 0; f < 1024; f++)
		n += fcntl(f, F_GETFD) >= 0;
	return n;
}

static int is_fifo(int f)
{
	struct stat st;

	return fstat(f, &st) == 0 && S_ISFIFO(st.st_mode);
}

static void map_shared(void)
{
	if (!sh)
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(sh, 0, sizeof(*sh));
	sh->timeout_ms = 10000;
	vars_init();
}

static void test_send_recv(void)
{
	static const int rights[] = { 2, 3 }, twice[] = { 1, 2 };
	static const int one[] = { 4 }, two[] = { 5, 6 }, many[] = { 7, 8, 9 };
	int before;

	map_shared();
	do_socketpair(0, SOCK_DGRAM, 0, 1);
	do_pipe(1, 2, 3);
	EXPECT("steps_make_descriptors",
	       sh->status[0] == STEP_OK && sh->status[1] == STEP_OK &&
		       var_fd[0] >= 0 && is_fifo(var_fd[2]),
	       "status %d %d", sh->status[0], sh->status[1]);

	/* r, w, w in one message: the receiver has room for one (MSG_CTRUNC) */
	do_send(2, 1, rights, twice, 2, 1, 0, 0, 1, CREDS_NONE);
	before = open_fds();
	do_recv(3, 0, two, 2, 0, CMSG_LEN(1 * sizeof(int)), 1, 0, 0);
	EXPECT("recv_ctrunc_installs_only_what_fits",
	       sh->status[3] == STEP_OK && is_fifo(var_fd[5]) &&
		       var_fd[6] == -1 && open_fds() == before + 1,
	       "status=%d fds %d -> %d", sh->status[3], before, open_fds());

	/* the same over two control messages, room for all and more */
	do_send(4, 1, rights, twice, 2, 2, 0, 0, 3, CREDS_NONE);
	before = open_fds();
	do_recv(5, 0, many, 3, MSG_PEEK, CMSG_LEN(253 * sizeof(int)), 3, 0, 0);
	EXPECT("recv_peek_installs_every_copy",
	       sh->status[4] == STEP_OK && sh->status[5] == STEP_OK &&
		       open_fds() == before + 3 && is_fifo(var_fd[9]),
	       "status=%d/%d fds %d -> %d", sh->status[4], sh->status[5],
	       before, open_fds());
	do_recv(6, 0, one, 1, 0, CMSG_LEN(1 * sizeof(int)), 3, 1, 0); /* RLIMIT_NOFILE 1: nothing fits */
	do_recv(7, 0, NULL, 0, 0, 0, 1, 0, 0);
	EXPECT("recv_of_an_empty_queue_fails_with_eagain",
	       sh->status[6] == STEP_OK && sh->status[7] == STEP_FAILED &&
		       sh->err[7] == EAGAIN,
	       "status=%d/%d err=%d", sh->status[6], sh->status[7], sh->err[7]);

	do_close(8, 3);
	do_send(9, 1, rights, twice, 2, 1, 0, 0, 1, CREDS_NONE); /* w is closed */
	do_close(10, 3);
	EXPECT("steps_without_their_descriptor_are_skipped",
	       sh->status[8] == STEP_OK && sh->status[9] == STEP_SKIPPED &&
		       sh->status[10] == STEP_SKIPPED,
	       "status %d %d %d", sh->status[8], sh->status[9], sh->status[10]);

	{
		static const int r_once[] = { 1 }, r_300[] = { 300 };
		static const int got[] = { 11 }, dropped[] = { 12 };

		/* an empty SCM_RIGHTS message first, r, then an empty one (cmsgs=2) */
		do_send(11, 1, rights, r_once, 1, 2, 1, 0, 1, CREDS_NONE);
		do_recv(12, 0, got, 1, 0, CMSG_LEN(253 * sizeof(int)), 1, 0, 0);
		EXPECT("send_with_empty_rights_messages_passes_the_rest",
		       sh->status[11] == STEP_OK && sh->status[12] == STEP_OK &&
			       is_fifo(var_fd[11]),
		       "status=%d/%d", sh->status[11], sh->status[12]);
		/* beyond SCM_MAX_FD: the kernel's EINVAL, nothing queued */
		do_send(13, 1, rights, r_300, 1, 1, 0, 0, 1, CREDS_NONE);
		EXPECT("send_beyond_scm_max_fd_is_einval",
		       sh->status[13] == STEP_FAILED && sh->err[13] == EINVAL,
		       "status=%d err=%d", sh->status[13], sh->err[13]);
		/* a header-only control buffer: the descriptor is dropped */
		do_send(14, 1, rights, r_once, 1, 1, 0, 0, 1, CREDS_NONE);
		before = open_fds();
		do_recv(15, 0, dropped, 1, 0, CMSG_LEN(0), 1, 0, 0);
		EXPECT("recv_header_only_buffer_installs_nothing",
		       sh->status[15] == STEP_OK && var_fd[12] == -1 &&
			       open_fds() == before,
		       "status=%d fds %d -> %d", sh->status[15], before,
		       open_fds());
	}
	{
		/* is=: a pipe's two ends share one inode; the access mode tells */
		static const int ends[] = { 14, 13 }, ones[] = { 1, 1 };
		static const int outs[] = { 15, 16 }, out1[] = { 17 };
		static const int right[] = { 2 * 16 + 1, 2 * 16 + 0 };
		static const int wrong[] = { 2 * 16 + 0 };

		do_pipe(16, 13, 14);
		do_send(17, 1, ends, ones, 2, 1, 0, 0, 1, CREDS_NONE);
		do_recv(18, 0, outs, 2, 0, CMSG_LEN(2 * sizeof(int)), 1, 0, 0);
		same_check(18, outs, right, 2);
		EXPECT("is_holds_for_the_objects_sent",
		       sh->status[18] == STEP_OK && sh->same_bad[18] == 0 &&
			       sh->made[16][1].made,
		       "status=%d bad=%d", sh->status[18], sh->same_bad[18]);
		do_send(19, 1, ends, ones, 1, 1, 0, 0, 1, CREDS_NONE);
		do_recv(20, 0, out1, 1, 0, CMSG_LEN(1 * sizeof(int)), 1, 0, 0);
		same_check(20, out1, wrong, 1);
		EXPECT("is_tells_a_pipes_ends_apart",
		       sh->same_bad[20] == 1 &&
			       (sh->same_got[20].mode & O_ACCMODE) == O_WRONLY,
		       "bad=%d mode=%#x", sh->same_bad[20],
		       sh->same_got[20].mode);

		/* fault=cbuf: the data and MSG_CTRUNC, nothing installed */
		do_send(21, 1, ends, ones, 2, 1, 0, 0, 1, CREDS_NONE);
		before = open_fds();
		do_recv(22, 0, NULL, 0, 0, CMSG_LEN(2 * sizeof(int)), 1, 0,
			REPRO_FAULT_CBUF);
		EXPECT("fault_cbuf_installs_nothing",
		       sh->status[22] == STEP_OK && open_fds() == before,
		       "status=%d err=%d fds %d -> %d", sh->status[22],
		       sh->err[22], before, open_fds());
		/* fault=data on a datagram: EFAULT, the message is gone */
		do_send(23, 1, ends, ones, 2, 1, 0, 0, 1, CREDS_NONE);
		do_recv(24, 0, NULL, 0, 0, CMSG_LEN(2 * sizeof(int)), 1, 0,
			REPRO_FAULT_DATA);
		do_recv(25, 0, NULL, 0, 0, CMSG_LEN(2 * sizeof(int)), 1, 0, 0);
		EXPECT("fault_data_on_a_datagram_is_efault_and_drops_it",
		       sh->status[24] == STEP_FAILED && sh->err[24] == EFAULT &&
			       sh->status[25] == STEP_FAILED &&
			       sh->err[25] == EAGAIN,
		       "status=%d/%d err=%d/%d", sh->status[24],
		       sh->status[25], sh->err[24], sh->err[25]);
	}
	for (int v = 0; v < REPRO_MAX_VARS; v++)
		if (var_fd[v] >= 0)
			close(var_fd[v]);
}

/* Processes 0, 1 and 2 take turns; each writes its number at its turn. */
struct turn_log {
	int len;
	char s[64];
};
static struct turn_log *order;

static void turn(int self, int next)
{
	wait_turn(self);
	order->s[order->len++] = (char)('0' + self);
	pass_turn(next);
}

static void test_turns(void)
{
	pid_t kids[2];

	map_shared();
	order = mmap(NULL, sizeof(*order), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(order, 0, sizeof(*order));
	for (int p = 0; p < 3; p++)
		sem_init(&sh->turn[p], 1, p == 0);
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0 && k == 0) {
			turn(1, 0);
			turn(1, 2);
			wait_turn(1); /* its exit turn, after 2's */
			end_process(-1);
		}
		if (kids[k] == 0) {
			turn(2, 1);
			wait_turn(2);
			end_process(1);
		}
	}
	turn(0, 1);
	turn(0, 2);
	for (int k = 0; k < 2; k++)
		waitpid(kids[k], NULL, 0);
	EXPECT("turns_follow_the_handoff", strcmp(order->s, "01021") == 0,
	       "order %s (want 01021)", order->s);
}

static void test_kill(void)
{
	siginfo_t si;
	pid_t pid;

	map_shared();
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	sh->pid[1] = pid;
	do_kill(0, 1);
	memset(&si, 0, sizeof(si));
	waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	EXPECT("kill_returns_once_the_victim_is_dead",
	       sh->status[0] == STEP_OK && sh->killed[1] && si.si_pid == pid &&
		       si.si_status == SIGKILL,
	       "status=%d si_pid=%d", sh->status[0], (int)si.si_pid);
	waitpid(pid, NULL, 0);
	sh->pid[2] = 0;
	do_kill(1, 2);
	EXPECT("kill_of_a_process_never_forked_is_skipped",
	       sh->status[1] == STEP_SKIPPED && !sh->killed[2], "status=%d",
	       sh->status[1]);
}

static void test_census_and_witnesses(void)
{
	static struct collector_clock clk;
	struct census base, with, after, witnessed;
	int sv[2], made;
	int64_t end;

	if (clock_start(&clk) != 0) {
		result(0, "witness_maker_starts", strerror(errno));
		return;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		skipped("census_counts_this_namespace", "no network namespace");
		skipped("witnesses_are_not_in_the_census",
			"no network namespace");
		skipped("witness_freed_by_the_collector",
			"no network namespace");
		clock_stop(&clk);
		return;
	}
	take_census(&base);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	take_census(&with);
	close(sv[0]);
	close(sv[1]);
	take_census(&after);
	EXPECT("census_counts_this_namespace",
	       with.table == base.table + 2 && with.alive == base.alive + 2 &&
		       census_clean(&after, &base),
	       "table %ld/%ld/%ld alive %ld/%ld/%ld", base.table, with.table,
	       after.table, base.alive, with.alive, after.alive);

	clock_need(&clk, 0, now_us());
	made = clk.made;
	take_census(&witnessed);
	EXPECT("witnesses_are_not_in_the_census",
	       made == 1 && census_same(&witnessed, &after),
	       "made=%d table %ld -> %ld", made, after.table, witnessed.table);
	end = now_us() + 10000000;
	while (wlog_alive(&clk.log) > 0 && now_us() < end) {
		sleep_us(1000);
		clock_need(&clk, 0, now_us());
		clock_poll(&clk, now_us());
	}
	EXPECT("witness_freed_by_the_collector",
	       wlog_freed_after(&clk.log, 0) != 0 && clk.made <= 10,
	       "alive=%d made=%d after 10 s", wlog_alive(&clk.log), clk.made);
	clock_stop(&clk);
	EXPECT("witness_maker_ends_with_the_clock",
	       clk.maker == 0 && waitpid(-1, NULL, WNOHANG) == -1, "-");
}

static void test_witness_maker_gone(void)
{
	static struct collector_clock clk;
	int r;

	if (clock_start(&clk) != 0) {
		result(0, "witness_maker_gone_is_an_error", strerror(errno));
		return;
	}
	signal(SIGPIPE, SIG_IGN); /* as the supervisor does */
	kill(clk.maker, SIGKILL);
	waitpid(clk.maker, NULL, 0);
	r = clock_need(&clk, 0, now_us());
	EXPECT("witness_maker_gone_is_an_error",
	       r == -1 && clk.made == 0 && clk.log.n == 0, "r=%d made=%d", r,
	       clk.made);
	clk.maker = 0; /* reaped */
	clock_stop(&clk);
	signal(SIGPIPE, SIG_DFL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "unit";

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	if (strcmp(mode, "unit") == 0) {
		test_census_parsers();
		test_fdinfo_parser();
		test_witness_log();
		test_settler();
	} else if (strcmp(mode, "kernel") == 0) {
		test_send_recv();
		test_turns();
		test_kill();
		test_witness_maker_gone();
		test_census_and_witnesses();
	} else {
		fprintf(stderr, "usage: %s unit|kernel\n", argv[0]);
		return 2;
	}
	printf("1..%d\n# %d passed, %d failed, %d skipped\n", tests,
	       tests - failures - skips, failures, skips);
	if (failures)
		return 1;
	return skips == tests ? 77 : 0;
}
