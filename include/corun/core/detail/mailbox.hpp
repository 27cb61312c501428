// Mailbox<T>: a coalescing cross-thread queue, what call_soon_threadsafe is
// built on. Any thread pushes; one consumer drains the whole batch at once.
// Only the first push since the last drain asks for a wake-up, so a burst of
// pushes costs the consumer one wake-up (one uv_async_send, one eventfd
// write, one call_soon_threadsafe), however long the burst.
//
//   if (box.push(item)) wake_consumer();     // any thread
//   for (T& item : box.drain()) handle(item);  // the consumer, once woken
//
// Wake-ups are never lost: a push after a drain (even one racing with it) is
// the first of the next batch and asks for its own wake-up. A wake-up may find
// the mailbox empty (the consumer drained the batch some other way first);
// that is harmless.
//
// For a wake-up through a handle the consumer closes (a uv_async_t, an
// eventfd), post(item, wake) calls wake() under the mailbox's lock and close()
// takes the same lock: once close() has returned, no wake() runs or will run,
// so the handle may be closed then.
//
// Thread-safety: push, post and pending from any thread; drain and close from
// the consumer (any one thread at a time). Lock-protected, not lock-free: a
// push is a vector push_back under a mutex held for nothing else.
#pragma once

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace corun::detail {

template <class T>
class Mailbox {
 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Queues item. True when it is the first item since the last drain(): the
  // caller must wake the consumer. After close(): item is dropped, false.
  [[nodiscard]] bool push(T item) {
    std::lock_guard lock(mutex_);
    return push_locked(std::move(item));
  }

  // Queues item and, when it is the first since the last drain(), calls
  // wake() under the lock (see above). False, item dropped and no wake(), when
  // the mailbox is closed.
  template <class Wake>
  bool post(T item, Wake&& wake) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (push_locked(std::move(item))) std::forward<Wake>(wake)();
    return true;
  }

  // The consumer: everything pushed since the last drain, in push order. The
  // next push asks for a wake-up again.
  std::vector<T> drain() {
    std::vector<T> batch;
    std::lock_guard lock(mutex_);
    batch.swap(items_);
    pending_.store(false, std::memory_order_relaxed);
    return batch;
  }

  // Something was pushed since the last drain (a hint without the lock: the
  // consumer may skip a drain, or not go to sleep, on it).
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }

  // The consumer: no push is accepted from now on, and no wake() runs once
  // this returns. Returns the items never drained (for the caller to drop, or
  // leak on purpose when they may not be destroyed on this thread).
  std::vector<T> close() {
    std::vector<T> left;
    std::lock_guard lock(mutex_);
    closed_ = true;
    left.swap(items_);
    pending_.store(false, std::memory_order_relaxed);
    return left;
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  bool push_locked(T&& item) {
    if (closed_) return false;
    items_.push_back(std::move(item));
    if (items_.size() != 1) return false;
    pending_.store(true, std::memory_order_release);
    return true;
  }

  mutable std::mutex mutex_;
  std::vector<T> items_;
  bool closed_ = false;
  std::atomic<bool> pending_{false};
};

}  // namespace corun::detail
