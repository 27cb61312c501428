// run(), Runner, run_or_schedule and SIGINT (semantics 1, 2, 3, 4).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Runner;
using corun::RuntimeError;
using corun::Task;

// Environment 1: a plain main() calling run().
TEST(Run, PlainMainGetsTheValue) {
  auto main = []() -> Task<int> {
    co_await corun::sleep(1ms);
    co_return 41 + 1;
  };
  EXPECT_EQ(corun::run(main()), 42);
  EXPECT_EQ(corun::try_get_running_loop(), nullptr);  // current loop unset afterwards
}

TEST(Run, MainExceptionPropagates) {
  auto main = []() -> Task<> {
    throw std::invalid_argument("bad");
    co_return;
  };
  EXPECT_THROW(corun::run(main()), std::invalid_argument);
}

// Semantic 1 / environment 2: run() inside a running loop fails at once,
// creating nothing, and says what to do instead.
TEST(Run, Semantic1_RunInsideALoopFailsAtOnceWithAdvice) {
  bool inner_ran = false;
  std::string message;
  std::size_t tasks_before = 0, tasks_after = 0;
  auto main = [&]() -> Task<> {
    auto& loop = corun::get_running_loop();
    tasks_before = loop.all_tasks().size();
    try {
      corun::run(corun::co_invoke([&]() -> Task<> {
        inner_ran = true;
        co_return;
      }));
    } catch (const RuntimeError& e) {
      message = e.what();
    }
    tasks_after = loop.all_tasks().size();
    co_return;
  };
  corun::run(main());
  EXPECT_FALSE(inner_ran);
  EXPECT_EQ(tasks_before, tasks_after);  // nothing was created
  EXPECT_EQ(message.rfind("run() cannot be called from a running event loop", 0), 0u) << message;
  for (const char* advice : {"co_await", "create_task", "run_or_schedule", "LoopThread"}) {
    EXPECT_NE(message.find(advice), std::string::npos) << advice;
  }
}

TEST(Run, Semantic1_RunnerRunInsideALoop) {
  std::string message;
  auto main = [&]() -> Task<> {
    Runner r;
    try {
      r.run([]() -> Task<> { co_return; }());
    } catch (const RuntimeError& e) {
      message = e.what();
    }
    co_return;
  };
  corun::run(main());
  EXPECT_EQ(message.rfind("Runner.run() cannot be called from a running event loop", 0), 0u)
      << message;
}

// Environment 2: run_or_schedule schedules inside a loop, runs outside.
TEST(Run, RunOrScheduleOutsideAndInside) {
  auto work = []() -> Task<int> {
    co_await corun::sleep(1ms);
    co_return 3;
  };
  auto finished = corun::run_or_schedule(work());  // no loop: runs to completion
  EXPECT_TRUE(finished.done());
  EXPECT_EQ(finished.result(), 3);

  auto main = [&]() -> Task<int> {
    auto h = corun::run_or_schedule(work());  // inside: scheduled, returns at once
    EXPECT_FALSE(h.done());
    co_return co_await h;
  };
  EXPECT_EQ(corun::run(main()), 3);
}

// Semantic 2: shutdown cancels and awaits the remaining tasks, reports their
// errors, closes async generators, waits for the executor.
TEST(Run, Semantic2_ShutdownCancelsAndAwaitsRemainingTasks) {
  std::vector<std::string> order;
  std::vector<std::string> handler_messages;
  auto main = [&]() -> Task<int> {
    corun::get_running_loop().set_exception_handler(
        [&](corun::Loop&, const corun::ExceptionContext& c) {
          handler_messages.push_back(c.message);
        });
    corun::create_task(corun::co_invoke([&]() -> Task<> {
      std::exception_ptr cancelled;
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        order.push_back("background cancelled");
        cancelled = std::current_exception();
      }
      co_await corun::sleep(1ms);  // cleanup may await
      order.push_back("background cleaned up");
      std::rethrow_exception(cancelled);
    }));
    corun::create_task(corun::co_invoke([&]() -> Task<> {
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        throw std::runtime_error("failed while cancelled");
      }
    }));
    co_await corun::sleep(1ms);
    co_return 1;
  };
  EXPECT_EQ(corun::run(main()), 1);
  EXPECT_EQ(order, (std::vector<std::string>{"background cancelled", "background cleaned up"}));
  ASSERT_EQ(handler_messages.size(), 1u);
  EXPECT_EQ(handler_messages[0], "unhandled exception during run() shutdown");
}

TEST(Run, Semantic2_ShutdownHappensEvenIfMainFailed) {
  bool cleaned = false;
  auto main = [&]() -> Task<> {
    corun::create_task(corun::co_invoke([&]() -> Task<> {
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        cleaned = true;
        throw;
      }
    }));
    co_await corun::sleep(1ms);
    throw std::logic_error("main failed");
  };
  EXPECT_THROW(corun::run(main()), std::logic_error);
  EXPECT_TRUE(cleaned);
}

namespace {
corun::AsyncGenerator<int> counter(std::vector<std::string>& log) {
  try {
    for (int i = 0;; ++i) co_yield i;
  } catch (const corun::GeneratorExit&) {
    log.push_back("generator closed");
    throw;
  }
}
}  // namespace

