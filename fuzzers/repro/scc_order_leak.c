// Standalone reproducer of the graph_fuzzer findings on Linux 6.18 (no inflight code: its
// own namespace, its own count). Each graph is built by the same sends in two orders;
// everything is closed, so all of it is garbage either way. A correct collector frees
// both orders; 6.18's leaks the forward ones, whose depth-first walk of the strongly
// connected component mixes lowlinks (fixed upstream by "af_unix: Unify scc_index when
// finalising SCC in __unix_walk_scc().").
//
//   sudo ./scc_order_leak shared forward   # exit 1 and "leaked" on an affected kernel
//   sudo ./scc_order_leak shared reverse   # exit 0: the same final graph is freed
//
// X -> Q below means X sits in Q's receive queue.
//
// shared: two 2-cycles sharing vertex b (the kselftest mixed_lowpoint shape), from the
//   main 10-minute run's first finding, minimized: a,c -> b (via d)  b -> c (via b)
//   b -> a (via a's peer p); forward in that order.
// embryo: an SCC through a listener l and the embryo E it keeps for c, from the first
//   finding of the test build's run (a leak of the kernel's, not of the holder):
//   g,l -> g (via f)  m,a -> E (via c)  l,c -> f (via g)  f,g -> d (via e)  d,e -> a (via b)
// chain: the main run's second finding, minimized: 13 stream pairs (v0,v1)..(v30,v31)
//   whose sends make a chain v0 -> v2 -> ... -> v16 with chords back into it: a component
//   of 12 sockets and 15 edges plus a socket that carries itself. It leaks in both orders
//   on most runs (reverse was freed on 1 of 6 here): what the collector frees depends on
//   when and in which order it walks the graph, not on the graph.
//
// The graphs are built by a fresh user (a uid with nothing in flight yet, like inflight's
// per-slot uids): as root, or as a uid whose earlier sockets leaked, the collector runs
// at other times and `shared` is freed (the embryo graph leaks either way). The count is
// the namespace's AF_UNIX sockets not yet destroyed (/proc/net/protocols).
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void die(const char* what) {
  perror(what);
  exit(2);
}

// AF_UNIX sockets of this network namespace not yet destroyed.
static long unix_sockets(void) {
  FILE* f = fopen("/proc/self/net/protocols", "r");
  if (!f) die("/proc/self/net/protocols");
  char line[512];
  long total = 0;
  while (fgets(line, sizeof line, f)) {
    char name[64];
    long size, sockets;
    if (sscanf(line, "%63s %ld %ld", name, &size, &sockets) == 3 &&
        (strcmp(name, "UNIX") == 0 || strcmp(name, "UNIX-STREAM") == 0))
      total += sockets;
  }
  fclose(f);
  return total;
}

// Sends a and b (or a alone when b < 0) over `via` in one SCM_RIGHTS message.
static void send_fds(int via, int a, int b) {
  int fds[2] = {a, b};
  const size_t n = b < 0 ? 1 : 2;
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  char ctl[CMSG_SPACE(sizeof fds)];
  memset(ctl, 0, sizeof ctl);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(n * sizeof(int));
  memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  if (sendmsg(via, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) die("sendmsg");
}

// Runs the kernel's collector: a socket that carries itself, then closed.
static void trigger_gc(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
  send_fds(sv[1], sv[0], -1);
  close(sv[0]);
  close(sv[1]);
}

static void usage(const char* self) {
  fprintf(stderr, "usage: %s shared|embryo|chain forward|reverse  (as root)\n", self);
  exit(2);
}

// Two stream pairs (a, p) and (b, d); returns how many descriptors it left in `fds`.
static int build_shared(int reverse, int* fds) {
  int ap[2], bd[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, ap) || socketpair(AF_UNIX, SOCK_STREAM, 0, bd))
    die("socketpair");
  const int a = ap[0], p = ap[1], c = bd[0], b = bd[1];  // c's peer is b: c's sends land in b
  if (!reverse) {
    send_fds(c, a, c);   // a, c -> b's queue
    send_fds(b, b, -1);  // b -> c's queue
    send_fds(p, b, -1);  // b -> a's queue
  } else {
    send_fds(p, b, -1);
    send_fds(b, b, -1);
    send_fds(c, a, c);
  }
  fds[0] = a, fds[1] = p, fds[2] = c, fds[3] = b;
  return 4;
}

