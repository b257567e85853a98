/* scc_index_leak: a standalone check, independent of inflight, that this kernel's
 * AF_UNIX collector never frees some nested-cycle garbage (an SCC whose vertices end the
 * DFS with different scc_index values: "mixed lowpoints"), fixed upstream by
 * "af_unix: Unify scc_index when finalising SCC in __unix_walk_scc()".
 *
 * Build and run as root (it needs a network namespace of its own):
 *   cc -O2 -o scc_index_leak tests/repro/scc_index_leak.c && ./scc_index_leak
 * Exit status: 0 the kernel freed everything, 1 the nested shape leaked (and the simple
 * ring control was freed), 3 cannot run here or the control itself did not come clean.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void send_fd(int via, int fd) {
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(via, &m, MSG_DONTWAIT) < 0) {
    perror("sendmsg");
    exit(3);
  }
}

/* Live AF_UNIX sockets of this network namespace (rows of /proc/self/net/unix). */
static int unix_sockets(void) {
  FILE* f = fopen("/proc/self/net/unix", "r");
  if (!f) {
    perror("/proc/self/net/unix");
    exit(3);
  }
  char line[512];
  int n = -1; /* the header */
  while (fgets(line, sizeof line, f)) n++;
  fclose(f);
  return n;
}

/* Makes the collector run: a dgram pair whose one end carries itself, both closed. */
static void trigger(void) {
  int t[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, t);
  send_fd(t[1], t[0]);
  close(t[0]);
  close(t[1]);
}

/* Builds n stream pairs r[i]/s[i] (sending on s[i] queues into r[i]), sends r[from] over
 * s[to] for each edge in order, closes everything, then lets the collector run for 3 s.
 * With midway >= 0 the collector runs once after that many edges. Returns the sockets
 * still alive. */
static int run(const char* name, int n, const int (*edges)[2], int n_edges, int midway) {
  int r[8], s[8];
  const int before = unix_sockets();
  for (int i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
      perror("socketpair");
      exit(3);
    }
    r[i] = sv[0];
    s[i] = sv[1];
  }
  for (int e = 0; e < n_edges; e++) {
    if (e == midway) { /* a collection on the half-built graph */
      trigger();
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    send_fd(s[edges[e][1]], r[edges[e][0]]);
  }
  for (int i = 0; i < n; i++) {
    close(r[i]);
    close(s[i]);
  }
  int left = -1;
  for (int k = 0; k < 30; k++) {
    trigger();
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    left = unix_sockets() - before;
    if (left == 0) break;
  }
  printf("%-40s %d socket(s) left after 3 s of collections\n", name, left);
  return left;
}

int main(void) {
  if (unshare(CLONE_NEWNET) != 0) {
    fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
    return 3;
  }
  if (unix_sockets() != 0) {
    fprintf(stderr, "a fresh network namespace should have no unix sockets\n");
    return 3;
  }
  static const int ring[][2] = {{0, 1}, {1, 2}, {2, 0}};
  static const int lowpoint[][2] = {{0, 1}, {1, 2}, {2, 1}, {1, 0}};
  static const int figure8[][2] = {{0, 1}, {1, 2}, {2, 0}, {2, 3}, {3, 4}, {4, 2}, {0, 5}, {5, 4}};
  const int control = run("control: ring 0->1->2->0", 3, ring, 3, -1);
  const int control_midway = run("control: the same, collected midway", 3, ring, 3, 1);
  if (control != 0 || control_midway != 0) {
    fprintf(stderr, "a control did not come clean: cannot tell\n");
    return 3;
  }
  int leaked = run("nested: 0->1, 1->2, 2->1, 1->0", 3, lowpoint, 4, -1);
  leaked += run("nested: figure-eight, collected midway", 6, figure8, 8, 2);
  if (leaked > 0) {
    printf("LEAK: the collector never freed the nested SCC (its scc_index values differ)\n");
    return 1;
  }
  printf("clean: this kernel frees nested SCCs\n");
  return 0;
}
