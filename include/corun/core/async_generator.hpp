// AsyncGenerator<T>: a coroutine that co_yields values (Python's async
// generator). Consume with `while (auto v = co_await gen.next()) use(*v);`; an
// empty optional marks the end, an exception in the generator comes out of
// next(). It runs inside the consuming task, so cancellation reaches whatever
// it awaits. aclose() (and run()'s shutdown, for generators still suspended
// then: semantic 2) throws GeneratorExit at the suspended co_yield so the
// generator's cleanup runs. Destroying the object destroys the frame.
#pragma once

#include <coroutine>
#include <optional>
#include <string>
#include <utility>

#include "corun/core/loop.hpp"

namespace corun {

namespace detail {
// A started generator's entry on its loop's list, for shutdown.
struct AsyncGenLink : ListNode {
  PromiseBase* promise = nullptr;
  std::coroutine_handle<> handle;
  Loop* loop = nullptr;
  bool closing = false;
  bool running = false;  // a next() or aclose() is inside it (another would take it over)
};

// asyncio refuses a second anext() (or aclose()) while one is in progress:
// the first awaiter would never be resumed.
inline void check_not_running(const AsyncGenLink& link, const char* what) {
  if (link.running) {
    throw RuntimeError(std::string(what) + ": asynchronous generator is already running");
  }
}

// Resumes a generator (for next() or for closing) from the awaiting task.
struct GenResume {
  AsyncGenLink* link;
  bool await_ready() const noexcept { return link->handle.done(); }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) noexcept {
    link->promise->continuation_ = consumer;
    link->promise->owner_ = consumer.promise().owner_;
    return link->handle;
  }
  void await_resume() const noexcept {}
};

Task<void> close_async_generator(AsyncGenLink& link);
}  // namespace detail

template <class T>
class AsyncGenerator {
 public:
  struct promise_type : detail::PromiseBase, detail::AsyncGenLink {
    std::optional<T> value_;
    AsyncGenerator get_return_object() noexcept {
      return AsyncGenerator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    struct YieldAwaiter {
      promise_type* p;
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
        return p->continuation_;
      }
      void await_resume() const {
        if (p->closing) throw GeneratorExit();
      }
    };
    template <class U>
    YieldAwaiter yield_value(U&& v) {
      value_.emplace(std::forward<U>(v));
      return YieldAwaiter{this};
    }
    void return_void() noexcept {}
  };
  using Handle = std::coroutine_handle<promise_type>;

  AsyncGenerator(AsyncGenerator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~AsyncGenerator() { reset(); }

  // The next value, or an empty optional once the generator has returned.
  Task<std::optional<T>> next() {
    promise_type& p = h_.promise();
    if (h_.done()) co_return std::nullopt;
    if (!p.loop) {
      p.promise = &p;
      p.handle = h_;
      p.loop = &get_running_loop();
      p.loop->async_generators().push_back(static_cast<detail::AsyncGenLink*>(&p));
    }
    detail::check_not_running(p, "anext()");
    p.value_.reset();
    // (Not a guard object: a frame destroyed while suspended here, at a loop's
    // close, must not write into a generator that may be gone already.)
    p.running = true;
    co_await detail::GenResume{&p};
    p.running = false;
    if (h_.done()) {
      detail::IntrusiveList::unlink(static_cast<detail::AsyncGenLink*>(&p));
      if (p.exception_) std::rethrow_exception(std::exchange(p.exception_, nullptr));
      co_return std::nullopt;
    }
    co_return std::move(p.value_);
  }

  // Throws GeneratorExit into the suspended generator and runs it to its end.
  Task<void> aclose() {
    if (!h_ || h_.done() || !h_.promise().loop) co_return;
    detail::check_not_running(h_.promise(), "aclose()");
    h_.promise().running = true;
    Task<void> closing = detail::close_async_generator(h_.promise());
    try {
      co_await closing;
    } catch (...) {
      h_.promise().running = false;
      throw;
    }
    h_.promise().running = false;
  }

 private:
  explicit AsyncGenerator(Handle h) noexcept : h_(h) {}
  void reset() noexcept {
    if (h_) {
      detail::IntrusiveList::unlink(static_cast<detail::AsyncGenLink*>(&h_.promise()));
      h_.destroy();
      h_ = {};
    }
  }
  Handle h_;
};

}  // namespace corun
