// The one process-wide flag a signal handler may set.
#include "driver/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace inflight {

namespace {
std::atomic<int> g_signals{0};

void OnSignal(int sig) {
  if (g_signals.fetch_add(1) >= 1) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}
}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool Interrupted() {
  return g_signals.load() > 0;
}

}  // namespace inflight
