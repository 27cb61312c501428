// Task and TaskHandle: scheduling, done callbacks, cancellation, diagnostics
// (semantics 7, 8, 9, 13).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Loop;
using corun::Task;
using corun::TaskHandle;

namespace {
Task<int> value(int v) {
  co_return v;
}
Task<int> fail(std::string what) {
  throw std::runtime_error(what);
  co_return 0;
}
}  // namespace

TEST(Task, AwaitInlineYieldsValueAndRethrows) {
  auto main = []() -> Task<std::string> {
    int a = co_await value(20);
    std::string err;
    try {
      co_await fail("inner");
    } catch (const std::runtime_error& e) {
      err = e.what();
    }
    co_return std::to_string(a) + err;
  };
  EXPECT_EQ(corun::run(main()), "20inner");
}

TEST(Task, TaskIsLazy) {
  bool started = false;
  auto t = corun::co_invoke([&]() -> Task<> {
    started = true;
    co_return;
  });
  EXPECT_FALSE(started);
  corun::run(std::move(t));
  EXPECT_TRUE(started);
}

TEST(Task, DeepRecursionDoesNotGrowTheStack) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // g++ turns symmetric transfer into a tail call only when sanitizers leave
  // sibling calls alone; instrumented builds grow the stack per await. There the
  // chain is shorter (it still checks every level resumes its awaiter with the
  // right value, under the sanitizers); the Release build checks the stack.
  constexpr int kDepth = 2000;
#else
  constexpr int kDepth = 100000;
#endif
  struct R {
    static Task<int> depth(int n) {
      if (n == 0) co_return 0;
      co_return 1 + co_await depth(n - 1);
    }
  };
  EXPECT_EQ(corun::run(R::depth(kDepth)), kDepth);
}

// Semantic 8: create_task runs none of the coroutine before the next iteration.
TEST(Task, Semantic8_CreateTaskRunsNothingYet) {
  Loop loop;
  std::vector<std::string> order;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> {
    order.push_back("task body");
    co_return;
  }));
  order.push_back("after create_task");
  EXPECT_FALSE(h.done());
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"after create_task", "task body"}));
  EXPECT_TRUE(h.done());
}

// Semantic 7: done callbacks are scheduled with call_soon, in registration order,
// also when added after completion.
TEST(Task, Semantic7_DoneCallbacksAreNeverSynchronous) {
  Loop loop;
  std::vector<std::string> order;
  auto h = loop.create_task(value(1));
  h.add_done_callback([&] { order.push_back("cb1"); });
  h.add_done_callback(
      [&](TaskHandle<int> t) { order.push_back("cb2 result " + std::to_string(t.result())); });
  loop.run_once();  // the task runs and completes; callbacks are only scheduled
  EXPECT_TRUE(h.done());
  EXPECT_TRUE(order.empty());
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"cb1", "cb2 result 1"}));
  h.add_done_callback([&] { order.push_back("late"); });
  EXPECT_EQ(order.size(), 2u);  // not synchronous even when already done
  loop.run_once();
  EXPECT_EQ(order.back(), "late");
}

TEST(Task, HandleApi) {
  Loop loop;
  auto h = loop.create_task(value(7), "seven");
  EXPECT_EQ(h.name(), "seven");
  EXPECT_THROW(h.result(), corun::InvalidStateError);
  EXPECT_THROW(h.exception(), corun::InvalidStateError);
  EXPECT_EQ(loop.run_until_complete(h), 7);
  EXPECT_EQ(h.result(), 7);
  EXPECT_EQ(h.exception(), nullptr);
  EXPECT_FALSE(h.cancel());  // done: nothing to cancel
  auto unnamed = loop.create_task(value(1));
  EXPECT_EQ(unnamed.name().rfind("Task-", 0), 0u);
  loop.run_until_complete(unnamed);
}

TEST(Task, DroppingHandlesDoesNotCancel) {
  Loop loop;
  bool finished = false;
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    co_await corun::sleep(1ms);
    finished = true;
  }));  // handle dropped at once
  loop.run_until_complete([]() -> Task<> { co_await corun::sleep(5ms); }());
  EXPECT_TRUE(finished);
}

// Semantic 9: cancel() requests; CancelledError at the next suspension; may be
// caught; cancelled() only once it left the coroutine; counts requests.
TEST(Task, Semantic9_CancelRequestsAndCounts) {
  Loop loop;
  std::vector<std::string> order;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<int> {
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError& e) {
      order.push_back(std::string("caught: ") + e.what());
    }
    co_await corun::sleep(0s);  // it chose to go on
    order.push_back("went on");
    co_return 5;
  }));
  loop.run_once();  // now suspended in sleep(10s)
  EXPECT_TRUE(h.cancel("stop please"));
  EXPECT_TRUE(h.cancel());
  EXPECT_EQ(h.cancelling(), 2);
  EXPECT_FALSE(h.cancelled());  // only requested
  EXPECT_EQ(loop.run_until_complete(h), 5);
  EXPECT_FALSE(h.cancelled());
  EXPECT_EQ(order, (std::vector<std::string>{"caught: stop please", "went on"}));
  EXPECT_EQ(h.uncancel(), 1);
}

