// fork() copies only the calling thread. The core's process-wide locks (the
// frame pool's depot, the log sink's) are held around it (pthread_atfork), so
// a child forked while other threads hold them can still allocate frames and
// log. Two threads keep the depot busy (one allocates, the other frees what it
// got, so batches go through the depot both ways) and a third logs, while the
// main thread forks; every child must allocate, free and log, and exit within
// a deadline. Not timed: a child that hangs on a lock is what fails.
//
// Built without sanitizers only: their builds turn the pool off
// (detail/pool.hpp), and their own allocators are not fork-safe (a child
// forked while another thread is inside TSan's or ASan's malloc can hang there).
#include <corun/core/detail/pool.hpp>

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <corun/core/log.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kBlock = 48;
constexpr int kForks = 150;

// The child's work: enough blocks of one class to refill from and spill to
// the depot, and a line through the log sink. _exit(0) when done.
[[noreturn]] void child_work() {
  std::vector<void*> blocks;
  blocks.reserve(3000);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; ++i) blocks.push_back(corun::detail::pool_allocate(kBlock));
    for (void* p : blocks) corun::detail::pool_free(p, kBlock);
    blocks.clear();
  }
  corun::log(corun::LogLevel::debug, "child");
  ::_exit(0);
}

// 0 if the child exited with 0 in time; else kills it and returns -1.
int wait_child(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
}

TEST(CoreFork, AChildForkedWhileOtherThreadsHoldTheCoresLocksCanAllocateAndLog) {
  std::atomic<int> lines{0};
  corun::LogSink previous =
      corun::set_log_sink([&lines](corun::LogLevel, std::string_view) { lines.fetch_add(1); });
  std::atomic<bool> stop{false};
  // Blocks handed from the allocating thread to the freeing one.
  std::mutex handoff_mutex;
  std::vector<void*> handoff;

  std::thread allocator([&] {
    while (!stop.load()) {
      std::vector<void*> batch;
      batch.reserve(600);
      for (int i = 0; i < 600; ++i) batch.push_back(corun::detail::pool_allocate(kBlock));
      std::lock_guard lock(handoff_mutex);
      handoff.insert(handoff.end(), batch.begin(), batch.end());
    }
  });
  std::thread freer([&] {
    for (;;) {
      std::vector<void*> batch;
      {
        std::lock_guard lock(handoff_mutex);
        batch.swap(handoff);
      }
      for (void* p : batch) corun::detail::pool_free(p, kBlock);
      if (batch.empty()) {
        if (stop.load()) break;
        std::this_thread::yield();
      }
    }
  });
  std::thread logger([&] {
    while (!stop.load()) corun::log(corun::LogLevel::debug, "busy");
  });

  std::this_thread::sleep_for(20ms);
  int failed = 0;
  for (int i = 0; i < kForks; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child_work();
    if (wait_child(pid) != 0) ++failed;
  }
  stop.store(true);
  allocator.join();
  freer.join();
  logger.join();
  {
    std::lock_guard lock(handoff_mutex);
    for (void* p : handoff) corun::detail::pool_free(p, kBlock);
  }
  corun::set_log_sink(std::move(previous));
  EXPECT_EQ(failed, 0) << "of " << kForks << " children, these hung or failed";
  EXPECT_GT(lines.load(), 0);
}

}  // namespace

#endif  // no sanitizer
