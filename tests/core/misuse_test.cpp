// Where a program uses the core the wrong way, or in a corner asyncio defines,
// it gets asyncio's answer: an error at once, not a hang, a crash or work done
// anyway. Each case was found by comparing with asyncio (Python 3.11/3.12).
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::RuntimeError;
using corun::Task;
using corun::TaskHandle;
using corun::TimeoutError;

namespace {

corun::AsyncGenerator<int> three() {
  for (int i = 0; i < 3; ++i) {
    co_await corun::sleep(5ms);
    co_yield i;
  }
}

Task<std::string> drain(corun::AsyncGenerator<int>* g) {
  std::string seen;
  try {
    for (;;) {
      Task<std::optional<int>> next = g->next();
      std::optional<int> v = co_await next;
      if (!v) break;
      seen += std::to_string(*v);
    }
  } catch (const RuntimeError& e) {
    seen += std::string("error: ") + e.what();
  }
  co_return seen;
}

// asyncio: "anext(): asynchronous generator is already running" for the second
// reader, and the first one goes on. (The second used to take the generator
// over, and the first was never resumed: run() hung.)
TEST(Misuse, TwoReadersOfOneAsyncGenerator) {
  auto main = []() -> Task<std::vector<std::string>> {
    auto g = three();
    TaskHandle<std::string> a = corun::create_task(drain(&g));
    TaskHandle<std::string> b = corun::create_task(drain(&g));
    std::string ra = co_await a;
    std::string rb = co_await b;
    co_return std::vector<std::string>{ra, rb};
  };
  auto got = corun::run(main());
  EXPECT_EQ(got[0], "012");
  EXPECT_EQ(got[1], "error: anext(): asynchronous generator is already running");
}

Task<int> stubborn(int v) {
  try {
    co_await corun::sleep(50ms);
  } catch (const CancelledError&) {
    // caught: returns its value all the same
  }
  co_return v;
}

Task<void> gather_two() {
  Task<std::tuple<int, int>> g = corun::gather(stubborn(1), stubborn(2));
  co_await g;
}

Task<void> gather_vector() {
  std::vector<Task<int>> tasks;
  tasks.push_back(stubborn(1));
  tasks.push_back(stubborn(2));
  Task<std::vector<int>> g = corun::gather(std::move(tasks));
  co_await g;
}

// asyncio: a cancelled gather raises CancelledError once its children are done,
// even when they caught the cancellation and returned (the values used to come
// back, the cancel lost; so wait_for(gather(...)) could outlive its timeout).
TEST(Misuse, ACancelledGatherRaisesEvenWhenItsChildrenReturn) {
  auto main = []() -> Task<std::string> {
    std::string log;
    for (auto body : {&gather_two, &gather_vector}) {
      TaskHandle<void> p = corun::create_task(body());
      co_await corun::sleep(10ms);
      p.cancel();
      try {
        co_await p;
        log += "returned;";
      } catch (const CancelledError&) {
        log += "cancelled;";
      }
    }
    try {
      Task<std::tuple<int, int>> w = corun::wait_for(corun::gather(stubborn(1), stubborn(2)), 10ms);
      co_await w;
      log += "value after the timeout";
    } catch (const TimeoutError&) {
      log += "timeout";
    }
    co_return log;
  };
  EXPECT_EQ(corun::run(main()), "cancelled;cancelled;timeout");
}

Task<int> one() {
  co_await corun::sleep(1ms);
  co_return 1;
}

// asyncio: "cannot reuse already awaited coroutine" (a second co_await of a
// Task used to resume a finished coroutine: a crash).
TEST(Misuse, ATaskAwaitedTwice) {
  auto main = []() -> Task<std::string> {
    Task<int> t = one();
    int first = co_await t;
    try {
      co_await t;
      co_return "no error";
    } catch (const RuntimeError& e) {
      co_return std::to_string(first) + ", then " + e.what();
    }
  };
  EXPECT_EQ(corun::run(main()), "1, then cannot reuse already awaited coroutine");
}

TaskHandle<int> self_handle;

Task<int> await_self() {
  co_await corun::sleep(1ms);
  try {
    co_await self_handle;
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Task cannot await on itself");
    co_return 1;
  }
  co_return 0;
}

// asyncio: "Task cannot await on itself" (it used to wait forever, and a
// cancel then recursed until the stack overflowed).
TEST(Misuse, ATaskAwaitingItself) {
  auto main = []() -> Task<int> {
    self_handle = corun::create_task(await_self());
    Task<int> w = corun::wait_for(
        corun::co_invoke([]() -> Task<int> { co_return co_await self_handle; }), 5s);
    int v = co_await w;
    self_handle = {};
    co_return v;
  };
  EXPECT_EQ(corun::run(main()), 1);
}

int side_effects = 0;

Task<int> side_effect() {
  ++side_effects;
  co_return 1;
}

// asyncio checks before it schedules anything: a refused run_until_complete
// runs nothing (the task used to be made first, and then ran on the running
// loop, or was left pending on the other).
TEST(Misuse, ARefusedRunUntilCompleteRunsNothing) {
  side_effects = 0;
  auto main = []() -> Task<std::string> {
    std::string log;
    try {
      corun::get_running_loop().run_until_complete(side_effect());
    } catch (const RuntimeError& e) {
      log += e.what();
    }
    corun::Loop other;
    try {
      other.run_until_complete(side_effect());
    } catch (const RuntimeError& e) {
      log += std::string("; ") + e.what();
    }
    co_await corun::sleep(5ms);  // a task made anyway would have run by now
    co_return log;
  };
  EXPECT_EQ(corun::run(main()),
            "This event loop is already running; Cannot run the event loop while another loop "
            "is running");
  EXPECT_EQ(side_effects, 0);
}

// asyncio logs whatever a callback raises and goes on; a C++ callback may
// throw a type that is not a std::exception (it used to end the process).
TEST(Misuse, ACallbackThrowingANonStdTypeIsLogged) {
  corun::Loop loop;
  corun::testing::HandlerCapture handler;
  handler.install(loop);
  bool after = false;
  loop.call_soon([] { throw 42; });
  loop.call_soon([&after] { after = true; });
  corun::testing::spin(loop, 2);
  EXPECT_TRUE(after);
  ASSERT_EQ(handler.calls.size(), 1u);
  EXPECT_NE(handler.calls[0].message.find("Exception in"), std::string::npos)
      << handler.calls[0].message;
  loop.close();
}

}  // namespace
