#include "corun/core/threads.hpp"

#include <future>

#include "corun/core/run.hpp"

namespace corun {

namespace detail {
std::shared_ptr<LoopLifeline> lifeline_of(Loop& loop) {
  return loop.lifeline();
}
}  // namespace detail

LoopThread::LoopThread() {
  std::promise<Loop*> ready;
  auto loop_future = ready.get_future();
  thread_ = std::thread([this, &ready] {
    Runner runner;
    Loop& loop = runner.loop();
    ready.set_value(&loop);
    loop.run_forever();
    runner.close();
  });
  loop_ = loop_future.get();
  lifeline_ = loop_->lifeline();
}

LoopThread::~LoopThread() {
  stop();
}

void LoopThread::call_soon_threadsafe(detail::UniqueFunction f) {
  if (!lifeline_->post(std::move(f))) throw RuntimeError("Event loop is closed");
}

void LoopThread::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  Loop* loop = loop_;
  lifeline_->post([loop] { loop->stop(); });
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // stop() from a task on this very loop: the thread ends by itself
    } else {
      thread_.join();
    }
  }
}

}  // namespace corun
