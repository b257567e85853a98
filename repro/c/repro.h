/* The C reproducer's library: every program of inflight csource carries it. */
#ifndef INFLIGHT_REPRO_H
#define INFLIGHT_REPRO_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The bounds of a scenario (inflight's scenario/bounds.h). */
#define REPRO_MAX_PROCS 16
#define REPRO_MAX_STEPS 1024
#define REPRO_MAX_VARS 64
#define REPRO_MAX_RIGHTS 512 /* descriptors one send lists */

/* SO_PASSRIGHTS (Linux 6.16) for older libc headers; older kernels: ENOPROTOOPT. */
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* Exit statuses, inflight's table. */
enum {
	REPRO_EXIT_CLEAN = 0,	/* CLEAN: every socket of the graph was freed */
	REPRO_EXIT_FINDING = 1, /* LEAK, HANG or FAULT */
	REPRO_EXIT_NO_VERDICT = 3, /* SKIP (cannot run here) or UNSETTLED */
	REPRO_EXIT_ERROR = 4, /* ERROR: a graph process died or a fork failed */
};

/* ---- The graph's processes (steps.c, turns.c) ---- */

enum { STEP_NOT_RUN, STEP_OK, STEP_FAILED, STEP_SKIPPED };

/* An object as is= compares it (steps.c: ident_of); made: recorded. */
struct repro_ident {
	uint64_t dev, ino;
	uint32_t mode, tag;
	int made;
};

/* Shared (MAP_SHARED) by every process of the graph and the supervisor. */
struct repro_shared {
	sem_t turn[REPRO_MAX_PROCS]; /* posted when it is that process's turn */
	pid_t pid[REPRO_MAX_PROCS];
	/* SIGKILLed by a kill step: an expected death */
	int killed[REPRO_MAX_PROCS];
	/* set by a kill step the kernel refused (EPERM: a killer without the
	 * capabilities, a victim of another uid); the supervisor kills it */
	volatile int kill_ask[REPRO_MAX_PROCS];
	int fork_failed;
	long timeout_ms;	     /* the graph's watchdog */
	int status[REPRO_MAX_STEPS]; /* STEP_* */
	int err[REPRO_MAX_STEPS];    /* errno of a failed step */
	/* each object as the step that created it made it (output 0 or 1) */
	struct repro_ident made[REPRO_MAX_STEPS][2];
	/* recv is=: 1 + the first output that did not hold its object */
	int same_bad[REPRO_MAX_STEPS];
	struct repro_ident same_got[REPRO_MAX_STEPS]; /* what it held */
	/* who each process is (note_identity), for recv creds=PROC */
	uid_t uid[REPRO_MAX_PROCS];
	gid_t gid[REPRO_MAX_PROCS];
	/* a receive's SCM_CREDENTIALS: 0 none, 1 whole, 2 cut short (MSG_CTRUNC) */
	int creds[REPRO_MAX_STEPS];
	struct ucred cred[REPRO_MAX_STEPS];
};
extern struct repro_shared *sh;

/*
 * The scenario's variables: the descriptor each holds in this process, -1 when
 * not open. Every process has its own copy: fork copies it, like the
 * descriptors.
 */
extern int var_fd[REPRO_MAX_VARS];

/* Every variable not open (-1): before the root process starts. */
void vars_init(void);
/* Notes what a step did: its errno when ret < 0. */
void step_record(int step, long ret);
/* A step whose descriptor is not open here is skipped, not failed. */
void step_skip(int step);
/* An abstract AF_UNIX address (a NUL, then the name): private to the netns. */
socklen_t abstract_addr(struct sockaddr_un *sun, const char *name);
/* A path AF_UNIX address, relative: the run's own directory (repro_main). */
socklen_t path_addr(struct sockaddr_un *sun, const char *name);

/* Records what identifies output `index` of creating step `step`. */
void ident_note(int step, int index, int fd);
/*
 * recv is=: after the step, output k (var_fd[outs[k]]) must hold the object
 * keys[k] names (2 * creating step + output; -1: unchecked); the first that
 * does not is noted in sh->same_bad and sh->same_got.
 */
void same_check(int step, const int *outs, const int *keys, int n);
/* The first object created that is identical to `got` (its key), -1: none;
 * *count: how many are. */
int same_which(const struct repro_ident *got, int *count);

/* Waits (5 s at most) until `pid` is dead: its pidfd, else /proc/PID/stat. */
void wait_dead(pid_t pid, int pidfd);

/* One function per action of the scenario language, as the executor runs it. */
void do_socketpair(int step, int type, int out0, int out1);
void do_socket(int step, int type, int out);
void do_bind(int step, int s, const char *name);
void do_listen(int step, int s, int backlog);
void do_connect(int step, int s, const char *name);
void do_bind_path(int step, int s, const char *name);
void do_connect_path(int step, int s, const char *name);
void do_unlink(int step, const char *name);
void do_accept(int step, int s, int out);
void do_pipe(int step, int out0, int out1);
void do_file(int step, int out);
void do_memfd(int step, int out);
void do_eventfd(int step, int out);
/* creds: CREDS_NONE, or an SCM_CREDENTIALS message before or after the rights */
enum { CREDS_NONE, CREDS_BEFORE, CREDS_AFTER };
void do_send(int step, int s, const int *vars, const int *counts, int nvars,
	     int ncmsgs, int nempty, int flags, int bytes, int creds);
