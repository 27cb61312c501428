// Debug mode (semantic 14) and async generators.
#include <gtest/gtest.h>

#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::Task;

TEST(Debug, Semantic14_SlowCallbackIsLoggedByName) {
  corun::testing::LogCapture logs;
  corun::Loop loop;
  loop.set_debug(true);
  auto h = loop.create_task(
      []() -> Task<> {
        std::this_thread::sleep_for(120ms);  // blocks the loop
        co_return;
      }(),
      "sluggish");
  loop.run_until_complete(h);
  EXPECT_TRUE(logs.contains("Task 'sluggish' step took"))
      << (logs.lines().empty() ? "" : logs.lines()[0]);
}

TEST(Debug, Semantic14_FastCallbacksAreNotLogged) {
  corun::testing::LogCapture logs;
  corun::Loop loop;
  loop.set_debug(true);
  loop.run_until_complete([]() -> Task<> { co_return; }());
  EXPECT_FALSE(logs.contains("took"));
}

// Debug turned on inside a step: that step took no start time, so it is not
// reported (it was, as taking the steady clock's whole age: "took 25770 s").
TEST(Debug, Semantic14_DebugTurnedOnInAStepDoesNotReportThatStep) {
  corun::testing::LogCapture logs;
  corun::Loop loop;
  loop.run_until_complete([]() -> Task<> {
    corun::get_running_loop().set_debug(true);
    co_await corun::sleep(1ms);
  }());
  EXPECT_FALSE(logs.contains("took")) << (logs.lines().empty() ? "" : logs.lines()[0]);
}

// The log names an exception's type as C++ writes it, not typeid's mangled name.
TEST(Debug, AnUnhandledErrorIsLoggedWithItsReadableTypeName) {
  corun::testing::LogCapture logs;
  {
    corun::Loop loop;
    loop.call_soon([] { throw corun::ValueError("from callback"); });
    loop.run_once();
  }
  EXPECT_TRUE(logs.contains("corun::ValueError: from callback"))
      << (logs.lines().empty() ? "" : logs.lines()[0]);
  EXPECT_FALSE(logs.contains("N5corun")) << logs.lines()[0];
}

TEST(Debug, Semantic14_WrongThreadRaises) {
  corun::Loop loop;
  loop.set_debug(true);
  std::string message;
  std::atomic<bool> started{false};
  loop.call_soon([&] { started = true; });
  std::thread other([&] {
    while (!started) std::this_thread::sleep_for(1ms);
    try {
      loop.call_soon([] {});
    } catch (const corun::RuntimeError& e) {
      message = e.what();
    }
    loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  loop.run_forever();
  other.join();
  EXPECT_NE(message.find("Non-thread-safe operation"), std::string::npos) << message;
}

namespace {
corun::AsyncGenerator<int> numbers(int n, std::vector<std::string>& log) {
  try {
    for (int i = 0; i < n; ++i) {
      co_await corun::sleep(0s);
      co_yield i;
    }
    log.push_back("exhausted");
  } catch (const corun::GeneratorExit&) {
    log.push_back("closed");
    throw;
  }
}
corun::AsyncGenerator<int> failing() {
  co_yield 1;
  throw std::runtime_error("generator failed");
}
}  // namespace

TEST(AsyncGenerator, YieldsInOrderThenEnds) {
  std::vector<std::string> log;
  auto main = [&]() -> Task<std::vector<int>> {
    std::vector<int> out;
    auto gen = numbers(4, log);
    while (auto v = co_await gen.next()) out.push_back(*v);
    co_return out;
  };
  EXPECT_EQ(corun::run(main()), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(log, (std::vector<std::string>{"exhausted"}));
}

TEST(AsyncGenerator, ExceptionComesOutOfNext) {
  auto main = []() -> Task<> {
    auto gen = failing();
    EXPECT_EQ(*(co_await gen.next()), 1);
    EXPECT_THROW(co_await gen.next(), std::runtime_error);
  };
  corun::run(main());
}

TEST(AsyncGenerator, AcloseRunsCleanup) {
  std::vector<std::string> log;
  auto main = [&]() -> Task<> {
    auto gen = numbers(100, log);
    co_await gen.next();
    co_await gen.aclose();
    EXPECT_FALSE(co_await gen.next());
  };
  corun::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"closed"}));
}
