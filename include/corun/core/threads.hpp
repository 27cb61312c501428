// Crossing threads: ConcurrentFuture (concurrent.futures.Future),
// run_coroutine_threadsafe (asyncio.run_coroutine_threadsafe), LoopThread (a
// persistent loop on its own thread: what a GUI, a server or the Python binding
// uses) and to_thread (asyncio.to_thread).
//
// Thread-safety: ConcurrentFuture and LoopThread are safe from any thread.
// ConcurrentFuture::get() on the very thread whose loop must complete it throws
// RuntimeError instead of deadlocking. Cancelling a ConcurrentFuture cancels the
// task on its loop (asynchronously); the future reads cancelled at once.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"

namespace corun {

namespace detail {

// Lets other threads post to a loop that may be closed meanwhile.
struct LoopLifeline {
  std::mutex mutex;
  Loop* loop = nullptr;
  // False if the loop is gone or closed.
  bool post(UniqueFunction f) {
    std::lock_guard lock(mutex);
    if (!loop || loop->is_closed()) return false;
    loop->call_soon_threadsafe(std::move(f));
    return true;
  }
};
std::shared_ptr<LoopLifeline> lifeline_of(Loop& loop);

template <class T>
struct ConcurrentState {
  enum class Status { pending, finished, cancelled };
  std::mutex mutex;
  std::condition_variable cv;
  Status status = Status::pending;
  ResultSlot<T> slot;
  std::exception_ptr exception;
  std::vector<std::function<void()>> callbacks;
  Loop* loop = nullptr;  // compared, never dereferenced off its thread
  std::shared_ptr<LoopLifeline> lifeline;
  TaskBase* task = nullptr;  // touched on the loop's thread only

  // Completes once; runs callbacks on the completing thread, outside the lock.
  template <class Fill>
  bool complete(Status s, Fill&& fill) {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard lock(mutex);
      if (status != Status::pending) return false;
      fill(*this);
      status = s;
      cbs.swap(callbacks);
    }
    cv.notify_all();
    for (auto& f : cbs) f();
    return true;
  }
};

// Runs the task on its loop and reports to the ConcurrentState.
template <class T>
struct ThreadsafeStart {
  std::shared_ptr<ConcurrentState<T>> st;
  Task<T> task;
  bool started = false;
  ThreadsafeStart(std::shared_ptr<ConcurrentState<T>> s, Task<T> t)
      : st(std::move(s)), task(std::move(t)) {}
  ThreadsafeStart(ThreadsafeStart&& o) noexcept
      : st(std::move(o.st)), task(std::move(o.task)), started(std::exchange(o.started, true)) {}
  ~ThreadsafeStart() {
    if (!started && st) {
      st->complete(ConcurrentState<T>::Status::finished, [](auto& s) {
        s.exception = std::make_exception_ptr(RuntimeError("Event loop is closed"));
      });
    }
  }
  void operator()();
};

template <class T>
struct ThreadsafeDone final : DoneNode {
  std::shared_ptr<ConcurrentState<T>> st;
  void on_done(FutureBase& f) override {
    auto& task = static_cast<TaskState<T>&>(f);
    st->task = nullptr;
    if (task.cancelled()) {
      task.mark_retrieved();
      st->complete(ConcurrentState<T>::Status::cancelled,
                   [&](auto& s) { s.exception = std::make_exception_ptr(CancelledError()); });
    } else if (std::exception_ptr e = task.exception()) {
      st->complete(ConcurrentState<T>::Status::finished, [&](auto& s) { s.exception = e; });
    } else {
      st->complete(ConcurrentState<T>::Status::finished, [&](auto& s) {
        if constexpr (!std::is_void_v<T>) s.slot.value = std::move(task.slot_.value);
      });
    }
    delete this;
  }
  void on_discard() noexcept override {
    st->complete(ConcurrentState<T>::Status::cancelled, [](auto& s) {
      s.exception =
          std::make_exception_ptr(CancelledError("the loop closed with the task pending"));
    });
    delete this;
  }
};

template <class T>
void ThreadsafeStart<T>::operator()() {
  started = true;
  {
    std::lock_guard lock(st->mutex);
    if (st->status != ConcurrentState<T>::Status::pending) return;  // cancelled before it started
  }
  Loop& loop = get_running_loop();
  if (loop.shutting_down()) {  // submitted too late: the caller hears it at once
    st->complete(ConcurrentState<T>::Status::finished, [](auto& s) {
      s.exception = std::make_exception_ptr(RuntimeError("Event loop is closed"));
    });
    return;
  }
  TaskHandle<T> h = loop.create_task(std::move(task));
  st->task = h.state();
  auto* node = new ThreadsafeDone<T>();
  node->st = st;
  h.state()->add_done_node(node);
}

}  // namespace detail

template <class T = void>
class ConcurrentFuture {
 public:
  ConcurrentFuture() = default;
  explicit ConcurrentFuture(std::shared_ptr<detail::ConcurrentState<T>> st) : st_(std::move(st)) {}

