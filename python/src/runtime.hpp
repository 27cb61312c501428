// The bridge between Python and corun's C++ loop: one process-wide LoopThread
// (created on first use, stopped at interpreter exit) and Call, one piece of C++
// work seen from Python. A Call is started at most once, either
//   - awaited: start() creates an asyncio Future on the caller's running loop
//     (whatever loop it is: asyncio's, uvloop's, a Jupyter kernel's) and submits
//     the task to the loop thread; the C++ completion reaches that Future through
//     loop.call_soon_threadsafe, and cancelling the Future cancels the C++ task;
//   - or waited for: wait() blocks the calling thread with the GIL released,
//     checking for Ctrl-C every few milliseconds (KeyboardInterrupt cancels the
//     C++ task and propagates). It works inside a running asyncio loop too: the
//     C++ loop is on its own thread, so nothing waits on the blocked one.
//
// Threading rules kept here: Python objects are touched only with the GIL held;
// C++ loop objects only on the loop thread (tasks submitted there); the two
// meet only through ConcurrentFuture, whose callbacks take the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <corun/corun.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace corun::python {

namespace py = pybind11;

// The loop thread, started on first use. Raises RuntimeError once the
// interpreter is shutting down (after shutdown()).
LoopThread& loop_thread();
// Stops the loop thread: running tasks are cancelled and awaited. Called at
// interpreter exit (atexit); releases the GIL while it waits. Idempotent.
void shutdown();

// How many fork()s separate this process from the one that imported the module
// (0 there, 1 in its children, ...). A fork's child starts its own loop thread;
// C++ objects made by the parent's (a session's connections, whose sockets the
// parent still uses) are not the child's to use or close: it leaves them.
std::uint64_t fork_generation() noexcept;

// Runs f on the loop thread if it is still running; otherwise leaks what f owns
// on purpose (its C++ objects belong to a loop that no longer exists, so
// destroying them on this thread would be wrong). f must not touch Python.
void post_to_loop_or_leak(std::function<void()> f);

// The Python exception object for a C++ exception (corun.ClientError family,
// TimeoutError, asyncio.CancelledError, ...). GIL held.
py::object exception_object(const std::exception_ptr& e);
// Raises it as the current Python exception (throws py::error_already_set).
[[noreturn]] void raise_exception_object(py::handle exception);
// Converts the exception being handled (inside a catch block) and raises it.
[[noreturn]] void reraise_as_python();

// Blocks the calling thread for good. For a daemon thread while the interpreter
// exits: the process's exit ends it.
[[noreturn]] inline void park_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

// Takes the GIL back (after PyEval_SaveThread). A daemon thread that does so
// while the interpreter finalizes is ended by Python with pthread_exit, a
// forced unwind, which would run the destructors of the Python references on
// this thread's stack (a Call, pybind11's argument casters) without the GIL,
// racing the finalizing main thread. The thread is parked instead, as Python
// 3.14 parks such threads: the handler never returns, so the unwind never
// goes on. (A C function: the forced unwind is the only thing that can leave
// it by unwinding. Caught with ..., not abi::__forced_unwind&: that reference
// would be bound to no C++ object, which UBSan reports.)
inline void take_gil_back(PyThreadState* state) {
  try {
    PyEval_RestoreThread(state);
  } catch (...) {
    park_forever();
  }
}

// Runs f() with the GIL released and returns its value (R default-constructible).
// Not pybind11's gil_scoped_release: that one takes the GIL back in a noexcept
// destructor, where Python's forced unwind of a daemon thread at exit (above)
// would be std::terminate.
template <class F>
auto without_gil(F f) -> decltype(f()) {
  using R = decltype(f());
  PyThreadState* state = PyEval_SaveThread();
  if constexpr (std::is_void_v<R>) {
    try {
      f();
    } catch (...) {
      take_gil_back(state);
      throw;
    }
    take_gil_back(state);
  } else {
    R result{};
    try {
      result = f();
    } catch (...) {
      take_gil_back(state);
      throw;
    }
    take_gil_back(state);
    return result;
  }
}

// Type-erased ConcurrentFuture plus the conversion of its value to Python.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual bool cancel() = 0;       // any thread
  virtual void cancel_task() = 0;  // any thread: done once the work has ended
  virtual bool wait_for(std::chrono::milliseconds timeout) = 0;  // any thread, no GIL needed
  virtual void add_done_callback(std::function<void()> f) = 0;   // f runs on the completing thread
  // Any thread, done: drops the value nobody will take (outcome() is not
  // called afterwards), so what it holds goes back now.
  virtual void discard() = 0;
  // GIL held, done: the converted value; on failure the exception object and
  // failed = true.
  virtual py::object outcome(bool& failed) = 0;
};

