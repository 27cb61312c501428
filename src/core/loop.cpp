#include "corun/core/loop.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "corun/core/async_generator.hpp"
#include "corun/core/log.hpp"
#include "corun/core/threads.hpp"

namespace corun {

namespace {
thread_local Loop* t_running_loop = nullptr;

struct FunctionCallback final : detail::Callback {
  explicit FunctionCallback(std::function<void()> f) : fn(std::move(f)) {}
  void run() override { fn(); }
  std::string describe() const override {
    return fmt::format("callback {}", detail::type_name(fn.target_type()));
  }
  std::function<void()> fn;
};

struct UniqueCallback final : detail::Callback {
  explicit UniqueCallback(detail::UniqueFunction f) : fn(std::move(f)) {}
  void run() override { fn(); }
  std::string describe() const override { return "threadsafe callback"; }
  detail::UniqueFunction fn;
};

struct TimerEntry final : detail::Callback {
  TimerEntry(Clock::time_point w, std::uint64_t s, std::function<void()> f)
      : when(w), seq(s), fn(std::move(f)) {}
  void run() override { fn(); }
  std::string describe() const override {
    return fmt::format("timer {}", detail::type_name(fn.target_type()));
  }
  Clock::time_point when;
  std::uint64_t seq;
  std::function<void()> fn;
};

// Min-heap order on (when, seq): earliest deadline first, FIFO among equals.
struct TimerLater {
  template <class R>
  bool operator()(const R& a, const R& b) const noexcept {
    auto* x = static_cast<const TimerEntry*>(a.get());
    auto* y = static_cast<const TimerEntry*>(b.get());
    return x->when != y->when ? x->when > y->when : x->seq > y->seq;
  }
};

// Sets the running loop of this thread for the duration of a run.
class RunningScope {
 public:
  RunningScope(Loop* loop, bool& running, bool& stopping, std::thread::id& tid)
      : loop_(loop), running_(running), stopping_(stopping) {
    running_ = true;
    tid = std::this_thread::get_id();
    t_running_loop = loop_;
  }
  ~RunningScope() {
    t_running_loop = nullptr;
    running_ = false;
    stopping_ = false;
  }

 private:
  Loop* loop_;
  bool& running_;
  bool& stopping_;
};
}  // namespace

Loop* try_get_running_loop() noexcept {
  return t_running_loop;
}

Loop& get_running_loop() {
  if (!t_running_loop) throw RuntimeError("no running event loop");
  return *t_running_loop;
}

Loop::Loop() {
  int rc = uv_loop_init(&uv_);
  if (rc != 0) throw RuntimeError(fmt::format("uv_loop_init failed: {}", uv_strerror(rc)));
  uv_.data = this;
  uv_timer_init(&uv_, &timer_);
  timer_.data = this;
  uv_async_init(&uv_, &async_,
                [](uv_async_t* a) { static_cast<Loop*>(a->data)->drain_threadsafe(); });
  async_.data = this;
  lifeline_ = std::make_shared<detail::LoopLifeline>();
  lifeline_->loop = this;
  thread_id_ = std::this_thread::get_id();
  // Registers the wake-up fd with epoll now, so a host polling backend_fd()
  // before the first iteration already sees call_soon_threadsafe.
  uv_run(&uv_, UV_RUN_NOWAIT);
}

Loop::~Loop() {
  try {
    close();
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("closing a loop in its destructor failed: {}", e.what()));
  }
}

