// corun::http::detail::RequestGate: the session's total and per-host limits,
// driven step by step on a loop (no timing): FIFO per host, a saturated host
// never blocks another, the total limit goes to the oldest waiter that can run,
// and cancellation leaks no slot.
#include "corun/http/detail/request_gate.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
using corun::TaskHandle;
using Gate = corun::http::detail::RequestGate;
using Permit = Gate::Permit;

// Holds a slot of `origin` until `release` is set; appends its name to `order`
// when it gets the slot.
Task<void> hold(Gate* gate, std::string origin, std::string name, std::vector<std::string>* order,
                corun::Event* release) {
  auto waiting = gate->acquire(origin);
  Permit p = co_await waiting;
  order->push_back(name);
  co_await release->wait();
}

// Runs the loop until nothing more can happen right now.
Task<void> settle() {
  for (int i = 0; i < 5; ++i) co_await corun::sleep(0s);
}

struct Holder {
  corun::Event release;
  TaskHandle<void> task;
};

TEST(RequestGateTest, OneHostIsServedInArrivalOrder) {
  corun::run([]() -> Task<void> {
    Gate gate(0, 1);
    std::vector<std::string> order;
    std::vector<Holder> h(3);
    for (int i = 0; i < 3; ++i) {
      h[i].task = corun::create_task(
          hold(&gate, "http://a:80", "a" + std::to_string(i), &order, &h[i].release));
    }
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"a0"}));
    EXPECT_EQ(gate.in_flight("http://a:80"), 1U);
    EXPECT_EQ(gate.waiting(), 2U);
    h[0].release.set();
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "a1"}));
    h[1].release.set();
    h[2].release.set();
    for (auto& x : h) co_await x.task;
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "a1", "a2"}));
    EXPECT_EQ(gate.in_flight(), 0U);
    EXPECT_EQ(gate.waiting(), 0U);
    EXPECT_EQ(gate.hosts(), 0U);  // idle hosts are forgotten
  }());
}

TEST(RequestGateTest, AHostAtItsLimitDoesNotBlockOtherHosts) {
  corun::run([]() -> Task<void> {
    Gate gate(10, 2);
    std::vector<std::string> order;
    std::vector<Holder> h(5);
    for (int i = 0; i < 4; ++i) {
      h[i].task = corun::create_task(
          hold(&gate, "http://a:80", "a" + std::to_string(i), &order, &h[i].release));
    }
    h[4].task = corun::create_task(hold(&gate, "http://b:80", "b0", &order, &h[4].release));
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "a1", "b0"}));
    EXPECT_EQ(gate.in_flight("http://a:80"), 2U);
    EXPECT_EQ(gate.in_flight("http://b:80"), 1U);
    EXPECT_TRUE(gate.would_wait("http://a:80"));
    EXPECT_FALSE(gate.would_wait("http://b:80"));
    EXPECT_FALSE(gate.would_wait("http://c:80"));
    for (auto& x : h) x.release.set();
    for (auto& x : h) co_await x.task;
    EXPECT_EQ(order.size(), 5U);
    EXPECT_EQ(gate.hosts(), 0U);
  }());
}

TEST(RequestGateTest, AFreedTotalSlotGoesToTheOldestWaiterThatCanRun) {
  corun::run([]() -> Task<void> {
    Gate gate(2, 1);
    std::vector<std::string> order;
    std::vector<Holder> h(5);
    h[0].task = corun::create_task(hold(&gate, "a", "a0", &order, &h[0].release));
    h[1].task = corun::create_task(hold(&gate, "b", "b0", &order, &h[1].release));
    co_await settle();
    // Queued in this order: a1, a2 (host a is at its limit), c0, then b1.
    h[2].task = corun::create_task(hold(&gate, "a", "a1", &order, &h[2].release));
    h[3].task = corun::create_task(hold(&gate, "a", "a2", &order, &h[3].release));
    co_await settle();
    h[4].task = corun::create_task(hold(&gate, "c", "c0", &order, &h[4].release));
    co_await settle();
    EXPECT_EQ(gate.waiting(), 3U);
    // b0 ends: a is still at its limit, so c0 (not the older a1) runs.
    h[1].release.set();
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "b0", "c0"}));
    // a0 ends: a1 before a2.
    h[0].release.set();
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "b0", "c0", "a1"}));
    EXPECT_EQ(gate.in_flight(), 2U);
    for (auto& x : h) x.release.set();
    for (auto& x : h) co_await x.task;
    EXPECT_EQ(order.back(), "a2");
    EXPECT_EQ(gate.in_flight(), 0U);
    EXPECT_EQ(gate.hosts(), 0U);
  }());
}

