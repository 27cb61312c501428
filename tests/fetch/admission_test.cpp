// corun::fetch --rate admission (src/fetch/admission.hpp): a host's turn is
// held from admission to the request's start and given back on every path
// (started, dropped, stopped, cancelled), the host table forgets hosts whose
// next start has passed, --rate spaces starts from the start itself (checked
// through the waits asked for, not the clock).
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

TEST(FetchAdmission, OneTurnPerHostUntilTheRequestStarts) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(0.001, pause.fn());  // one start per 1000 s: no clock noise matters
    EXPECT_TRUE(a.active());
    std::optional<Permit> first, second, other;
    co_await hold(&a, "h", &first);
    CO_ASSERT(first);
    EXPECT_TRUE(pause.asked.empty());  // the first start is now
    auto waiting = create_task(hold(&a, "h", &second));
    co_await hold(&a, "other", &other);  // another host is not held up
    EXPECT_TRUE(other);
    co_await settle();
    EXPECT_FALSE(waiting.done());  // "h"'s turn is held until its request starts
    EXPECT_EQ(a.hosts(), 2u);
    other.reset();  // dropped before it started: its next start was never set
    EXPECT_EQ(a.hosts(), 1u);
    first->started();  // the turn passes on; the next start is 1/rate from now
    first->started();  // once only
    co_await settle();
    EXPECT_TRUE(waiting.done());
    if (!waiting.done()) co_await cancel(waiting);
    EXPECT_TRUE(second);
    CO_ASSERT((pause.asked.size()) == (1u));
    EXPECT_GT(pause.asked[0], std::chrono::seconds(900));
    EXPECT_LE(pause.asked[0], std::chrono::seconds(1000));
    first.reset();
    second.reset();
    EXPECT_EQ(a.hosts(), 1u);  // "h"'s next start is still ahead: remembered
  }));
}

TEST(FetchAdmission, CancellingAWaiterHoldsNothing) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(0.001, pause.fn());
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
    first.reset();  // never started: the turn passes, no next start
    EXPECT_EQ(a.hosts(), 0u);
    auto next = create_task(hold(&a, "h", &third));
    co_await settle();
    EXPECT_TRUE(next.done());  // the turn is free
    if (!next.done()) co_await cancel(next);
    EXPECT_TRUE(third);
    EXPECT_TRUE(pause.asked.empty());  // nothing started: no wait for time
  }));
}

TEST(FetchAdmission, RateSpacesStartsAndAStopGivesTheTurnBack) {
  FakePause pause;
  corun::run(co_invoke([&]() -> Task<> {
    HostAdmission a(0.001, pause.fn());
    std::optional<Permit> p1, p2, p3;
    co_await hold(&a, "h", &p1);
    CO_ASSERT(p1);
    p1->started();
    p1.reset();
    EXPECT_EQ(a.hosts(), 1u);  // --rate remembers the host's next start

    pause.stopped = true;  // the run stops during the wait for the second start
    auto second = create_task(hold(&a, "h", &p2));
    co_await settle();
    EXPECT_TRUE(second.done());
    if (!second.done()) co_await cancel(second);
    EXPECT_FALSE(p2);
    CO_ASSERT((pause.asked.size()) == (1u));
    EXPECT_GT(pause.asked[0], std::chrono::seconds(900));
    EXPECT_LE(pause.asked[0], std::chrono::seconds(1000));

    pause.stopped = false;  // the turn was given back: the next one is admitted
    auto next = create_task(hold(&a, "h", &p3));
    co_await settle();
    EXPECT_TRUE(next.done());  // (a turn held by mistake would keep it waiting)
    if (!next.done()) co_await cancel(next);
    EXPECT_TRUE(p3);
    // The stopped one never started: the start it waited for is still the next.
    CO_ASSERT((pause.asked.size()) == (2u));
    EXPECT_LE(pause.asked[1], pause.asked[0]);
    EXPECT_GT(pause.asked[1], std::chrono::seconds(900));
  }));
}

TEST(FetchAdmission, InactiveWithoutARate) {
  FakePause pause;
  HostAdmission a(0, pause.fn());
  EXPECT_FALSE(a.active());
}

}  // namespace
}  // namespace corun::fetch
