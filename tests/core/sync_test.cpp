// Event, Lock, Semaphore, BoundedSemaphore, Queue.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Task;

TEST(Event, SetWakesEveryWaiter) {
  corun::Loop loop;
  corun::Event ev;
  int woken = 0;
  for (int i = 0; i < 5; ++i) {
    loop.create_task(corun::co_invoke([&]() -> Task<> {
      co_await ev.wait();
      ++woken;
    }));
  }
  loop.run_once();
  EXPECT_EQ(woken, 0);
  ev.set();
  loop.run_once();
  EXPECT_EQ(woken, 5);
  EXPECT_TRUE(ev.is_set());
  ev.clear();
  EXPECT_FALSE(ev.is_set());
}

TEST(Event, CancelledWaiterLeavesTheEvent) {
  corun::Loop loop;
  corun::Event ev;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> { co_await ev.wait(); }));
  loop.run_once();
  h.cancel();
  EXPECT_THROW(loop.run_until_complete(h), CancelledError);
  ev.set();  // nothing left to wake; must not touch the dead waiter
  loop.run_once();
}

TEST(Event, CancellationWinsOverASetThatCameFirst) {
  corun::Loop loop;
  corun::Event ev;
  auto h = loop.create_task(corun::co_invoke([&]() -> Task<> { co_await ev.wait(); }));
  loop.run_once();
  ev.set();    // wake-up queued
  h.cancel();  // then cancelled before it ran: asyncio raises CancelledError
  EXPECT_THROW(loop.run_until_complete(h), CancelledError);
}

TEST(Lock, MutualExclusionInFifoOrder) {
  auto main = []() -> Task<std::vector<std::string>> {
    corun::Lock lock;
    std::vector<std::string> log;
    std::vector<Task<>> ts;
    for (int i = 0; i < 3; ++i) {
      ts.push_back([](corun::Lock& l, std::vector<std::string>& log, int i) -> Task<> {
        auto g = co_await l.scoped();
        log.push_back("enter " + std::to_string(i));
        co_await corun::sleep(1ms);
        log.push_back("leave " + std::to_string(i));
      }(lock, log, i));
    }
    co_await corun::gather(std::move(ts));
    EXPECT_FALSE(lock.locked());
    co_return log;
  };
  EXPECT_EQ(corun::run(main()), (std::vector<std::string>{"enter 0", "leave 0", "enter 1",
                                                          "leave 1", "enter 2", "leave 2"}));
}

TEST(Lock, WaiterCancelledAfterHandOffPassesTheLockOn) {
  corun::Loop loop;
  corun::Lock lock;
  std::vector<std::string> log;
  auto holder = loop.create_task(corun::co_invoke([&]() -> Task<> {
    co_await lock.acquire();
    co_await corun::sleep(0s);
    lock.release();  // hands the lock to `second`
  }));
  auto second = loop.create_task(corun::co_invoke([&]() -> Task<> {
    co_await lock.acquire();
    log.push_back("second got it (wrong)");
    lock.release();
  }));
  auto third = loop.create_task(corun::co_invoke([&]() -> Task<> {
    co_await lock.acquire();
    log.push_back("third got it");
    lock.release();
  }));
  loop.run_once();  // holder acquires; second and third wait
  loop.run_once();  // holder releases -> second is handed the lock
  second.cancel();  // ... and cancelled before it resumes
  loop.run_until_complete(third);
  EXPECT_TRUE(second.cancelled());
  EXPECT_EQ(log, (std::vector<std::string>{"third got it"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), corun::RuntimeError);
  (void)holder;
}

TEST(Semaphore, LimitsConcurrency) {
  auto main = []() -> Task<int> {
    corun::Semaphore sem(2);
    int inside = 0, peak = 0;
    std::vector<Task<>> ts;
    for (int i = 0; i < 6; ++i) {
      ts.push_back(corun::co_invoke([&]() -> Task<> {
        co_await sem.acquire();
        peak = std::max(peak, ++inside);
        co_await corun::sleep(1ms);
        --inside;
        sem.release();
      }));
    }
    co_await corun::gather(std::move(ts));
    co_return peak;
  };
  EXPECT_EQ(corun::run(main()), 2);
}

TEST(Semaphore, BoundedRejectsOverRelease) {
  corun::BoundedSemaphore sem(1);
  EXPECT_THROW(sem.release(), corun::ValueError);
  corun::Semaphore plain(1);
  plain.release();
  EXPECT_EQ(plain.value(), 2);
}

TEST(Queue, ProducerConsumerWithBackPressure) {
  auto main = []() -> Task<std::vector<int>> {
    corun::Queue<int> q(2);
    std::vector<int> got;
    auto producer = corun::create_task(corun::co_invoke([&]() -> Task<> {
      for (int i = 0; i < 10; ++i) {
        co_await q.put(i);
        EXPECT_LE(q.qsize(), 2u);
      }
    }));
    for (int i = 0; i < 10; ++i) {
      got.push_back(co_await q.get());
      q.task_done();
    }
    co_await producer;
    co_await q.join();
    co_return got;
  };
  EXPECT_EQ(corun::run(main()), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Queue, NowaitErrorsAndTaskDone) {
  corun::Queue<std::string> q(1);
  EXPECT_THROW(q.get_nowait(), corun::QueueEmpty);
  q.put_nowait("a");
  EXPECT_THROW(q.put_nowait("b"), corun::QueueFull);
  EXPECT_EQ(q.get_nowait(), "a");
  q.task_done();
  EXPECT_THROW(q.task_done(), corun::ValueError);
}

TEST(Queue, CancelledGetterDoesNotStrandAnItem) {
  corun::Loop loop;
  corun::Queue<int> q;
  auto g1 = loop.create_task(corun::co_invoke([&]() -> Task<int> { co_return co_await q.get(); }));
  auto g2 = loop.create_task(corun::co_invoke([&]() -> Task<int> { co_return co_await q.get(); }));
  loop.run_once();
  q.put_nowait(7);  // wakes g1
  g1.cancel();      // g1 cancelled before it resumes: the wake-up goes to g2
  EXPECT_EQ(loop.run_until_complete(g2), 7);
  EXPECT_TRUE(g1.cancelled());
}
