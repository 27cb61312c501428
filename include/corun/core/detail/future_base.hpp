// The machinery under Task, TaskHandle and Future (asyncio's Future/Task
// objects): loop callbacks, completion callbacks, and the record of what a
// suspended task waits on, so cancel() can reach it. Everything here belongs to
// one loop's thread; only the reference count may be touched elsewhere.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "corun/core/detail/intrusive_list.hpp"
#include "corun/core/detail/ref.hpp"
#include "corun/core/error.hpp"

namespace corun {
class Loop;
}

namespace corun::detail {

class FutureBase;
class TaskBase;

// Something the loop can run from its ready queue (asyncio.Handle's callback).
class Callback : public RefCounted {
 public:
  virtual void run() = 0;
  // What debug-mode warnings call it.
  virtual std::string describe() const;
  bool handle_cancelled() const noexcept { return handle_cancelled_; }
  void cancel_handle() noexcept { handle_cancelled_ = true; }
};

// Registered on a future; fired once, in registration order, when it completes.
struct DoneNode : ListNode {
  virtual void on_done(FutureBase& future) = 0;
  // The future is destroyed without completing (its loop closed): nodes it owns free themselves.
  virtual void on_discard() noexcept {}

 protected:
  ~DoneNode() = default;
};

// A suspended task's record of what it waits on: cancel() reaches through it.
class Waiter {
 public:
  // Cancels what is awaited. True: the waiter will wake the task (which then
  // sees CancelledError, or a value if the awaited work chose to finish).
  // False: nothing to cancel any more (the task's wake-up is already queued).
  virtual bool cancel_wait() = 0;

 protected:
  ~Waiter() = default;
};

enum class FutureStatus : std::uint8_t { pending, finished, cancelled };

// A future's place on its loop's list of live futures.
struct LoopLink : ListNode {};

class FutureBase : public Callback, public LoopLink {
 public:
  explicit FutureBase(Loop* loop);
  ~FutureBase() override;

  Loop* loop() const noexcept { return loop_; }
  bool done() const noexcept { return status() != FutureStatus::pending; }
  bool cancelled() const noexcept { return status() == FutureStatus::cancelled; }
  FutureStatus status() const noexcept { return static_cast<FutureStatus>(flags_[0]); }
  // Ended with an exception or a cancellation (without marking it retrieved).
  bool failed() const noexcept {
    return cancelled() || (status() == FutureStatus::finished && exception_);
  }

  // asyncio Future.cancel / Task.cancel (overridden by TaskBase).
  virtual bool cancel(std::string_view message = {});

  // Throws what the future ended with (CancelledError, the exception), or
  // InvalidStateError if pending; marks the exception retrieved.
  void check_result();
  // asyncio Future.exception(): null on success; throws CancelledError / InvalidStateError.
  std::exception_ptr exception();
  void mark_retrieved() noexcept { flags_[1] = 1; }

  void add_done_node(DoneNode* node);
  static void remove_done_node(DoneNode* node) noexcept { IntrusiveList::unlink(node); }
  // Schedules f with call_soon when done (at once if done already): semantic 7.
  void add_done_callback(std::function<void()> f);

  // For plain futures: completes it.
  void set_exception(std::exception_ptr e);
  void set_finished();

  void run() override {}

  // Loop bookkeeping: every live future is on its loop's list (LoopLink) so the
  // loop can find pending tasks and detach the survivors when it is closed.
  static FutureBase* from_link(ListNode* n) noexcept {
    return static_cast<FutureBase*>(static_cast<LoopLink*>(n));
  }
  void detach_from_loop() noexcept { loop_ = nullptr; }
  bool is_task() const noexcept { return flags_[2] != 0; }

 protected:
  void complete(FutureStatus status);
  void set_cancelled(std::string_view message);

  void set_status(FutureStatus s) noexcept { flags_[0] = static_cast<std::uint8_t>(s); }
  bool retrieved() const noexcept { return flags_[1] != 0; }
  void set_is_task() noexcept { flags_[2] = 1; }  // not virtual: the destructor needs it

  Loop* loop_;
  IntrusiveList callbacks_;
  std::exception_ptr exception_;

 private:
  friend class corun::Loop;
};

// The part of every scheduled task that does not depend on its result type.
class TaskBase : public FutureBase {
 public:
  TaskBase(Loop* loop, std::coroutine_handle<> root, std::string name);
  // The coroutine this task runs (null once it finished).
  std::coroutine_handle<> root() const noexcept { return root_; }
  ~TaskBase() override;

