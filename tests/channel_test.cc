// The channel between the driver and its sandboxes: requests and results larger than a
// pipe flow both ways at once without a deadlock, a sandbox that dies with requests still
// queued for it has them retried, and a sandbox whose driver stops reading gives up at its
// cap instead of growing without end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/out_buffer.h"
#include "base/unique_fd.h"
#include "driver/sandbox_pool.h"
#include "run/protocol.h"
#include "scenario/text.h"
#include "tests/test_util.h"

namespace inflight {
namespace {

using testing::NestedChainText;
using testing::ReadFile;
using testing::RunBounded;
using testing::TempDir;

constexpr size_t kPipeBytes = 65536;  // a pipe's default capacity

class Channel : public ::testing::Test {
 protected:
  void SetUp() override { INFLIGHT_REQUIRE_NAMESPACES(); }
};

// 250 actions with long names and a comment each: a request of about 90 KB, a result
// (per-action outcomes, object events, census) of tens of KB.
std::string BigScenario() {
  return PrintScenario(ParseScenario(NestedChainText("big_chain", 50, 64, 200)));
}

PoolOptions BigOptions() {
  PoolOptions p;
  p.jobs = 1;
  p.slots = 16;  // 17 requests go out at once: over 20 pipes' worth
  p.sandbox_path = testing::SandboxPath();
  return p;
}

// Exit statuses of the bounded bodies below, so that a failure says which step failed.
enum Step : int {
  kOk = 0,
  kNoResult = 10,
  kRunFailed = 11,
  kSmallResults = 13,
  kNothingQueued = 14,
  kNoSandboxToKill = 15,
};

std::string StepName(int s) {
  switch (s) {
    case kNoResult:
      return "a run never came back";
    case kRunFailed:
      return "a run came back as an error";
    case kSmallResults:
      return "the results did not exceed the pipe";
    case kNothingQueued:
      return "no request bytes were waiting for the sandbox";
    case kNoSandboxToKill:
      return "no sandbox process found to kill";
    default:
      return "status " + std::to_string(s);
  }
}

// Submits `runs` of `text`, alternating lockstep and free-run.
void SubmitRuns(SandboxPool& pool, const std::string& text, int runs) {
  for (int k = 0; k < runs; ++k) {
    RunRequest req;
    req.opt.mode = k % 2 ? RunMode::kFree : RunMode::kLockstep;
    req.opt.seed = static_cast<uint64_t>(k) + 1;
    req.scenario_text = text;
    pool.Submit(std::move(req));
  }
}

int CollectAll(SandboxPool& pool, int runs, size_t* result_bytes) {
  for (int k = 0; k < runs; ++k) {
    auto r = pool.Next(60'000);
    if (!r) return kNoResult;
    if (r->status != RunStatus::kCompleted) return kRunFailed;
    *result_bytes += EncodeRunResult(*r).size();
  }
  return kOk;
}

TEST_F(Channel, LargeRequestsAndResultsFlowBothWaysAtOnce) {
  const std::string text = BigScenario();
  ASSERT_GT(text.size() * 17, 8 * kPipeBytes);
  // In a child with a deadline: on the old blocking writes this deadlocked for good (the
  // driver in write() to the sandbox, the sandbox in write() to the driver).
  const auto status = RunBounded(
      [&] {
        SandboxPool pool(BigOptions());
        pool.Start();
        const int runs = 64;
        size_t result_bytes = 0;
        SubmitRuns(pool, text, runs);
        if (pool.Unwritten() == 0) return static_cast<int>(kNothingQueued);
        if (int s = CollectAll(pool, runs, &result_bytes); s != kOk) return s;
        if (result_bytes < 8 * kPipeBytes) return static_cast<int>(kSmallResults);
        pool.Finish();
        return static_cast<int>(kOk);
      },
      120'000);
  ASSERT_TRUE(status.has_value()) << "no answer within 120 s: the driver and the sandbox "
                                     "are stuck on their pipes";
  EXPECT_EQ(*status, kOk) << StepName(*status);
}

TEST_F(Channel, SandboxDyingWithRequestsQueuedForItHasThemRetried) {
  const std::string text = BigScenario();
  const auto status = RunBounded(
      [&] {
        SandboxPool pool(BigOptions());
        pool.Start();
        const int runs = 24;
        size_t result_bytes = 0;
        SubmitRuns(pool, text, runs);
        if (pool.Unwritten() == 0) return static_cast<int>(kNothingQueued);
        // Our one child is the sandbox (its launcher, outside its namespaces).
        const std::string kids =
            ReadFile("/proc/self/task/" + std::to_string(getpid()) + "/children");
        const pid_t sandbox = static_cast<pid_t>(atoi(kids.c_str()));
        if (sandbox <= 0) return static_cast<int>(kNoSandboxToKill);
        kill(sandbox, SIGKILL);
        if (int s = CollectAll(pool, runs, &result_bytes); s != kOk) return s;
        pool.Finish();
        return static_cast<int>(kOk);
      },
      120'000);
  ASSERT_TRUE(status.has_value()) << "no answer within 120 s";
  EXPECT_EQ(*status, kOk) << StepName(*status);
}

// The driver (this test) sends many runs and never reads a result: the sandbox keeps
// reading requests, queues its results, and at its cap exits with status 4 saying why.
TEST_F(Channel, SandboxGivesUpWhenItsDriverStopsReading) {
  signal(SIGPIPE, SIG_IGN);
  TempDir d;
  const std::string err_path = d.path() + "/stderr";
  int in[2], out[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  UniqueFd to(in[1]), from(out[0]);
  UniqueFd child_in(in[0]), child_out(out[1]);
  UniqueFd err(open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_TRUE(err);
  const std::string path = testing::SandboxPath();
  const char* const argv[] = {path.c_str(),     "--slots", "4",    "--no-accounting",
                              "--max-outbound", "262144",  nullptr};
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(child_in.Get(), STDIN_FILENO);
    dup2(child_out.Get(), STDOUT_FILENO);
    dup2(err.Get(), STDERR_FILENO);
    execv(argv[0], const_cast<char* const*>(argv));
    _exit(127);
  }
  child_in.Reset();
  child_out.Reset();
  // Its hello, then nothing more is read.
  FrameReader reader;
  std::optional<std::pair<MsgType, std::string>> hello;
  while (!(hello = reader.Next())) {
    char buf[4096];
    const ssize_t n = read(from.Get(), buf, sizeof buf);
    ASSERT_GT(n, 0) << ReadFile(err_path);
    reader.Feed(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(hello->first, MsgType::kHello);
  // Requests go out through a non-blocking pipe too, so that a sandbox that stopped
  // reading fails the test instead of hanging it.
  fcntl(to.Get(), F_SETFL, O_NONBLOCK);
  RunRequest req;
  req.scenario_text = BigScenario();
  OutBuffer requests;
  for (int k = 0; k < 200; ++k) {
    req.id = static_cast<uint64_t>(k) + 1;
    requests.Append(EncodeFrame(MsgType::kRun, EncodeRunRequest(req)));
  }
  const size_t total = requests.size();
  const int64_t end = NowMicros() + 120'000'000;
  while (!requests.empty() && NowMicros() < end) {
    pollfd p{to.Get(), POLLOUT, 0};
    poll(&p, 1, 1000);
    if (!requests.Flush(to.Get())) break;  // it is gone
  }
  const size_t sent = total - requests.size();
  const int left_ms = static_cast<int>(std::max<int64_t>(1, (end - NowMicros()) / 1000));
  const auto status = testing::WaitExit(pid, left_ms);
  if (!status) {
    kill(pid, SIGKILL);
    (void)testing::WaitExit(pid, 10'000);
  }
  ASSERT_TRUE(status.has_value()) << "the sandbox neither finished nor gave up";
  EXPECT_EQ(*status, 4) << ReadFile(err_path);
  EXPECT_NE(ReadFile(err_path).find("has not read"), std::string::npos) << ReadFile(err_path);
  EXPECT_GT(sent, 8 * kPipeBytes) << "it kept reading requests while nobody read its results";
}

}  // namespace
}  // namespace inflight