TEST(Task, Semantic9_CancelledOnlyAfterCancelledErrorLeaves) {
  Loop loop;
  bool cleanup = false;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> {
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError&) {
      cleanup = true;
      throw;
    }
  }));
  loop.run_once();
  h.cancel();
  EXPECT_FALSE(h.cancelled());
  EXPECT_THROW(loop.run_until_complete(h), CancelledError);
  EXPECT_TRUE(cleanup);
  EXPECT_TRUE(h.cancelled());
  EXPECT_THROW(h.result(), CancelledError);
}

TEST(Task, Semantic9_CancelBeforeFirstStepNeverRunsTheBody) {
  Loop loop;
  bool ran = false;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> {
    ran = true;
    co_return;
  }));
  EXPECT_TRUE(h.cancel());
  EXPECT_THROW(loop.run_until_complete(h), CancelledError);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(h.cancelled());
}

TEST(Task, Semantic9_CancellationTravelsDownToAwaitedTask) {
  Loop loop;
  std::vector<std::string> order;
  auto inner = loop.create_task(corun::co_invoke([&]() -> Task<> {
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError&) {
      order.push_back("inner cancelled");
      throw;
    }
  }));
  auto outer = loop.create_task(corun::co_invoke([&]() -> Task<> {
    try {
      co_await inner;
    } catch (const CancelledError&) {
      order.push_back("outer cancelled");
      throw;
    }
  }));
  loop.run_once();
  outer.cancel();
  EXPECT_THROW(loop.run_until_complete(outer), CancelledError);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_EQ(order, (std::vector<std::string>{"inner cancelled", "outer cancelled"}));
}

TEST(Task, Semantic9_CatchAllStdExceptionDoesNotSwallowCancellation) {
  Loop loop;
  bool swallowed = false;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> {
    try {
      co_await corun::sleep(10s);
    } catch (const std::exception&) {
      swallowed = true;
    }
  }));
  loop.run_once();
  h.cancel();
  EXPECT_THROW(loop.run_until_complete(h), CancelledError);
  EXPECT_FALSE(swallowed);
}

TEST(Task, Semantic9_CancelWhileRunningTakesEffectAtNextSuspension) {
  Loop loop;
  std::vector<std::string> order;
  TaskHandle<> self;
  self = loop.create_task(corun::co_invoke([&]() -> Task<> {
    self.cancel();  // requested while running
    order.push_back("still running");
    try {
      co_await corun::sleep(0s);
    } catch (const CancelledError&) {
      order.push_back("cancelled at the suspension");
      throw;
    }
  }));
  EXPECT_THROW(loop.run_until_complete(self), CancelledError);
  EXPECT_EQ(order, (std::vector<std::string>{"still running", "cancelled at the suspension"}));
}

TEST(Task, Semantic13_ExceptionNeverRetrievedIsLogged) {
  corun::testing::HandlerCapture cap;
  {
    Loop loop;
    cap.install(loop);
    {
      auto h = loop.create_task(fail("lost"));
      loop.run_once();
      EXPECT_TRUE(h.done());
    }  // last handle dropped: nobody looked at the exception
    EXPECT_TRUE(cap.contains("Task exception was never retrieved"));
    ASSERT_TRUE(cap.calls.back().exception);
  }
  corun::testing::HandlerCapture cap2;
  Loop loop;
  cap2.install(loop);
  {
    auto h = loop.create_task(fail("seen"));
    loop.run_once();
    EXPECT_NE(h.exception(), nullptr);  // retrieved
  }
  EXPECT_FALSE(cap2.contains("never retrieved"));
}

TEST(Task, Semantic13_DestroyedWhilePendingIsLogged) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  bool cleaned = false;
  struct Guard {
    bool* flag;
    ~Guard() { *flag = true; }
  };
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Guard g{&cleaned};
    co_await corun::sleep(10s);
  }));
  loop.run_once();
  loop.close();  // the task never finished
  EXPECT_TRUE(cap.contains("Task was destroyed but it is pending!"));
  EXPECT_TRUE(cleaned);  // its frame was destroyed: RAII cleanup ran
}

TEST(Future, BridgesCallbacksAndCancellation) {
  Loop loop;
  bool aborted = false;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<int> {
    corun::Future<int> fut;
    auto timer = corun::get_running_loop().call_later(5ms, [fut]() mutable {
      if (!fut.done()) fut.set_result(9);
    });
    fut.add_done_callback([&, fut] {
      if (fut.cancelled()) aborted = true;
    });
    co_return co_await fut;
  }));
  EXPECT_EQ(loop.run_until_complete(h), 9);
  EXPECT_FALSE(aborted);

  auto h2 = loop.create_task(corun::co_invoke([&]() -> Task<int> {
    corun::Future<int> fut;
    fut.add_done_callback([&, fut] {
      if (fut.cancelled()) aborted = true;
    });
    co_return co_await fut;
  }));
  loop.run_once();
  h2.cancel();
  EXPECT_THROW(loop.run_until_complete(h2), CancelledError);
  loop.run_once();  // the future's done callback
  EXPECT_TRUE(aborted);
}

TEST(Future, SetTwiceIsAnError) {
  Loop loop;
  corun::Future<int> f(loop);
  f.set_result(1);
  EXPECT_THROW(f.set_result(2), corun::InvalidStateError);
  EXPECT_EQ(f.result(), 1);
}