double Loop::time() const noexcept {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

void Loop::check_closed() const {
  if (is_closed()) throw RuntimeError("Event loop is closed");
}

void Loop::check_runnable() const {
  check_closed();
  if (running_) throw RuntimeError("This event loop is already running");
  if (t_running_loop) throw RuntimeError("Cannot run the event loop while another loop is running");
}

bool Loop::in_loop_thread() const noexcept {
  return running_ && std::this_thread::get_id() == thread_id_;
}

void Loop::check_thread(const char* what) const {
  if (running_ && std::this_thread::get_id() != thread_id_) {
    throw RuntimeError(fmt::format(
        "Non-thread-safe operation invoked on an event loop other than the current one ({}); "
        "use call_soon_threadsafe or run_coroutine_threadsafe from other threads",
        what));
  }
}

void Loop::schedule(detail::Callback* cb) {
  ready_.emplace_back(cb);
  if (in_uv_run_) [[unlikely]]
    uv_stop(&uv_);
}

Handle Loop::call_soon(std::function<void()> f) {
  check_closed();
  if (debug_) check_thread("call_soon");
  detail::Ref<detail::Callback> cb(new FunctionCallback(std::move(f)));
  ready_.push_back(cb);
  if (in_uv_run_) [[unlikely]]
    uv_stop(&uv_);
  return Handle(std::move(cb));
}

Handle Loop::call_later(Clock::duration delay, std::function<void()> f) {
  return call_at(Clock::now() + delay, std::move(f));
}

Handle Loop::call_at(Clock::time_point when, std::function<void()> f) {
  check_closed();
  if (debug_) check_thread("call_at");
  detail::Ref<detail::Callback> t(new TimerEntry(when, timer_seq_++, std::move(f)));
  timers_.push_back(t);
  std::push_heap(timers_.begin(), timers_.end(), TimerLater{});
  // Our uv_timer was armed for the earliest timer before this one existed.
  if (in_uv_run_) [[unlikely]]
    uv_stop(&uv_);
  return Handle(std::move(t));
}

void Loop::call_soon_threadsafe(detail::UniqueFunction f) {
  // The wake-up under the mailbox's lock: close() closes async_ after closing
  // the mailbox, so no uv_async_send can reach a closing handle. Only the first
  // call since the last drain sends one (libuv would coalesce the rest anyway).
  if (!threadsafe_.post(std::move(f), [this] { uv_async_send(&async_); })) {
    throw RuntimeError("Event loop is closed");
  }
}

void Loop::drain_threadsafe() {
  if (!threadsafe_.pending()) return;
  for (auto& f : threadsafe_.drain()) ready_.emplace_back(new UniqueCallback(std::move(f)));
}

int Loop::compute_timeout() const noexcept {
  if (!ready_.empty() || stopping_ || threadsafe_.pending()) return 0;
  if (timers_.empty()) return -1;
  auto* t = static_cast<const TimerEntry*>(timers_.front().get());
  auto delta = t->when - Clock::now();
  if (delta <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(delta).count();
  return static_cast<int>(std::min<long long>(ms, 24LL * 3600 * 1000));
}

int Loop::next_timeout() const noexcept {
  int ours = compute_timeout();
  if (ours == 0) return 0;
  int uv = uv_backend_timeout(&uv_);
  if (ours < 0) return uv;
  if (uv < 0) return ours;
  return std::min(ours, uv);
}

int Loop::backend_fd() const noexcept {
  return uv_backend_fd(&uv_);
}

namespace detail {
void (*before_blocking_uv_run)() = nullptr;
}  // namespace detail

void Loop::arm_timer(int timeout_ms) {
  uv_update_time(&uv_);
  // The callback ends the uv_run it fires in. uv runs due timers *before* it polls:
  // when the clock passes the deadline between here and uv_run (libuv's clock has
  // millisecond steps), the timer fires first and, with no other uv timer, uv would
  // then poll with no timeout at all and sleep forever (seen about once in a
  // thousand 1 ms sleeps: Loop.OwnTimerDueBeforeThePollStillWakesTheLoop).
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { uv_stop(t->loop); }, static_cast<std::uint64_t>(timeout_ms), 0);
}

void Loop::iterate(bool may_block) {
  int timeout = may_block ? compute_timeout() : 0;
  Clock::time_point now{};
  if (timeout == 0) {
    // Busy loop (work is ready): poll I/O without blocking, but at most every
    // kBusyPollInterval, so a task switch does not cost an epoll_wait syscall.
    now = Clock::now();
    if (!may_block || now - last_poll_ >= kBusyPollInterval) {
      uv_run(&uv_, UV_RUN_NOWAIT);
      last_poll_ = now;
    }
  } else {
    if (timeout > 0) arm_timer(timeout);
    if (detail::before_blocking_uv_run != nullptr) [[unlikely]] {
      detail::before_blocking_uv_run();
    }
    in_uv_run_ = true;
    uv_run(&uv_, UV_RUN_ONCE);
    in_uv_run_ = false;
    uv_timer_stop(&timer_);
    last_poll_ = Clock::time_point{};
  }
  drain_threadsafe();
  // Due timers join the ready queue in deadline order.
  if (!timers_.empty()) {
    Clock::time_point end = Clock::now();
    while (!timers_.empty()) {
      auto* t = static_cast<TimerEntry*>(timers_.front().get());
      if (!t->handle_cancelled() && t->when > end) break;
      std::pop_heap(timers_.begin(), timers_.end(), TimerLater{});
      detail::Ref<detail::Callback> due = std::move(timers_.back());
      timers_.pop_back();
      if (!due->handle_cancelled()) ready_.push_back(std::move(due));
    }
  }
  run_ready();
}

void Loop::run_ready() {
  // Exactly the callbacks ready now; what they schedule waits for the next iteration.
  std::size_t n = ready_.size();
  for (std::size_t i = 0; i < n && !ready_.empty(); ++i) {
    detail::Ref<detail::Callback> cb = std::move(ready_.front());
    ready_.pop_front();
    if (cb->handle_cancelled()) continue;
    auto started = debug_ ? Clock::now() : Clock::time_point{};
    try {
      cb->run();
    } catch (const std::exception&) {
      call_exception_handler(
          {fmt::format("Exception in {}", cb->describe()), std::current_exception(), {}});
    } catch (const CancelledError&) {
      call_exception_handler(
          {fmt::format("Exception in {}", cb->describe()), std::current_exception(), {}});
    } catch (const KeyboardInterrupt&) {
      throw;  // as asyncio's BaseException: out of the loop
    } catch (...) {
      // Any other type (an int, a type of the caller's own): logged as asyncio
      // logs any exception, not the end of the process.
      call_exception_handler(
          {fmt::format("Exception in {}", cb->describe()), std::current_exception(), {}});
    }
    // (Not for a step during which debug was turned on: no start was taken.)
    if (debug_ && started != Clock::time_point{}) {
      auto took = Clock::now() - started;
      if (took >= slow_callback_duration_) {
        log(LogLevel::warning, fmt::format("Executing {} took {:.3f} seconds", cb->describe(),
                                           std::chrono::duration<double>(took).count()));
      }
    }
  }
}

void Loop::run_forever() {
  check_runnable();
  RunningScope scope(this, running_, stopping_, thread_id_);
  for (;;) {
    iterate(true);
    if (stopping_) break;
  }
}

void Loop::run_once() {
  check_runnable();
  RunningScope scope(this, running_, stopping_, thread_id_);
  iterate(false);
}

void Loop::stop() noexcept {
  stopping_ = true;
}

void Loop::run_until_done(detail::TaskBase* task) {
  struct StopNode final : detail::DoneNode {
    Loop* loop;
    void on_done(detail::FutureBase&) override { loop->stop(); }
  } node;
  node.loop = this;
  if (task->done()) return;
  task->add_done_node(&node);
  try {
    run_forever();
  } catch (...) {
    detail::FutureBase::remove_done_node(&node);
    throw;
  }
  detail::FutureBase::remove_done_node(&node);
}

void Loop::task_finished(detail::TaskBase* t) noexcept {
  t->drop_loop_ownership();
}

std::vector<detail::Ref<detail::TaskBase>> Loop::all_tasks() const {
  std::vector<detail::Ref<detail::TaskBase>> out;
  const_cast<detail::IntrusiveList&>(futures_).for_each([&](detail::ListNode* n) {
    detail::FutureBase* f = detail::FutureBase::from_link(n);
    if (f->is_task() && !f->done()) out.emplace_back(static_cast<detail::TaskBase*>(f));
  });
  return out;
}

void Loop::set_exception_handler(ExceptionHandler handler) {
  exception_handler_ = std::move(handler);
}

void Loop::default_exception_handler(const ExceptionContext& ctx) {
  std::string msg = ctx.message;
  if (!ctx.task_name.empty()) msg += fmt::format(" (task '{}')", ctx.task_name);
  if (ctx.exception) msg += fmt::format(": {}", detail::describe_exception(ctx.exception));
  log(LogLevel::error, msg);
}

void Loop::call_exception_handler(const ExceptionContext& ctx) {
  if (!exception_handler_) {
    default_exception_handler(ctx);
    return;
  }
  try {
    exception_handler_(*this, ctx);
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("Unhandled error in exception handler: {}", e.what()));
    default_exception_handler(ctx);
  }
}

