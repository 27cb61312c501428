#include "corun/core/run.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "corun/core/log.hpp"
#include "corun/core/time.hpp"

namespace corun {

namespace detail {
const char* const kRunInLoopMessage =
    "run() cannot be called from a running event loop. This code already runs inside a corun "
    "loop (a task or a callback). Instead: `co_await` the task from your coroutine; or start it "
    "with create_task(task) and keep the handle; or call run_or_schedule(task), which runs it "
    "when no loop is running and schedules it when one is; or, from another thread, submit it "
    "to a LoopThread (LoopThread::submit) or use run_coroutine_threadsafe.";
const char* const kRunnerRunInLoopMessage =
    "Runner.run() cannot be called from a running event loop. Inside a loop, `co_await` the "
    "task or schedule it with create_task(); from another thread, use LoopThread::submit.";

// Closes the async generators still suspended (async_generator.cpp).
Task<void> shutdown_async_generators(Loop& loop);
}  // namespace detail

namespace {

bool on_main_thread() {
  return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid));
}

bool sigint_is_default() {
  struct sigaction current {};
  if (::sigaction(SIGINT, nullptr, &current) != 0) return false;
  return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
}

// Awaits each task, ignoring how it ended (shutdown reports failures itself).
Task<void> wait_all(std::vector<detail::Ref<detail::TaskBase>> tasks) {
  for (auto& t : tasks) {
    auto ignore = [](detail::TaskBase&) {};
    co_await detail::FutureAwaiter<detail::TaskBase, decltype(ignore)>(t, ignore);
  }
}

void cancel_all_tasks(Loop& loop) {
  auto tasks = loop.all_tasks();
  if (tasks.empty()) return;
  for (auto& t : tasks) t->cancel();
  loop.run_until_complete(wait_all(tasks));
  for (auto& t : tasks) {
    if (t->cancelled() || !t->done()) continue;
    if (std::exception_ptr e = t->exception()) {
      loop.call_exception_handler({"unhandled exception during run() shutdown", e, t->name()});
    }
  }
}

Task<void> shutdown_default_executor(Loop& loop, std::chrono::seconds bound) {
  auto deadline = Clock::now() + bound;
  while (loop.executor_jobs() > 0) {
    if (Clock::now() >= deadline) {
      log(LogLevel::warning,
          fmt::format("The default executor did not finish its {} job(s) within {} seconds",
                      loop.executor_jobs(), bound.count()));
      co_return;
    }
    co_await sleep(std::chrono::milliseconds(5));
  }
}

}  // namespace

// Installs the SIGINT handler for the duration of one Runner::run on the main thread.
class Runner::SigintScope {
 public:
  SigintScope(Runner& runner, detail::TaskBase* main) : runner_(runner), main_(main) {
    if (!on_main_thread() || !sigint_is_default()) return;
    loop_ = &runner.loop();
    loop_->add_signal_handler(SIGINT, [this] { on_sigint(); });
  }
  ~SigintScope() {
    if (loop_ != nullptr && !loop_->is_closed()) loop_->remove_signal_handler(SIGINT);
  }
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;

 private:
  void on_sigint() {
    ++runner_.interrupt_count_;
    if (runner_.interrupt_count_ == 1 && !main_->done()) {
      main_->cancel();
      return;
    }
    runner_.hard_interrupt_ = true;
    runner_.loop().stop();
  }
  Runner& runner_;
  detail::TaskBase* main_;
  Loop* loop_ = nullptr;  // set while the handler is installed
};

Runner::Runner(bool debug) : debug_(debug) {}

Runner::~Runner() {
  try {
    close();
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("Runner shutdown failed: {}", e.what()));
  } catch (...) {
    log(LogLevel::error, "Runner shutdown failed");
  }
}

Loop& Runner::loop() {
  if (closed_) throw RuntimeError("Runner is closed");
  if (!loop_) {
    loop_ = std::make_unique<Loop>();
    loop_->set_debug(debug_);
  }
  return *loop_;
}

void Runner::check_runnable() {
  if (closed_) throw RuntimeError("Runner is closed");
  if (try_get_running_loop()) throw RuntimeError(detail::kRunnerRunInLoopMessage);
}

void Runner::run_main(detail::TaskBase* main) {
  interrupt_count_ = 0;
  hard_interrupt_ = false;
  SigintScope sigint(*this, main);
  loop_->run_until_done(main);
  if (hard_interrupt_) throw KeyboardInterrupt();
  if (!main->done()) throw RuntimeError("Event loop stopped before Future completed.");
  main->check_result();
}

void Runner::close() {
  if (closed_) return;
  if (!loop_) {
    closed_ = true;
    return;
  }
  if (loop_->is_running())
    throw RuntimeError("Runner.close() cannot be called from a running event loop");
  try {
    loop_->begin_shutdown();
    cancel_all_tasks(*loop_);
    loop_->run_until_complete(detail::shutdown_async_generators(*loop_));
    loop_->run_until_complete(shutdown_default_executor(*loop_, std::chrono::seconds(300)));
  } catch (...) {
    closed_ = true;
    loop_->close();
    throw;
  }
  closed_ = true;
  loop_->close();
}

}  // namespace corun
