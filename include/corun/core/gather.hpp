// gather (asyncio.gather) and gather_settled (gather(..., return_exceptions=True)).
//
// Each Task is scheduled as its own task. gather's result is settled by the
// first failure (its exception is rethrown) while the other children keep
// running; otherwise it is every value in argument order. Cancelling the task
// that awaits a gather cancels every child, and the gather raises CancelledError
// once they are done (even if they caught it and returned: asyncio's
// _cancel_requested). gather_settled waits for all and
// keeps each outcome (value, exception or cancellation), but a cancellation of
// the gather itself still raises CancelledError (semantic 10).
#pragma once

#include <exception>
#include <tuple>
#include <variant>
#include <vector>

#include "corun/core/loop.hpp"

namespace corun {

// What one child of gather_settled ended with.
template <class T>
class Outcome {
 public:
  explicit Outcome(T value) : v_(std::move(value)) {}
  explicit Outcome(std::exception_ptr e) : v_(std::move(e)) {}
  bool ok() const noexcept { return v_.index() == 0; }
  bool cancelled() const noexcept { return !ok() && detail::is_cancelled_error(exception()); }
  std::exception_ptr exception() const noexcept { return ok() ? nullptr : std::get<1>(v_); }
  // The value, or rethrows what the child ended with.
  T& value() {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  const T& value() const {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }

 private:
  std::variant<T, std::exception_ptr> v_;
};

template <>
class Outcome<void> {
 public:
  Outcome() = default;
  explicit Outcome(std::exception_ptr e) : e_(std::move(e)) {}
  bool ok() const noexcept { return !e_; }
  bool cancelled() const noexcept { return detail::is_cancelled_error(e_); }
  std::exception_ptr exception() const noexcept { return e_; }
  void value() const {
    if (e_) std::rethrow_exception(e_);
  }

 private:
  std::exception_ptr e_;
};

namespace detail {

// Waits for children: until all are done or, with settle_on_failure, until the
// first one fails. Cancelling it cancels the children. Children are added as
// they are created (one pass over them; none can have run yet).
class GatherWaiter final : public Waiter {
 public:
  GatherWaiter(std::size_t capacity, bool settle_on_failure);
  GatherWaiter(const GatherWaiter&) = delete;
  GatherWaiter& operator=(const GatherWaiter&) = delete;
  ~GatherWaiter();

  void add(FutureBase* child);

  bool await_ready() const noexcept { return settled_; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    task_ = h.promise().owner_;
    task_->suspend(this, h);
    if (task_->must_cancel()) {
      task_->clear_must_cancel();
      if (!cancel_wait()) {
        task_->cancel();
        task_->wake();
      }
    }
  }
  void await_resume() {
    if (task_) task_->throw_if_must_cancel();
  }
  bool cancel_wait() override;

  // The child whose failure settled the gather (or the first that failed).
  FutureBase* first_failure() const noexcept { return first_failure_.get(); }
  bool cancel_requested() const noexcept { return cancel_requested_; }

 private:
  struct Node final : DoneNode {
    GatherWaiter* owner = nullptr;
    FutureBase* child = nullptr;
    void on_done(FutureBase& f) override { owner->child_done(f); }
  };
  void child_done(FutureBase& f);

