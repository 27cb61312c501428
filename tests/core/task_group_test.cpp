// TaskGroup (semantic 11).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Task;
using corun::TaskGroup;

TEST(TaskGroup, WaitsForAllChildren) {
  auto main = []() -> Task<int> {
    int sum = 0;
    TaskGroup tg;
    for (int i = 1; i <= 3; ++i) {
      tg.create_task(corun::co_invoke([&sum, i]() -> Task<> {
        co_await corun::sleep(std::chrono::milliseconds(i));
        sum += i;
      }));
    }
    co_await tg.wait();
    co_return sum;
  };
  EXPECT_EQ(corun::run(main()), 6);
}

TEST(TaskGroup, Semantic11_FirstFailureCancelsSiblingsAndParentOnceThenThrowsTogether) {
  std::vector<std::string> log;
  int parent_cancelling_before = -1, parent_cancelling_after = -1;
  auto main = [&]() -> Task<> {
    auto* me = corun::detail::current_task();
    parent_cancelling_before = me->cancelling();
    TaskGroup tg;
    tg.create_task(corun::co_invoke([&]() -> Task<> {
      co_await corun::sleep(1ms);
      throw std::runtime_error("child failed");
    }));
    tg.create_task(corun::co_invoke([&]() -> Task<> {
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        log.push_back("sibling cancelled");
        throw;
      }
    }));
    std::exception_ptr body_error;
    try {
      co_await corun::sleep(10s);  // the parent's own work in the group's body
    } catch (const CancelledError&) {
      log.push_back("parent body cancelled");
      body_error = std::current_exception();
    }
    try {
      co_await tg.wait(body_error);
    } catch (const corun::ExceptionGroup& eg) {
      log.push_back("group error with " + std::to_string(eg.exceptions().size()));
      try {
        std::rethrow_exception(eg.exceptions().at(0));
      } catch (const std::runtime_error& e) {
        log.push_back(e.what());
      }
    }
    parent_cancelling_after = me->cancelling();
  };
  corun::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"sibling cancelled", "parent body cancelled",
                                           "group error with 1", "child failed"}));
  EXPECT_EQ(parent_cancelling_before, parent_cancelling_after);  // the count came back
}

TEST(TaskGroup, Semantic11_FailureWhileParentWaitsCollectsAllErrors) {
  auto main = []() -> Task<std::size_t> {
    TaskGroup tg;
    tg.create_task([]() -> Task<> {
      co_await corun::sleep(1ms);
      throw std::runtime_error("one");
    }());
    tg.create_task([]() -> Task<> {
      try {
        co_await corun::sleep(10s);
      } catch (const CancelledError&) {
        throw std::runtime_error("two, while cancelled");
      }
    }());
    try {
      co_await tg.wait();
    } catch (const corun::ExceptionGroup& eg) {
      co_return eg.exceptions().size();
    }
    co_return 0;
  };
  EXPECT_EQ(corun::run(main()), 2u);
}

TEST(TaskGroup, ExternalCancellationOfParentCancelsChildrenAndPropagates) {
  int children_cancelled = 0;
  auto main = [&]() -> Task<> {
    auto parent = corun::create_task(corun::co_invoke([&]() -> Task<> {
      TaskGroup tg;
      for (int i = 0; i < 2; ++i) {
        tg.create_task(corun::co_invoke([&]() -> Task<> {
          try {
            co_await corun::sleep(10s);
          } catch (const CancelledError&) {
            ++children_cancelled;
            throw;
          }
        }));
      }
      co_await tg.wait();
    }));
    co_await corun::sleep(2ms);
    parent.cancel();
    EXPECT_THROW(co_await parent, CancelledError);
  };
  corun::run(main());
  EXPECT_EQ(children_cancelled, 2);
}

TEST(TaskGroup, CreateTaskAfterFinishIsAnError) {
  auto main = []() -> Task<> {
    TaskGroup tg;
    co_await tg.wait();
    EXPECT_THROW(tg.create_task([]() -> Task<> { co_return; }()), corun::RuntimeError);
  };
  corun::run(main());
}

TEST(TaskGroup, DestroyingAGroupCancelsRunningChildren) {
  bool cancelled = false;
  auto main = [&]() -> Task<> {
    {
      TaskGroup tg;
      tg.create_task(corun::co_invoke([&]() -> Task<> {
        try {
          co_await corun::sleep(10s);
        } catch (const CancelledError&) {
          cancelled = true;
          throw;
        }
      }));
      co_await corun::sleep(1ms);
    }
    co_await corun::sleep(2ms);
  };
  corun::run(main());
  EXPECT_TRUE(cancelled);
}

TEST(TaskGroup, OutsideATaskIsAnError) {
  EXPECT_THROW(TaskGroup{}, corun::RuntimeError);
}

// C++ has no `async with`: a body that lets the group's CancelledError escape
// never reaches wait(). The child's error must not vanish without a word, and
// the parent's cancellation count is given back.
TEST(TaskGroup, DestroyedBeforeWaitLogsTheChildsError) {
  corun::Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  int cancelling_after = -1;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> {
    auto* me = corun::detail::current_task();
    try {
      TaskGroup tg;
      tg.create_task(corun::co_invoke([]() -> Task<> {
        co_await corun::sleep(1ms);
        throw std::runtime_error("child failed");
      }));
      co_await corun::sleep(10s);  // cancelled by the group; wait() is never reached
    } catch (const CancelledError&) {
      cancelling_after = me->cancelling();
    }
  }));
  loop.run_until_complete(h);
  EXPECT_EQ(cancelling_after, 0);
  ASSERT_EQ(cap.calls.size(), 1u);
  EXPECT_EQ(cap.calls[0].message,
            "TaskGroup destroyed before wait(): a child's error was never retrieved");
  try {
    std::rethrow_exception(cap.calls[0].exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "child failed");
  }
  loop.close();
}

// asyncio runs the group's done callback one iteration after a child ends, so
// children failing in the same iteration each keep their error (the second
// used to be cancelled before it ran: one error and a cancel).
TEST(TaskGroup, ChildrenFailingInTheSameIterationKeepBothErrors) {
  std::size_t errors = 0;
  std::vector<std::string> messages;
  auto main = [&]() -> Task<> {
    TaskGroup tg;
    for (const char* what : {"first", "second"}) {
      tg.create_task(corun::co_invoke([what]() -> Task<> {
        throw std::runtime_error(what);
        co_return;
      }));
    }
    try {
      co_await tg.wait();
    } catch (const corun::ExceptionGroup& eg) {
      errors = eg.exceptions().size();
      for (const auto& e : eg.exceptions()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::runtime_error& r) {
          messages.emplace_back(r.what());
        }
      }
    }
  };
  corun::run(main());
  EXPECT_EQ(errors, 2u);
  EXPECT_EQ(messages, (std::vector<std::string>{"first", "second"}));
}
