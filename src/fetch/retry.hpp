// corun::fetch retry policy (the rules in fetch.hpp, "What happens to each
// URL"): which failures are tried again, after how long. Pure functions and a
// small value type: no I/O, no clock but the one passed in.
//
// Retried: connect errors (http::ClientConnectionError, which includes a
// connection dropped before the response), timeouts, and the statuses 408,
// 429 and 5xx. Not retried: a host name that does not resolve
// (http::ClientConnectorDNSError, as curl --retry and wget do not), TLS
// failures (http::ClientSSLError), truncated or
// malformed bodies (http::ClientPayloadError), bodies over max_body_size
// (http::BodyTooLargeError), anything else. The wait before attempt n + 1 is
// retry_delay * 2^(n-1), at most retry_max_delay, times a jitter in [0.5, 1);
// a response's Retry-After (delta-seconds or an HTTP date) replaces it, and
// one longer than retry_max_delay is not waited for (no retry).
#pragma once

#include <chrono>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "corun/fetch/fetch.hpp"

namespace corun::fetch {

// One failed request (an exception from ClientSession::get), as the record's
// error text and whether it may be tried again. Rethrows what is not a
// std::exception (e.g. cancellation machinery).
struct FailureKind {
  std::string error;
  bool retryable = false;
  int status = 0;  // the response's, when one had come (a body over --max-size)
  // The URL that response came from, when known (a redirect loop's last hop).
  std::string final_url;
};
FailureKind classify_failure(std::exception_ptr failure, std::string_view url);

// 408, 429 and 5xx.
bool retryable_status(int status) noexcept;

// Retry-After: delta-seconds or an HTTP date (relative to now); nullopt when
// absent or unreadable. Huge delta-seconds saturate at 1e9.
std::optional<double> retry_after_seconds(std::string_view value, std::time_t now);

class RetryPolicy {
 public:
  using Duration = std::chrono::steady_clock::duration;

  RetryPolicy(int retries, Seconds delay, Seconds max_delay)
      : retries_(retries), delay_(delay), max_delay_(max_delay) {}
  explicit RetryPolicy(const Options& o)
      : RetryPolicy(o.retries, o.retry_delay, o.retry_max_delay) {}

  // After `attempts` requests, may another be made?
  bool may_retry(int attempts) const noexcept { return attempts <= retries_; }
  // The wait after attempt n (1-based); jitter in [0, 1) maps to [0.5, 1).
  Duration backoff(int attempt, double jitter) const;

  // The wait before retrying a retryable status: the backoff, or Retry-After
  // when the response has one. nullopt: too long to wait, and `error` (the
  // record's) says so.
  std::optional<Duration> status_delay(int attempt, double jitter,
                                       std::optional<std::string_view> retry_after, std::time_t now,
                                       std::string& error) const;

 private:
  int retries_;
  Seconds delay_;
  Seconds max_delay_;
};

}  // namespace corun::fetch
