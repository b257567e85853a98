// Child processes of `inflight vm`: QEMU and the module decompressors. Each is started in
// a process group of its own (a Ctrl-C reaches only inflight, which then stops it), dies
// with inflight (PR_SET_PDEATHSIG), and is killed and reaped by the destructor if it is
// still running, so no path leaves one behind.
//
// Ownership: move-only owner of the process and of the pipe its output goes to.
// Thread-safety: none.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace inflight {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdin on /dev/null and stdout into a pipe (non-blocking,
  // read through output_fd()); stderr goes into the same pipe, or to ours.
  enum class Stderr { kMerge, kInherit };
  static Result<ChildProcess> Start(const std::vector<std::string>& argv,
                                    Stderr err = Stderr::kMerge);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int output_fd() const { return out_.Get(); }
  bool running() const { return pid_ > 0 && !reaped_; }

  // The exit status (128+signal when killed) once it has ended; nullopt while it runs.
  std::optional<int> TryWait();
  // Waits for it to end.
  int Wait();
  // SIGKILL, then reap. Returns the status.
  int Kill();

 private:
  pid_t pid_ = -1;
  UniqueFd out_;
  bool reaped_ = false;
  int status_ = -1;
};

// Runs argv to completion and returns its stdout (its stderr goes to ours), or a SysError
// naming the command and its exit status.
Result<std::string> RunAndCapture(const std::vector<std::string>& argv);

// The path of `name` on $PATH, or "" when there is none.
std::string FindOnPath(const std::string& name);

}  // namespace inflight