template <class T, class Convert>
class PendingOf final : public Pending {
 public:
  PendingOf(ConcurrentFuture<T> future, Convert convert)
      : future_(std::move(future)), convert_(std::move(convert)) {}
  bool cancel() override { return future_.cancel(); }
  void cancel_task() override { future_.cancel_task(); }
  bool wait_for(std::chrono::milliseconds timeout) override { return future_.wait_for(timeout); }
  void add_done_callback(std::function<void()> f) override {
    future_.add_done_callback(std::move(f));
  }
  void discard() override { future_.discard_value(); }
  py::object outcome(bool& failed) override {
    failed = false;
    try {
      if constexpr (std::is_void_v<T>) {
        future_.get();
        return convert_();
      } else {
        return convert_(future_.get());
      }
    } catch (py::error_already_set& e) {
      failed = true;
      return e.value();
    } catch (...) {
      failed = true;
      return exception_object(std::current_exception());
    }
  }

 private:
  ConcurrentFuture<T> future_;
  Convert convert_;
};

class Call {
 public:
  using Submit = std::function<std::shared_ptr<Pending>()>;
  // Told which asyncio loop the result goes to (start()), or null (wait(),
  // submit(): a blocking caller), just before the work is submitted; GIL held.
  using OnSubmit = std::function<void(PyObject* loop)>;
  explicit Call(Submit submit) : submit_(std::move(submit)) {}
  void on_submit(OnSubmit f) { on_submit_ = std::move(f); }

  // An asyncio Future on the running loop (RuntimeError when none runs).
  py::object start();
  // Blocks until done; the value, or raises. on_interrupt (None or a callable)
  // decides what Ctrl-C does: None cancels the work and raises
  // KeyboardInterrupt at once; a callable is called instead (it asks the work
  // to wind down, e.g. a worker's graceful stop) and the wait goes on, then
  // KeyboardInterrupt is raised once the work has ended; a second Ctrl-C
  // cancels and raises at once.
  py::object wait(const py::object& on_interrupt);
  // Submits the work now without waiting (a producer feeding it from this
  // thread); wait() then waits for it. Not with start().
  void submit();
  // Cancels work submitted by submit() (no-op before, or once done).
  void cancel();
  // Cancels the work start() or wait() submitted without cancelling start()'s
  // Future, which completes once the work has ended (its cleanup run), and
  // without ending wait(), which returns then: for a caller that must not go
  // on before (corun.fetch: its report written). No-op before either.
  void cancel_started();

 private:
  std::shared_ptr<Pending> take_and_submit(PyObject* loop);
  Submit submit_;
  OnSubmit on_submit_;
  std::shared_ptr<Pending> submitted_;  // after submit(), until wait() takes it
  std::weak_ptr<Pending> started_;      // after start() or wait()
};

// A task waiting to be submitted. Dropped unsubmitted (a coroutine that was
// never awaited), it is destroyed on the loop thread: its arguments may own
// loop-bound objects (a session).
template <class T>
struct UnsubmittedTask {
  std::optional<Task<T>> task;
  explicit UnsubmittedTask(Task<T> t) : task(std::move(t)) {}
  UnsubmittedTask(const UnsubmittedTask&) = delete;
  UnsubmittedTask& operator=(const UnsubmittedTask&) = delete;
  ~UnsubmittedTask() {
    if (!task) return;
    auto left = std::make_shared<Task<T>>(std::move(*task));
    post_to_loop_or_leak([left]() mutable { left.reset(); });
  }
};

// A Call that runs task on the loop thread and converts its value with convert
// (T&& -> py::object, or () -> py::object for void). convert runs with the GIL
// held on the thread that receives the result; it must own no Python object
// (it may be destroyed on the loop thread). The task is created now, its
// arguments already C++ values, and submitted when the Call starts.
template <class T, class Convert>
Call make_call(Task<T> task, Convert convert) {
  auto box = std::make_shared<UnsubmittedTask<T>>(std::move(task));
  return Call([box, convert = std::move(convert)]() -> std::shared_ptr<Pending> {
    LoopThread& lt = loop_thread();  // raises at interpreter exit, before the task moves
    Task<T> t = std::move(*box->task);
    box->task.reset();
    ConcurrentFuture<T> f = lt.submit(std::move(t));
    return std::make_shared<PendingOf<T, Convert>>(std::move(f), convert);
  });
}

void bind_runtime(py::module_& m);

}  // namespace corun::python
