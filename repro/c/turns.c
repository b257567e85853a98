/* Lockstep turns and the end of a graph process, as inflight's executor hands
 * them on: one process at a time, each waiting on its semaphore in shared
 * memory. */
#include "repro.h"

/*
 * The whole graph ends within the watchdog's time (or the supervisor kills it),
 * so a turn that has not come in twice that long never will: the supervisor is
 * gone, and this process leaves instead of waiting forever.
 */
void wait_turn(int self)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2 * (sh->timeout_ms / 1000) + 1;
	while (sem_timedwait(&sh->turn[self], &deadline) != 0)
		if (errno == ETIMEDOUT)
			_exit(3);
}

void pass_turn(int next)
{
	if (next >= 0)
		sem_post(&sh->turn[next]);
}

void close_all(void)
{
	if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0)
		for (int i = 0; i < 65536; i++)
			close(i);
}

/* Its descriptors are closed before the next step runs. */
void end_process(int next)
{
	close_all();
	pass_turn(next);
	_exit(0);
}

/*
 * As inflight does, the graph runs as a uid of its own: the kernel's per-user
 * in-flight count then starts at zero, whatever root has in flight elsewhere (a
 * user with many descriptors in flight makes every send wait for a full
 * collection, which changes when the collector runs). Nothing to do unless we
 * are root.
 */
void fresh_uid(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
						0 };
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

/* Who process p is (its real uid and gid), for a receive's creds=PROC. */
void note_identity(int p)
{
	sh->uid[p] = getuid();
	sh->gid[p] = getgid();
}
