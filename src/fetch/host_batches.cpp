// corun::fetch: runs of one host's URLs (see host_batches.hpp).
#include "host_batches.hpp"

#include "corun/fetch/naming.hpp"
#include "corun/http/url.hpp"

namespace corun::fetch {

void HostBatches::push(Work work) {
  std::uint64_t key = stable_hash(http::URL::origin_of(work.url));
  std::uint64_t seq = next_seq_++;
  hosts_[key].push_back(Waiting{seq, std::move(work)});
  order_.emplace_back(seq, key);
  ++size_;
}

HostBatches::Next HostBatches::take(Hosts::iterator host) {
  Next next{std::move(host->second.front().work), host->first};
  host->second.pop_front();
  if (host->second.empty()) hosts_.erase(host);
  --size_;
  return next;
}

HostBatches::Next HostBatches::pop() {
  if (run_left_ > 0) {
    --run_left_;
    auto it = hosts_.find(current_);
    if (it != hosts_.end()) return take(it);
    run_left_ = 0;  // the run's host has nothing more waiting
  }
  // The oldest URL still waiting; the entries of URLs taken in runs are passed.
  for (;;) {
    auto [seq, key] = order_.front();
    order_.pop_front();
    auto it = hosts_.find(key);
    if (it == hosts_.end() || it->second.front().seq != seq) continue;
    current_ = key;
    run_left_ = burst_ > 1 && multiplexing_.contains(key) ? burst_ - 1 : 0;
    return take(it);
  }
}

void HostBatches::multiplexes(std::uint64_t host, bool yes) {
  if (!yes) {
    multiplexing_.erase(host);
    return;
  }
  if (multiplexing_.size() >= kMaxKnownHosts) multiplexing_.clear();
  multiplexing_.insert(host);
}

}  // namespace corun::fetch
