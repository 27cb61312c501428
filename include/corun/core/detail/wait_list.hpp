// A FIFO of tasks suspended on a synchronization primitive (Event, Lock,
// Semaphore, Queue). Each entry lives in the awaiting coroutine's frame, so
// waiting allocates nothing. notify_one hands the wake-up to the first waiter;
// a waiter cancelled after being notified can pass it on (see ListWaiter).
#pragma once

#include <coroutine>

#include "corun/core/detail/future_base.hpp"
#include "corun/core/detail/intrusive_list.hpp"

namespace corun::detail {

class ListWaiter : public Waiter, public ListNode {
 public:
  enum class State : std::uint8_t { idle, waiting, notified, cancelled };

  ListWaiter() = default;
  ListWaiter(const ListWaiter&) = delete;
  ListWaiter& operator=(const ListWaiter&) = delete;
  virtual ~ListWaiter() { IntrusiveList::unlink(this); }

  // Suspends task at h on list; false (do not suspend) if the task must cancel.
  template <class P>
  bool wait_on(IntrusiveList& list, std::coroutine_handle<P> h) {
    task_ = h.promise().owner_;
    if (task_->must_cancel()) return false;
    state_ = State::waiting;
    list.push_back(this);
    task_->suspend(this, h);
    return true;
  }
  void notify() {
    IntrusiveList::unlink(this);
    state_ = State::notified;
    task_->wake();
  }
  bool cancel_wait() override {
    if (state_ != State::waiting) return false;
    IntrusiveList::unlink(this);
    state_ = State::cancelled;
    task_->wake();
    return true;
  }
  State state() const noexcept { return state_; }
  TaskBase* task() const noexcept { return task_; }
  // After resumption: true if the task must now see CancelledError.
  bool cancelled_on_resume() const noexcept {
    return state_ == State::cancelled || (task_ && task_->must_cancel());
  }
  [[noreturn]] void throw_cancelled() {
    if (task_->must_cancel()) task_->clear_must_cancel();
    task_->throw_cancelled();
  }

 private:
  TaskBase* task_ = nullptr;
  State state_ = State::idle;
};

inline ListWaiter* pop_waiter(IntrusiveList& list) noexcept {
  return static_cast<ListWaiter*>(list.pop_front());
}

}  // namespace corun::detail
