// Loop: iteration rule, timers, error messages, embedding hooks (semantics 5, 6).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::Loop;
using corun::RuntimeError;
using corun::Task;

namespace {
std::string error_of(auto&& f) {
  try {
    f();
  } catch (const corun::Error& e) {
    return e.what();
  }
  return "<no error>";
}
}  // namespace

// Semantic 6: one iteration runs exactly the callbacks ready when it began.
TEST(Loop, Semantic6_IterationRunsOnlyCallbacksReadyAtItsStart) {
  Loop loop;
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("a");
    loop.call_soon([&] { order.push_back("c (scheduled by a)"); });
  });
  loop.call_soon([&] { order.push_back("b"); });
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c (scheduled by a)"}));
}

TEST(Loop, Semantic6_CallSoonIsFifo) {
  Loop loop;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) loop.call_soon([&, i] { order.push_back(i); });
  loop.run_once();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(Loop, Semantic6_TimersFireInDeadlineOrder) {
  Loop loop;
  std::vector<int> order;
  auto now = corun::Clock::now();
  loop.call_at(now + 30ms, [&] { order.push_back(3); });
  loop.call_at(now + 10ms, [&] { order.push_back(1); });
  loop.call_at(now + 20ms, [&] { order.push_back(2); });
  loop.call_at(now + 10ms, [&] { order.push_back(11); });  // same deadline: FIFO
  loop.call_later(40ms, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{1, 11, 2, 3}));
}

