// LoopThread, ConcurrentFuture, run_coroutine_threadsafe, to_thread (environment 4).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Task;

TEST(LoopThread, SubmitReturnsResults) {
  corun::LoopThread lt;
  auto f = lt.submit([]() -> Task<int> {
    co_await corun::sleep(1ms);
    co_return 5;
  }());
  EXPECT_EQ(f.get(), 5);
  EXPECT_TRUE(f.done());
}

TEST(LoopThread, ExceptionsCrossTheThread) {
  corun::LoopThread lt;
  auto f = lt.submit([]() -> Task<int> {
    throw std::out_of_range("far");
    co_return 0;
  }());
  EXPECT_THROW(f.get(), std::out_of_range);
}

// Environment 4: 8 threads x 10,000 coroutines; every result delivered once.
TEST(LoopThread, EightThreadsSubmitTenThousandEach) {
  constexpr int kThreads = 8, kPerThread = 10000;
  corun::LoopThread lt;
  std::atomic<long> delivered{0};
  std::vector<std::vector<int>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<corun::ConcurrentFuture<int>> fs;
      fs.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        auto work = [](int v) -> Task<int> {
          if (v % 7 == 0) co_await corun::sleep(0s);
          co_return v;
        }(t * kPerThread + i);
        if (i % 2) {
          fs.push_back(lt.submit(std::move(work)));
        } else {
          fs.push_back(corun::run_coroutine_threadsafe(std::move(work), lt.loop()));
        }
      }
      for (auto& f : fs) {
        results[t].push_back(f.get());
        delivered.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(delivered.load(), kThreads * kPerThread);
  std::set<int> seen;
  for (auto& r : results) seen.insert(r.begin(), r.end());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));  // each once
}

TEST(LoopThread, GetOnTheLoopsOwnThreadRaisesInsteadOfDeadlocking) {
  corun::LoopThread lt;
  std::string message;
  auto f = lt.submit(corun::co_invoke([&]() -> Task<> {
    auto other = corun::run_coroutine_threadsafe([]() -> Task<int> { co_return 1; }(),
                                                 corun::get_running_loop());
    try {
      other.get();
    } catch (const corun::RuntimeError& e) {
      message = e.what();
    }
    co_return;
  }));
  f.get();
  EXPECT_NE(message.find("would deadlock"), std::string::npos) << message;
}

TEST(LoopThread, CancelCancelsTheTaskOnItsLoop) {
  corun::LoopThread lt;
  std::atomic<bool> saw_cancel{false};
  corun::Event* started = nullptr;
  (void)started;
  std::atomic<bool> running{false};
  auto f = lt.submit(corun::co_invoke([&]() -> Task<> {
    running = true;
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError&) {
      saw_cancel = true;
      throw;
    }
  }));
  while (!running) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.get(), CancelledError);
  for (int i = 0; i < 2000 && !saw_cancel; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(saw_cancel.load());
}

TEST(LoopThread, StopCancelsRunningWorkAndCompletesTheFutures) {
  auto lt = std::make_unique<corun::LoopThread>();
  std::atomic<bool> running{false};
  auto f = lt->submit(corun::co_invoke([&]() -> Task<int> {
    running = true;
    co_await corun::sleep(10s);
    co_return 1;
  }));
  while (!running) std::this_thread::sleep_for(1ms);
  lt.reset();  // graceful stop
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.get(), CancelledError);
}

TEST(LoopThread, SubmitAfterStopIsAnError) {
  corun::LoopThread lt;
  lt.stop();
  EXPECT_THROW(lt.submit([]() -> Task<> { co_return; }()), corun::RuntimeError);
}

TEST(LoopThread, WaitForTimesOutThenCompletes) {
  corun::LoopThread lt;
  auto f = lt.submit([]() -> Task<int> {
    co_await corun::sleep(30ms);
    co_return 2;
  }());
  EXPECT_FALSE(f.wait_for(1ms));
  EXPECT_TRUE(f.wait_for(10s));
  EXPECT_EQ(f.get(), 2);
}

