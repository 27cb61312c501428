#include "corun/core/detail/future_base.hpp"

#include <cxxabi.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "corun/core/log.hpp"
#include "corun/core/loop.hpp"

namespace corun {

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
    : Error(fmt::format("{} ({} sub-exception{})", message, exceptions.size(),
                        exceptions.size() == 1 ? "" : "s")),
      exceptions_(std::move(exceptions)) {}

namespace detail {

std::string type_name(const std::type_info& type) {
  int status = -1;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::string describe_exception(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return fmt::format("{}: {}", type_name(typeid(ex)), ex.what());
  } catch (const CancelledError& ex) {
    return fmt::format("CancelledError: {}", ex.what());
  } catch (const KeyboardInterrupt&) {
    return "KeyboardInterrupt";
  } catch (const GeneratorExit&) {
    return "GeneratorExit";
  } catch (...) {
    return "unknown exception";
  }
}

bool is_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string Callback::describe() const {
  return "callback";
}

namespace {
// A user's done callback, waiting in a future's list.
struct FunctionDoneNode final : DoneNode {
  explicit FunctionDoneNode(std::function<void()> f) : fn(std::move(f)) {}
  void on_done(FutureBase& future) override {
    std::function<void()> f = std::move(fn);
    delete this;
    if (Loop* loop = future.loop()) loop->call_soon(std::move(f));
  }
  void on_discard() noexcept override { delete this; }
  std::function<void()> fn;
};
}  // namespace

FutureBase::FutureBase(Loop* loop) : loop_(loop) {
  if (loop_) loop_->register_future(this);
}

FutureBase::~FutureBase() {
  // Completion nodes that are not awaiters are owned by the list.
  callbacks_.for_each([](ListNode* n) {
    IntrusiveList::unlink(n);
    static_cast<DoneNode*>(n)->on_discard();
  });
  if (status() == FutureStatus::finished && exception_ && !retrieved()) {
    ExceptionContext ctx{
        fmt::format("{} exception was never retrieved", is_task() ? "Task" : "Future"),
        exception_,
        {}};
    if (loop_) {
      loop_->call_exception_handler(ctx);
    } else {
      Loop::default_exception_handler(ctx);
    }
  }
  if (loop_) loop_->unregister_future(this);
}

bool FutureBase::cancel(std::string_view message) {
  if (done()) return false;
  set_cancelled(message);
  return true;
}

void FutureBase::set_cancelled(std::string_view message) {
  exception_ = std::make_exception_ptr(CancelledError(std::string(message)));
  complete(FutureStatus::cancelled);
}

void FutureBase::check_result() {
  switch (status()) {
    case FutureStatus::pending:
      throw InvalidStateError("Result is not set.");
    case FutureStatus::cancelled:
      mark_retrieved();
      std::rethrow_exception(exception_);
    case FutureStatus::finished:
      mark_retrieved();
      if (exception_) std::rethrow_exception(exception_);
  }
}

std::exception_ptr FutureBase::exception() {
  if (status() == FutureStatus::pending) throw InvalidStateError("Exception is not set.");
  if (status() == FutureStatus::cancelled) std::rethrow_exception(exception_);
  mark_retrieved();
  return exception_;
}

void FutureBase::add_done_node(DoneNode* node) {
  callbacks_.push_back(node);
}

void FutureBase::add_done_callback(std::function<void()> f) {
  if (done()) {
    if (!loop_) throw RuntimeError("Event loop is closed");
    loop_->call_soon(std::move(f));
    return;
  }
  callbacks_.push_back(new FunctionDoneNode(std::move(f)));
}

void FutureBase::set_exception(std::exception_ptr e) {
  exception_ = std::move(e);
  complete(FutureStatus::finished);
}

void FutureBase::set_finished() {
  complete(FutureStatus::finished);
}

void FutureBase::complete(FutureStatus status) {
  set_status(status);
  // Keep this future alive while its callbacks run (one may drop the last handle).
  Ref<FutureBase> self(this);
  while (ListNode* n = callbacks_.pop_front()) static_cast<DoneNode*>(n)->on_done(*this);
}

// ---------------------------------------------------------------- TaskBase

namespace {
std::atomic<std::uint32_t> g_task_counter{0};
}

TaskBase::TaskBase(Loop* loop, std::coroutine_handle<> root, std::string name)
    : FutureBase(loop),
      id_(g_task_counter.fetch_add(1, std::memory_order_relaxed) + 1),
      root_(root) {
  set_is_task();
  resume_point_ = root;
  if (!name.empty()) set_name(std::move(name));
  add_ref();  // the loop owns a pending task; released in finish()
}

TaskBase::~TaskBase() = default;

std::string TaskBase::name() const {
  if (extras_ && !extras_->name.empty()) return extras_->name;
  return fmt::format("Task-{}", id_);
}

void TaskBase::set_name(std::string name) {
  if (!extras_) extras_ = std::make_unique<Extras>();
  extras_->name = std::move(name);
}

const std::string& TaskBase::cancel_message() const noexcept {
  static const std::string empty;
  return extras_ ? extras_->cancel_message : empty;
}

std::string TaskBase::describe() const {
  return fmt::format("Task '{}' step", name());
}

std::exception_ptr TaskBase::make_cancelled_error() const {
  return std::make_exception_ptr(CancelledError(cancel_message()));
}

void TaskBase::throw_cancelled() {
  must_cancel_ = false;
  throw CancelledError(cancel_message());
}

bool TaskBase::cancel(std::string_view message) {
  if (done()) return false;
  ++num_cancels_requested_;
  if (!message.empty()) {
    if (!extras_) extras_ = std::make_unique<Extras>();
    extras_->cancel_message = std::string(message);
  }
  if (waiting_ && waiting_->cancel_wait()) return true;
  // The next step is already queued (or this task is running): it will throw.
  must_cancel_ = true;
  return true;
}

void TaskBase::wake() {
  waiting_ = nullptr;
  if (loop_) loop_->schedule(this);
}

void TaskBase::yield_at(std::coroutine_handle<> h) {
  suspend(nullptr, h);
  if (loop_) loop_->schedule(this);
}

void TaskBase::run() {
  if (done() || !loop_) return;
  // The ready queue's reference keeps this task alive for the whole step.
  Loop* loop = loop_;
  TaskBase* previous = loop->current_task();
  loop->set_current_task(this);
  if (!started_) {
    started_ = true;
    if (must_cancel_) {
      // Cancelled before it ran a line: the coroutine never starts.
      must_cancel_ = false;
      destroy_root();
      exception_ = make_cancelled_error();
      loop->set_current_task(previous);
      complete(FutureStatus::cancelled);
      loop->task_finished(this);
      return;
    }
  }
  std::coroutine_handle<> h = std::exchange(resume_point_, {});
  h.resume();
  loop->set_current_task(previous);
  if (root_ && root_.done()) finish();
}

void TaskBase::finish() {
  std::exception_ptr e = take_root_outcome();
  if (e) {
    if (is_cancelled_error(e)) {
      exception_ = std::move(e);
      complete(FutureStatus::cancelled);
    } else {
      exception_ = std::move(e);
      complete(FutureStatus::finished);
    }
  } else if (must_cancel_) {
    // Cancelled after its last suspension: asyncio cancels it anyway.
    must_cancel_ = false;
    exception_ = make_cancelled_error();
    complete(FutureStatus::cancelled);
  } else {
    complete(FutureStatus::finished);
  }
  if (loop_) loop_->task_finished(this);
}

void TaskBase::destroy_pending() {
  if (done()) return;
  Loop* loop = loop_;
  ExceptionContext ctx{"Task was destroyed but it is pending!", nullptr, name()};
  // What it waits on lives in the frame: a later cancel() must not reach it.
  waiting_ = nullptr;
  destroy_root();
  if (loop) loop->call_exception_handler(ctx);
}

TaskBase* current_task() noexcept {
  Loop* loop = try_get_running_loop();
  return loop ? loop->current_task() : nullptr;
}

}  // namespace detail
}  // namespace corun
