// How far a ClientSession's transfers may run ahead of the Python code that
// takes their responses. The session's request gate bounds the transfers in
// flight (`limit`); a response that has arrived stays in memory until its
// asyncio Future is settled. Without a bound, a consumer
// slower than the network (a page written to disk or parsed per response)
// holds every finished page at once. aiohttp bounds them by its connections: a
// response not yet read holds one.
//
// A request takes a slot on the loop thread before it starts (waiting, in
// order, while none is free) and gives it back when its response (or error)
// is handed to Python, or dropped unhandled (cancelled, its loop closed).
// Giving back happens on any thread: the count is atomic, and the slots reach
// the loop thread's semaphore in batches, one post per batch.
#pragma once

#include <atomic>
#include <corun/core/semaphore.hpp>
#include <corun/core/task.hpp>
#include <memory>

namespace corun::python {

class Backlog : public std::enable_shared_from_this<Backlog> {
 public:
  // A slot, given back when destroyed (any thread). Empty: nothing to give.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : owner_(std::move(other.owner_)) {}
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { give_back(); }
    void give_back() noexcept;

   private:
    friend class Backlog;
    explicit Slot(std::shared_ptr<Backlog> owner) : owner_(std::move(owner)) {}
    std::shared_ptr<Backlog> owner_;
  };

  // bound >= 1 requests taken up and not yet handed to Python.
  explicit Backlog(int bound);

  // Loop thread: a slot, waiting in order while none is free; at once after
  // open(). Cancellable while it waits.
  Task<Slot> take();

  // Loop thread: from now on take() never waits, and those waiting go on (the
  // session is closing: they fail at once rather than wait for slots).
  void open();

  // Slots taken and not given back yet (any thread; for tests).
  int held() const noexcept { return held_.load(std::memory_order_acquire); }
  int bound() const noexcept { return bound_; }

 private:
  void give_back_one() noexcept;  // any thread
  void collect();                 // loop thread: returned slots into the semaphore

  const int bound_;
  Semaphore free_;     // loop thread only
  int waiting_ = 0;    // loop thread only: take() calls waiting on free_
  bool open_ = false;  // loop thread only
  std::atomic<int> held_{0};
  std::atomic<int> returned_{0};  // given back, not yet collected
};

}  // namespace corun::python