TEST(Loop, CancelledHandleDoesNotRun) {
  Loop loop;
  bool ran = false, timer_ran = false;
  auto h = loop.call_soon([&] { ran = true; });
  auto t = loop.call_later(1ms, [&] { timer_ran = true; });
  h.cancel();
  t.cancel();
  EXPECT_TRUE(h.cancelled());
  loop.call_later(5ms, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(timer_ran);
}

TEST(Loop, TimeIsMonotonicSeconds) {
  Loop loop;
  double a = loop.time();
  std::this_thread::sleep_for(2ms);
  double b = loop.time();
  EXPECT_GT(b, a);
  EXPECT_LT(b - a, 5.0);
}

// Semantic 5: the exact error messages.
TEST(Loop, Semantic5_RunningARunningLoop) {
  Loop loop;
  std::string msg;
  loop.call_soon([&] {
    msg = error_of([&] { loop.run_forever(); });
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(msg, "This event loop is already running");
}

TEST(Loop, Semantic5_AnotherLoopOnTheSameThread) {
  Loop outer, inner;
  std::string msg;
  outer.call_soon([&] {
    msg = error_of([&] { inner.run_forever(); });
    outer.stop();
  });
  outer.run_forever();
  EXPECT_EQ(msg, "Cannot run the event loop while another loop is running");
}

TEST(Loop, Semantic5_ClosedLoopRejectsEverything) {
  Loop loop;
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  EXPECT_EQ(error_of([&] { loop.call_soon([] {}); }), "Event loop is closed");
  EXPECT_EQ(error_of([&] { loop.call_later(1ms, [] {}); }), "Event loop is closed");
  EXPECT_EQ(error_of([&] { loop.call_soon_threadsafe([] {}); }), "Event loop is closed");
  EXPECT_EQ(error_of([&] { loop.run_forever(); }), "Event loop is closed");
  EXPECT_EQ(error_of([&] { loop.run_once(); }), "Event loop is closed");
  EXPECT_EQ(error_of([&] { loop.create_task([]() -> Task<> { co_return; }()); }),
            "Event loop is closed");
  // From another thread too.
  std::string from_thread;
  std::thread([&] { from_thread = error_of([&] { loop.call_soon_threadsafe([] {}); }); }).join();
  EXPECT_EQ(from_thread, "Event loop is closed");
  loop.close();  // idempotent
}

TEST(Loop, Semantic5_ClosingARunningLoop) {
  Loop loop;
  std::string msg;
  loop.call_soon([&] {
    msg = error_of([&] { loop.close(); });
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(msg, "Cannot close a running event loop");
}

TEST(Loop, StopBeforeRunRunsOneIteration) {
  Loop loop;
  int n = 0;
  loop.call_soon([&] { ++n; });
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(n, 1);
}

TEST(Loop, CallSoonThreadsafeWakesAnIdleLoop) {
  Loop loop;
  bool ran = false;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop.call_soon_threadsafe([&] {
      ran = true;
      loop.stop();
    });
  });
  loop.run_forever();  // blocks in epoll until the other thread posts
  t.join();
  EXPECT_TRUE(ran);
}

TEST(Loop, ExceptionInCallbackGoesToHandler) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  loop.call_soon([] { throw std::runtime_error("boom"); });
  bool after = false;
  loop.call_soon([&] { after = true; });
  loop.run_once();
  EXPECT_TRUE(after);
  ASSERT_EQ(cap.calls.size(), 1u);
  EXPECT_NE(cap.calls[0].message.find("Exception in callback"), std::string::npos);
  ASSERT_TRUE(cap.calls[0].exception);
}

TEST(Loop, GetRunningLoop) {
  EXPECT_EQ(corun::try_get_running_loop(), nullptr);
  EXPECT_EQ(error_of([] { corun::get_running_loop(); }), "no running event loop");
  Loop loop;
  Loop* seen = nullptr;
  loop.call_soon([&] { seen = &corun::get_running_loop(); });
  loop.run_once();
  EXPECT_EQ(seen, &loop);
  EXPECT_EQ(corun::try_get_running_loop(), nullptr);
}

// Environment 3: a host loop drives corun::Loop through the embedding hooks.
TEST(Loop, EmbeddingHooksDriveTheLoopFromAPollLoop) {
  Loop loop;
  std::vector<std::string> events;
  auto worker = [&]() -> Task<int> {
    events.push_back("start");
    co_await corun::sleep(15ms);
    events.push_back("after sleep");
    co_return 42;
  };
  auto handle = loop.create_task(worker());
  EXPECT_EQ(loop.next_timeout(), 0);  // the task's first step is ready
  int fd = loop.backend_fd();
  ASSERT_GE(fd, 0);
  std::thread poster;
  bool posted = false;
  int iterations = 0;
  while (!handle.done() || !posted) {
    ASSERT_LT(++iterations, 10000);
    int timeout = loop.next_timeout();
    if (handle.done() && !poster.joinable()) {
      // Another thread's call_soon_threadsafe must wake the host's poll() too.
      poster = std::thread([&] {
        std::this_thread::sleep_for(10ms);
        loop.call_soon_threadsafe([&] { posted = true; });
      });
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, timeout < 0 ? 2000 : timeout);
    loop.run_once();
  }
  poster.join();
  EXPECT_EQ(handle.result(), 42);
  EXPECT_EQ(events, (std::vector<std::string>{"start", "after sleep"}));
  EXPECT_TRUE(posted);
  EXPECT_LT(iterations, 200);  // it slept in poll(), it did not spin
}

TEST(Loop, NextTimeoutReflectsTimers) {
  Loop loop;
  EXPECT_EQ(loop.next_timeout(), -1);  // nothing scheduled: wait for I/O only
  loop.call_later(500ms, [] {});
  int t = loop.next_timeout();
  EXPECT_GT(t, 400);
  EXPECT_LE(t, 500);
  loop.call_soon([] {});
  EXPECT_EQ(loop.next_timeout(), 0);
}

// Work made ready by another library's libuv callback while the loop blocks in
// uv_run (a uv timer due at once, as curl's often is: uv runs timers before it
// polls) must not wait for the next I/O: the loop ends that uv_run at once.
// Without that, both loops below sleep in epoll until the rescuer thread posts.
namespace {
void run_with_rescuer(Loop& loop, bool& rescued) {
  std::atomic<bool> finished{false};
  std::thread rescuer([&] {
    for (int i = 0; i < 1000 && !finished.load(); ++i) std::this_thread::sleep_for(10ms);
    if (!finished.load()) {
      loop.call_soon_threadsafe([&] {
        rescued = true;
        loop.stop();
      });
    }
  });
  loop.run_forever();
  finished = true;
  rescuer.join();
}
}  // namespace

TEST(Loop, WorkMadeReadyByAForeignUvTimerDoesNotWaitForIo) {
  for (bool use_timer : {false, true}) {
    SCOPED_TRACE(use_timer ? "call_later from the uv callback" : "call_soon from the uv callback");
    Loop loop;
    bool ran = false, rescued = false;
    struct Ctx {
      Loop* loop;
      bool* ran;
      bool use_timer;
    } ctx{&loop, &ran, use_timer};
    uv_timer_t foreign;
    uv_timer_init(loop.uv_loop(), &foreign);
    foreign.data = &ctx;
    // The first iteration runs this before it blocks, so the foreign timer is
    // due when the loop next enters uv_run with nothing else to do.
    loop.call_soon([&] {
      uv_timer_start(
          &foreign,
          [](uv_timer_t* t) {
            auto* c = static_cast<Ctx*>(t->data);
            auto done = [c] {
              *c->ran = true;
              c->loop->stop();
            };
            if (c->use_timer) {
              c->loop->call_later(1ms, done);
            } else {
              c->loop->call_soon(done);
            }
          },
          0, 0);
    });
    run_with_rescuer(loop, rescued);
    EXPECT_TRUE(ran);
    EXPECT_FALSE(rescued) << "the loop slept in epoll with work ready";
    uv_close(reinterpret_cast<uv_handle_t*>(&foreign), nullptr);
    loop.close();  // runs uv until the foreign handle is closed
  }
}

// The loop's own uv timer may already be due when uv_run starts (libuv's clock steps
// in milliseconds; a preemption or a millisecond boundary between arming it and
// uv_run is enough). uv then runs it before polling and, with no other timer, would
// poll with no timeout at all. Here every blocking wait is made to start 2 ms late.
TEST(Loop, OwnTimerDueBeforeThePollStillWakesTheLoop) {
  corun::detail::before_blocking_uv_run = [] { std::this_thread::sleep_for(2ms); };
  Loop loop;
  bool ran = false, rescued = false;
  loop.call_later(1ms, [&] {
    ran = true;
    loop.stop();
  });
  run_with_rescuer(loop, rescued);
  corun::detail::before_blocking_uv_run = nullptr;
  EXPECT_TRUE(ran);
  EXPECT_FALSE(rescued) << "the loop slept in epoll past its own timer";
}

// asyncio's loop.add_signal_handler: the handler runs on the loop's thread, adding again
// replaces it, removing says whether there was one, and a handler may remove itself.
TEST(LoopSignals, HandlerRunsOnTheLoopAndIsReplacedAndRemoved) {
  Loop loop;
  int first = 0;
  int second = 0;
  std::thread::id seen;
  loop.add_signal_handler(SIGUSR1, [&] {
    ++first;
    seen = std::this_thread::get_id();
    loop.stop();
  });
  loop.call_soon([] { ::raise(SIGUSR1); });
  loop.run_forever();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(seen, std::this_thread::get_id());

  loop.add_signal_handler(SIGUSR1, [&] {
    ++second;
    // Removing itself from inside its own call must be safe (ASan watches).
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    loop.stop();
  });
  loop.call_soon([] { ::raise(SIGUSR1); });
  loop.run_forever();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));

  EXPECT_NE(error_of([&] { loop.add_signal_handler(-1, [] {}); }).find("cannot watch signal -1"),
            std::string::npos);
  // A loop closed with a handler installed closes its watcher with it.
  loop.add_signal_handler(SIGUSR2, [] {});
  loop.close();
  EXPECT_EQ(error_of([&] { loop.add_signal_handler(SIGUSR2, [] {}); }), "Event loop is closed");
}

