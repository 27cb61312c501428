// corun::fetch per-host admission (src/fetch/admission.hpp): permits give
// their slot back on every path (released, stopped, cancelled), the host
// table forgets unused hosts, --rate spaces starts (checked through the waits
// asked for, not the clock).
#include "admission.hpp"

#include <gtest/gtest.h>

#include "corun/corun.hpp"

namespace corun::fetch {
namespace {

// ASSERT_* for coroutine bodies (gtest's return; a coroutine must co_return).
#define CO_ASSERT(cond)                  \
  do {                                   \
    if (!(cond)) {                       \
      ADD_FAILURE() << "failed: " #cond; \
      co_return;                         \
    }                                    \
  } while (false)

using Clock = std::chrono::steady_clock;
using Permit = HostAdmission::Permit;

// A pause that does not sleep: records what it was asked, answers `stopped`.
struct FakePause {
  std::vector<Clock::duration> asked;
  bool stopped = false;
  HostAdmission::Pause fn() {
    return [this](Clock::duration d) -> Task<bool> {
      asked.push_back(d);
      co_return stopped;
    };
  }
};

// Lets every ready task run.
Task<void> settle() {
  for (int i = 0; i < 10; ++i) co_await sleep(std::chrono::seconds(0));
}

// Ends a task that is stuck (the test has failed already): no hang.
Task<void> cancel(TaskHandle<void>& t) {
  t.cancel();
  try {
    co_await t;
  } catch (const CancelledError&) {
  }
}

Task<void> hold(HostAdmission* a, std::string host, std::optional<Permit>* out) {
  auto p = co_await a->admit(std::move(host));
  if (p) out->emplace(std::move(*p));
}

TEST(FetchAdmission, SlotPermitGivesItsSlotBack) {
  corun::run(co_invoke([&]() -> Task<> {
    Semaphore s(1);
    {
      SlotPermit p = co_await acquire_slot(s);
      EXPECT_TRUE(s.locked());
      SlotPermit moved = std::move(p);
      EXPECT_TRUE(s.locked());
    }
    EXPECT_FALSE(s.locked());
  }));
}

TEST(FetchAdmission, PerHostSlotsAndTheTableForgetsUnusedHosts) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(1, 0, pause.fn());
    EXPECT_TRUE(a.active());
    std::optional<Permit> first, second, other;
    co_await hold(&a, "h", &first);
    CO_ASSERT(first);
    auto waiting = create_task(hold(&a, "h", &second));
    co_await hold(&a, "other", &other);  // another host is not held up
    EXPECT_TRUE(other);
    co_await settle();
    EXPECT_FALSE(waiting.done());  // one request per host
    EXPECT_EQ(a.hosts(), 2u);
    other.reset();
    EXPECT_EQ(a.hosts(), 1u);  // "other" is unused: gone
    first.reset();             // its slot goes to the waiter
    co_await settle();
    EXPECT_TRUE(waiting.done());
    if (!waiting.done()) co_await cancel(waiting);
    EXPECT_TRUE(second);
    second.reset();
    EXPECT_EQ(a.hosts(), 0u);
    EXPECT_TRUE(pause.asked.empty());  // no --rate: never waits for time
  }));
}

TEST(FetchAdmission, CancellingAWaiterHoldsNothing) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(1, 0, pause.fn());
    std::optional<Permit> first, second, third;
    co_await hold(&a, "h", &first);
    auto waiting = create_task(hold(&a, "h", &second));
    co_await settle();
    waiting.cancel();
    try {
      co_await waiting;
    } catch (const CancelledError&) {
    }
    EXPECT_FALSE(second);
    first.reset();
    EXPECT_EQ(a.hosts(), 0u);
    auto next = create_task(hold(&a, "h", &third));
    co_await settle();
    EXPECT_TRUE(next.done());  // the slot is free
    if (!next.done()) co_await cancel(next);
    EXPECT_TRUE(third);
  }));
}

TEST(FetchAdmission, RateSpacesStartsAndAStopGivesTheSlotBack) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(1, 0.001, pause.fn());  // one start per 1000 s: no clock noise matters
    std::optional<Permit> p1, p2, p3;
    co_await hold(&a, "h", &p1);
    EXPECT_TRUE(p1);
    EXPECT_TRUE(pause.asked.empty());  // the first start is now
    p1.reset();
    EXPECT_EQ(a.hosts(), 1u);  // --rate remembers the host's next start

    pause.stopped = true;  // the run stops during the wait for the second start
    auto second = create_task(hold(&a, "h", &p2));
    co_await settle();
    EXPECT_TRUE(second.done());  // (a slot held by mistake would keep it waiting)
    if (!second.done()) co_await cancel(second);
    EXPECT_FALSE(p2);
    CO_ASSERT((pause.asked.size()) == (1u));
    EXPECT_GT(pause.asked[0], std::chrono::seconds(900));
    EXPECT_LE(pause.asked[0], std::chrono::seconds(1000));

    pause.stopped = false;  // the slot was given back: the next one is admitted
    auto next = create_task(hold(&a, "h", &p3));
    co_await settle();
    EXPECT_TRUE(next.done());
    if (!next.done()) co_await cancel(next);
    EXPECT_TRUE(p3);
    CO_ASSERT((pause.asked.size()) == (2u));
    EXPECT_GT(pause.asked[1], pause.asked[0]);  // after the one before it
    EXPECT_LE(pause.asked[1], std::chrono::seconds(2000));
  }));
}

TEST(FetchAdmission, InactiveWithoutLimits) {
  FakePause pause;
  HostAdmission a(0, 0, pause.fn());
  EXPECT_FALSE(a.active());
}

}  // namespace
}  // namespace corun::fetch