  // One step: resume the coroutine where it last suspended.
  void run() override;
  std::string describe() const override;
  bool cancel(std::string_view message = {}) override;

  int cancelling() const noexcept { return num_cancels_requested_; }
  int uncancel() noexcept {
    if (num_cancels_requested_ > 0) --num_cancels_requested_;
    return num_cancels_requested_;
  }
  std::string name() const;
  void set_name(std::string name);

  // --- used by awaiters ---
  // The task suspends at h waiting on w (w may be null for a plain yield).
  void suspend(Waiter* w, std::coroutine_handle<> h) noexcept {
    waiting_ = w;
    resume_point_ = h;
  }
  // What the task waits on completed (or was cancelled): run the next step soon.
  void wake();
  // Yield: suspend at h and run again on the next iteration (asyncio's bare yield).
  void yield_at(std::coroutine_handle<> h);
  bool must_cancel() const noexcept { return must_cancel_; }
  void clear_must_cancel() noexcept { must_cancel_ = false; }
  // The CancelledError this task's cancellation carries.
  std::exception_ptr make_cancelled_error() const;
  // Throws it; one delivered CancelledError answers every request so far.
  [[noreturn]] void throw_cancelled();
  void throw_if_must_cancel() {
    if (must_cancel_) {
      must_cancel_ = false;
      throw_cancelled();
    }
  }
  const std::string& cancel_message() const noexcept;

  // Destroys the coroutine of a task that never finished (loop closing).
  void destroy_pending();
  // The loop's own reference to a pending task, dropped once it is done.
  void drop_loop_ownership() noexcept {
    if (loop_owned_) {
      loop_owned_ = false;
      release();
    }
  }

 protected:
  // Moves the finished root coroutine's value into the task, destroys the
  // frame, and returns its exception (null on success).
  virtual std::exception_ptr take_root_outcome() = 0;
  void destroy_root() noexcept {
    if (root_) std::exchange(root_, {}).destroy();
  }

 private:
  void finish();

  // Small members first: they fill FutureBase's tail padding.
  std::int32_t num_cancels_requested_ = 0;
  bool must_cancel_ = false;
  bool started_ = false;
  bool loop_owned_ = true;
  std::uint32_t id_;
  std::coroutine_handle<> root_;
  Waiter* waiting_ = nullptr;
  std::coroutine_handle<> resume_point_;
  struct Extras {
    std::string name;
    std::string cancel_message;
  };
  std::unique_ptr<Extras> extras_;
};

// The task whose step is running on this thread's loop, or null.
TaskBase* current_task() noexcept;

// Base of every corun coroutine promise: who awaits it and which task runs it.
struct PromiseBase {
  // Coroutine frames come from the small-object pool.
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_free(p, size); }

  std::coroutine_handle<> continuation_;
  TaskBase* owner_ = nullptr;
  std::exception_ptr exception_;

  std::suspend_always initial_suspend() const noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      auto c = h.promise().continuation_;
      return c ? c : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
};

// Awaits any FutureBase-derived object F from a task; R is what it yields.
template <class F, class Get>
class FutureAwaiter final : public Waiter, public DoneNode {
 public:
  FutureAwaiter(Ref<F> future, Get get) : future_(std::move(future)), get_(std::move(get)) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  FutureAwaiter& operator=(const FutureAwaiter&) = delete;
  ~FutureAwaiter() { FutureBase::remove_done_node(this); }

  bool await_ready() const noexcept { return future_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (static_cast<FutureBase*>(future_.get()) == static_cast<FutureBase*>(h.promise().owner_)) {
      // (It would wait for itself forever; a cancel would then recurse.)
      throw RuntimeError("Task cannot await on itself");
    }
    task_ = h.promise().owner_;
    future_->add_done_node(this);
    task_->suspend(this, h);
    // asyncio: a task told to cancel that then awaits something cancels it.
    if (task_->must_cancel() && future_->cancel(task_->cancel_message()))
      task_->clear_must_cancel();
  }
  decltype(auto) await_resume() {
    if (task_) task_->throw_if_must_cancel();
    return get_(*future_);
  }
  bool cancel_wait() override { return future_->cancel(task_->cancel_message()); }
  void on_done(FutureBase&) override { task_->wake(); }

 private:
  Ref<F> future_;
  Get get_;
  TaskBase* task_ = nullptr;
};

}  // namespace corun::detail