// close() destroys the frames of tasks still pending (embedding style: nothing
// cancelled them). Frames often share what they wait on: a parent owns an Event,
// a Lock or a TaskGroup that its children wait on or hold. Whatever the order of
// the frames, destroying them must not touch one already freed (ASan checks).
namespace {
struct CloseCounts {
  int destroyed = 0;
};
struct Marker {
  CloseCounts* c;
  ~Marker() { ++c->destroyed; }
};
}  // namespace

TEST(LoopClose, PendingFramesSharingAnEventOrALockAreDestroyedSafely) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  CloseCounts counts;
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Marker m{&counts};
    corun::Event event;  // owned by this (older) frame, waited on by newer ones
    corun::Lock lock;
    co_await lock.acquire();
    Loop& l = corun::get_running_loop();
    l.create_task(corun::co_invoke([&event, &counts]() -> Task<> {
      Marker m2{&counts};
      co_await event.wait();
    }));
    l.create_task(corun::co_invoke([&lock, &counts]() -> Task<> {
      Marker m2{&counts};
      auto guard = co_await lock.scoped();  // waits: the parent holds it
    }));
    co_await corun::sleep(10s);
  }));
  corun::testing::spin(loop, 3);
  loop.close();
  EXPECT_EQ(counts.destroyed, 3);
  EXPECT_EQ(cap.calls.size(), 3u);
}

TEST(LoopClose, AnOlderFrameWaitingOnAPrimitiveInANewerOneIsDestroyedSafely) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  CloseCounts counts;
  corun::Event* shared = nullptr;  // lives in the newer frame
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Marker m{&counts};
    while (!shared) co_await corun::sleep(0ms);
    co_await shared->wait();
  }));
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Marker m{&counts};
    corun::Event event;
    shared = &event;
    co_await corun::sleep(10s);
  }));
  corun::testing::spin(loop, 4);
  loop.close();
  EXPECT_EQ(counts.destroyed, 2);
}

TEST(LoopClose, APendingTaskGroupAndItsChildrenAreDestroyedSafely) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  CloseCounts counts;
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Marker m{&counts};
    corun::TaskGroup tg;
    for (int i = 0; i < 3; ++i) {
      tg.create_task(corun::co_invoke([&counts]() -> Task<> {
        Marker m2{&counts};
        co_await corun::sleep(10s);
      }));
    }
    co_await tg.wait();
  }));
  corun::testing::spin(loop, 3);
  loop.close();
  EXPECT_EQ(counts.destroyed, 4);
  EXPECT_EQ(cap.calls.size(), 4u);
}

TEST(LoopClose, AFrameAwaitingAPendingTaskIsDestroyedSafely) {
  Loop loop;
  corun::testing::HandlerCapture cap;
  cap.install(loop);
  CloseCounts counts;
  loop.create_task(corun::co_invoke([&]() -> Task<> {
    Marker m{&counts};
    auto child = corun::get_running_loop().create_task(corun::co_invoke([&counts]() -> Task<int> {
      Marker m2{&counts};
      co_await corun::sleep(10s);
      co_return 1;
    }));
    co_await child;
  }));
  corun::testing::spin(loop, 3);
  loop.close();
  EXPECT_EQ(counts.destroyed, 2);
}