  std::vector<Node> nodes_;
  std::size_t remaining_ = 0;
  Ref<FutureBase> first_failure_;
  TaskBase* task_ = nullptr;
  bool settle_on_failure_;
  bool settled_ = false;
  bool cancel_requested_ = false;
};

template <class T>
using GatherValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
GatherValue<T> gather_value(TaskHandle<T>& h) {
  if constexpr (std::is_void_v<T>) {
    h.result();
    return {};
  } else {
    return take_result(h);
  }
}

template <class T>
Outcome<T> settled_outcome(TaskHandle<T>& h) {
  FutureBase& f = *h.state();
  if (f.failed()) {
    f.mark_retrieved();
    try {
      f.check_result();
    } catch (...) {
      return Outcome<T>(std::current_exception());
    }
  }
  if constexpr (std::is_void_v<T>) {
    return Outcome<void>();
  } else {
    return Outcome<T>(take_result(h));
  }
}

}  // namespace detail

// gather(vector of tasks) -> their values in order (void tasks: Task<void>).
template <class T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> gather(
    std::vector<Task<T>> tasks) {
  Loop& loop = get_running_loop();
  detail::GatherWaiter waiter(tasks.size(), true);
  if constexpr (std::is_void_v<T>) {
    // The loop owns the children until they finish; no handles are needed.
    for (auto& t : tasks) waiter.add(loop.create_task(std::move(t)).state());
    std::vector<Task<T>>().swap(tasks);
    co_await waiter;
    if (detail::FutureBase* f = waiter.first_failure()) f->check_result();
    // Cancelled, and every child ended without failing (some may have caught
    // the cancellation and returned): still CancelledError, as asyncio's.
    if (waiter.cancel_requested()) throw CancelledError();
  } else {
    std::vector<TaskHandle<T>> handles;
    handles.reserve(tasks.size());
    for (auto& t : tasks) {
      handles.push_back(loop.create_task(std::move(t)));
      waiter.add(handles.back().state());
    }
    std::vector<Task<T>>().swap(tasks);
    co_await waiter;
    if (detail::FutureBase* f = waiter.first_failure()) f->check_result();
    // Cancelled, and every child ended without failing (some may have caught
    // the cancellation and returned): still CancelledError, as asyncio's.
    if (waiter.cancel_requested()) throw CancelledError();
    std::vector<T> values;
    values.reserve(handles.size());
    for (auto& h : handles) values.push_back(detail::take_result(h));
    co_return values;
  }
}

// gather(Task<A>, Task<B>, ...) -> tuple<A, B, ...> (void becomes std::monostate).
template <class... Ts>
Task<std::tuple<detail::GatherValue<Ts>...>> gather(Task<Ts>... tasks) {
  Loop& loop = get_running_loop();
  std::tuple<TaskHandle<Ts>...> handles(loop.create_task(std::move(tasks))...);
  detail::GatherWaiter waiter(sizeof...(Ts), true);
  std::apply([&](auto&... h) { (waiter.add(h.state()), ...); }, handles);
  co_await waiter;
  if (detail::FutureBase* f = waiter.first_failure()) f->check_result();
  if (waiter.cancel_requested()) throw CancelledError();  // (as above)
  co_return std::apply([](auto&... h) { return std::make_tuple(detail::gather_value(h)...); },
                       handles);
}

// gather_settled(vector of tasks) -> every outcome, in order.
template <class T>
Task<std::vector<Outcome<T>>> gather_settled(std::vector<Task<T>> tasks) {
  Loop& loop = get_running_loop();
  std::vector<TaskHandle<T>> handles;
  handles.reserve(tasks.size());
  for (auto& t : tasks) handles.push_back(loop.create_task(std::move(t)));
  std::vector<Task<T>>().swap(tasks);
  detail::GatherWaiter waiter(handles.size(), false);
  for (auto& h : handles) waiter.add(h.state());
  co_await waiter;
  if (waiter.cancel_requested()) throw CancelledError();
  std::vector<Outcome<T>> out;
  out.reserve(handles.size());
  for (auto& h : handles) out.push_back(detail::settled_outcome(h));
  co_return out;
}

template <class... Ts>
Task<std::tuple<Outcome<Ts>...>> gather_settled(Task<Ts>... tasks) {
  Loop& loop = get_running_loop();
  std::tuple<TaskHandle<Ts>...> handles(loop.create_task(std::move(tasks))...);
  detail::GatherWaiter waiter(sizeof...(Ts), false);
  std::apply([&](auto&... h) { (waiter.add(h.state()), ...); }, handles);
  co_await waiter;
  if (waiter.cancel_requested()) throw CancelledError();
  co_return std::apply([](auto&... h) { return std::make_tuple(detail::settled_outcome(h)...); },
                       handles);
}

}  // namespace corun
