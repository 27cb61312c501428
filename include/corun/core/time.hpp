// Time in tasks: sleep (asyncio.sleep), wait_for (asyncio.wait_for), shield
// (asyncio.shield).
//
// Cancellation: sleep stops waiting at once and throws CancelledError;
// wait_for's expiry cancels the work (it really stops at its next suspension)
// and raises TimeoutError, while a cancellation from outside stays a
// CancelledError (only the expiring call converts, semantic 12); shield keeps
// the inner task running when the awaiting task is cancelled.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <coroutine>
#include <utility>

#include "corun/core/loop.hpp"

namespace corun {

namespace detail {

class SleepAwaiter final : public Waiter {
 public:
  explicit SleepAwaiter(Clock::duration d) noexcept : delay_(d) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  ~SleepAwaiter() { timer_.cancel(); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    task_ = h.promise().owner_;
    if (task_->must_cancel()) return false;  // await_resume throws
    if (delay_ <= Clock::duration::zero()) {
      task_->yield_at(h);  // sleep(0): let every other ready callback run once
      return true;
    }
    TaskBase* t = task_;
    timer_ = t->loop()->call_later(delay_, [t] { t->wake(); });
    task_->suspend(this, h);
    return true;
  }
  void await_resume() {
    if (cancelled_) task_->throw_cancelled();
    task_->throw_if_must_cancel();
  }
  bool cancel_wait() override {
    timer_.cancel();
    cancelled_ = true;
    task_->wake();
    return true;
  }

 private:
  Clock::duration delay_;
  Handle timer_;
  TaskBase* task_ = nullptr;
  bool cancelled_ = false;
};

template <class T>
class ShieldAwaiter final : public Waiter, public DoneNode {
 public:
  explicit ShieldAwaiter(TaskHandle<T> inner) : inner_(std::move(inner)) {}
  ShieldAwaiter(const ShieldAwaiter&) = delete;
  ShieldAwaiter& operator=(const ShieldAwaiter&) = delete;
  ~ShieldAwaiter() { FutureBase::remove_done_node(this); }

  bool await_ready() const noexcept { return inner_.done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    task_ = h.promise().owner_;
    inner_.state()->add_done_node(this);
    task_->suspend(this, h);
    if (task_->must_cancel()) {
      task_->clear_must_cancel();
      cancel_wait();
    }
  }
  T await_resume() {
    if (cancelled_) task_->throw_cancelled();
    if (task_) task_->throw_if_must_cancel();
    return detail::take_result(inner_);
  }
  // The awaiting task stops waiting; the inner task is left alone.
  bool cancel_wait() override {
    FutureBase::remove_done_node(this);
    cancelled_ = true;
    task_->wake();
    return true;
  }
  void on_done(FutureBase&) override { task_->wake(); }

 private:
  TaskHandle<T> inner_;
  TaskBase* task_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace detail

// Suspends the task for d (asyncio.sleep). sleep(0s) yields: every other ready
// callback runs once before the task continues.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
  return detail::SleepAwaiter(std::chrono::duration_cast<Clock::duration>(d));
}

// Runs work with a deadline. On expiry the work is cancelled (it sees
// CancelledError where it waits and may clean up) and TimeoutError is raised
// once it has stopped. A cancellation of the caller from elsewhere stays a
// CancelledError; nested wait_for calls each convert only their own expiry.
template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> work, std::chrono::duration<Rep, Period> timeout) {
  detail::TaskBase* me = detail::current_task();
  if (!me) throw RuntimeError("wait_for() must be awaited inside a task");
  if (timeout <= std::chrono::duration<Rep, Period>::zero()) {
    throw TimeoutError("wait_for: the timeout had expired before the work started");
  }
  const int base = me->cancelling();
  bool expired = false;
  Handle timer =
      me->loop()->call_later(std::chrono::duration_cast<Clock::duration>(timeout), [&expired, me] {
        expired = true;
        me->cancel();
      });
  auto seconds = std::chrono::duration<double>(timeout).count();
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(work);
      timer.cancel();
      if (expired) me->uncancel();
      co_return;
    } else {
      T value = co_await std::move(work);
      timer.cancel();
      if (expired) me->uncancel();
      co_return value;
    }
  } catch (const CancelledError&) {
    timer.cancel();
    if (expired && me->uncancel() <= base) {
      throw TimeoutError(fmt::format("timed out after {:g} s", seconds));
    }
    throw;
  } catch (...) {
    // The work failed by itself: its error, as is. The timer must not
    // outlive this frame (it would cancel the caller later, wherever it
    // then waits, and write to `expired` here, freed).
    timer.cancel();
    if (expired) me->uncancel();
    throw;
  }
}

// Awaits inner without letting a cancellation of the awaiting task reach it.
template <class T>
Task<T> shield(TaskHandle<T> inner) {
  co_return co_await detail::ShieldAwaiter<T>(std::move(inner));
}
template <class T>
Task<T> shield(Task<T> inner) {
  co_return co_await detail::ShieldAwaiter<T>(create_task(std::move(inner)));
}

}  // namespace corun
