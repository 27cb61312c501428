#include "corun/core/gather.hpp"

namespace corun::detail {

GatherWaiter::GatherWaiter(std::vector<FutureBase*> children, bool settle_on_failure)
    : children_(std::move(children)), settle_on_failure_(settle_on_failure) {
  remaining_ = children_.size();
  for (FutureBase* c : children_) {
    if (!c->done()) continue;
    --remaining_;
    c->mark_retrieved();
    if (c->failed() && !first_failure_) first_failure_ = c;
  }
  settled_ = remaining_ == 0 || (settle_on_failure_ && first_failure_);
}

GatherWaiter::~GatherWaiter() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].linked()) continue;
    FutureBase::remove_done_node(&nodes_[i]);
    // As asyncio's gather: children that finish later still count as retrieved.
    Ref<FutureBase> child(children_[i]);
    child->add_done_callback([child] { child->mark_retrieved(); });
  }
}

void GatherWaiter::link() {
  nodes_.resize(children_.size());
  for (std::size_t i = 0; i < children_.size(); ++i) {
    nodes_[i].owner = this;
    if (!children_[i]->done()) children_[i]->add_done_node(&nodes_[i]);
  }
}

void GatherWaiter::child_done(FutureBase& f) {
  --remaining_;
  f.mark_retrieved();
  if (f.failed() && !first_failure_) first_failure_ = &f;
  if (settled_) return;
  if (remaining_ == 0 || (settle_on_failure_ && first_failure_)) {
    settled_ = true;
    task_->wake();
  }
}

bool GatherWaiter::cancel_wait() {
  if (settled_) return false;
  bool any = false;
  for (FutureBase* c : children_) {
    if (c->cancel()) any = true;
  }
  if (any) cancel_requested_ = true;
  return any;
}

}  // namespace corun::detail