/* recv fault=: which buffers are a PROT_NONE page (EFAULT paths) */
#define REPRO_FAULT_CBUF 1
#define REPRO_FAULT_DATA 2
void do_recv(int step, int s, const int *outs, int nouts, int flags,
	     int controllen, int bytes, int nofile, int fault);
void do_close(int step, int v);
void do_shutdown(int step, int s, int how);
void do_dup(int step, int v, int out);
void do_fork(int step, int child, void (*run)(void));
void do_kill(int step, int victim);
void do_barrier(int step);
void do_sleep(int step, int ms);
void do_epoll(int step, int out);
void do_epoll_add(int step, int ep, int x);
void do_pidfd(int step, int other, int out);
void do_io_uring(int step, int out);
void do_timerfd(int step, int out);
void do_setuid_second(int step);
void do_dropcaps(int step);
void do_limit_nofile(int step, int n);
void do_setsockopt(int step, int s, int name, int val);
void do_devnull(int step, int out);
void do_pty(int step, int master, int peer);
void do_inet(int step, int domain, int type, int out);


/* Notes process p's real uid and gid (what SCM_CREDENTIALS carries; turns.c). */
void note_identity(int p);
/* Lockstep: waits for this process's turn (leaves if it never comes). */
void wait_turn(int self);
/* Hands the turn to process `next` (-1: the graph is done). */
void pass_turn(int next);
/* Ends this process at its turn: closes its descriptors, hands the turn on. */
void end_process(int next) __attribute__((noreturn));
/* Closes every descriptor of this process. */
void close_all(void);
/* As root: become a uid of our own, keeping root's capabilities. */
void fresh_uid(void);

/* ---- The census (census.c) ---- */

/* The AF_UNIX sockets of this network namespace. */
struct census {
	long table;    /* rows of /proc/net/unix (embryos included) */
	long alive;    /* UNIX + UNIX-STREAM "sockets" of /proc/net/protocols */
	uint64_t rows; /* hash of every row's inode, flags, type and state */
};

/* Reads /proc/net/unix text into c->table and c->rows; -1 if malformed. */
int census_read_unix(FILE *f, struct census *c);
/* Reads /proc/net/protocols text into c->alive; -1 if it has no UNIX line. */
int census_read_protocols(FILE *f, struct census *c);
/* Both, from this process's network namespace; -1 when they cannot be read. */
int take_census(struct census *c);
/* The graph's sockets are gone: the counts are back to the baseline. */
int census_clean(const struct census *now, const struct census *base);
/* Nothing changed between the two (the settling fingerprint). */
int census_same(const struct census *a, const struct census *b);

/* ---- Settling by proof (settle.c), as inflight's probe/settle.h ---- */

/* Witnesses of collector passes: when each was made and when seen freed. */
struct witness {
	uint64_t key;
	int64_t made_at;  /* taken before it was made */
	int64_t freed_at; /* when seen freed; 0 while alive */
};
#define WITNESS_KEPT 256     /* freed ones beyond this are forgotten */
#define WITNESS_MAX_ALIVE 64 /* a stalled kernel keeps every witness */
struct witness_log {
	struct witness w[WITNESS_KEPT]; /* in the order made */
	int n;
};

/* Notes a witness made at `at`; -1 when the log is full of live ones. */
int wlog_made(struct witness_log *l, uint64_t key, int64_t at);
void wlog_freed(struct witness_log *l, uint64_t key, int64_t at);
/* The first time a witness made at or after `since` was seen freed; 0: none. */
int64_t wlog_freed_after(const struct witness_log *l, int64_t since);
/* The newest witness made at or after `since`: its time; 0: none. */
int64_t wlog_newest_made_since(const struct witness_log *l, int64_t since);
/* Any witness, whenever made, seen freed at or after `since`. */
int wlog_any_freed_since(const struct witness_log *l, int64_t since);
int wlog_alive(const struct witness_log *l);
/* The oldest live witness has lived `ceiling_us`: the collector is stalled. */
int wlog_stalled(const struct witness_log *l, int64_t now, int64_t ceiling_us);

struct settle_options {
	int64_t ceiling_us; /* the most it settles (SETTLE_MS) */
	int stable_rounds;  /* rounds in a row with nothing freed before a leak
			     */
	int64_t first_gap_us;	/* first census after the start */
	int64_t max_gap_us;	/* census backoff cap */
	int64_t stall_grace_us; /* quiet time before a stalled collector's leak
				 */
};
/* inflight's defaults (SettleOptions) with the given ceiling. */
struct settle_options settle_defaults(int64_t ceiling_us);

