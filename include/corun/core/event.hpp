// Event (asyncio.Event): tasks wait until it is set. set() wakes every waiter;
// clear() makes later waiters wait again. Waiting allocates nothing (the record
// lives in the waiting coroutine's frame). Cancelling a waiting task removes it
// from the event and raises CancelledError in it. Loop-thread only.
#pragma once

#include "corun/core/detail/wait_list.hpp"

namespace corun {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return set_; }
  void set() {
    if (set_) return;
    set_ = true;
    while (auto* w = detail::pop_waiter(waiters_)) w->notify();
  }
  void clear() noexcept { set_ = false; }

  class WaitAwaiter : public detail::ListWaiter {
   public:
    explicit WaitAwaiter(Event& e) : event_(e) {}
    bool await_ready() const noexcept { return event_.set_; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return wait_on(event_.waiters_, h);
    }
    void await_resume() {
      if (cancelled_on_resume()) throw_cancelled();
    }

   private:
    Event& event_;
  };
  // co_await event.wait(): returns once the event is set.
  WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

 private:
  bool set_ = false;
  detail::IntrusiveList waiters_;
};

}  // namespace corun
