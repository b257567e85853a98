// Exact liveness of the objects a graph created, beyond sockets: the witnesses.
//
// * Every pollable object (pipe ends, eventfd, epoll, pidfd, io_uring, timerfd, and
//   sockets too) is registered, by the graph process that creates it, in one witness
//   epoll instance, keyed by the object. An epoll item holds no reference: the kernel
//   removes it when the object's file is released (eventpoll_release), and the items
//   left are listed in /proc/<pid>/fdinfo/<epoll>. An item still there after settling is
//   a file still alive.
// * Regular files and memfds cannot be polled. The creating process takes an OFD write
//   lock on the object (released only with its file) and sends the sandbox a second,
//   read-only open of the same inode over a socket; F_OFD_GETLK on that probe
//   shows the lock while the object's file lives. (inotify would not do: memfds are
//   pseudo files, which newer kernels keep out of fsnotify.)
// * The slot's own tmpfs counts inodes: every O_TMPFILE file frees its inode only when
//   its last file goes, so used inodes beyond the baseline (less our probes) are files
//   still alive, whether witnessed or not. A socket bound to a path (bind ./NAME) holds
//   its path's inode until the socket is released, linked or not: an inode still linked
//   in the slot's directory is expected (LinkedEntries), one unlinked whose socket lives
//   on is a leftover like a file.
//
// Linux seam, like census.h. Not thread-safe; owned by the sandbox.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

class ObjectWitness {
 public:
  static Result<ObjectWitness> Create();

  // For the graph: the epoll to register in, and the socket to send probes over.
  int epoll_fd() const { return epoll_.Get(); }
  int graph_probe_fd() const { return graph_end_.Get(); }
  // After the graph is forked the sandbox drops its copy of the graph's end.
  void CloseGraphEnd() { graph_end_.Reset(); }

  // Takes the probes the graph sent. Call once the graph is gone.
  Status CollectProbes();
  size_t probes() const { return probes_.size(); }
  // Probes whose inode lives on the filesystem `dev` (they hold its inodes in use).
  size_t ProbesOn(dev_t dev) const;

  // Keys of the objects still alive, sorted.
  Result<std::vector<uint64_t>> Alive();

 private:
  struct Probe {
    uint64_t key;
    UniqueFd fd;
    dev_t dev;
  };
  UniqueFd epoll_;
  UniqueFd sandbox_end_;
  UniqueFd graph_end_;
  std::vector<Probe> probes_;
};

// The `data:` values of the items listed in an epoll instance's fdinfo text.
Result<std::vector<uint64_t>> ParseEpollFdinfo(const std::string& text);

// Used inodes of the filesystem holding `fd` (f_files - f_ffree).
Result<int64_t> UsedInodes(int fd);
// Entries linked in the directory `dir_fd` (a slot's socket paths: the graph makes no other
// names, and no hard links), each holding one inode of its filesystem in use.
Result<int64_t> LinkedEntries(int dir_fd);
// Unlinks every entry of the directory `dir_fd`, for the next run to find it empty.
Status ClearDirectory(int dir_fd);

}  // namespace inflight
