// Semaphore and BoundedSemaphore (asyncio's): a counter of permits. acquire()
// takes one or waits (FIFO); release() gives one back, handing it straight to
// the first waiter. BoundedSemaphore refuses to be released above its initial
// value (ValueError). Loop-thread only.
#pragma once

#include "corun/core/detail/wait_list.hpp"
#include "corun/core/error.hpp"

namespace corun {

class Semaphore {
 public:
  explicit Semaphore(int value = 1) : value_(value) {
    if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
  }
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  // True when acquire() would wait.
  bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
  int value() const noexcept { return value_; }
  virtual void release() {
    if (auto* w = detail::pop_waiter(waiters_)) {
      w->notify();
    } else {
      ++value_;
    }
  }

  class AcquireAwaiter : public detail::ListWaiter {
   public:
    explicit AcquireAwaiter(Semaphore& s) : sem_(s) {}
    bool await_ready() noexcept {
      if (sem_.value_ > 0 && sem_.waiters_.empty()) {
        --sem_.value_;
        return true;
      }
      return false;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return wait_on(sem_.waiters_, h);
    }
    void await_resume() {
      if (cancelled_on_resume()) {
        if (state() == State::notified) sem_.release();
        throw_cancelled();
      }
    }

   private:
    Semaphore& sem_;
  };
  AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }

 protected:
  int value_;
  detail::IntrusiveList waiters_;
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value), bound_(value) {}
  void release() override {
    if (value_ >= bound_ && waiters_.empty())
      throw ValueError("BoundedSemaphore released too many times");
    Semaphore::release();
  }

 private:
  int bound_;
};

}  // namespace corun
