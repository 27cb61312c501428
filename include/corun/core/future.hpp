// Future<T>: asyncio.Future, the bridge from callback APIs (libuv, libcurl) to
// coroutines. Bound to the loop running when it is created; loop-thread only;
// a copyable reference.
//
// Pattern: create the future, start the operation whose completion calls
// set_result / set_exception (if !done()), add a done callback that aborts the
// operation if cancelled(), then `co_return co_await fut;`. Cancelling the task
// that awaits a future cancels the future (asyncio semantics), which is what
// stops the operation.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "corun/core/task.hpp"

namespace corun {

Loop& get_running_loop();

namespace detail {
template <class T>
class FutureState final : public FutureBase {
 public:
  using FutureBase::FutureBase;
  ResultSlot<T> slot_;
};
}  // namespace detail

template <class T = void>
class Future {
 public:
  // A pending future on the running loop (RuntimeError if none runs).
  Future() : s_(new detail::FutureState<T>(&get_running_loop())) {}
  explicit Future(Loop& loop) : s_(new detail::FutureState<T>(&loop)) {}

  bool done() const noexcept { return s_->done(); }
  bool cancelled() const noexcept { return s_->cancelled(); }
  bool cancel(std::string_view message = {}) { return s_->cancel(message); }

  template <class... U>
  void set_result(U&&... v) {
    if (s_->done()) throw InvalidStateError("Future is already done");
    if constexpr (!std::is_void_v<T>) s_->slot_.value.emplace(std::forward<U>(v)...);
    s_->set_finished();
  }
  void set_exception(std::exception_ptr e) {
    if (s_->done()) throw InvalidStateError("Future is already done");
    s_->set_exception(std::move(e));
  }
  decltype(auto) result() const { return detail::read_result<T>(*s_, false); }
  std::exception_ptr exception() const { return s_->exception(); }
  void add_done_callback(std::function<void()> f) { s_->add_done_callback(std::move(f)); }

  auto operator co_await() const {
    auto get = [](detail::FutureState<T>& s) -> decltype(auto) {
      return detail::read_result<T>(s, false);
    };
    return detail::FutureAwaiter<detail::FutureState<T>, decltype(get)>(s_, get);
  }

 private:
  detail::Ref<detail::FutureState<T>> s_;
};

}  // namespace corun
