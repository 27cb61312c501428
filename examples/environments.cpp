// corun in the five environments its users meet (docs/environments.md):
//
//   1. a plain main() calling run();
//   2. code already inside the loop calling run(): the error, then run_or_schedule;
//   3. a persistent host: a Runner across calls, a LoopThread receiving work, and a
//      hand-written poll() loop driving a corun::Loop with no extra thread;
//   4. other threads submitting work; blocking on it from the loop's own thread;
//   5. Ctrl-C (SIGINT) during run().
//
// Each section prints what happens; tests/examples checks these lines.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>

#include <atomic>
#include <corun/corun.hpp>
#include <csignal>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

corun::Task<int> answer() {
  co_await corun::sleep(1ms);
  co_return 42;
}

corun::Task<int> square(int x) {
  co_await corun::sleep(0s);
  const int result = x * x;
  co_return result;
}

// ---------------------------------------------------------------- 1. plain main

void plain_main() {
  fmt::print("== 1. A plain main() calling run()\n");
  int value = corun::run(answer());
  fmt::print("1. run(answer()) returned {}\n", value);
}

// ---------------------------------------------------------------- 2. inside the loop

// A library function written for synchronous callers: it calls run() itself.
int library_call_that_uses_run() {
  return corun::run(answer());
}

corun::Task<void> code_inside_the_loop() {
  corun::Loop& loop = corun::get_running_loop();
  std::size_t tasks_before = loop.all_tasks().size();
  try {
    library_call_that_uses_run();
    fmt::print("2. run() inside the loop did not fail (unexpected)\n");
  } catch (const corun::RuntimeError& e) {
    fmt::print("2. run() inside the loop raised RuntimeError: {}\n", e.what());
  }
  fmt::print("2. tasks the failed run() left behind: {}\n", loop.all_tasks().size() - tasks_before);

  // The portable call: inside a loop it schedules and returns at once.
  corun::TaskHandle<int> handle = corun::run_or_schedule(answer());
  fmt::print("2. run_or_schedule inside the loop: scheduled, done() = {}\n", handle.done());
  int value = co_await handle;
  fmt::print("2. co_await of its handle: {}\n", value);
}

void inside_the_loop() {
  fmt::print("== 2. Code already inside the loop calling run()\n");
  corun::run(code_inside_the_loop());
  // With no loop running, the same call runs the task to completion.
  corun::TaskHandle<int> handle = corun::run_or_schedule(answer());
  fmt::print("2. run_or_schedule with no loop running: done() = {}, result() = {}\n", handle.done(),
             handle.result());
}

// ---------------------------------------------------------------- 3. persistent host

struct Inbox {
  corun::Queue<std::string> queue;
  std::vector<std::string> seen;
};

corun::Task<void> consumer(Inbox& inbox) {
  for (;;) inbox.seen.push_back(co_await inbox.queue.get());
}

corun::Task<corun::TaskHandle<void>> start_consumer(Inbox& inbox) {
  corun::TaskHandle<void> task = corun::create_task(consumer(inbox), "consumer");
  co_await inbox.queue.put("first");
  co_await corun::sleep(0s);  // the consumer takes "first" and waits for more
  co_return task;
}

corun::Task<void> let_others_run() {
  co_await corun::sleep(0s);
}

std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

void runner_across_calls() {
  Inbox inbox;  // outlives the runner: its tasks refer to it
  corun::Runner runner;
  corun::TaskHandle<void> task = runner.run(start_consumer(inbox));
  fmt::print("3. Runner, after the first run(): consumer done() = {}, seen: {}\n", task.done(),
             joined(inbox.seen));
  inbox.queue.put_nowait("second");  // between calls: nothing runs, the consumer is frozen
  fmt::print("3. Runner, between calls: \"second\" is queued, consumer still saw: {}\n",
             joined(inbox.seen));
  runner.run(let_others_run());
  fmt::print("3. Runner, after the second run(): the consumer resumed and saw: {}\n",
             joined(inbox.seen));
  runner.close();
  fmt::print("3. Runner, after close(): consumer cancelled() = {}\n", task.cancelled());
}

corun::Task<bool> runs_on_another_thread(std::thread::id caller) {
  co_await corun::sleep(0s);
  co_return std::this_thread::get_id() != caller;
}

void loop_thread_receiving_work() {
  // A persistent loop on its own thread (a GUI, a server, the Python binding).
  corun::LoopThread worker;
  int value = worker.submit(square(7)).get();
  bool elsewhere = worker.submit(runs_on_another_thread(std::this_thread::get_id())).get();
  fmt::print(
      "3. LoopThread: submit(square(7)).get() = {}, ran on the loop's thread, not the caller's: "
      "{}\n",
      value, elsewhere);
  worker.stop();
}