TEST(LoopThread, DoneCallbackRuns) {
  corun::LoopThread lt;
  std::atomic<int> calls{0};
  auto f = lt.submit([]() -> Task<int> { co_return 1; }());
  f.add_done_callback([&] { ++calls; });
  f.get();
  for (int i = 0; i < 1000 && calls == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(calls.load(), 1);
}

// discard_value(): a done future's value goes at once, whoever still holds the
// future (the Python binding drops the responses of a loop that closed so).
TEST(LoopThread, DiscardValueDropsADoneValueAtOnce) {
  corun::LoopThread lt;
  auto alive = std::make_shared<int>(7);
  std::weak_ptr<int> watch = alive;
  corun::Event release;
  auto f = lt.submit([](std::shared_ptr<int> v, corun::Event& go) -> Task<std::shared_ptr<int>> {
    auto waiting = go.wait();
    co_await waiting;
    co_return v;
  }(std::move(alive), release));
  f.discard_value();  // still pending: nothing to drop
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(watch.expired());
  auto set = lt.submit([](corun::Event& go) -> Task<void> {
    go.set();
    co_return;
  }(release));
  set.get();
  ASSERT_TRUE(f.wait_for(10s));
  ASSERT_FALSE(watch.expired());  // held by the future's state
  corun::ConcurrentFuture<std::shared_ptr<int>> other = f;
  // From inside a done callback, as from any thread.
  std::atomic<bool> dropped{false};
  f.add_done_callback([&] {
    other.discard_value();
    dropped = true;
  });
  EXPECT_TRUE(dropped.load());
  EXPECT_TRUE(watch.expired());  // gone, though f and other still hold the state
  EXPECT_THROW(f.get(), corun::RuntimeError);
  f.discard_value();  // again: nothing left, no error
}

TEST(LoopThread, DiscardValueRacesWithCompletion) {
  corun::LoopThread lt;
  for (int i = 0; i < 200; ++i) {
    auto f =
        lt.submit([](int n) -> Task<std::vector<int>> { co_return std::vector<int>(64, n); }(i));
    f.discard_value();  // pending or done: either is fine
    f.wait_for(10s);
    f.discard_value();
    EXPECT_TRUE(f.done());
  }
}

TEST(ToThread, RunsOffTheLoopThread) {
  auto main = []() -> Task<bool> {
    auto loop_thread = std::this_thread::get_id();
    auto worker = co_await corun::to_thread([] { return std::this_thread::get_id(); });
    co_return worker != loop_thread;
  };
  EXPECT_TRUE(corun::run(main()));
}

TEST(ToThread, ExceptionsComeBack) {
  auto main = []() -> Task<> {
    co_await corun::to_thread([]() -> int { throw std::domain_error("in thread"); });
  };
  EXPECT_THROW(corun::run(main()), std::domain_error);
}

TEST(ToThread, ManyConcurrentJobs) {
  auto main = []() -> Task<long> {
    std::vector<Task<long>> ts;
    for (long i = 0; i < 200; ++i) ts.push_back(corun::to_thread([i] { return i; }));
    auto r = co_await corun::gather(std::move(ts));
    long s = 0;
    for (long v : r) s += v;
    co_return s;
  };
  EXPECT_EQ(corun::run(main()), 199 * 200 / 2);
}

// A task submitted from another thread once the loop's shutdown has begun (a
// LoopThread stopping while other threads still submit) is refused at once,
// as a submission after stop() is. It used to be made after the shutdown had
// cancelled the others: run if it was quick, destroyed pending if not, with a
// "Task was destroyed but it is pending!" line each (a flood when many threads
// submit) and a CancelledError for its caller.
TEST(LoopThread, ASubmissionDuringShutdownIsRefusedWithoutALog) {
  corun::testing::HandlerCapture cap;
  corun::ConcurrentFuture<int> late;
  bool late_ran = false;
  {
    corun::Runner runner;
    corun::Loop& loop = runner.loop();
    cap.install(loop);
    runner.run(corun::co_invoke([&]() -> Task<> {
      loop.create_task(corun::co_invoke([&]() -> Task<> {
        try {
          co_await corun::sleep(10s);
        } catch (const CancelledError&) {
          // The shutdown cancelled this task; a submission arrives meanwhile.
          late = corun::run_coroutine_threadsafe(corun::co_invoke([&]() -> Task<int> {
                                                   late_ran = true;
                                                   co_return 1;
                                                 }),
                                                 loop);
          throw;
        }
      }));
      co_await corun::sleep(0ms);  // the task above starts and waits
      co_await corun::sleep(0ms);
    }));
    runner.close();
  }
  ASSERT_TRUE(late.valid());
  ASSERT_TRUE(late.done());
  EXPECT_FALSE(late_ran);
  try {
    late.get();
    ADD_FAILURE() << "the late submission returned";
  } catch (const corun::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Event loop is closed");
  }
  EXPECT_FALSE(cap.contains("Task was destroyed but it is pending!"));
}

// cancel_task(): the future completes once the task has ended, its cleanup run
// (cancel() completes it at once, as asyncio's does, while the task unwinds).
TEST(LoopThread, CancelTaskCompletesOnceTheTaskHasEnded) {
  corun::LoopThread lt;
  std::atomic<bool> running{false};
  std::atomic<bool> cleaned{false};
  auto f = lt.submit(corun::co_invoke([&]() -> Task<int> {
    running = true;
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError&) {
      std::this_thread::sleep_for(50ms);  // a cleanup that takes a while
      cleaned = true;
      throw;
    }
    co_return 1;
  }));
  while (!running) std::this_thread::sleep_for(1ms);
  f.cancel_task();
  EXPECT_THROW(f.get(), CancelledError);
  EXPECT_TRUE(cleaned);  // get() returned only after the cleanup
  EXPECT_TRUE(f.cancelled());
}
