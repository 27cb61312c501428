// Task<T>: corun's coroutine type, and TaskHandle<T>: a scheduled task.
//
// Task<T> is a coroutine that does nothing until awaited or scheduled (Python's
// coroutine object). `co_await task` runs it inline in the awaiting task and
// yields its value or rethrows. create_task(Task<T>) schedules it on the running
// loop and returns a TaskHandle<T> (asyncio.Task): a copyable reference to the
// running task. Dropping every handle does not cancel the task; the loop keeps it
// until it finishes. Handles and tasks belong to their loop's thread.
//
// Cancellation (asyncio semantics, semantic 9): cancel() only requests; the
// task sees CancelledError at its current or next suspension point, whatever it
// awaits (a sleep, an Event, another task: the request travels down), may catch
// it and go on, and is cancelled() only once CancelledError left its coroutine.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "corun/core/detail/future_base.hpp"
#include "corun/core/error.hpp"

namespace corun {

template <class T = void>
class Task;

namespace detail {

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value_;
  Task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(*value_);
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  Handle release() noexcept { return std::exchange(h_, {}); }

  struct Awaiter {
    Handle h;
    // A Task runs once (a coroutine object is awaited once): awaiting it again
    // would resume a finished coroutine.
    bool await_ready() const {
      if (!h) throw RuntimeError("cannot await an empty Task (moved from, or default-made)");
      if (h.done()) throw RuntimeError("cannot reuse already awaited coroutine");
      return false;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      h.promise().continuation_ = caller;
      h.promise().owner_ = caller.promise().owner_;
      return h;
    }
    T await_resume() { return h.promise().take(); }
  };
  // Runs the task inline; its value or exception comes back to the awaiter.
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }

 private:
  Handle h_;
};

// Calls a coroutine lambda so that its captures live as long as its coroutine.
// `create_task([&]() -> Task<> {...}())` is a C++ trap: the lambda object is a
// temporary that dies at the end of the statement while its coroutine, which
// reads the captures through it, runs later. `create_task(co_invoke([&]() ->
// Task<> {...}))` moves the lambda into the coroutine frame first.
template <class F>
auto co_invoke(F f) -> std::invoke_result_t<F&> {
  co_return co_await f();
}

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// Stored result: T, or nothing for void.
template <class T>
struct ResultSlot {
  std::optional<T> value;
};
template <>
struct ResultSlot<void> {};

template <class T>
class TaskState final : public TaskBase {
 public:
  TaskState(Loop* loop, Task<T> task, std::string name)
      : TaskBase(loop, task.release(), std::move(name)) {
    coro().promise().owner_ = this;
  }
  ~TaskState() override { destroy_root(); }

  [[no_unique_address]] ResultSlot<T> slot_;

 private:
  std::coroutine_handle<Promise<T>> coro() const noexcept {
    return std::coroutine_handle<Promise<T>>::from_address(root().address());
  }
  std::exception_ptr take_root_outcome() override {
    std::exception_ptr e = coro().promise().exception_;
    if constexpr (!std::is_void_v<T>) {
      if (!e) slot_.value = std::move(coro().promise().value_);
    }
    destroy_root();
    return e;
  }
};

// Reads the value of a finished task or future of T (throws what it ended with):
// a copy for copyable T, as the value may be read again; moved out for
// move-only T. take: the caller drops its reference right after, so when that
// reference is the only one left (nothing can read the value again), a
// copyable value is moved out too: gather's vector of responses is not a copy
// of every body.
template <class T, class State>
decltype(auto) read_result(State& s, bool take) {
  s.check_result();
  if constexpr (std::is_void_v<T>) {
    (void)take;
    return;
  } else if constexpr (std::is_copy_constructible_v<T>) {
    if (take && s.sole_reference()) return T(std::move(*s.slot_.value));
    return T(*s.slot_.value);
  } else {
    (void)take;
    return T(std::move(*s.slot_.value));
  }
}

}  // namespace detail

// A scheduled task (asyncio.Task). Copyable reference; empty when
// default-constructed. Loop-thread only.
template <class T = void>
class TaskHandle {
 public:
  using value_type = T;
  TaskHandle() = default;
  explicit TaskHandle(detail::Ref<detail::TaskState<T>> s) : s_(std::move(s)) {}

  bool valid() const noexcept { return static_cast<bool>(s_); }
  bool done() const noexcept { return s_->done(); }
  bool cancelled() const noexcept { return s_->cancelled(); }
  // Requests cancellation; true if the task was still pending (semantic 9).
  bool cancel(std::string_view message = {}) { return s_->cancel(message); }
  int cancelling() const noexcept { return s_->cancelling(); }
  int uncancel() noexcept { return s_->uncancel(); }
  std::string name() const { return s_->name(); }
  void set_name(std::string name) { s_->set_name(std::move(name)); }

  // The value (a copy for copyable T; moved out for move-only T), or rethrows the
  // task's exception, CancelledError if cancelled, InvalidStateError if pending.
  decltype(auto) result() const { return detail::read_result<T>(*s_, false); }
  // Null if the task succeeded; throws CancelledError / InvalidStateError.
  std::exception_ptr exception() const { return s_->exception(); }
  // f() is scheduled with call_soon when the task is done (semantic 7).
  template <class F>
  void add_done_callback(F&& f) {
    if constexpr (std::is_invocable_v<F, TaskHandle<T>>) {
      s_->add_done_callback([f = std::forward<F>(f), h = *this]() mutable { f(h); });
    } else {
      s_->add_done_callback(std::forward<F>(f));
    }
  }

  // Waits for the task; cancelling the awaiting task cancels this one too.
  auto operator co_await() const& {
    auto get = [](detail::TaskState<T>& s) -> decltype(auto) {
      return detail::read_result<T>(s, false);
    };
    return detail::FutureAwaiter<detail::TaskState<T>, decltype(get)>(s_, get);
  }
  // The same for a handle given up (`co_await std::move(h)`, `co_await
  // create_task(...)`): the value is moved out when no other handle is left.
  auto operator co_await() && {
    auto get = [](detail::TaskState<T>& s) -> decltype(auto) {
      return detail::read_result<T>(s, true);
    };
    return detail::FutureAwaiter<detail::TaskState<T>, decltype(get)>(std::move(s_), get);
  }

  detail::TaskState<T>* state() const noexcept { return s_.get(); }
  friend bool operator==(const TaskHandle& a, const TaskHandle& b) noexcept { return a.s_ == b.s_; }

 private:
  detail::Ref<detail::TaskState<T>> s_;
};

namespace detail {
// The value of h's finished task, for a caller that drops h right after
// (gather, run): moved out when h is the task's only reference (read_result).
template <class T>
decltype(auto) take_result(TaskHandle<T>& h) {
  return read_result<T>(*h.state(), true);
}
}  // namespace detail

}  // namespace corun