namespace {
struct PoolJob {
  uv_work_t req{};
  detail::UniqueFunction work;
  detail::UniqueFunction done;
  int* jobs;
};
}  // namespace

void Loop::queue_work(detail::UniqueFunction work, detail::UniqueFunction done) {
  check_closed();
  check_thread("queue_work");
  auto* job = new PoolJob{{}, std::move(work), std::move(done), &executor_jobs_};
  job->req.data = job;
  ++executor_jobs_;
  int rc = uv_queue_work(
      &uv_, &job->req, [](uv_work_t* req) { static_cast<PoolJob*>(req->data)->work(); },
      [](uv_work_t* req, int) {
        std::unique_ptr<PoolJob> j(static_cast<PoolJob*>(req->data));
        --*j->jobs;
        j->done();
      });
  if (rc != 0) {
    --executor_jobs_;
    delete job;
    throw RuntimeError(fmt::format("the thread pool refused a job: {}", uv_strerror(rc)));
  }
}

struct Loop::SignalWatcher {
  uv_signal_t handle{};
  int signum = 0;
  std::function<void()> callback;
};

void Loop::add_signal_handler(int signum, std::function<void()> f) {
  check_closed();
  check_thread("add_signal_handler");
  for (SignalWatcher* w : signal_watchers_) {
    if (w->signum == signum) {
      w->callback = std::move(f);
      return;
    }
  }
  auto* w = new SignalWatcher;
  w->signum = signum;
  w->callback = std::move(f);
  uv_signal_init(&uv_, &w->handle);
  w->handle.data = w;
  int rc = uv_signal_start(
      &w->handle,
      [](uv_signal_t* h, int) {
        // A copy: the callback may remove (and so free) its own watcher.
        std::function<void()> f = static_cast<SignalWatcher*>(h->data)->callback;
        if (f) f();
      },
      signum);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
             [](uv_handle_t* h) { delete static_cast<SignalWatcher*>(h->data); });
    throw RuntimeError(fmt::format("cannot watch signal {}: {}", signum, uv_strerror(rc)));
  }
  signal_watchers_.push_back(w);
}

