// Queue<T> (asyncio.Queue): FIFO between tasks of one loop. maxsize 0 means
// unbounded; put() waits while full, get() while empty; put_nowait/get_nowait
// throw QueueFull/QueueEmpty instead. task_done()/join() count unfinished items.
// A getter or putter cancelled right after being woken passes the wake-up on, so
// no item is stranded. Loop-thread only.
#pragma once

#include <cstddef>
#include <deque>

#include "corun/core/detail/wait_list.hpp"
#include "corun/core/error.hpp"
#include "corun/core/event.hpp"
#include "corun/core/task.hpp"

namespace corun {

class QueueFull : public Error {
 public:
  QueueFull() : Error("queue is full") {}
};
class QueueEmpty : public Error {
 public:
  QueueEmpty() : Error("queue is empty") {}
};

namespace detail {
// Waits for a notify on list; passes a wake-up it cannot use to the next waiter.
class QueueWaiter : public ListWaiter {
 public:
  explicit QueueWaiter(IntrusiveList& l) : list_(l) {}
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return wait_on(list_, h);
  }
  void await_resume() {
    if (cancelled_on_resume()) {
      if (state() == State::notified) {
        if (auto* next = pop_waiter(list_)) next->notify();
      }
      throw_cancelled();
    }
  }

 private:
  IntrusiveList& list_;
};
}  // namespace detail

template <class T>
class Queue {
 public:
  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) { finished_.set(); }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  std::size_t qsize() const noexcept { return items_.size(); }
  std::size_t maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept { return maxsize_ > 0 && items_.size() >= maxsize_; }

  Task<void> put(T item) {
    while (full()) co_await detail::QueueWaiter(putters_);
    put_nowait(std::move(item));
  }
  Task<T> get() {
    while (empty()) co_await detail::QueueWaiter(getters_);
    co_return get_nowait();
  }
  void put_nowait(T item) {
    if (full()) throw QueueFull();
    items_.push_back(std::move(item));
    ++unfinished_;
    finished_.clear();
    if (auto* w = detail::pop_waiter(getters_)) w->notify();
  }
  T get_nowait() {
    if (empty()) throw QueueEmpty();
    T item = std::move(items_.front());
    items_.pop_front();
    if (auto* w = detail::pop_waiter(putters_)) w->notify();
    return item;
  }
  void task_done() {
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) finished_.set();
  }
  // Waits until every item put has been marked task_done().
  Task<void> join() {
    if (unfinished_ > 0) co_await finished_.wait();
  }

 private:
  std::size_t maxsize_;
  std::deque<T> items_;
  std::size_t unfinished_ = 0;
  Event finished_;
  detail::IntrusiveList getters_;
  detail::IntrusiveList putters_;
};

}  // namespace corun
