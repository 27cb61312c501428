// corun::fetch retry policy (src/fetch/retry.hpp): what is retried, the
// backoff's bounds, Retry-After in both forms and the too-long case.
#include "retry.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "corun/core/error.hpp"
#include "corun/http/errors.hpp"

namespace corun::fetch {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

template <class E>
FailureKind classify(E e) {
  return classify_failure(std::make_exception_ptr(std::move(e)), "http://h/x");
}

TEST(FetchRetry, ClassifiesFailures) {
  EXPECT_TRUE(classify(http::ClientConnectionError("refused", "u")).retryable);
  EXPECT_TRUE(classify(http::ServerDisconnectedError("dropped", "u")).retryable);
  EXPECT_TRUE(classify(TimeoutError()).retryable);
  // A name that does not resolve is a connector error too, but final (curl --retry).
  FailureKind dns = classify(http::ClientConnectorDNSError("cannot resolve host", "u"));
  EXPECT_FALSE(dns.retryable);
  EXPECT_EQ(dns.error, "cannot resolve host");
  EXPECT_TRUE(classify(http::ClientConnectorError("cannot connect", "u")).retryable);
  // A TLS failure is a connector error too, but final.
  FailureKind tls = classify(http::ClientSSLError("bad certificate", "u"));
  EXPECT_FALSE(tls.retryable);
  EXPECT_EQ(tls.error, "bad certificate");
  EXPECT_FALSE(classify(http::ClientPayloadError("truncated", "u")).retryable);
  FailureKind big = classify(http::BodyTooLargeError("too big", "u", 100));
  EXPECT_FALSE(big.retryable);
  EXPECT_EQ(big.error, "body larger than --max-size (100 bytes): http://h/x");
  EXPECT_FALSE(classify(http::TooManyRedirects("loop", "u", 302, "Found")).retryable);
  EXPECT_FALSE(classify(std::runtime_error("other")).retryable);
  EXPECT_EQ(classify(std::runtime_error("other")).error, "other");
}

TEST(FetchRetry, RetryableStatuses) {
  for (int s : {408, 429, 500, 502, 503, 599}) EXPECT_TRUE(retryable_status(s)) << s;
  for (int s : {200, 301, 400, 401, 403, 404, 410, 600}) EXPECT_FALSE(retryable_status(s)) << s;
}

TEST(FetchRetry, AttemptsAreBoundedByRetries) {
  RetryPolicy p(3, Seconds(0.5), Seconds(30));
  EXPECT_TRUE(p.may_retry(1));
  EXPECT_TRUE(p.may_retry(3));
  EXPECT_FALSE(p.may_retry(4));
  EXPECT_FALSE(RetryPolicy(0, Seconds(0.5), Seconds(30)).may_retry(1));
}

TEST(FetchRetry, BackoffDoublesWithJitterAndIsCapped) {
  RetryPolicy p(10, Seconds(0.5), Seconds(30));
  auto ms = [&](int attempt, double jitter) {
    return duration_cast<milliseconds>(p.backoff(attempt, jitter)).count();
  };
  EXPECT_EQ(ms(1, 0.0), 250);  // delay * 2^0 * 0.5
  EXPECT_EQ(ms(1, 0.5), 375);  // jitter maps [0, 1) onto [0.5, 1)
  EXPECT_LT(ms(1, 0.999), 500);
  EXPECT_EQ(ms(2, 0.0), 500);  // doubled
  EXPECT_EQ(ms(3, 0.0), 1000);
  EXPECT_EQ(ms(10, 0.0), 15000);  // 0.5 * 512 = 256 s, capped at 30 s
  EXPECT_LE(ms(10, 0.999), 30000);
  EXPECT_GT(ms(10, 0.999), 29000);
}

TEST(FetchRetry, RetryAfterSecondsAndDates) {
  const std::time_t now = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(retry_after_seconds("120", now), 120.0);
  EXPECT_EQ(retry_after_seconds("  5 ", now), 5.0);
  EXPECT_EQ(retry_after_seconds("0", now), 0.0);
  EXPECT_EQ(retry_after_seconds("99999999999", now), 1e9);  // saturates
  EXPECT_EQ(retry_after_seconds("Tue, 14 Nov 2023 22:15:00 GMT", now), 100.0);
  EXPECT_EQ(retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now), 0.0);  // past: now
  EXPECT_FALSE(retry_after_seconds("", now));
  EXPECT_FALSE(retry_after_seconds("soon", now));
  EXPECT_FALSE(retry_after_seconds("-5", now));
}

TEST(FetchRetry, StatusDelayHonoursRetryAfterUpToTheLongestWait) {
  RetryPolicy p(3, Seconds(0.5), Seconds(30));
  const std::time_t now = 1700000000;
  std::string error = "HTTP 503 X";
  auto d = p.status_delay(1, 0.0, std::string_view("2"), now, error);
  ASSERT_TRUE(d);
  EXPECT_EQ(duration_cast<milliseconds>(*d).count(), 2000);
  EXPECT_EQ(error, "HTTP 503 X");
  // No (or an unreadable) Retry-After: the backoff.
  auto b = p.status_delay(2, 0.0, std::nullopt, now, error);
  ASSERT_TRUE(b);
  EXPECT_EQ(duration_cast<milliseconds>(*b).count(), 500);
  auto u = p.status_delay(2, 0.0, std::string_view("later"), now, error);
  ASSERT_TRUE(u);
  EXPECT_EQ(duration_cast<milliseconds>(*u).count(), 500);
  // Longer than retry_max_delay: not waited for, and the record says why.
  EXPECT_FALSE(p.status_delay(1, 0.0, std::string_view("60"), now, error));
  EXPECT_EQ(error, "HTTP 503 X (Retry-After 60 s is longer than the longest wait, 30 s)");
}

}  // namespace
}  // namespace corun::fetch
