// corun::http::detail::configure_easy (see include/corun/http/detail/easy_options.hpp).
#include "corun/http/detail/easy_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>

#include "corun/http/detail/verified_certs.hpp"

namespace corun::http::detail {

namespace {

// The URL as parsed once (URL::parse), not a string for curl to parse again.
void set_target(CURL* h, const SessionOptions& so, const URL& url) {
  curl_easy_setopt(h, CURLOPT_CURLU, static_cast<CURLU*>(url.native()));
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                   so.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  if (so.http2 && url.scheme() == "https") {
    // Requests to a host whose first connection is still being set up wait for it
    // and multiplex over it (HTTP/2), rather than each opening a connection.
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
  }
}

// curl prunes its whole DNS cache (every host resolved so far, one entry per
// host and port) when a transfer ends with its connection left idle: O(hosts)
// per request, a visible part of a crawl over a thousand hosts. So only the
// first handle of each kDnsPruneInterval keeps the cache timeout, and prunes when
// it is done; the others get -1, which skips both the prune and the expiry check
// of the entry they look up. An address is kept at most about the interval plus
// one transfer longer than kDnsCacheSeconds (curl's default timeout) says.
void set_dns(CURL* h, const SessionEasy& session) {
  auto now = std::chrono::steady_clock::now();
  if (now >= session.dns_prune_due) {
    session.dns_prune_due = now + kDnsPruneInterval;
    curl_easy_setopt(h, CURLOPT_DNS_CACHE_TIMEOUT, kDnsCacheSeconds);
  } else {
    curl_easy_setopt(h, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
  }
}

// libcurl's built-in CA bundle (CURLINFO_CAINFO, libcurl >= 7.84) when it is a
// file that exists; empty otherwise (libcurl's defaults are left alone).
std::string system_ca_bundle() {
  std::string path;
  if (CURL* e = curl_easy_init()) {
    char* p = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CAINFO, &p) == CURLE_OK && p != nullptr) path = p;
    curl_easy_cleanup(e);
  }
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec)) return {};
  return path;
}

void set_tls(CURL* h, const SessionEasy& session) {
  const SessionOptions& so = *session.options;
  if (session.verified_certs != nullptr) session.verified_certs->attach(h);
  if (!so.verify_tls) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // libcurl >= 7.87 parses the CA file once per multi handle and keeps it
  // (CURLOPT_CA_CACHE_TIMEOUT, a day by default), but only when no CA directory
  // is set; libcurl's built-in default (the system's store) has one.
  if (!so.ca_file.empty()) {
    // Instead of the system's store: libcurl's built-in CA directory (Debian's:
    // /etc/ssl/certs) goes too. With no directory, libcurl also keeps the parsed
    // file in its CA cache; with one it parses the file again per connection.
    curl_easy_setopt(h, CURLOPT_CAINFO, so.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, static_cast<char*>(nullptr));
  } else if (so.verify_tls) {
    // The system's store without its directory, when libcurl's built-in CA
    // bundle exists (Debian's update-ca-certificates writes every CA of the
    // directory into it): then libcurl's CA cache applies, instead of the
    // bundle (145 CAs) parsed again for every connection, about 0.1 CPU s and
    // a megabyte each over a crawl of a thousand hosts (bench/README.md,
    // sitting 6). A CA put into the directory by hand, without
    // update-ca-certificates, is therefore not trusted (docs/behaviour.md).
    static const std::string bundle = system_ca_bundle();
    if (!bundle.empty()) {
      curl_easy_setopt(h, CURLOPT_CAINFO, bundle.c_str());
      curl_easy_setopt(h, CURLOPT_CAPATH, static_cast<char*>(nullptr));
    }
  }
}

// No proxy at all (CURLOPT_PROXY ""): CURLOPT_NOPROXY too, whose value then
// changes nothing, or libcurl reads no_proxy and NO_PROXY from the environment
// for every request (two getenv walks of the whole environment).
void set_no_proxy(CURL* h) {
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOPROXY, "");
}

void set_proxy(CURL* h, const SessionOptions& so, const RequestOptions& ro) {
  if (ro.proxy) {
    if (ro.proxy->empty()) {
      set_no_proxy(h);  // none, variables ignored
    } else {
      curl_easy_setopt(h, CURLOPT_PROXY, ro.proxy->c_str());
    }
  } else if (!so.proxy.empty()) {
    curl_easy_setopt(h, CURLOPT_PROXY, so.proxy.c_str());
  } else if (!so.trust_env) {
    set_no_proxy(h);  // ignore http_proxy & co.
  }
}

void set_cookies(CURL* h, const SessionEasy& session, const RequestOptions& ro,
                 EasyStorage& storage) {
  if (session.share != nullptr) curl_easy_setopt(h, CURLOPT_SHARE, session.share);
  if (session.cookie_engine) {
    // COOKIEFILE "" turns the cookie engine on, reading no file (CurlMulti::recycle
    // drops the file list again).
    curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
  }
  storage.cookie = cookie_header(ro.cookies);
  if (!storage.cookie.empty()) curl_easy_setopt(h, CURLOPT_COOKIE, storage.cookie.c_str());
}