TEST(Run, Semantic2_ShutdownFinishesSuspendedAsyncGenerators) {
  std::vector<std::string> log;
  std::optional<corun::AsyncGenerator<int>> kept;  // outlives main: still suspended at shutdown
  auto main = [&]() -> Task<int> {
    kept.emplace(counter(log));
    auto a = co_await kept->next();
    auto b = co_await kept->next();
    co_return *a + *b;
  };
  EXPECT_EQ(corun::run(main()), 1);
  EXPECT_EQ(log, (std::vector<std::string>{"generator closed"}));
}

TEST(Run, Semantic2_ShutdownWaitsForTheExecutor) {
  std::atomic<bool> thread_done{false};
  auto main = [&]() -> Task<> {
    corun::create_task(corun::co_invoke([&]() -> Task<> {
      co_await corun::to_thread([&] {
        std::this_thread::sleep_for(50ms);
        thread_done = true;
      });
    }));
    co_await corun::sleep(5ms);  // the job is running on the pool now
  };
  corun::run(main());
  EXPECT_TRUE(thread_done.load());  // run() did not return before the job ended
}

// Semantic 3: one loop across many run() calls; tasks frozen between them.
TEST(Run, Semantic3_RunnerKeepsOneLoopAndFreezesTasksBetweenRuns) {
  Runner runner;
  int ticks = 0;
  corun::Loop* first_loop = nullptr;
  corun::TaskHandle<> background;
  runner.run(corun::co_invoke([&]() -> Task<> {
    first_loop = &corun::get_running_loop();
    background = corun::create_task(corun::co_invoke([&]() -> Task<> {
      for (;;) {
        ++ticks;
        co_await corun::sleep(1ms);
      }
    }));
    co_await corun::sleep(5ms);
  }));
  int ticks_after_first = ticks;
  EXPECT_GT(ticks_after_first, 0);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ticks, ticks_after_first);  // frozen: the loop is not running
  corun::Loop* second_loop = nullptr;
  runner.run(corun::co_invoke([&]() -> Task<> {
    second_loop = &corun::get_running_loop();
    co_await corun::sleep(5ms);
  }));
  EXPECT_EQ(first_loop, second_loop);
  EXPECT_GT(ticks, ticks_after_first);  // resumed on the next run
  EXPECT_FALSE(background.done());
  runner.close();
  EXPECT_TRUE(background.cancelled());  // close() cancelled it
  runner.close();                       // idempotent
  try {
    runner.run([]() -> Task<> { co_return; }());
    FAIL() << "run after close";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Runner is closed");
  }
  EXPECT_THROW(runner.loop(), RuntimeError);
}

// Semantic 4 / environment 5: a real SIGINT to a child process running run().
// Exit codes: 0 = KeyboardInterrupt after the main task cleaned up.
namespace {
int child_main(int ready_fd, bool ignore_first, bool via_run_or_schedule) {
  bool cleaned = false;
  auto main = [&]() -> Task<> {
    corun::get_running_loop().call_soon([ready_fd] {
      char c = 'r';
      (void)!::write(ready_fd, &c, 1);
    });
    try {
      co_await corun::sleep(30s);
    } catch (const CancelledError&) {
      cleaned = true;
      if (!ignore_first) throw;
    }
    if (ignore_first) co_await corun::sleep(30s);  // wait for the second Ctrl-C
  };
  try {
    if (via_run_or_schedule) {
      corun::run_or_schedule(main());
    } else {
      corun::run(main());
    }
  } catch (const corun::KeyboardInterrupt&) {
    return cleaned ? 0 : 3;
  } catch (const CancelledError&) {
    return 4;
  } catch (...) {
    return 5;
  }
  return 6;
}

int run_child_and_interrupt(bool ignore_first, int signals, bool via_run_or_schedule = false) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  std::fflush(nullptr);  // the child must not repeat buffered output
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::_exit(child_main(fds[1], ignore_first, via_run_or_schedule));
  }
  ::close(fds[1]);
  char c;
  if (::read(fds[0], &c, 1) != 1) return -2;
  ::close(fds[0]);
  for (int i = 0; i < signals; ++i) {
    if (i) std::this_thread::sleep_for(50ms);
    ::kill(pid, SIGINT);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}
}  // namespace

TEST(Run, Semantic4_SigintCancelsMainAndEndsWithKeyboardInterrupt) {
  EXPECT_EQ(run_child_and_interrupt(false, 1), 0);
}

TEST(Run, Semantic4_SecondSigintRaisesAtOnce) {
  // The main task swallows the first cancellation and goes on waiting; the
  // second Ctrl-C ends run() with KeyboardInterrupt anyway.
  EXPECT_EQ(run_child_and_interrupt(true, 2), 0);
}

TEST(Run, Semantic4_RunOrScheduleWithoutALoopHandlesSigintLikeRun) {
  EXPECT_EQ(run_child_and_interrupt(false, 1, true), 0);
}

TEST(Run, SigintHandlerIsRemovedAfterRun) {
  corun::run([]() -> Task<> { co_return; }());
  struct sigaction sa {};
  ASSERT_EQ(::sigaction(SIGINT, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
}
