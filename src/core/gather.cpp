#include "corun/core/gather.hpp"

namespace corun::detail {

GatherWaiter::GatherWaiter(std::size_t capacity, bool settle_on_failure)
    : settle_on_failure_(settle_on_failure) {
  nodes_.reserve(capacity);  // nodes are linked into the children: never reallocate
  settled_ = capacity == 0;
}

void GatherWaiter::add(FutureBase* child) {
  Node& n = nodes_.emplace_back();
  n.owner = this;
  n.child = child;
  if (child->done()) {  // only for futures that finished before gather saw them
    child->mark_retrieved();
    if (child->failed() && !first_failure_) first_failure_ = Ref<FutureBase>(child);
  } else {
    ++remaining_;
    child->add_done_node(&n);
  }
  settled_ = remaining_ == 0 || (settle_on_failure_ && first_failure_);
}

GatherWaiter::~GatherWaiter() {
  if (remaining_ == 0) return;
  for (Node& n : nodes_) {
    if (!n.linked()) continue;
    FutureBase::remove_done_node(&n);
    // As asyncio's gather: children that finish later still count as retrieved.
    Ref<FutureBase> child(n.child);
    child->add_done_callback([child] { child->mark_retrieved(); });
  }
}

void GatherWaiter::child_done(FutureBase& f) {
  --remaining_;
  f.mark_retrieved();
  if (f.failed() && !first_failure_) first_failure_ = Ref<FutureBase>(&f);
  if (settled_) return;
  if (remaining_ == 0 || (settle_on_failure_ && first_failure_)) {
    settled_ = true;
    if (task_) task_->wake();
  }
}

bool GatherWaiter::cancel_wait() {
  if (settled_) return false;
  bool any = false;
  for (Node& n : nodes_) {
    if (n.linked() && n.child->cancel()) any = true;
  }
  if (any) cancel_requested_ = true;
  return any;
}

}  // namespace corun::detail
