// run(), Runner and run_or_schedule(): how a program enters the loop.
//
// run(task) is asyncio.run: a new loop, the task driven to completion, then an
// orderly shutdown (remaining tasks cancelled and awaited, async generators
// closed, the default executor drained, the loop closed), even when the task
// failed (semantic 2). Called where a loop already runs on this thread it fails
// at once, creating nothing, and says what to do instead (semantic 1).
//
// Runner is asyncio.Runner: one loop across many run() calls; tasks left
// running are frozen between calls and resume on the next (semantic 3).
//
// SIGINT (semantic 4): while run()/Runner::run drives the main thread and
// SIGINT has its default disposition, the first Ctrl-C cancels the main task (it
// sees CancelledError and can clean up) and run() then throws KeyboardInterrupt;
// a second Ctrl-C stops the loop and raises KeyboardInterrupt at once.
#pragma once

#include <chrono>
#include <memory>

#include "corun/core/loop.hpp"

namespace corun {

namespace detail {
extern const char* const kRunInLoopMessage;
extern const char* const kRunnerRunInLoopMessage;
}  // namespace detail

class Runner {
 public:
  explicit Runner(bool debug = false);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  template <class T>
  T run(Task<T> main, std::string name = {});
  // Cancels what is left, closes async generators, drains the executor and
  // closes the loop. Idempotent.
  void close();
  // The runner's loop (created on first use). RuntimeError once closed.
  Loop& loop();
  // Drives the loop until task (one of this runner's loop) is done, with the
  // same SIGINT handling as run(); rethrows what the task ended with.
  template <class T>
  void drive(TaskHandle<T>& task);

 private:
  class SigintScope;
  void check_runnable();
  void run_main(detail::TaskBase* main);
  std::unique_ptr<Loop> loop_;
  bool debug_;
  bool closed_ = false;
  int interrupt_count_ = 0;
  bool hard_interrupt_ = false;
};

template <class T>
T Runner::run(Task<T> main, std::string name) {
  check_runnable();
  TaskHandle<T> task = loop().create_task(std::move(main), std::move(name));
  drive(task);
  return detail::take_result(task);
}

template <class T>
void Runner::drive(TaskHandle<T>& task) {
  try {
    run_main(task.state());
  } catch (const CancelledError&) {
    if (interrupt_count_ > 0 && task.uncancel() == 0) throw KeyboardInterrupt();
    throw;
  }
}

// asyncio.run(main). RuntimeError ("run() cannot be called from a running event
// loop ...") when a loop already runs on this thread.
template <class T>
T run(Task<T> main, bool debug = false) {
  if (try_get_running_loop()) throw RuntimeError(detail::kRunInLoopMessage);
  Runner runner(debug);
  if constexpr (std::is_void_v<T>) {
    runner.run(std::move(main));
    runner.close();
  } else {
    T value = runner.run(std::move(main));
    runner.close();
    return value;
  }
}

// The portable call for library code that may or may not be inside a loop: with
// no loop running on this thread, runs task to completion (like run()) and
// returns a finished handle (its result() gives the value or rethrows); inside
// a running loop, schedules it (create_task) and returns at once.
template <class T>
TaskHandle<T> run_or_schedule(Task<T> task) {
  if (Loop* loop = try_get_running_loop()) return loop->create_task(std::move(task));
  Runner runner;
  TaskHandle<T> handle = runner.loop().create_task(std::move(task));
  try {
    runner.drive(handle);  // Ctrl-C behaves as in run()
  } catch (const KeyboardInterrupt&) {
    throw;
  } catch (...) {  // the outcome stays in the handle, for result() to rethrow
  }
  runner.close();
  return handle;
}

}  // namespace corun
