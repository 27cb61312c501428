#include "corun/core/task_group.hpp"

namespace corun {

struct TaskGroup::Child final : detail::DoneNode {
  TaskGroup* group = nullptr;
  detail::Ref<detail::TaskBase> task;
  void on_done(detail::FutureBase&) override { group->on_child_done(*this); }
};

// wait()'s suspension: woken when the last child is done.
class TaskGroup::AllDone final : public detail::Waiter {
 public:
  explicit AllDone(TaskGroup& g) : group_(g) {}
  AllDone(const AllDone&) = delete;
  AllDone& operator=(const AllDone&) = delete;
  ~AllDone() {
    if (group_.waiter_ == this) group_.waiter_ = nullptr;
  }
  bool await_ready() const noexcept { return group_.pending_ == 0; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    task_ = h.promise().owner_;
    if (task_->must_cancel()) return false;
    group_.waiter_ = this;
    task_->suspend(this, h);
    return true;
  }
  void await_resume() {
    if (cancelled_) task_->throw_cancelled();
    if (task_) task_->throw_if_must_cancel();
  }
  bool cancel_wait() override {
    group_.waiter_ = nullptr;
    cancelled_ = true;
    task_->wake();
    return true;
  }
  void fire() {
    group_.waiter_ = nullptr;
    task_->wake();
  }

 private:
  TaskGroup& group_;
  detail::TaskBase* task_ = nullptr;
  bool cancelled_ = false;
};

TaskGroup::TaskGroup() : parent_(detail::current_task()) {
  if (!parent_) throw RuntimeError("TaskGroup must be created inside a running task");
}

TaskGroup::~TaskGroup() {
  if (alive_) *alive_ = false;
  for (auto& c : children_) {
    if (!c->linked()) continue;
    detail::FutureBase::remove_done_node(c.get());
    c->task->cancel();
  }
  if (finished_) return;
  // Destroyed without wait() (an exception left the body): a child's error would
  // vanish without a word, so it is logged, as asyncio logs an exception never
  // retrieved; the cancellation the group asked of the parent is taken back.
  if (Loop* loop = parent_->loop()) {
    for (const auto& e : errors_) {
      loop->call_exception_handler(
          {"TaskGroup destroyed before wait(): a child's error was never retrieved", e,
           parent_->name()});
    }
  }
  if (parent_cancel_requested_ && !parent_->done()) parent_->uncancel();
}

void TaskGroup::check_open() const {
  if (finished_) throw RuntimeError("TaskGroup is finished");
  if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroup::adopt(detail::TaskBase* t) {
  auto c = std::make_unique<Child>();
  c->group = this;
  c->task = detail::Ref<detail::TaskBase>(t);
  t->add_done_node(c.get());
  ++pending_;
  children_.push_back(std::move(c));
}

void TaskGroup::abort() {
  aborting_ = true;
  for (auto& c : children_) {
    if (!c->task->done()) c->task->cancel();
  }
}

void TaskGroup::on_child_done(Child& c) {
  --pending_;
  if (pending_ == 0 && waiter_) waiter_->fire();
  detail::TaskBase& t = *c.task;
  if (t.cancelled()) return;
  std::exception_ptr e = t.exception();
  if (!e) return;
  errors_.push_back(e);
  if (parent_->done()) {
    if (parent_->loop()) {
      parent_->loop()->call_exception_handler(
          {"Task has errored out but its parent task is already completed", e, t.name()});
    }
    return;
  }
  if (!aborting_ && !parent_cancel_requested_ && !abort_scheduled_) {
    // asyncio decides in the child's done callback, which runs one iteration
    // later: siblings that finish in this same iteration keep their own outcome
    // (two children failing together give two errors, not one and a cancel).
    abort_scheduled_ = true;
    if (!alive_) alive_ = std::make_shared<bool>(true);
    parent_->loop()->call_soon([alive = alive_, this] {
      if (*alive) abort_for_error();
    });
  }
}

void TaskGroup::abort_for_error() {
  abort_scheduled_ = false;
  if (finished_ || aborting_ || parent_cancel_requested_ || parent_->done()) return;
  // Stop whatever the parent is doing in the group's body; wait() undoes the count.
  abort();
  parent_cancel_requested_ = true;
  parent_->cancel();
}

Task<void> TaskGroup::wait(std::exception_ptr body_error) {
  if (finished_) throw RuntimeError("TaskGroup is finished");
  exiting_ = true;
  std::exception_ptr propagate_cancellation =
      detail::is_cancelled_error(body_error) ? body_error : nullptr;
  if (body_error && !aborting_) abort();
  while (pending_ > 0) {
    try {
      co_await AllDone(*this);
    } catch (const CancelledError&) {
      if (!aborting_) {
        // The parent was cancelled from outside: cancel the children, keep waiting.
        propagate_cancellation = std::current_exception();
        abort();
      }
    }
  }
  finished_ = true;
  if (parent_cancel_requested_) {
    // The group cancelled the parent: take that request back.
    if (parent_->uncancel() == 0) propagate_cancellation = nullptr;
  }
  if (propagate_cancellation && errors_.empty()) std::rethrow_exception(propagate_cancellation);
  if (body_error && !detail::is_cancelled_error(body_error)) errors_.push_back(body_error);
  if (!errors_.empty()) throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors_));
}

}  // namespace corun
