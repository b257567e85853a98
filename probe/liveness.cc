// Witness epoll, OFD-lock probes and tmpfs inode counts (see liveness.h).
#include "probe/liveness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "base/file_util.h"

namespace inflight {

Result<ObjectWitness> ObjectWitness::Create() {
  ObjectWitness w;
  w.epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!w.epoll_) return Errno("epoll_create1(witness)");
  // A stream pair, read 8 bytes (one probe message) at a time: a datagram queue would
  // stop at net.unix.max_dgram_qlen, which is 10 in a new network namespace.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Errno("socketpair(probes)");
  w.sandbox_end_.Reset(sv[0]);
  w.graph_end_.Reset(sv[1]);
  // Room for every probe a graph can send (one per object) without blocking it.
  int big = 1 << 20;
  setsockopt(w.sandbox_end_.Get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(w.graph_end_.Get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  return w;
}

Status ObjectWitness::CollectProbes() {
  for (;;) {
    uint64_t key = 0;
    iovec iov{&key, sizeof key};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
    ssize_t n = recvmsg(sandbox_end_.Get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      if (errno == EINTR) continue;
      return Errno("recvmsg(probes)");
    }
    if (n == 0 && msg.msg_controllen == 0) return {};  // every graph end is closed
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t j = 0; j < k; ++j) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
        UniqueFd owned(fd);  // taken at once, whatever happens next
        struct stat st {};
        if (n != sizeof key || j > 0 || fstat(fd, &st) != 0) continue;
        probes_.push_back(Probe{key, std::move(owned), st.st_dev});
      }
    }
  }
}

size_t ObjectWitness::ProbesOn(dev_t dev) const {
  return static_cast<size_t>(std::count_if(probes_.begin(), probes_.end(),
                                           [dev](const Probe& p) { return p.dev == dev; }));
}

Result<std::vector<uint64_t>> ObjectWitness::Alive() {
  std::vector<uint64_t> alive;
  // Epoll items: read this process's fdinfo of the witness.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epoll_.Get());
  auto text = ReadWholeFile(path);
  if (!text) return text.error();
  auto items = ParseEpollFdinfo(*text);
  if (!items) return items.error();
  alive = std::move(*items);
  // Lock probes: a write lock held by another open file means the object lives.
  for (const Probe& p : probes_) {
    struct flock lk {};
    lk.l_type = F_RDLCK;
    lk.l_whence = SEEK_SET;
    if (fcntl(p.fd.Get(), F_OFD_GETLK, &lk) != 0) return Errno("fcntl(F_OFD_GETLK, probe)");
    if (lk.l_type != F_UNLCK) alive.push_back(p.key);
  }
  std::sort(alive.begin(), alive.end());
  return alive;
}

Result<std::vector<uint64_t>> ParseEpollFdinfo(const std::string& text) {
  // "tfd:        5 events:       0 data:                1  pos:0 ino:3a4 sdev:e"
  std::vector<uint64_t> out;
  size_t at = 0;
  while ((at = text.find("tfd:", at)) != std::string::npos) {
    size_t d = text.find("data:", at);
    size_t eol = text.find('\n', at);
    if (d == std::string::npos || (eol != std::string::npos && d > eol))
      return SysError{EPROTO, "epoll fdinfo: an item without data"};
    d += 5;
    while (d < text.size() && text[d] == ' ') ++d;
    size_t e = d;
    while (e < text.size() && isxdigit(static_cast<unsigned char>(text[e]))) ++e;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data() + d, text.data() + e, v, 16);
    if (ec != std::errc() || p != text.data() + e || e == d)
      return SysError{EPROTO, "epoll fdinfo: bad data field"};
    out.push_back(v);
    at = e;
  }
  return out;
}

Result<int64_t> UsedInodes(int fd) {
  struct statfs sf {};
  if (fstatfs(fd, &sf) != 0) return Errno("fstatfs(slot tmpfs)");
  return static_cast<int64_t>(sf.f_files) - static_cast<int64_t>(sf.f_ffree);
}

namespace {

// Calls fn(name) for every entry of `dir_fd` but "." and "..", from a fresh listing.
template <typename Fn>
Status ForEachEntry(int dir_fd, Fn&& fn) {
  const int d = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return Errno("open(slot directory)");
  DIR* dir = fdopendir(d);
  if (!dir) {
    close(d);
    return Errno("fdopendir(slot directory)");
  }
  errno = 0;
  while (const dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) fn(e->d_name);
    errno = 0;
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) return SysError{err, "readdir(slot directory)"};
  return {};
}

}  // namespace

Result<int64_t> LinkedEntries(int dir_fd) {
  int64_t n = 0;
  if (auto s = ForEachEntry(dir_fd, [&](const char*) { ++n; }); !s) return s.error();
  return n;
}

Status ClearDirectory(int dir_fd) {
  std::vector<std::string> names;
  if (auto s = ForEachEntry(dir_fd, [&](const char* name) { names.emplace_back(name); }); !s)
    return s.error();
  for (const std::string& name : names)
    if (unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Errno("unlink(" + name + ") in the slot directory");
  return {};
}

}  // namespace inflight
