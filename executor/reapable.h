// What the sandbox's reaper asks of whatever it runs in a slot (a scenario graph or a
// stressor): judge each reaped process, say which are still alive, and do what the
// workload's processes ask of the sandbox's privilege.
#pragma once

#include <sys/types.h>

#include <string>

namespace inflight {

class Reapable {
 public:
  virtual ~Reapable() = default;
  // A process of the workload ended with `status`. False if that end was unexpected
  // (the run is aborted), with the reason in *why.
  virtual bool OnReaped(pid_t pid, int status, bool watchdog_fired, std::string* why) = 0;
  // Text naming the processes still alive and what each is doing (for hang reports).
  virtual std::string DescribeAlive() const = 0;
  // A descriptor that becomes readable when the workload's processes ask the sandbox to
  // act for them (-1: they never do), and the call that serves what they asked. The
  // reaper polls it along with SIGCHLD.
  virtual int AsksFd() const { return -1; }
  virtual void ServeAsks() {}
};

}  // namespace inflight
