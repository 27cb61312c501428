// corun::http internals: a CURL easy handle set up for one hop of a request
// from SessionOptions and RequestOptions (URL, method and body, headers,
// cookies, proxy, TLS, HTTP version, timeouts). The easy handle comes fresh from
// the engine's pool (reset to defaults). Loop-thread only.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corun/http/headers.hpp"
#include "corun/http/session.hpp"
#include "corun/http/url.hpp"

namespace corun::http::detail {

class VerifiedCerts;

// What a session gives every easy handle.
struct SessionEasy {
  const SessionOptions* options = nullptr;
  curl_slist* default_headers = nullptr;  // session_header_list(options->headers)
  CURLSH* share = nullptr;                // CURLOPT_SHARE (jar, TLS sessions, DNS)
  bool cookie_engine = false;             // the share holds a cookie jar
  // The chains the session has verified (detail/verified_certs.hpp): set on every
  // HTTPS hop when the session verifies certificates and libcurl uses OpenSSL.
  VerifiedCerts* verified_certs = nullptr;
  // When the next handle may prune curl's DNS cache (configure_easy's
  // set_dns). Mutable: the handles' bookkeeping, not the session's settings.
  mutable std::chrono::steady_clock::time_point dns_prune_due{};
};

// How often a session lets curl prune its DNS cache (set_dns in easy_options.cpp).
inline constexpr std::chrono::seconds kDnsPruneInterval{1};
// curl's own default CURLOPT_DNS_CACHE_TIMEOUT, in seconds: how long a resolved
// address is kept.
inline constexpr long kDnsCacheSeconds = 60;

// What an easy handle points at while it runs; owned by the hop's transfer.
struct EasyStorage {
  curl_slist* headers = nullptr;  // the request's own header list, if it has headers
  std::string cookie;             // the request's own cookies, "a=1; b=2"
  char errbuf[CURL_ERROR_SIZE] = {};

  EasyStorage() = default;
  EasyStorage(const EasyStorage&) = delete;
  EasyStorage& operator=(const EasyStorage&) = delete;
  ~EasyStorage() { curl_slist_free_all(headers); }
};

// One hop as the easy handle must perform it.
struct Hop {
  const std::string* method = nullptr;  // upper case
  const URL* url = nullptr;
  const RequestOptions* request = nullptr;
  const Timeouts* timeouts = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // the total timeout
  // A redirect has left the first request's origin (scheme, host, port): the
  // session's Authorization and Cookie headers are not sent (the request's own
  // are dropped from its options), as curl and aiohttp do.
  bool without_credentials = false;
};

// Sets every option of the hop on h (a handle fresh from the pool).
void configure_easy(CURL* h, const SessionEasy& session, const Hop& hop, EasyStorage& storage);

// The session's headers as a curl list, with "Expect:" (no 100-continue round
// trip for request bodies; aiohttp sends none). The caller frees it.
curl_slist* session_header_list(const Headers& session);
// A request's header list: the session's headers it does not override, then its
// own (an empty value is sent empty, not dropped), then "Expect:". Caller frees.
curl_slist* request_header_list(const Headers& session, const Headers& request,
                                bool without_credentials = false);

// The header names a redirect to another origin does not carry on: a password
// or a token, and cookies meant for the first site.
bool is_credential_header(std::string_view name) noexcept;
// The Cookie header value of a request's own cookies: "a=1; b=2".
std::string cookie_header(const std::vector<std::pair<std::string, std::string>>& cookies);
// A duration as curl's long milliseconds, saturated, at least 1.
long curl_ms(std::chrono::milliseconds d) noexcept;

}  // namespace corun::http::detail
