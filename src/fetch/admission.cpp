// corun::fetch --rate admission (see admission.hpp).
#include "admission.hpp"

#include <algorithm>

namespace corun::fetch {

HostAdmission::HostAdmission(double rate, Pause pause) : rate_(rate), pause_(std::move(pause)) {}

HostAdmission::Permit::~Permit() {
  if (owner_ != nullptr) owner_->leave(key_, holds_turn_);
}

void HostAdmission::Permit::started() noexcept {
  if (owner_ == nullptr || !holds_turn_) return;
  holds_turn_ = false;
  owner_->start(key_);
}

void HostAdmission::start(const std::string& key) noexcept {
  auto it = hosts_.find(key);
  if (it == hosts_.end()) return;
  Host& h = *it->second;
  h.next_start = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(1.0 / rate_));
  h.turn.release();
}

void HostAdmission::leave(const std::string& key, bool release_turn) noexcept {
  auto it = hosts_.find(key);
  if (it == hosts_.end()) return;
  Host& h = *it->second;
  if (release_turn) h.turn.release();
  // An entry whose next start has passed constrains nothing: forget it.
  if (--h.users == 0 && h.next_start <= Clock::now()) hosts_.erase(it);
}

Task<std::optional<HostAdmission::Permit>> HostAdmission::admit(std::string host) {
  auto& entry = hosts_[host];
  if (!entry) entry = std::make_unique<Host>();
  Host* h = entry.get();  // stable while users > 0
  ++h->users;
  Permit permit(this, std::move(host));  // from here on, every exit gives back what it holds
  co_await h->turn.acquire();
  permit.holds_turn_ = true;
  Clock::time_point now = Clock::now();
  if (h->next_start > now) {
    bool stopped = co_await pause_(h->next_start - now);
    if (stopped) co_return std::nullopt;
  }
  co_return std::optional<Permit>(std::move(permit));
}

}  // namespace corun::fetch
