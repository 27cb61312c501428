// corun::fetch per-host admission (see admission.hpp).
#include "admission.hpp"

#include <algorithm>

namespace corun::fetch {

Task<SlotPermit> acquire_slot(Semaphore& s) {
  co_await s.acquire();
  co_return SlotPermit(s);
}

HostAdmission::HostAdmission(std::size_t per_host, double rate, Pause pause)
    : per_host_(per_host), rate_(rate), pause_(std::move(pause)) {}

HostAdmission::Permit::~Permit() {
  if (owner_ != nullptr) owner_->leave(key_, holds_slot_);
}

void HostAdmission::leave(const std::string& key, bool release_slot) noexcept {
  auto it = hosts_.find(key);
  if (it == hosts_.end()) return;
  Host& h = *it->second;
  if (release_slot) h.slots.release();
  if (--h.users == 0 && rate_ <= 0) hosts_.erase(it);
}

Task<std::optional<HostAdmission::Permit>> HostAdmission::admit(std::string host) {
  auto& entry = hosts_[host];
  if (!entry) entry = std::make_unique<Host>(per_host_);
  Host* h = entry.get();  // stable while users > 0
  ++h->users;
  Permit permit(this, std::move(host));  // from here on, every exit gives back what it holds
  if (per_host_ > 0) {
    co_await h->slots.acquire();
    permit.holds_slot_ = true;
  }
  if (rate_ > 0) {
    Clock::time_point now = Clock::now();
    Clock::time_point start = std::max(now, h->next_start);
    h->next_start = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(1.0 / rate_));
    if (start > now) {
      bool stopped = co_await pause_(start - now);
      if (stopped) co_return std::nullopt;
    }
  }
  co_return std::optional<Permit>(std::move(permit));
}

}  // namespace corun::fetch