  bool valid() const noexcept { return static_cast<bool>(st_); }
  bool done() const {
    std::lock_guard lock(st_->mutex);
    return st_->status != Status::pending;
  }
  bool cancelled() const {
    std::lock_guard lock(st_->mutex);
    return st_->status == Status::cancelled;
  }
  // Blocks until done; the value, or rethrows (CancelledError if cancelled).
  T get() {
    if (st_->loop && try_get_running_loop() == st_->loop) {
      throw RuntimeError(
          "ConcurrentFuture::get() called on the thread of the loop that must complete it: it "
          "would "
          "deadlock. co_await the work in a task instead (or wait from another thread)");
    }
    std::unique_lock lock(st_->mutex);
    st_->cv.wait(lock, [&] { return st_->status != Status::pending; });
    if (st_->exception) std::rethrow_exception(st_->exception);
    if constexpr (!std::is_void_v<T>) {
      if (!st_->slot.value) throw RuntimeError("ConcurrentFuture::get(): its value was discarded");
      if constexpr (std::is_copy_constructible_v<T>) {
        return *st_->slot.value;
      } else {
        return std::move(*st_->slot.value);
      }
    }
  }
  // Drops a done future's value now rather than with the last handle to its
  // state, so that what the value holds goes back at once (a result nobody will
  // take). Any thread, even inside a done callback; nothing while pending.
  // get() afterwards raises RuntimeError.
  void discard_value() {
    if constexpr (!std::is_void_v<T>) {
      std::optional<T> dropped;  // destroyed outside the lock
      std::lock_guard lock(st_->mutex);
      if (st_->status == Status::pending) return;
      dropped.swap(st_->slot.value);
    }
  }
  // True once done; waits at most d.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock lock(st_->mutex);
    return st_->cv.wait_for(lock, d, [&] { return st_->status != Status::pending; });
  }
  // Marks the future cancelled and asks the loop to cancel the task.
  bool cancel() {
    bool did = st_->complete(Status::cancelled, [](auto& s) {
      s.exception = std::make_exception_ptr(CancelledError());
    });
    if (did && st_->lifeline) {
      auto st = st_;
      st_->lifeline->post([st] {
        if (st->task) st->task->cancel();
      });
    }
    return did;
  }
  // Asks the loop to cancel the task and leaves this future pending until the
  // task has ended, its cleanup run (CancelledError then, unless it finished
  // first): for a caller that must not go on before. cancel() completes the
  // future at once, as asyncio's does, while the task may still be unwinding.
  void cancel_task() {
    std::shared_ptr<detail::LoopLifeline> lifeline;
    {
      std::lock_guard lock(st_->mutex);
      if (st_->status != Status::pending) return;
      lifeline = st_->lifeline;
    }
    // Posted after the task's start (one FIFO): st->task is set, or the task is done.
    if (lifeline) {
      lifeline->post([st = st_] {
        if (st->task) st->task->cancel();
      });
    }
  }
  // f runs once done, on the thread that completes the future (at once if done).
  void add_done_callback(std::function<void()> f) {
    {
      std::lock_guard lock(st_->mutex);
      if (st_->status == Status::pending) {
        st_->callbacks.push_back(std::move(f));
        return;
      }
    }
    f();
  }

 private:
  using Status = typename detail::ConcurrentState<T>::Status;
  std::shared_ptr<detail::ConcurrentState<T>> st_;
};

namespace detail {
// loop is only compared (get()'s same-thread check), never dereferenced here.
template <class T>
ConcurrentFuture<T> submit_via(const std::shared_ptr<LoopLifeline>& lifeline, Loop* loop,
                               Task<T> task) {
  auto st = std::make_shared<ConcurrentState<T>>();
  st->loop = loop;
  st->lifeline = lifeline;
  if (!st->lifeline->post(ThreadsafeStart<T>(st, std::move(task)))) {
    throw RuntimeError("Event loop is closed");
  }
  return ConcurrentFuture<T>(std::move(st));
}
}  // namespace detail

// Schedules task on loop from any thread (asyncio.run_coroutine_threadsafe).
// loop must be alive at the call; the returned future stays safe after it closes.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Task<T> task, Loop& loop) {
  return detail::submit_via(detail::lifeline_of(loop), &loop, std::move(task));
}

// A loop running on its own thread until stop() (or destruction). Submitting
// work is thread-safe. stop() is graceful: the loop stops, the tasks still
// running are cancelled and awaited, then the loop closes and the thread joins.
class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // RuntimeError("Event loop is closed") after stop().
  template <class T>
  ConcurrentFuture<T> submit(Task<T> task) {
    return detail::submit_via(lifeline_, loop_, std::move(task));
  }
  void call_soon_threadsafe(detail::UniqueFunction f);
  // The loop itself: valid until stop(); use it from its own thread (or with
  // the thread-safe calls).
  Loop& loop() noexcept { return *loop_; }
  std::thread::id thread_id() const noexcept { return thread_.get_id(); }
  void stop();

 private:
  std::thread thread_;
  Loop* loop_ = nullptr;
  std::shared_ptr<detail::LoopLifeline> lifeline_;
  std::mutex mutex_;
  bool stopped_ = false;
};

// Runs f() on libuv's thread pool and awaits its result (asyncio.to_thread).
// Cancelling the awaiting task stops the wait at once; f itself runs to its end
// (a thread cannot be interrupted), and run()'s shutdown waits for it.
template <class F>
Task<std::invoke_result_t<F>> to_thread(F f) {
  using R = std::invoke_result_t<F>;
  struct Outcome {
    F fn;
    detail::ResultSlot<R> slot;
    std::exception_ptr exception;
  };
  Loop& loop = get_running_loop();
  Future<R> fut(loop);
  auto outcome = std::make_shared<Outcome>(Outcome{std::move(f), {}, nullptr});
  loop.queue_work(
      [outcome] {
        try {
          if constexpr (std::is_void_v<R>) {
            outcome->fn();
          } else {
            outcome->slot.value.emplace(outcome->fn());
          }
        } catch (...) {
          outcome->exception = std::current_exception();
        }
      },
      [outcome, fut]() mutable {
        if (fut.done()) return;  // the awaiting task was cancelled
        if (outcome->exception) {
          fut.set_exception(outcome->exception);
        } else if constexpr (std::is_void_v<R>) {
          fut.set_result();
        } else {
          fut.set_result(std::move(*outcome->slot.value));
        }
      });
  co_return co_await fut;
}

}  // namespace corun
