// Loop: asyncio's event loop over libuv.
//
// One iteration (run_once) polls libuv for I/O (blocking only when nothing is
// ready), moves due timers to the ready queue in deadline order, then runs
// exactly the callbacks that were ready when the iteration began, FIFO; what
// they schedule waits for the next iteration (semantic 6). An idle loop sleeps
// in epoll: no busy polling.
//
// Thread-safety: everything is for the loop's own thread except
// call_soon_threadsafe (any thread) and the embedding queries backend_fd /
// next_timeout. In debug mode a loop method called from another thread while
// the loop runs raises RuntimeError.
//
// Embedding (no extra thread): a host loop (Qt, GLib, a REPL) waits until
// backend_fd() is readable or next_timeout() passes, then calls run_once(),
// which runs what is ready without blocking.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "corun/core/detail/future_base.hpp"
#include "corun/core/detail/mailbox.hpp"
#include "corun/core/detail/unique_function.hpp"
#include "corun/core/task.hpp"

namespace corun {

namespace detail {
struct LoopLifeline;
// Tests only: when set, called on the loop's thread right before the loop blocks in
// uv_run (after arming its timer), to widen races that are otherwise rare.
extern void (*before_blocking_uv_run)();
}  // namespace detail

using Clock = std::chrono::steady_clock;

// asyncio.Handle / TimerHandle: a scheduled callback that can still be cancelled.
class Handle {
 public:
  Handle() = default;
  explicit Handle(detail::Ref<detail::Callback> cb) : cb_(std::move(cb)) {}
  void cancel() noexcept {
    if (cb_) cb_->cancel_handle();
  }
  bool cancelled() const noexcept { return cb_ && cb_->handle_cancelled(); }

 private:
  detail::Ref<detail::Callback> cb_;
};
using TimerHandle = Handle;

// What an exception handler receives (asyncio's context dict).
struct ExceptionContext {
  std::string message;
  std::exception_ptr exception;  // may be null
  std::string task_name;         // may be empty
};

class Loop;
using ExceptionHandler = std::function<void(Loop&, const ExceptionContext&)>;

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // --- scheduling (loop thread) ---
  Handle call_soon(std::function<void()> f);
  Handle call_later(Clock::duration delay, std::function<void()> f);
  Handle call_at(Clock::time_point when, std::function<void()> f);
  // Any thread. Raises RuntimeError("Event loop is closed") on a closed loop.
  void call_soon_threadsafe(detail::UniqueFunction f);
  // The loop's clock: seconds, monotonic (asyncio's loop.time()).
  double time() const noexcept;
  Clock::time_point now() const noexcept { return Clock::now(); }

  template <class T>
  TaskHandle<T> create_task(Task<T> task, std::string name = {});

  // --- running ---
  template <class T>
  T run_until_complete(Task<T> task);
  template <class T>
  T run_until_complete(TaskHandle<T> handle);
  void run_forever();
  void stop() noexcept;
  // Runs the loop until task is done or the loop is stopped.
  void run_until_done(detail::TaskBase* task);
  void close();
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // --- embedding hooks ---
  int backend_fd() const noexcept;
  // Milliseconds the host may wait before calling run_once(); 0 when work is
  // ready, -1 when only I/O or call_soon_threadsafe can produce work.
  int next_timeout() const noexcept;
  // One iteration that never blocks.
  void run_once();

  // --- signals (asyncio's loop.add_signal_handler / remove_signal_handler) ---
  // Calls f on this loop's thread each time signum arrives, until the handler is
  // removed or the loop closes. One handler per signal and loop: adding again
  // replaces the previous one. While a handler is installed the signal's default
  // action does not happen (libuv's process-wide handler catches it). Loop thread
  // only; RuntimeError on a closed loop or for a signal libuv cannot watch.
  void add_signal_handler(int signum, std::function<void()> f);
  // Removes the handler for signum; false if there was none.
  bool remove_signal_handler(int signum);

  // --- errors and debugging ---
  void set_exception_handler(ExceptionHandler handler);
  void call_exception_handler(const ExceptionContext& context);
  static void default_exception_handler(const ExceptionContext& context);
  void set_debug(bool enabled) noexcept { debug_ = enabled; }
  bool get_debug() const noexcept { return debug_; }
  void set_slow_callback_duration(Clock::duration d) noexcept { slow_callback_duration_ = d; }

  // The tasks of this loop not yet done (asyncio.all_tasks).
  std::vector<detail::Ref<detail::TaskBase>> all_tasks() const;
  // The libuv loop: libuv handles created on it run their callbacks on this loop.
  uv_loop_t* uv_loop() noexcept { return &uv_; }
  std::thread::id thread_id() const noexcept { return thread_id_; }
  // True when called on the thread that is running this loop.
  bool in_loop_thread() const noexcept;

