/* The census of the AF_UNIX sockets of this network namespace: the rows of
 * /proc/net/unix, and the namespace's UNIX counts in /proc/net/protocols, which
 * also count sockets that are closed but not yet freed. */
#include "repro.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ULL; /* FNV-1a's prime */
	return h ^ (h >> 29);
}

int census_read_unix(FILE *f, struct census *c)
{
	char line[1024];
	int at_start = 1, header = 1;

	c->table = 0;
	c->rows = 0;
	while (fgets(line, sizeof(line), f)) {
		int starts = at_start;
		unsigned long flags, ino;
		unsigned int type, st;
		uint64_t h;

		at_start = strchr(line, '\n') != NULL;
		if (!starts)
			continue; /* the rest of a long path */
		if (header) {
			header = 0;
			continue;
		}
		/* "Num: RefCount Protocol Flags Type St Inode Path" */
		if (sscanf(line, "%*s %*x %*x %lx %x %x %lu", &flags, &type,
			   &st, &ino) != 4)
			return -1;
		h = mix(mix(mix(mix(0xcbf29ce484222325ULL, flags), type), st),
			ino);
		c->rows += h; /* a sum: the order of the rows does not matter */
		c->table++;
	}
	return header ? -1 : 0;
}

int census_read_protocols(FILE *f, struct census *c)
{
	char line[512], name[64];
	long size, sockets;
	int found = 0;

	c->alive = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld %ld", name, &size, &sockets) == 3 &&
		    (strcmp(name, "UNIX") == 0 ||
		     strcmp(name, "UNIX-STREAM") == 0)) {
			c->alive += sockets;
			found = 1;
		}
	return found ? 0 : -1;
}

int take_census(struct census *c)
{
	FILE *f = fopen("/proc/self/net/unix", "re");
	int r;

	if (!f)
		return -1;
	r = census_read_unix(f, c);
	fclose(f);
	if (r != 0)
		return -1;
	f = fopen("/proc/self/net/protocols", "re");
	if (!f)
		return -1;
	r = census_read_protocols(f, c);
	fclose(f);
	return r;
}

int census_clean(const struct census *now, const struct census *base)
{
	return now->table == base->table && now->alive == base->alive;
}

int census_same(const struct census *a, const struct census *b)
{
	return a->table == b->table && a->alive == b->alive &&
	       a->rows == b->rows;
}
