// corun::fetch retry policy (see retry.hpp).
#include "retry.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "corun/core/error.hpp"
#include "corun/http/errors.hpp"
#include "corun/text/ascii.hpp"

namespace corun::fetch {

FailureKind classify_failure(std::exception_ptr failure, std::string_view url) {
  FailureKind k;
  try {
    std::rethrow_exception(std::move(failure));
  } catch (const http::ClientSSLError& e) {
    k.error = e.what();  // before ClientConnectionError: a verification failure is final
  } catch (const http::ClientConnectorDNSError& e) {
    // Final too, as for curl --retry and wget: libcurl cannot tell a name that does
    // not exist (most of them, in a crawl) from a resolver that failed once, and
    // three backoffs per dead host would only delay the report.
    k.error = e.what();
  } catch (const http::ClientConnectionError& e) {
    k.error = e.what();
    k.retryable = true;
  } catch (const http::BodyTooLargeError& e) {
    k.error = fmt::format("body larger than --max-size ({} bytes): {}", e.limit(), url);
    k.status = e.status();
  } catch (const http::TooManyRedirects& e) {
    // As curl -L past --max-redirs: the last response (a 3xx) and where it came from.
    k.error = e.what();
    k.status = e.status();
    k.final_url = e.url();
  } catch (const http::ClientPayloadError& e) {
    k.error = e.what();  // a truncated or malformed body: not retried
  } catch (const TimeoutError& e) {
    k.error = e.what();
    k.retryable = true;
  } catch (const std::exception& e) {
    k.error = e.what();
  }
  return k;
}

bool retryable_status(int status) noexcept {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

std::optional<double> retry_after_seconds(std::string_view value, std::time_t now) {
  value = text::trim_http_whitespace(value);
  if (value.empty()) return std::nullopt;
  bool digits =
      std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    if (value.size() > 9) return 1e9;
    return static_cast<double>(std::stol(std::string(value)));
  }
  std::string v(value);
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  double d = std::difftime(when, now);
  return d < 0 ? 0.0 : d;
}

RetryPolicy::Duration RetryPolicy::backoff(int attempt, double jitter) const {
  double base = delay_.count() * std::pow(2.0, attempt - 1);
  base = std::min(base, max_delay_.count());
  double factor = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::duration_cast<Duration>(Seconds(base * factor));
}

std::optional<RetryPolicy::Duration> RetryPolicy::status_delay(
    int attempt, double jitter, std::optional<std::string_view> retry_after, std::time_t now,
    std::string& error) const {
  if (retry_after) {
    if (auto secs = retry_after_seconds(*retry_after, now)) {
      if (*secs > max_delay_.count()) {
        error += fmt::format(" (Retry-After {} s is longer than the longest wait, {} s)", *secs,
                             max_delay_.count());
        return std::nullopt;
      }
      return std::chrono::duration_cast<Duration>(Seconds(*secs));
    }
  }
  return backoff(attempt, jitter);
}

}  // namespace corun::fetch
