// sleep, wait_for, shield (semantic 12).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Task;
using corun::TimeoutError;

TEST(Sleep, ZeroYieldsToOtherReadyCallbacks) {
  corun::Loop loop;
  std::vector<std::string> order;
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    order.push_back("a1");
    co_await corun::sleep(0s);
    order.push_back("a2");
  }));
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    order.push_back("b1");
    co_await corun::sleep(0s);
    order.push_back("b2");
  }));
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1"}));
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "a2", "b2"}));
}

TEST(Sleep, WaitsAtLeastTheDelay) {
  auto main = []() -> Task<double> {
    auto& loop = corun::get_running_loop();
    double t0 = loop.time();
    co_await corun::sleep(20ms);
    co_return loop.time() - t0;
  };
  EXPECT_GE(corun::run(main()), 0.019);
}

TEST(WaitFor, ReturnsTheValueInTime) {
  auto main = []() -> Task<int> {
    co_return co_await corun::wait_for(
        []() -> Task<int> {
          co_await corun::sleep(1ms);
          co_return 8;
        }(),
        5s);
  };
  EXPECT_EQ(corun::run(main()), 8);
}

// Work that fails by itself raises its own error, and the deadline goes with
// it: the caller is not cancelled later, wherever it then waits (the timer used
// to stay armed, and cancelled the caller's next sleep).
TEST(WaitFor, WorkThatFailsLeavesNoDeadlineBehind) {
  auto main = []() -> Task<std::string> {
    std::string seen;
    try {
      Task<int> failing = corun::wait_for(
          []() -> Task<int> {
            co_await corun::sleep(1ms);
            throw std::runtime_error("its own error");
          }(),
          50ms);
      co_await failing;
    } catch (const std::runtime_error& e) {
      seen = e.what();
    }
    co_await corun::sleep(150ms);  // past the deadline: still not cancelled
    co_return seen + ", then slept";
  };
  EXPECT_EQ(corun::run(main()), "its own error, then slept");
}

TEST(WaitFor, Semantic12_ExpiryCancelsTheWorkAndRaisesTimeoutError) {
  std::vector<std::string> log;
  int cancelling_after = -1;
  auto main = [&]() -> Task<> {
    try {
      co_await corun::wait_for(corun::co_invoke([&]() -> Task<> {
                                 try {
                                   co_await corun::sleep(10s);
                                 } catch (const CancelledError&) {
                                   log.push_back("work saw cancellation");
                                   throw;
                                 }
                                 log.push_back("work finished (wrong)");
                               }),
                               5ms);
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    cancelling_after = corun::detail::current_task()->cancelling();
  };
  corun::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"work saw cancellation", "timeout"}));
  EXPECT_EQ(cancelling_after, 0);
}

TEST(WaitFor, Semantic12_WorkInItsOwnTaskIsReallyStopped) {
  bool stopped = false;
  auto main = [&]() -> Task<> {
    auto work = corun::create_task(corun::co_invoke([&]() -> Task<int> {
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        stopped = true;
        throw;
      }
      co_return 1;
    }));
    auto awaiting = [](corun::TaskHandle<int> h) -> Task<int> { co_return co_await h; };
    EXPECT_THROW(co_await corun::wait_for(awaiting(work), 2ms), TimeoutError);
    EXPECT_TRUE(work.cancelled());
  };
  corun::run(main());
  EXPECT_TRUE(stopped);
}

TEST(WaitFor, Semantic12_OnlyTheExpiringCallConverts) {
  // Outer timeout 5 ms around an inner one of 10 s: the outer one expires; the
  // inner wait_for lets the cancellation pass through; the outer converts it.
  std::vector<std::string> log;
  auto main = [&]() -> Task<> {
    auto inner = [&]() -> Task<> {
      try {
        co_await corun::wait_for([]() -> Task<> { co_await corun::sleep(10s); }(), 10s);
      } catch (const TimeoutError&) {
        log.push_back("inner timeout (wrong)");
      } catch (const CancelledError&) {
        log.push_back("inner sees CancelledError");
        throw;
      }
    };
    try {
      co_await corun::wait_for(inner(), 5ms);
    } catch (const TimeoutError&) {
      log.push_back("outer timeout");
    }
  };
  corun::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner sees CancelledError", "outer timeout"}));
}

TEST(WaitFor, Semantic12_ExternalCancellationStaysCancelledError) {
  auto main = []() -> Task<> {
    auto t =
        corun::create_task(corun::wait_for([]() -> Task<> { co_await corun::sleep(10s); }(), 10s));
    co_await corun::sleep(1ms);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_TRUE(t.cancelled());
  };
  corun::run(main());
}

TEST(Shield, InnerKeepsRunningWhenOuterIsCancelled) {
  bool inner_done = false;
  auto main = [&]() -> Task<> {
    auto inner = corun::create_task(corun::co_invoke([&]() -> Task<int> {
      co_await corun::sleep(10ms);
      inner_done = true;
      co_return 3;
    }));
    auto outer = corun::create_task(corun::shield(inner));
    co_await corun::sleep(1ms);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_FALSE(inner.done());
    EXPECT_EQ(co_await inner, 3);
  };
  corun::run(main());
  EXPECT_TRUE(inner_done);
}
