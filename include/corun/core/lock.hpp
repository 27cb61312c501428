// Lock (asyncio.Lock): mutual exclusion between tasks of one loop. Fair: release()
// hands the lock to the longest-waiting task. A task cancelled while waiting
// does not get the lock; one cancelled just after being handed it passes it on.
// `auto guard = co_await lock.scoped();` releases at scope exit. Loop-thread only.
#pragma once

#include <utility>

#include "corun/core/detail/wait_list.hpp"
#include "corun/core/error.hpp"

namespace corun {

class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  bool locked() const noexcept { return locked_; }
  void release() {
    if (!locked_) throw RuntimeError("Lock is not acquired.");
    if (auto* w = detail::pop_waiter(waiters_)) {
      w->notify();  // ownership passes straight to the first waiter
    } else {
      locked_ = false;
    }
  }

  class Guard {
   public:
    Guard() = default;
    explicit Guard(Lock* l) noexcept : lock_(l) {}
    Guard(Guard&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)) {}
    Guard& operator=(Guard&& o) noexcept {
      if (this != &o) {
        unlock();
        lock_ = std::exchange(o.lock_, nullptr);
      }
      return *this;
    }
    ~Guard() { unlock(); }
    void unlock() {
      if (lock_) std::exchange(lock_, nullptr)->release();
    }

   private:
    Lock* lock_ = nullptr;
  };

  template <bool kGuard>
  class AcquireAwaiter : public detail::ListWaiter {
   public:
    explicit AcquireAwaiter(Lock& l) : lock_(l) {}
    bool await_ready() noexcept {
      if (!lock_.locked_ && lock_.waiters_.empty()) {
        lock_.locked_ = true;
        return true;
      }
      return false;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return wait_on(lock_.waiters_, h);
    }
    auto await_resume() {
      if (cancelled_on_resume()) {
        if (state() == State::notified) lock_.release();  // we were handed it: pass it on
        throw_cancelled();
      }
      if constexpr (kGuard) return Guard(&lock_);
    }

   private:
    Lock& lock_;
  };
  // co_await lock.acquire(); ... lock.release();
  AcquireAwaiter<false> acquire() noexcept { return AcquireAwaiter<false>(*this); }
  // auto guard = co_await lock.scoped();
  AcquireAwaiter<true> scoped() noexcept { return AcquireAwaiter<true>(*this); }

 private:
  bool locked_ = false;
  detail::IntrusiveList waiters_;
};

}  // namespace corun