// Whether the request carries a body: POST, PUT and PATCH always (empty if need
// be: Content-Length: 0, as aiohttp), any other method but HEAD when it has data.
bool sends_body(const std::string& method, const RequestOptions& ro) {
  if (method == "HEAD") return false;
  return method == "POST" || method == "PUT" || method == "PATCH" || !ro.data.empty();
}

void set_headers(CURL* h, const SessionEasy& session, const std::string& method,
                 const RequestOptions& ro, bool without_credentials, EasyStorage& storage) {
  const SessionOptions& so = *session.options;
  if (!so.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, so.user_agent.c_str());
  if (so.auto_decompress) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  // libcurl labels a body it sends application/x-www-form-urlencoded; aiohttp's
  // label for bytes is application/octet-stream (a form is the caller's to say).
  bool label_body = sends_body(method, ro) && !ro.headers.contains("Content-Type") &&
                    !so.headers.contains("Content-Type");
  if (ro.headers.empty() && !label_body && !without_credentials) {
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, session.default_headers);
    return;
  }
  curl_slist_free_all(storage.headers);
  storage.headers = request_header_list(so.headers, ro.headers, without_credentials);
  if (label_body) {
    storage.headers = curl_slist_append(storage.headers, "Content-Type: application/octet-stream");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, storage.headers);
}

// GET and HEAD by their own options (HEAD: no body is read); any other method
// sends the request's data under its own name, and so does a GET with data (as
// aiohttp: Elasticsearch's _search takes one).
void set_method(CURL* h, const std::string& method, const RequestOptions& ro) {
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    return;
  }
  if (method == "GET") curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  if (sends_body(method, ro)) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(ro.data.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, ro.data.data());
  }
  if (method != "POST" && method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "GET" && !ro.data.empty()) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");  // POSTFIELDS made it a POST
  }
}

void set_timeouts(CURL* h, const Hop& hop) {
  const Timeouts& to = *hop.timeouts;
  if (hop.deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *hop.deadline - std::chrono::steady_clock::now());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, curl_ms(left));
  }
  if (to.connect && to.connect->count() > 0) {
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, curl_ms(*to.connect));
  }
  // to.sock_read: the transfer's own timer (Transfer::watch_reads).
}

}  // namespace

void configure_easy(CURL* h, const SessionEasy& session, const Hop& hop, EasyStorage& storage) {
  const SessionOptions& so = *session.options;
  const RequestOptions& ro = *hop.request;
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, storage.errbuf);
  static const bool verbose = std::getenv("CORUN_HTTP_VERBOSE") != nullptr;  // debugging aid
  if (verbose) curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  set_target(h, so, *hop.url);
  set_dns(h, session);
  if (hop.url->scheme() == "https") set_tls(h, session);  // a plain http hop has no TLS to set up
  set_proxy(h, so, ro);
  set_cookies(h, session, ro, storage);
  set_headers(h, session, *hop.method, ro, hop.without_credentials, storage);
  set_method(h, *hop.method, ro);
  set_timeouts(h, hop);
}

namespace {
// "Name:" or "Name: " with nothing after it would tell curl to drop the header;
// "Name;" sends it empty (as aiohttp sends an empty value).
curl_slist* append_header(curl_slist* list, std::string_view name, std::string_view value) {
  std::string line = value.empty() ? fmt::format("{};", name) : fmt::format("{}: {}", name, value);
  return curl_slist_append(list, line.c_str());
}
}  // namespace

curl_slist* session_header_list(const Headers& session) {
  curl_slist* list = nullptr;
  for (auto f : session) list = append_header(list, f.name, f.value);
  return curl_slist_append(list, "Expect:");
}

bool is_credential_header(std::string_view name) noexcept {
  return iequals(name, "Authorization") || iequals(name, "Cookie");
}

curl_slist* request_header_list(const Headers& session, const Headers& request,
                                bool without_credentials) {
  curl_slist* list = nullptr;
  for (auto f : session) {
    if (request.contains(f.name)) continue;
    if (without_credentials && is_credential_header(f.name)) continue;
    list = append_header(list, f.name, f.value);
  }
  for (auto f : request) list = append_header(list, f.name, f.value);
  return curl_slist_append(list, "Expect:");
}

std::string cookie_header(const std::vector<std::pair<std::string, std::string>>& cookies) {
  std::string out;
  for (const auto& [name, value] : cookies) {
    if (!out.empty()) out += "; ";
    out.append(name).append("=").append(value);
  }
  return out;
}

long curl_ms(std::chrono::milliseconds d) noexcept {
  auto c = d.count();
  if (c > std::numeric_limits<long>::max()) return std::numeric_limits<long>::max();
  return std::max(1L, static_cast<long>(c));
}

}  // namespace corun::http::detail