bool Loop::remove_signal_handler(int signum) {
  check_thread("remove_signal_handler");
  for (auto it = signal_watchers_.begin(); it != signal_watchers_.end(); ++it) {
    if ((*it)->signum != signum) continue;
    SignalWatcher* w = *it;
    signal_watchers_.erase(it);
    uv_signal_stop(&w->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
             [](uv_handle_t* h) { delete static_cast<SignalWatcher*>(h->data); });
    return true;
  }
  return false;
}

void Loop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (is_closed()) return;
  // Tasks still pending are destroyed ("Task was destroyed but it is pending!"),
  // newest first: a child's frame goes before the parent's that owns what the
  // child waits on or holds (an Event, a Lock's guard, a TaskGroup).
  std::vector<detail::Ref<detail::TaskBase>> pending = all_tasks();
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) (*it)->destroy_pending();
  for (auto& t : pending) t->drop_loop_ownership();
  pending.clear();
  {
    std::lock_guard lock(lifeline_->mutex);
    lifeline_->loop = nullptr;
  }
  closed_.store(true, std::memory_order_release);
  // From here call_soon_threadsafe throws, and no wake-up touches async_ any more.
  threadsafe_.close();  // (the callbacks never run are dropped here)
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  async_generators_.for_each([](detail::ListNode* n) {
    detail::IntrusiveList::unlink(n);
    static_cast<detail::AsyncGenLink*>(n)->loop = nullptr;
  });
  ready_.clear();
  timers_.clear();
  futures_.for_each([](detail::ListNode* n) {
    detail::IntrusiveList::unlink(n);
    detail::FutureBase::from_link(n)->detach_from_loop();
  });
  while (!signal_watchers_.empty()) remove_signal_handler(signal_watchers_.back()->signum);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  // Let close callbacks and queued pool work finish; then give up on stragglers.
  for (int i = 0; i < 1000 && uv_loop_close(&uv_) == UV_EBUSY; ++i) {
    if (i == 10) {
      uv_walk(
          &uv_,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) {
              log(LogLevel::warning,
                  fmt::format("closing a leaked libuv {} handle", uv_handle_type_name(h->type)));
              uv_close(h, nullptr);
            }
          },
          nullptr);
    }
    uv_run(&uv_, i < 10 ? UV_RUN_NOWAIT : UV_RUN_ONCE);
  }
}

}  // namespace corun
