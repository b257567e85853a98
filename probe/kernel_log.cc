// /dev/kmsg reader and the patterns that make a record alarming.
#include "probe/kernel_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>

namespace inflight {

namespace {
constexpr int kContextRecords = 24;
constexpr size_t kMaxLines = 200;  // per look; a storm of warnings is cut here

const std::array<const char*, 13> kPatterns = {
    "KASAN:",
    "KMSAN:",
    "UBSAN:",
    "KCSAN:",
    "WARNING:",
    "BUG:",
    "kernel BUG at",
    "refcount_t:",
    "list_del corruption",
    "list_add corruption",
    "general protection fault",
    "Oops:",
    "Unable to handle kernel",
};
}  // namespace

std::optional<std::string> KernelRecordMessage(std::string_view rec) {
  const size_t semi = rec.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  unsigned prio = 0;
  size_t i = 0;
  for (; i < semi && rec[i] >= '0' && rec[i] <= '9'; ++i) prio = prio * 10 + (rec[i] - '0');
  if (i == 0 || i >= semi || rec[i] != ',') return std::nullopt;
  if ((prio >> 3) != 0) return std::nullopt;  // facility: not the kernel's
  std::string msg(rec.substr(semi + 1));
  const size_t nl = msg.find('\n');
  if (nl != std::string::npos) msg.resize(nl);
  return msg;
}

bool IsAlarming(const std::string& message) {
  for (const char* p : kPatterns)
    if (message.find(p) != std::string::npos) return true;
  return false;
}

Result<KernelLog> KernelLog::Open() {
  KernelLog k;
  k.fd_.Reset(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!k.fd_) return Errno("open(/dev/kmsg)");
  if (::lseek(k.fd_.Get(), 0, SEEK_END) < 0) return Errno("lseek(/dev/kmsg, end)");
  // One read proves we may read it (dmesg_restrict and CAP_SYSLOG are checked here).
  char buf[8192];
  if (::read(k.fd_.Get(), buf, sizeof buf) < 0 && errno != EAGAIN && errno != EPIPE)
    return Errno("read(/dev/kmsg)");
  return k;
}

std::vector<std::string> KernelLog::TakeNew() {
  std::vector<std::string> out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd_.Get(), buf, sizeof buf - 1);
    if (n < 0) {
      if (errno == EPIPE) continue;  // records were overwritten; carry on with the next
      if (errno == EINTR) continue;
      break;  // EAGAIN: nothing more
    }
    if (n == 0) break;
    // "prio,seq,usec,flags;message\n[ continuation lines]"
    const auto kernel = KernelRecordMessage(std::string_view(buf, static_cast<size_t>(n)));
    if (!kernel) continue;  // written by userspace: no evidence about the kernel
    const std::string& msg = *kernel;
    if (IsAlarming(msg)) {
      context_left_ = kContextRecords;
      if (out.size() < kMaxLines) out.push_back(msg);
    } else if (context_left_ > 0) {
      --context_left_;
      if (out.size() < kMaxLines) out.push_back(msg);
    }
  }
  return out;
}

}  // namespace inflight