static int build_embryo(int reverse, int* fds) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path + 1, "sq", 2);  // abstract, private to this namespace
  const socklen_t len = offsetof(struct sockaddr_un, sun_path) + 3;
  int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (l < 0 || c < 0) die("socket");
  if (bind(l, (struct sockaddr*)&addr, len) != 0 || listen(l, 16) != 0) die("bind/listen");
  if (connect(c, (struct sockaddr*)&addr, len) != 0) die("connect");  // embryo E, never accepted
  int ab[2], de[2], fg[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, ab) || socketpair(AF_UNIX, SOCK_DGRAM, 0, de) ||
      socketpair(AF_UNIX, SOCK_STREAM, 0, fg))
    die("socketpair");
  const int m = memfd_create("passenger", 0);
  if (m < 0) die("memfd_create");
  const int a = ab[0], b = ab[1], d = de[0], e = de[1], f = fg[0], g = fg[1];
  if (!reverse) {
    send_fds(f, g, l);
    send_fds(c, m, a);
    send_fds(g, l, c);
    send_fds(e, f, g);
    send_fds(b, d, e);
  } else {
    send_fds(b, d, e);
    send_fds(e, f, g);
    send_fds(g, l, c);
    send_fds(c, m, a);
    send_fds(f, g, l);
  }
  const int all[] = {l, c, a, b, m, d, e, f, g};
  memcpy(fds, all, sizeof all);
  return 9;
}

// Variables v0..v31 as in the minimized scenario; sends (via, a, b) put a and b into
// the queue of via's peer.
static int build_chain(int reverse, int* fds) {
  static const int pairs[][2] = {{0, 1},   {2, 3},   {4, 5},   {6, 7},   {8, 9},
                                 {10, 11}, {12, 13}, {14, 15}, {16, 17}, {18, 19},
                                 {24, 25}, {28, 29}, {30, 31}};
  static const int sends[][3] = {{29, 30, 31}, {19, 12, 31}, {15, 16, 17}, {13, 14, 15},
                                 {11, 12, 13}, {9, 10, 11},   {7, 8, 9},    {5, 6, 7},
                                 {3, 4, 5},    {1, 2, 0},     {16, 25, 0},  {17, 18, 19}};
  const int npairs = sizeof pairs / sizeof pairs[0], nsends = sizeof sends / sizeof sends[0];
  int v[32];
  for (int k = 0; k < npairs; ++k) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
    v[pairs[k][0]] = sv[0];
    v[pairs[k][1]] = sv[1];
    fds[2 * k] = sv[0];
    fds[2 * k + 1] = sv[1];
  }
  for (int k = 0; k < nsends; ++k) {
    const int* x = sends[reverse ? nsends - 1 - k : k];
    send_fds(v[x[0]], v[x[1]], v[x[2]]);
  }
  return 2 * npairs;
}

int main(int argc, char** argv) {
  if (argc != 3) usage(argv[0]);
  const int embryo = strcmp(argv[1], "embryo") == 0, chain = strcmp(argv[1], "chain") == 0;
  const int reverse = strcmp(argv[2], "reverse") == 0;
  if ((!embryo && !chain && strcmp(argv[1], "shared") != 0) ||
      (!reverse && strcmp(argv[2], "forward") != 0))
    usage(argv[0]);
  if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET) (run as root)");
  const uid_t fresh = 0x30000000u | ((unsigned)getpid() << 8) | ((unsigned)time(NULL) & 0xff);
  if (setresgid(fresh, fresh, fresh) != 0 || setresuid(fresh, fresh, fresh) != 0)
    die("setresuid(a fresh uid)");
  const long before = unix_sockets();
  int all[32];
  const int n = embryo  ? build_embryo(reverse, all)
                : chain ? build_chain(reverse, all)
                        : build_shared(reverse, all);
  for (int i = 0; i < n; ++i) close(all[i]);

  // Give the collector every chance: trigger it and wait, ten times over two seconds.
  long after = 0;
  for (int k = 0; k < 10; ++k) {
    trigger_gc();
    usleep(200 * 1000);
    after = unix_sockets();
    if (after == before) break;
  }
  printf("%s %s: AF_UNIX sockets in this namespace before %ld, after closing everything and "
         "2 s of collection %ld: %s\n",
         argv[1], argv[2], before, after, after == before ? "all freed" : "leaked");
  return after == before ? 0 : 1;
}