corun::Task<int> ticker(int ticks) {
  for (int i = 0; i < ticks; ++i) co_await corun::sleep(2ms);
  co_return ticks;
}

void host_poll_loop() {
  corun::Loop loop;  // owned by the host; no thread of its own
  corun::TaskHandle<int> task = loop.create_task(ticker(3));
  int host_iterations = 0;
  bool loop_ran_between_iterations = false;
  while (!task.done()) {
    // The host's own wait: a GUI toolkit or REPL would add its own descriptors here.
    pollfd fds[1] = {{loop.backend_fd(), POLLIN, 0}};
    ::poll(fds, 1, loop.next_timeout());
    loop.run_once();  // runs what is ready, never blocks
    ++host_iterations;
    loop_ran_between_iterations |= corun::try_get_running_loop() != nullptr;
  }
  fmt::print("3. host poll() loop: ticker(3) returned {} after {} host iterations\n", task.result(),
             host_iterations > 1 ? "several" : "one");
  fmt::print("3. host poll() loop: a corun loop was running between run_once() calls: {}\n",
             loop_ran_between_iterations);
}

void persistent_host() {
  fmt::print("== 3. A persistent host\n");
  runner_across_calls();
  loop_thread_receiving_work();
  host_poll_loop();
}

// ---------------------------------------------------------------- 4. other threads

corun::Task<std::string> block_on_own_loop() {
  corun::ConcurrentFuture<int> future =
      corun::run_coroutine_threadsafe(square(3), corun::get_running_loop());
  try {
    future.get();  // would wait for this very thread: corun refuses
    co_return "no error (unexpected)";
  } catch (const corun::RuntimeError& e) {
    co_return fmt::format("RuntimeError: {}", e.what());
  }
}

void other_threads() {
  fmt::print("== 4. Other threads\n");
  constexpr int kThreads = 4;
  constexpr int kEach = 250;
  corun::LoopThread worker;
  std::atomic<long> sum{0};
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<corun::ConcurrentFuture<int>> futures;
      futures.reserve(kEach);
      for (int i = 0; i < kEach; ++i) {
        int x = t * kEach + i;
        futures.push_back(i % 2 == 0 ? worker.submit(square(x))
                                     : corun::run_coroutine_threadsafe(square(x), worker.loop()));
      }
      for (auto& f : futures) {
        sum += f.get();
        ++delivered;
      }
    });
  }
  for (auto& th : threads) th.join();
  long expected = 0;
  for (long x = 0; x < static_cast<long>(kThreads) * kEach; ++x) expected += x * x;
  fmt::print(
      "4. {} threads x {} coroutines via LoopThread::submit and run_coroutine_threadsafe: "
      "{} results, sum {} (expected {})\n",
      kThreads, kEach, delivered.load(), sum.load(), expected);
  fmt::print("4. ConcurrentFuture::get() on the loop's own thread: {}\n",
             worker.submit(block_on_own_loop()).get());
  worker.stop();
}

// ---------------------------------------------------------------- 5. SIGINT

corun::Task<void> interrupted_main(bool& cleaned_up) {
  // Stands in for the user pressing Ctrl-C while the program waits.
  corun::get_running_loop().call_later(10ms, [] { std::raise(SIGINT); });
  std::exception_ptr cancelled;
  try {
    co_await corun::sleep(10s);
    fmt::print("5. main task: the sleep ended with no interrupt (unexpected)\n");
  } catch (const corun::CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    fmt::print("5. main task: CancelledError at its co_await; cleaning up\n");
    co_await corun::sleep(1ms);  // cleanup may itself await (C++ allows no co_await inside catch)
    cleaned_up = true;
    std::rethrow_exception(cancelled);  // let the cancellation finish the task
  }
}

void sigint() {
  fmt::print("== 5. SIGINT (Ctrl-C) during run()\n");
  fmt::print(
      "5. the first SIGINT cancels the main task, which can clean up; run() then raises "
      "KeyboardInterrupt; a second SIGINT raises at once\n");
  // corun, like asyncio, takes over SIGINT only where it has its default action;
  // a shell starts background jobs with SIGINT ignored, so restore it here.
  std::signal(SIGINT, SIG_DFL);
  bool cleaned_up = false;
  try {
    corun::run(interrupted_main(cleaned_up));
    fmt::print("5. run() returned normally (unexpected)\n");
  } catch (const corun::KeyboardInterrupt&) {
    fmt::print("5. run() raised KeyboardInterrupt; the main task's cleanup had run: {}\n",
               cleaned_up);
  }
}

}  // namespace

int main() {
  plain_main();
  inside_the_loop();
  persistent_host();
  other_threads();
  sigint();
  fmt::print("done\n");
  return 0;
}
