// See backlog.hpp.
#include "backlog.hpp"

#include "runtime.hpp"

namespace corun::python {

Backlog::Slot& Backlog::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    give_back();
    owner_ = std::move(other.owner_);
  }
  return *this;
}

void Backlog::Slot::give_back() noexcept {
  if (std::shared_ptr<Backlog> owner = std::move(owner_)) owner->give_back_one();
}

Backlog::Backlog(int bound) : bound_(bound), free_(bound) {}

Task<Backlog::Slot> Backlog::take() {
  collect();
  if (open_) co_return Slot();
  ++waiting_;
  try {
    auto acquiring = free_.acquire();
    co_await acquiring;
  } catch (...) {
    --waiting_;
    throw;
  }
  --waiting_;
  held_.fetch_add(1, std::memory_order_acq_rel);
  co_return Slot(shared_from_this());
}

void Backlog::open() {
  open_ = true;
  collect();
  // Each waiter takes one of these and goes on; the slots it then holds come
  // back as any other.
  for (int i = 0; i < waiting_; ++i) free_.release();
}

void Backlog::give_back_one() noexcept {
  held_.fetch_sub(1, std::memory_order_acq_rel);
  // Only the first slot of a batch posts; the rest ride with it.
  if (returned_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
  try {
    post_to_loop_or_leak([self = shared_from_this()] { self->collect(); });
  } catch (...) {
    // Out of memory for the post: the slot is collected by the next take()
    // or give-back that posts.
  }
}

void Backlog::collect() {
  int n = returned_.exchange(0, std::memory_order_acq_rel);
  for (int i = 0; i < n; ++i) free_.release();
}

}  // namespace corun::python