TEST(RequestGateTest, CancellingAWaiterLeaksNoSlot) {
  corun::run([]() -> Task<void> {
    Gate gate(1, 0);
    std::vector<std::string> order;
    std::vector<Holder> h(3);
    for (int i = 0; i < 3; ++i) {
      h[i].task =
          corun::create_task(hold(&gate, "x", "w" + std::to_string(i), &order, &h[i].release));
    }
    co_await settle();
    EXPECT_EQ(gate.waiting(), 2U);
    h[1].task.cancel();  // waiting: leaves the queue
    co_await settle();
    EXPECT_TRUE(h[1].task.cancelled());
    EXPECT_EQ(gate.waiting(), 1U);
    h[0].release.set();
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"w0", "w2"}));
    h[2].release.set();
    co_await h[2].task;
    EXPECT_EQ(gate.in_flight(), 0U);
    EXPECT_EQ(gate.waiting(), 0U);
  }());
}

TEST(RequestGateTest, AWaiterCancelledAfterBeingHandedASlotPassesItOn) {
  corun::run([]() -> Task<void> {
    Gate gate(0, 1);
    std::vector<std::string> order;
    std::vector<Holder> h(3);
    for (int i = 0; i < 3; ++i) {
      h[i].task =
          corun::create_task(hold(&gate, "x", "w" + std::to_string(i), &order, &h[i].release));
    }
    co_await settle();
    // w0 ends and hands its slot to w1; w1 is cancelled before it resumes.
    h[0].release.set();
    co_await corun::sleep(0s);  // w0 resumes and releases; w1's wake-up is queued
    h[1].task.cancel();
    co_await settle();
    EXPECT_TRUE(h[1].task.cancelled());
    EXPECT_EQ(order, (std::vector<std::string>{"w0", "w2"}));
    EXPECT_EQ(gate.in_flight(), 1U);
    h[2].release.set();
    co_await h[2].task;
    EXPECT_EQ(gate.in_flight(), 0U);
    EXPECT_EQ(gate.hosts(), 0U);
  }());
}

// Without a per-host limit every request shares one queue (served directly on
// release, not through the per-host ready set): arrival order whatever the
// origin, and a slot handed to a waiter cancelled before it resumed goes on.
TEST(RequestGateTest, WithoutPerHostLimitOneQueueInArrivalOrder) {
  corun::run([]() -> Task<void> {
    Gate gate(2, 0);
    EXPECT_FALSE(gate.keys_by_host());
    std::vector<std::string> order;
    std::vector<Holder> h(6);
    const char* origins[] = {"a", "b", "a", "c", "b", "a"};
    for (int i = 0; i < 6; ++i) {
      h[i].task = corun::create_task(
          hold(&gate, origins[i], "w" + std::to_string(i), &order, &h[i].release));
      co_await corun::sleep(0s);  // queued in index order
    }
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"w0", "w1"}));
    EXPECT_EQ(gate.waiting(), 4U);
    EXPECT_TRUE(gate.would_wait("z"));
    h[1].release.set();
    co_await settle();
    EXPECT_EQ(order, (std::vector<std::string>{"w0", "w1", "w2"}));
    // w0 ends and hands its slot to w3; w3 is cancelled before it resumes: w4 gets it.
    h[0].release.set();
    co_await corun::sleep(0s);
    h[3].task.cancel();
    co_await settle();
    EXPECT_TRUE(h[3].task.cancelled());
    EXPECT_EQ(order, (std::vector<std::string>{"w0", "w1", "w2", "w4"}));
    EXPECT_EQ(gate.in_flight(), 2U);
    EXPECT_EQ(gate.waiting(), 1U);
    h[2].release.set();
    co_await settle();
    EXPECT_EQ(order.back(), "w5");
    h[4].release.set();
    h[5].release.set();
    for (int i : {0, 1, 2, 4, 5}) co_await h[i].task;
    EXPECT_EQ(gate.in_flight(), 0U);
    EXPECT_EQ(gate.waiting(), 0U);
    EXPECT_FALSE(gate.would_wait("a"));
  }());
}

TEST(RequestGateTest, AnAwaiterNeverAwaitedHoldsNothing) {
  corun::run([]() -> Task<void> {
    Gate gate(1, 1);
    {
      auto unused = gate.acquire("x");
      EXPECT_EQ(gate.hosts(), 1U);
    }
    EXPECT_EQ(gate.hosts(), 0U);
    auto first = gate.acquire("x");
    Permit p = co_await first;
    EXPECT_TRUE(static_cast<bool>(p));
    EXPECT_EQ(gate.in_flight(), 1U);
    Permit moved = std::move(p);
    EXPECT_FALSE(static_cast<bool>(p));  // NOLINT(bugprone-use-after-move): moved-from is empty
    moved.reset();
    EXPECT_EQ(gate.in_flight(), 0U);
    co_return;
  }());
}

}  // namespace
