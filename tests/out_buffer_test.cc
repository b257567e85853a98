// OutBuffer: what a non-blocking pipe does not take now stays queued, in order; a full
// pipe (EAGAIN) is not an error, a pipe without a reader is.
#include "base/out_buffer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "base/unique_fd.h"

namespace inflight {
namespace {

struct Pipe {
  UniqueFd rd, wr;
};

// A pipe whose write end is non-blocking and holds `capacity` bytes (rounded up by the
// kernel to a page).
Pipe SmallPipe(int capacity) {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  Pipe out{UniqueFd(p[0]), UniqueFd(p[1])};
  EXPECT_GE(fcntl(out.wr.Get(), F_SETPIPE_SZ, capacity), capacity);
  return out;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

std::string ReadSome(int fd, size_t at_most) {
  std::string got(at_most, '\0');
  const ssize_t n = read(fd, got.data(), at_most);
  got.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return got;
}

TEST(OutBuffer, WritesEverythingThePipeTakes) {
  Pipe p = SmallPipe(4096);
  OutBuffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.size(), 11u);
  ASSERT_TRUE(b.Flush(p.wr.Get()).ok());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(ReadSome(p.rd.Get(), 100), "hello world");
  ASSERT_TRUE(b.Flush(p.wr.Get()).ok()) << "flushing nothing is fine";
}

TEST(OutBuffer, FullPipeKeepsTheRestInOrder) {
  Pipe p = SmallPipe(4096);
  const int capacity = fcntl(p.wr.Get(), F_GETPIPE_SZ);
  const std::string data = Pattern(3u << 20);  // past the size at which it compacts
  OutBuffer b;
  b.Append(data.substr(0, 1000));
  b.Append(data.substr(1000));
  std::string got;
  size_t flushes = 0;
  while (!b.empty()) {
    const size_t before = b.size();
    ASSERT_TRUE(b.Flush(p.wr.Get()).ok()) << "EAGAIN is not an error";
    ++flushes;
    EXPECT_LE(before - b.size(), static_cast<size_t>(capacity)) << "a partial write";
    // The reader takes an odd amount, so writes land at odd offsets.
    got += ReadSome(p.rd.Get(), 1500);
    got += ReadSome(p.rd.Get(), 1500);
    got += ReadSome(p.rd.Get(), 1500);
  }
  for (std::string more; !(more = ReadSome(p.rd.Get(), 65536)).empty();) got += more;
  EXPECT_GT(flushes, data.size() / static_cast<size_t>(capacity) / 2);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes came out in the order they went in";
}

TEST(OutBuffer, AppendWhileBackloggedKeepsOrder) {
  Pipe p = SmallPipe(4096);
  OutBuffer b;
  std::string want, got;
  for (int round = 0; round < 200; ++round) {
    const std::string chunk = Pattern(1000 + static_cast<size_t>(round) * 37).substr(round % 5);
    b.Append(chunk);
    want += chunk;
    ASSERT_TRUE(b.Flush(p.wr.Get()).ok());
    if (round % 3 == 0) got += ReadSome(p.rd.Get(), 2000);
  }
  while (!b.empty()) {
    ASSERT_TRUE(b.Flush(p.wr.Get()).ok());
    got += ReadSome(p.rd.Get(), 65536);
  }
  for (std::string more; !(more = ReadSome(p.rd.Get(), 65536)).empty();) got += more;
  EXPECT_TRUE(got == want);
}

TEST(OutBuffer, ReaderGoneIsAnErrorAndKeepsTheBytes) {
  signal(SIGPIPE, SIG_IGN);
  Pipe p = SmallPipe(4096);
  OutBuffer b;
  b.Append(Pattern(100));
  p.rd.Reset();
  auto s = b.Flush(p.wr.Get());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EPIPE);
  EXPECT_EQ(b.size(), 100u);
}

TEST(OutBuffer, BadDescriptorIsAnError) {
  OutBuffer b;
  b.Append("x");
  auto s = b.Flush(-1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EBADF);
}

}  // namespace
}  // namespace inflight