  // --- internals used by tasks, futures and the run() machinery ---
  void schedule(detail::Callback* cb);  // push to the ready queue
  void register_future(detail::FutureBase* f) noexcept {
    futures_.push_back(static_cast<detail::LoopLink*>(f));
  }
  void unregister_future(detail::FutureBase* f) noexcept {
    detail::IntrusiveList::unlink(static_cast<detail::LoopLink*>(f));
  }
  void task_finished(detail::TaskBase* t) noexcept;  // drops the loop's ownership
  detail::TaskBase* current_task() const noexcept { return current_task_; }
  void set_current_task(detail::TaskBase* t) noexcept { current_task_ = t; }
  void check_thread(const char* what) const;
  void check_closed() const;
  // What run_forever and the run_until_complete family check first: the loop
  // open, not running, and no other loop running on this thread.
  void check_runnable() const;
  // The default executor (libuv's thread pool; asyncio's default executor): runs
  // work() on a pool thread, then done() on this loop's thread. work must not throw
  // (catch inside it: an exception leaving a pool thread ends the process). run()'s
  // shutdown waits for jobs still queued or running (executor_jobs()). Loop thread
  // only; RuntimeError if the pool refuses. to_thread is built on it; so is any
  // layer's own batch of blocking jobs.
  void queue_work(detail::UniqueFunction work, detail::UniqueFunction done);
  int executor_jobs() const noexcept { return executor_jobs_; }
  // Other threads post through this, so a loop closing meanwhile is no danger.
  std::shared_ptr<detail::LoopLifeline> lifeline() const { return lifeline_; }
  // Set by Runner::close() before it cancels the tasks: a task submitted from
  // another thread after that (run_coroutine_threadsafe, LoopThread::submit) is
  // refused ("Event loop is closed") instead of being made only to be destroyed
  // pending, one log line each.
  void begin_shutdown() noexcept { shutting_down_ = true; }
  bool shutting_down() const noexcept { return shutting_down_; }
  // Async generators registered for shutdown (run() closes the survivors).
  detail::IntrusiveList& async_generators() noexcept { return async_generators_; }

 private:
  void iterate(bool may_block);
  void run_ready();
  void drain_threadsafe();
  void arm_timer(int timeout_ms);
  int compute_timeout() const noexcept;

  uv_loop_t uv_{};
  uv_timer_t timer_{};
  uv_async_t async_{};
  std::deque<detail::Ref<detail::Callback>> ready_;
  std::vector<detail::Ref<detail::Callback>> timers_;  // min-heap by (when, seq)
  std::uint64_t timer_seq_ = 0;
  detail::Mailbox<detail::UniqueFunction> threadsafe_;  // call_soon_threadsafe's callbacks
  std::atomic<bool> closed_{false};
  bool running_ = false;
  bool stopping_ = false;
  bool shutting_down_ = false;
  // True while iterate() blocks in uv_run: work made ready then (by a libuv
  // callback of another library, e.g. curl's timer, which uv runs before it
  // polls) calls uv_stop so that uv does not go on to sleep in epoll.
  bool in_uv_run_ = false;
  bool debug_ = false;
  Clock::duration slow_callback_duration_ = std::chrono::milliseconds(100);
  std::thread::id thread_id_;
  detail::TaskBase* current_task_ = nullptr;
  detail::IntrusiveList futures_;
  detail::IntrusiveList async_generators_;
  ExceptionHandler exception_handler_;
  int executor_jobs_ = 0;
  struct SignalWatcher;
  std::vector<SignalWatcher*> signal_watchers_;  // owned; closed with the loop
  std::shared_ptr<detail::LoopLifeline> lifeline_;
  // When the loop last asked libuv for I/O while busy (see iterate()).
  Clock::time_point last_poll_{};
  static constexpr Clock::duration kBusyPollInterval = std::chrono::microseconds(50);
};

// The loop running on this thread; RuntimeError("no running event loop") if none.
Loop& get_running_loop();
// The loop running on this thread, or null.
Loop* try_get_running_loop() noexcept;

// Schedules task on the running loop (asyncio.create_task). None of the
// coroutine runs before the loop's next iteration (semantic 8).
template <class T>
TaskHandle<T> create_task(Task<T> task, std::string name = {}) {
  return get_running_loop().create_task(std::move(task), std::move(name));
}

template <class T>
TaskHandle<T> Loop::create_task(Task<T> task, std::string name) {
  check_closed();
  if (debug_) check_thread("create_task");
  detail::Ref<detail::TaskState<T>> state(
      new detail::TaskState<T>(this, std::move(task), std::move(name)));
  schedule(state.get());
  return TaskHandle<T>(std::move(state));
}

template <class T>
T Loop::run_until_complete(Task<T> task) {
  check_runnable();  // before the task exists: a refused call runs nothing
  return run_until_complete(create_task(std::move(task)));
}

template <class T>
T Loop::run_until_complete(TaskHandle<T> handle) {
  run_until_done(handle.state());
  if (!handle.done()) throw RuntimeError("Event loop stopped before Future completed.");
  return detail::take_result(handle);
}

}  // namespace corun
