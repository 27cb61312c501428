// corun::http::detail::RequestGate (see include/corun/http/detail/request_gate.hpp).
#include "corun/http/detail/request_gate.hpp"

namespace corun::http::detail {

RequestGate::RequestGate(std::size_t limit, std::size_t limit_per_host)
    : limit_(limit), per_host_(limit_per_host) {}

void RequestGate::Permit::reset() noexcept {
  if (gate_ != nullptr) std::exchange(gate_, nullptr)->release(host_);
}

corun::detail::IntrusiveList& RequestGate::Acquire::waiters_of(Host* host) noexcept {
  return host->waiters;
}

bool RequestGate::Acquire::await_ready() noexcept {
  // The fast path: room everywhere and nobody queued before us on this host (a
  // host with waiters and room is served by dispatch() as soon as the total allows).
  if (!host_->waiters.empty() || !gate_.host_room(*host_) || !gate_.total_room()) return false;
  ++host_->active;
  ++gate_.total_;
  owned_ = true;
  return true;
}

RequestGate::Permit RequestGate::Acquire::await_resume() {
  if (!owned_ || cancelled_on_resume()) throw_cancelled();  // the destructor cleans up
  owned_ = false;
  return Permit(&gate_, std::exchange(host_, nullptr));
}

RequestGate::Acquire::~Acquire() {
  if (host_ == nullptr) return;  // its slot went to a Permit, which may be gone with its host
  if (state() == State::waiting || state() == State::cancelled) {
    corun::detail::IntrusiveList::unlink(this);
    --gate_.waiting_;
  }
  if (owned_) {
    gate_.release(host_);  // handed a slot, then cancelled or destroyed: pass it on
  } else {
    gate_.tidy(host_);
  }
}

RequestGate::Acquire RequestGate::acquire(std::string_view origin) {
  return Acquire(*this, host_for(origin));
}

bool RequestGate::would_wait(std::string_view origin) const {
  if (!total_room()) return true;
  const Host* h = find_host(origin);
  return h != nullptr && (!h->waiters.empty() || !host_room(*h));
}

std::size_t RequestGate::in_flight(std::string_view origin) const {
  const Host* h = find_host(origin);
  return h != nullptr ? h->active : 0;
}

RequestGate::Host* RequestGate::host_for(std::string_view origin) {
  if (per_host_ == 0) return &all_;
  auto [it, added] = hosts_.try_emplace(std::string(origin));
  if (added) it->second.origin = it->first;
  return &it->second;
}

const RequestGate::Host* RequestGate::find_host(std::string_view origin) const {
  if (per_host_ == 0) return &all_;
  auto it = hosts_.find(std::string(origin));
  return it != hosts_.end() ? &it->second : nullptr;
}

void RequestGate::on_queued(Host& h) {
  ++waiting_;
  // Without a per-host limit there is one queue (all_'s): release() serves it
  // directly, in arrival order, and ready_ (a node per wait) is not needed.
  if (&h == &all_) return;
  if (h.queued_seq != 0 || !host_room(h) || h.waiters.empty()) return;
  auto* first = static_cast<Acquire*>(h.waiters.front());
  h.queued_seq = first->seq_;
  ready_.emplace(first->seq_, &h);
}

void RequestGate::release(Host* h) noexcept {
  --h->active;
  --total_;
  if (h == &all_) {
    serve_all();
    return;
  }
  if (h->queued_seq == 0 && !h->waiters.empty()) {
    auto* first = static_cast<Acquire*>(h->waiters.front());
    h->queued_seq = first->seq_;
    try {
      ready_.emplace(first->seq_, h);
    } catch (...) {  // out of memory: serve this host's first waiter directly
      h->queued_seq = 0;
      ++h->active;
      ++total_;
      first->owned_ = true;
      --waiting_;
      first->notify();
      return;
    }
  }
  dispatch();
  tidy(h);
}

void RequestGate::serve_all() noexcept {
  while (total_room() && !all_.waiters.empty()) {
    auto* first = static_cast<Acquire*>(all_.waiters.front());
    ++all_.active;
    ++total_;
    first->owned_ = true;
    --waiting_;
    first->notify();  // unlinks it; its task resumes on the next iteration
  }
}

void RequestGate::dispatch() noexcept {
  while (total_room() && !ready_.empty()) {
    auto [seq, h] = *ready_.begin();
    ready_.erase(ready_.begin());
    h->queued_seq = 0;
    if (h->waiters.empty() || !host_room(*h)) continue;
    auto* first = static_cast<Acquire*>(h->waiters.front());
    if (first->seq_ == seq) {
      ++h->active;
      ++total_;
      first->owned_ = true;
      --waiting_;
      first->notify();  // unlinks it; its task resumes on the next iteration
      if (h->waiters.empty() || !host_room(*h)) continue;
      first = static_cast<Acquire*>(h->waiters.front());
    }
    // Requeue by its (new, or corrected after a cancellation) first waiter.
    h->queued_seq = first->seq_;
    try {
      ready_.emplace(first->seq_, h);
    } catch (...) {
      h->queued_seq = 0;
    }
  }
}

void RequestGate::tidy(Host* h) noexcept {
  if (h == &all_ || h->active != 0 || !h->waiters.empty()) return;
  if (h->queued_seq != 0) ready_.erase({h->queued_seq, h});
  std::string key = std::move(h->origin);
  hosts_.erase(key);
}

}  // namespace corun::http::detail
