// SendWithFds: one SCM_RIGHTS message from a stack buffer.
#include "base/scm.h"

#include <errno.h>
#include <string.h>

namespace inflight {

ssize_t SendWithFds(int via, const int* fds, size_t nfds, const void* data, size_t len, int flags) {
  if (nfds > kMaxHelperFds) {
    errno = EINVAL;
    return -1;
  }
  char zero = 0;
  iovec iov{data ? const_cast<void*>(data) : &zero, data ? len : 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxHelperFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    memset(ctl, 0, CMSG_SPACE(sizeof(int) * nfds));
    msg.msg_control = ctl;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return sendmsg(via, &msg, flags);
}

}  // namespace inflight
