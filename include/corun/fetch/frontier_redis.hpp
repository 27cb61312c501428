// corun::fetch RedisFrontier: the worker side of the shared crawl (queue.hpp,
// docs/scale-out.md), a fetch::Frontier the engine runs over like the local
// one. Every worker on every machine takes URLs from one Redis stream:
//
//   - take() claims only as many URLs as the engine asks for (its free
//     slots) in one atomic step that also moves due retries back, takes over
//     leases that expired (a dead or stalled worker's URLs), records a URL
//     delivered more than max_deliveries times as failed, and applies the
//     per-host limits (limit_per_host slots, rate) with the server's clock; a
//     host-limited URL waits in the delay set, not in this worker;
//   - a URL in flight is leased: the lease is renewed every lease/3 while the
//     engine works on it, so a long download is never taken over;
//   - complete() and defer() are buffered and delivered in order by a
//     background task: the record, the done mark and the ack are one atomic
//     step, so a URL fetched twice (a stalled worker came back) still has
//     exactly one record. While Redis is unreachable the outcomes stay here
//     and delivery retries with backoff; take() stops claiming until it
//     answers again. Nothing is dropped and nothing recorded twice;
//   - a URL whose lease may have lapsed before its request starts (this
//     worker stalled: SIGSTOP, a frozen VM, a Redis outage) is confirmed
//     first (Frontier::confirm_lease): still held, its lease, host slot and
//     turn are renewed; taken over, it is dropped here without a fetch. On
//     time renewals cost nothing per URL: lease_lapsed() only compares the
//     last successful renewal with the steady clock;
//   - stop() stops claiming; close() delivers every outcome and releases any
//     URL still held, then leaves the consumer group. While Redis is down it
//     tries for close_timeout, then gives up on what is left with a one-line
//     message (those URLs were never acked: another worker fetches them
//     again once their leases expire; nothing is lost or recorded twice).
//
// The crawl's settings (limit_per_host, rate, retries, encoding, name template,
// BOM/raw) come from the producer: read them with read_queue_settings() and
// apply them to the worker's Options before building the Fetcher.
// Loop-thread only, like every Frontier.
#pragma once

#include <chrono>
#include <functional>
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
  // How long close() keeps trying to deliver outcomes while Redis is
  // unreachable before it gives up on them (they were never acked: their URLs
  // are fetched again by another worker once their leases expire).
  std::chrono::milliseconds close_timeout{30000};
  // What the frontier has to tell its user while it runs, one line each
  // (loop thread): Redis became unreachable (with the error), it is reachable
  // again, close() gave up delivering some outcomes. Empty: nothing is said
  // (the counters still count them). The CLI prints them to stderr; Python
  // returns them in the worker's summary ("warnings").
  std::function<void(const std::string&)> on_warning = nullptr;
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
  bool leases() const noexcept override { return true; }
  // Any thread: true when the URL's lease was reported lost, or when neither
  // its take nor a successful renewal is more recent than half a lease.
  bool lease_lapsed(const Work& work) const noexcept override;
  Task<bool> confirm_lease(Work& work) override;

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
    std::uint64_t confirmed = 0;      // confirm_lease() that let the request start
    std::uint64_t dropped = 0;        // confirm_lease() that found the URL taken over
    std::uint64_t bounced = 0;        // confirm_lease(): host full, URL back to the delay set
    std::uint64_t given_up = 0;       // URLs this worker's claims recorded as delivered too often
    std::uint64_t not_delivered = 0;  // outcomes close() gave up on (Redis unreachable)
    // Unstarted URLs close() could not hand back (Redis unreachable; not counted
    // in released): their leases expire and another worker takes them.
    std::uint64_t not_released = 0;
    // Claims of a URL whose outcome this worker still had to deliver (taken
    // over during a stall and handed back): answered with it, not fetched again.
    std::uint64_t answered_again = 0;
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
