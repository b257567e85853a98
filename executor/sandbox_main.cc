// inflight-sandbox: the fork server the inflight driver starts (see executor/sandbox.h).
// Not meant to be run by hand: it speaks a binary protocol on stdin and stdout.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "base/exit_codes.h"
#include "base/log.h"
#include "executor/sandbox.h"
#include "scenario/validate.h"

using namespace inflight;

namespace {

int Usage() {
  LogError(
      "usage: inflight-sandbox [--slots N] [--hold ADDR] [--no-sock-diag] [--no-accounting] "
      "[--accounting-every N] [--collector-stalled]  (started by inflight)");
  return kExitUsage;
}

int SayNo(const std::string& why) {
  Hello h;
  h.ok = false;
  h.error = why;
  (void)WriteAll(STDOUT_FILENO, EncodeFrame(MsgType::kHello, EncodeHello(h)));
  return kExitEnvironment;
}

}  // namespace

int main(int argc, char** argv) {
  SetLogProgram("inflight-sandbox");
  SandboxOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--slots" && i + 1 < argc) {
      char* end = nullptr;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > 256) return Usage();
      opt.slots = static_cast<uint32_t>(n);
    } else if (a == "--hold" && i + 1 < argc) {
      opt.hold_addr = argv[++i];
      if (!IsAddress(opt.hold_addr)) return Usage();
    } else if (a == "--no-sock-diag") {
      opt.use_sock_diag = false;
    } else if (a == "--collector-stalled") {
      opt.collector_stalled = true;
    } else if (a == "--no-accounting") {
      opt.accounting = false;
    } else if (a == "--accounting-every" && i + 1 < argc) {
      char* end = nullptr;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > 1000000) return Usage();
      opt.accounting_every = static_cast<uint32_t>(n);
    } else if (a == "--max-outbound" && i + 1 < argc) {  // tests: a small cap
      char* end = nullptr;
      long long n = strtoll(argv[++i], &end, 10);
      if (*end || n < 1) return Usage();
      opt.max_outbound_bytes = static_cast<size_t>(n);
    } else {
      return Usage();
    }
  }
  if (isatty(STDOUT_FILENO)) {
    LogError("inflight-sandbox is started by inflight; it is not for interactive use");
    return kExitUsage;
  }
  bool user_namespace = false;
  opt.host_pid = getpid();  // before the PID namespace: names the uids stressors use
  if (auto s = EnterSandboxNamespaces(opt, user_namespace); !s) return SayNo(s.error().Text());
  opt.user_namespace = user_namespace;
  auto sandbox = Sandbox::Create(opt);
  if (!sandbox) return SayNo(sandbox.error().Text());
  if (!WriteAll(STDOUT_FILENO,
                EncodeFrame(MsgType::kHello, EncodeHello((*sandbox)->Describe(user_namespace)))))
    return kExitInternal;
  return (*sandbox)->Serve(STDIN_FILENO, STDOUT_FILENO);
}