enum settle_outcome {
	SETTLE_PENDING,
	SETTLE_CLEAN,
	SETTLE_LEAK,
	SETTLE_UNSETTLED
};

/*
 * A round ends when a witness made after the previous round's end (the first:
 * after the graph ended) is seen freed; the census is then compared with the
 * last round's. Leak after stable_rounds rounds in a row left it unchanged. At
 * the ceiling: counts still changing are unsettled; no pass at all is a stalled
 * collector (a leak).
 */
struct settler {
	struct settle_options opt;
	int64_t started, garbage_since, round_since, next_at, gap, last_change;
	struct census last_fp, round_fp;
	int have_fp, have_round_fp;
	int polls, rounds, stable, stalled;
	char why[256]; /* why the outcome, for the verdict line */
};

void settler_start(struct settler *s, const struct settle_options *opt,
		   int64_t now, int64_t garbage_since);
/* One census taken at `now`, after `log` was brought up to date. */
enum settle_outcome settler_on_census(struct settler *s, int clean,
				      const struct census *fp, int64_t now,
				      const struct witness_log *log);

/*
 * Makes and watches witnesses: self-referencing sockets made by a child process
 * that stays in the network namespace we started in (so they never show in the
 * graph's census), each registered in an epoll instance we share with it. The
 * kernel drops an epoll item when its file is released, so a key gone from
 * /proc/self/fdinfo/<ep> is a witness the collector freed.
 */
struct collector_clock {
	int epfd;
	int req_fd, ack_fd; /* pipes to and from the witness maker */
	pid_t maker;
	struct witness_log log;
	uint64_t next_key;
	int64_t backoff_us; /* before another witness while the newest lives */
	int made;
};

/* A self-referencing socket (garbage only the collector frees) in `epfd`. */
int make_self_reference(int epfd, uint64_t key);
/* The keys of an epoll's items from its fdinfo; their number, -1: malformed. */
int epoll_fdinfo_keys(FILE *f, uint64_t *keys, int max);
/* Starts the witness maker; call it before leaving the first netns. */
int clock_start(struct collector_clock *c);
/*
 * Makes sure a witness made at or after `since` exists (retrying with backoff);
 * -1 when the witness maker is gone.
 */
int clock_need(struct collector_clock *c, int64_t since, int64_t now);
/* Marks the witnesses that are gone as freed at `now`. */
int clock_poll(struct collector_clock *c, int64_t now);
/* Ends the witness maker (it reads end of file) and closes the clock. */
void clock_stop(struct collector_clock *c);

/* ---- The supervisor (supervisor.c) ---- */

/* Outcomes one expect= may list: expect=ok|ETOOMANYREFS (kernels differ). */
#define REPRO_MAX_EXPECT 4

/*
 * A step with an expected result (0: success), as the scenario says: any of the
 * nerr outcomes in err[] is accepted, err_names[] names them.
 */
struct repro_expect {
	int step;
	int nerr;
	int err[REPRO_MAX_EXPECT];
	const char *err_names[REPRO_MAX_EXPECT];
	const char *text;
};

/* A recv with is=: slot k must hold the object keys[k] names (-1: unchecked). */
struct repro_same {
	int step;
	int nslots;
	const int *keys;
	const char *const *slot_names; /* the outputs' variables */
	const char *text;
};

/* recv creds=PROC: the step's SCM_CREDENTIALS must name process proc. */
struct repro_creds_expect {
	int step;
	int proc;
	const char *proc_name;
	const char *text;
};

struct repro_scenario {
	int nprocs, nsteps;
	void (*run_root)(void); /* the root process's function */
	const struct repro_expect *expects;
	int nexpects;
	const struct repro_same *sames;
	int nsames;
	/* by key (2 * step + output): "'a' (stream socket created by step 2)" */
	const char *const *made_names;
	const struct repro_creds_expect *creds_expects;
	int ncreds_expects;
	/* the ./NAME paths the scenario names: with any, the graph runs in a
	 * directory of its own, removed with them at the end */
	const char *const *paths;
	int npaths;
	long timeout_ms; /* TIMEOUT_MS: the graph's watchdog */
	long settle_ms;	 /* SETTLE_MS: the settling ceiling */
	/* REPRO_INET (any inet step) | REPRO_INET6 (tcp6, udp6): the families
	 * the graph's inet steps make; a kernel without one cannot run it (SKIP) */
	int inet_families;
};

#define REPRO_INET 1
#define REPRO_INET6 2

int64_t now_us(void);
void sleep_us(int64_t us);
/* Prints each step run whose result is not its expect=; returns how many. */
int check_expects(const struct repro_expect *e, int n);
/* Prints each is= slot that did not hold its object; returns how many. */
int check_sames(const struct repro_scenario *s);
/* Prints each receive whose credentials are not its creds=PROC's; returns how many. */
int check_creds(const struct repro_creds_expect *e, int n);
/* Runs the graph in a netns of its own, settles, prints the verdict. */
int repro_main(const struct repro_scenario *s);

#endif /* INFLIGHT_REPRO_H */
