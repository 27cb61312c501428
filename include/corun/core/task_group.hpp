// TaskGroup: structured concurrency (asyncio.TaskGroup).
//
//   TaskGroup tg;                       // inside a task: that task is the parent
//   tg.create_task(work_a());
//   tg.create_task(work_b());
//   co_await tg.wait();                 // waits for every child
//
// The first child that fails cancels its siblings and the parent (once: the
// parent sees CancelledError wherever it is awaiting), one loop iteration after
// it failed, as asyncio's done callback does; wait() waits for all
// children, then throws the errors together as an ExceptionGroup. The parent's
// cancellation count is restored, so a cancellation that came from the group is
// not mistaken for one from outside (semantic 11). C++ has no `async with`: if
// the parent's own code throws between creating the group and wait(), pass that
// exception to wait(e) (asyncio's __aexit__(exc)) so the children are cancelled
// and awaited. Destroying a group whose children still run cancels them;
// destroying one before wait() logs the children's errors it never raised.
#pragma once

#include <memory>
#include <vector>

#include "corun/core/loop.hpp"

namespace corun {

class TaskGroup {
 public:
  TaskGroup();
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  template <class T>
  TaskHandle<T> create_task(Task<T> task, std::string name = {}) {
    check_open();
    TaskHandle<T> h = parent_->loop()->create_task(std::move(task), std::move(name));
    adopt(h.state());
    return h;
  }

  // Waits for every child; then throws ExceptionGroup if any failed, or
  // CancelledError if the parent was cancelled from outside.
  Task<void> wait(std::exception_ptr body_error = nullptr);

  std::size_t size() const noexcept { return pending_; }

 private:
  struct Child;
  class AllDone;
  void check_open() const;
  void adopt(detail::TaskBase* t);
  void on_child_done(Child& c);
  void abort_for_error();
  void abort();

  detail::TaskBase* parent_;
  std::vector<std::unique_ptr<Child>> children_;
  std::size_t pending_ = 0;
  std::vector<std::exception_ptr> errors_;
  AllDone* waiter_ = nullptr;
  std::shared_ptr<bool> alive_;  // made for a deferred abort; false once destroyed
  bool abort_scheduled_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
  bool exiting_ = false;
  bool finished_ = false;
};

}  // namespace corun
