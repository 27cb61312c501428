// corun::fetch RedisFrontier: the worker side of the shared crawl (queue.hpp,
// docs/scale-out.md), a fetch::Frontier the engine runs over like the local
// one. Every worker on every machine takes URLs from one Redis stream:
//
//   - take() claims only as many URLs as the engine asks for (its free
//     slots) in one atomic step that also moves due retries back, takes over
//     leases that expired (a dead or stalled worker's URLs), records a URL
//     delivered more than max_deliveries times as failed, and applies the
//     per-host limits (per_host slots, rate) with the server's clock; a
//     host-limited URL waits in the delay set, not in this worker;
//   - a URL in flight is leased: the lease is renewed every lease/3 while the
//     engine works on it, so a long download is never taken over;
//   - complete() and defer() are buffered and delivered in order by a
//     background task: the record, the done mark and the ack are one atomic
//     step, so a URL fetched twice (a stalled worker came back) still has
//     exactly one record. While Redis is unreachable the outcomes stay here
//     and delivery retries with backoff; take() stops claiming until it
//     answers again. Nothing is dropped and nothing recorded twice;
//   - stop() stops claiming; close() delivers every outcome and releases any
//     URL still held, then leaves the consumer group.
//
// The crawl's settings (per_host, rate, retries, encoding, name template,
// BOM/raw) come from the producer: read them with read_queue_settings() and
// apply them to the worker's Options before building the Fetcher.
// Loop-thread only, like every Frontier.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "corun/fetch/frontier.hpp"
#include "corun/fetch/queue.hpp"

namespace corun::fetch {

struct RedisFrontierOptions {
  std::string worker;  // consumer name; empty: "hostname:pid:random"
  // Longest sleep between claims while nothing is ready (shorter when a
  // delayed URL falls due sooner).
  std::chrono::milliseconds max_poll{500};
  // Each command's timeout (a Redis outage longer than this is waited out
  // with backoff, not failed).
  std::chrono::milliseconds command_timeout{10000};
};

class RedisFrontier final : public Frontier {
 public:
  explicit RedisFrontier(QueueAddress address, RedisFrontierOptions options = {});
  ~RedisFrontier() override;
  RedisFrontier(const RedisFrontier&) = delete;
  RedisFrontier& operator=(const RedisFrontier&) = delete;

  Task<void> open() override;
  Task<bool> take(std::vector<Work>& out, std::size_t max) override;
  void complete(Work work, Record record) override;
  void defer(Work work, Record record, std::chrono::steady_clock::duration delay) override;
  void release(Work work) override;
  void stop() override;
  Task<void> close() override;
  void fill(Summary& summary) const override;
  bool limits_hosts() const noexcept override { return true; }
  bool deterministic_names() const noexcept override { return true; }

  // After open(): the crawl's settings and this worker's consumer name.
  const QueueSettings& settings() const;
  const std::string& worker() const;

  struct Counters {
    std::uint64_t taken = 0;
    std::uint64_t recorded = 0;    // complete() that wrote the URL's record
    std::uint64_t duplicates = 0;  // complete() of a URL recorded elsewhere already
    std::uint64_t deferred = 0;
    std::uint64_t released = 0;
    std::uint64_t leases_lost = 0;  // taken over while this worker held them
    std::uint64_t redis_errors = 0;
  };
  const Counters& counters() const noexcept;
  // Outcomes waiting for delivery.
  std::size_t undelivered() const noexcept;

  struct Impl;

 private:
  // Shared with the frontier's background tasks (delivery, lease renewal), so
  // a frontier destroyed without close() is freed once they have stopped.
  std::shared_ptr<Impl> impl_;
};

}  // namespace corun::fetch
