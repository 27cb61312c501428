// corun::http::ClientSession (see include/corun/http/session.hpp): requests as
// coroutines over the CurlMulti engine. One Transfer per hop lives in the
// request's coroutine frame; its destructor gives the easy handle back, which
// also stops a transfer still running (the cancellation path).
#include "corun/http/session.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string_view>
#include <system_error>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/time.hpp"
#include "corun/http/detail/curl_multi.hpp"
#include "corun/http/detail/request_gate.hpp"
#include "corun/http/url.hpp"

namespace corun::http {

// Fills a Response's private fields.
struct ResponseBuilder {
  static int& status(Response& r) { return r.status_; }
  static int& version(Response& r) { return r.version_; }
  static std::string& reason(Response& r) { return r.reason_; }
  static std::string& method(Response& r) { return r.method_; }
  static std::string& url(Response& r) { return r.url_; }
  static Headers& headers(Response& r) { return r.headers_; }
  static std::string& body(Response& r) { return r.body_; }
  static std::size_t& body_size(Response& r) { return r.body_size_; }
  static std::vector<Response>& history(Response& r) { return r.history_; }
};

namespace {

using RB = ResponseBuilder;
constexpr std::size_t kMaxReserve = std::size_t{64} << 20;

std::string_view standard_reason(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

bool is_redirect(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

long to_ms(std::chrono::milliseconds d) noexcept {
  auto c = d.count();
  if (c > std::numeric_limits<long>::max()) return std::numeric_limits<long>::max();
  return static_cast<long>(c);
}

// SessionOptions::keepalive_connections, 0 resolved: max(4 * limit, 1024), at
// most a quarter of the open-files limit (and never below limit).
std::size_t keepalive_size(const SessionOptions& o) {
  if (o.keepalive_connections > 0) return o.keepalive_connections;
  std::size_t n = std::max<std::size_t>(4 * o.limit, 1024);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    n = std::min<std::size_t>(n, static_cast<std::size_t>(rl.rlim_cur / 4));
  }
  return std::max<std::size_t>(n, std::max<std::size_t>(o.limit, 1));
}

}  // namespace

struct Transfer;

struct ClientSession::State : std::enable_shared_from_this<ClientSession::State> {
  SessionOptions options;
  Loop* loop = nullptr;
  bool loop_gone = false;  // the bound loop shut down (the guard ran)
  bool closed = false;
  std::unique_ptr<detail::CurlMulti> multi;
  curl_slist* default_headers = nullptr;
  CURLSH* share = nullptr;         // every easy handle's CURLOPT_SHARE (jar, TLS sessions, DNS)
  CURLSH* cookie_share = nullptr;  // share, when it holds the session's cookie jar
  Transfer* transfers = nullptr;   // in flight (intrusive list)
  std::optional<Future<void>> guard_stop;
  // The one owner of `limit` and `limit_per_host`: requests beyond them wait here,
  // not in libcurl. A multi handle holding thousands of pending easy handles (a
  // gather of 10,000 requests) spends O(n) in curl_multi_remove_handle per
  // completion, each pending request would hold its transfer state, and over
  // HTTP/2 curl's per-host connection cap does not bound requests (streams).
  std::unique_ptr<detail::RequestGate> gate;

  explicit State(SessionOptions o) : options(std::move(o)) {
    if (Loop* l = try_get_running_loop()) loop = l;
    for (auto f : options.headers) {
      std::string line = fmt::format("{}: {}", f.name, f.value);
      default_headers = curl_slist_append(default_headers, line.c_str());
    }
    // No "Expect: 100-continue" round trip for request bodies (aiohttp sends none).
    default_headers = curl_slist_append(default_headers, "Expect:");
    // A transfer takes one share object: the jar's when there is one (shared
    // jars share TLS sessions too), else the run's shared cache, else our own.
    if (options.cookie_jar && options.shared_cookie_jar) {
      share = cookie_share = static_cast<CURLSH*>(options.shared_cookie_jar->native());
    } else if (!options.cookie_jar && options.shared_cache) {
      share = static_cast<CURLSH*>(options.shared_cache->native());
    } else {
      // Loop-thread only, so no lock callbacks.
      share = curl_share_init();
      if (share == nullptr) throw std::bad_alloc();
      own_share = true;
      if (options.cookie_jar) {
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
        cookie_share = share;
      }
      // TLS sessions and addresses outlive the pooled easy handles' own caches.
      curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
      curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
  }
  ~State() {
    shutdown();  // frees every easy handle, so none uses the share any more
    curl_slist_free_all(default_headers);
    if (own_share) curl_share_cleanup(share);
  }
  bool own_share = false;  // false: the shared jar's or cache's

  void bind();
  void shutdown() noexcept;
};

// One hop of a request: the engine's handler, living in the request coroutine's frame.
struct Transfer final : detail::TransferHandler {
  ClientSession::State* state;
  Response* resp;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;  // per-request header list (when the request has headers)
  std::string cookie;             // the request's own cookies, "a=1; b=2" (CURLOPT_COOKIE)
  std::optional<Future<void>> done;
  CURLcode result = CURLE_OK;
  std::size_t max_body = std::numeric_limits<std::size_t>::max();
  bool too_big = false;
  bool body_started = false;
  bool discard_body = false;  // a redirect we follow: its body is not the user's
  bool allow_redirects = true;
  const std::function<void(std::string_view)>* on_chunk = nullptr;
  const std::filesystem::path* save_to = nullptr;
  std::FILE* file = nullptr;
  std::exception_ptr callback_error;
  std::exception_ptr close_error;  // set by close()
  Transfer* prev = nullptr;
  Transfer* next = nullptr;
  char errbuf[CURL_ERROR_SIZE];

  Transfer(ClientSession::State* s, Response* r) : state(s), resp(r) {
    errbuf[0] = '\0';
    next = s->transfers;
    if (next != nullptr) next->prev = this;
    s->transfers = this;
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr && state->multi) state->multi->release(easy);
    if (prev != nullptr)
      prev->next = next;
    else
      state->transfers = next;
    if (next != nullptr) next->prev = prev;
    curl_slist_free_all(headers);
    if (file != nullptr) std::fclose(file);
  }

  void on_header_line(std::string_view line) override {
    if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
      // A new status line: an interim (1xx) or proxy block before it is dropped.
      RB::headers(*resp).clear();
      auto sp = line.find(' ');
      int status = 0;
      std::string_view reason;
      if (sp != std::string_view::npos) {
        std::string_view rest = line.substr(sp + 1);
        std::size_t i = 0;
        while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
          status = status * 10 + (rest[i] - '0');
          ++i;
        }
        reason = rest.substr(i);
        while (!reason.empty() && reason.front() == ' ') reason.remove_prefix(1);
        while (!reason.empty() &&
               (reason.back() == '\r' || reason.back() == '\n' || reason.back() == ' ')) {
          reason.remove_suffix(1);
        }
      }
      RB::status(*resp) = status;
      RB::reason(*resp) =
          reason.empty() ? std::string(standard_reason(status)) : std::string(reason);
      return;
    }
    RB::headers(*resp).add_raw_line(line);
  }

  bool on_body(std::string_view chunk) override {
    if (!body_started) {
      body_started = true;
      discard_body = allow_redirects && is_redirect(RB::status(*resp)) &&
                     RB::headers(*resp).contains("Location");
      if (!discard_body && on_chunk == nullptr && save_to == nullptr) {
        if (auto cl = RB::headers(*resp).get("Content-Length")) {
          std::size_t n = 0;
          for (char c : *cl) {
            if (c < '0' || c > '9') break;
            n = n * 10 + static_cast<std::size_t>(c - '0');
            if (n > kMaxReserve) break;
          }
          if (n <= max_body) RB::body(*resp).reserve(std::min(n, kMaxReserve));
        }
      }
    }
    if (discard_body) return true;
    std::size_t& size = RB::body_size(*resp);
    size += chunk.size();
    if (size > max_body) {
      too_big = true;
      return false;
    }
    if (on_chunk != nullptr) {
      try {
        (*on_chunk)(chunk);
      } catch (...) {
        callback_error = std::current_exception();
        return false;
      }
      return true;
    }
    if (save_to != nullptr) {
      if (file == nullptr) {
        file = std::fopen(save_to->c_str(), "wb");
        if (file == nullptr) {
          callback_error = std::make_exception_ptr(std::system_error(
              errno, std::generic_category(), "cannot open " + save_to->string()));
          return false;
        }
      }
      if (std::fwrite(chunk.data(), 1, chunk.size(), file) != chunk.size()) {
        callback_error = std::make_exception_ptr(
            std::system_error(errno, std::generic_category(), "cannot write " + save_to->string()));
        return false;
      }
      return true;
    }
    RB::body(*resp).append(chunk);
    return true;
  }

  void on_done(CURLcode r) override {
    result = r;
    if (!done->done()) done->set_result();
  }
};

namespace {

Task<void> session_guard(std::weak_ptr<ClientSession::State> weak, Future<void> stop) {
  // Ends the session's engine when the loop shuts down: run() cancels this task,
  // Loop::close() destroys it; either way the scope's destructor runs while the
  // loop can still close the engine's libuv handles.
  struct Scope {
    std::weak_ptr<ClientSession::State> weak;
    ~Scope() {
      if (auto s = weak.lock()) {
        s->shutdown();
        s->loop_gone = true;
      }
    }
  } scope{std::move(weak)};
  try {
    co_await stop;
  } catch (...) {  // CancelledError included: this task only waits
  }
}

}  // namespace

void ClientSession::State::bind() {
  if (closed) throw RuntimeError("Session is closed");
  if (loop_gone)
    throw RuntimeError("ClientSession's event loop has shut down; create a new session");
  Loop& current = get_running_loop();
  if (loop == nullptr) loop = &current;
  if (loop != &current) {
    throw RuntimeError(
        "ClientSession is bound to a different event loop; create the session in the loop that "
        "uses it");
  }
  if (!multi) {
    detail::MultiLimits limits;
    bool gated = options.limit > 0 || options.limit_per_host > 0;
    // The gate bounds the requests in flight, so connections in use; curl's total
    // would also count the idle ones, and past it close the oldest idle connection
    // for each new one: a crawl over more hosts than `limit` would pay a handshake
    // per request. curl's per-host cap stays as a backstop on connections (the
    // gate's per-host limit is never above it).
    limits.total_connections = 0;
    limits.per_host = static_cast<long>(options.limit_per_host);
    limits.max_idle = static_cast<long>(keepalive_size(options));
    multi = std::make_unique<detail::CurlMulti>(loop->uv_loop(), limits);
    if (gated) gate = std::make_unique<detail::RequestGate>(options.limit, options.limit_per_host);
    guard_stop.emplace(*loop);
    // The guard holds only a weak reference: it never keeps the session alive.
    loop->create_task(session_guard(weak_from_this(), *guard_stop), "ClientSession guard");
  }
}

void ClientSession::State::shutdown() noexcept {
  // Stop every transfer still running; their requests fail with ClientConnectionError.
  for (Transfer* t = transfers; t != nullptr; t = t->next) {
    if (t->easy != nullptr && multi) {
      multi->release(t->easy);
      t->easy = nullptr;
    }
    if (t->done && !t->done->done()) {
      try {
        t->done->set_exception(
            std::make_exception_ptr(ClientConnectionError("Session is closed", RB::url(*t->resp))));
      } catch (...) {  // the loop is closing: the task is being torn down anyway
      }
    }
  }
  multi.reset();
  if (guard_stop && !guard_stop->done() && !loop_gone) {
    try {
      guard_stop->set_result();
    } catch (...) {
    }
  }
}

namespace {

// The aiohttp-named error for a failed transfer; every message names the URL.
std::exception_ptr transfer_error(const Transfer& t, const std::string& url) {
  CURLcode code = t.result;
  std::string detail = t.errbuf[0] != '\0' ? std::string(t.errbuf) : curl_easy_strerror(code);
  bool got_response = RB::status(*t.resp) != 0;
  auto msg = [&](std::string_view what) { return fmt::format("{} ({}): {}", what, url, detail); };
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return std::make_exception_ptr(InvalidURL(msg("invalid URL"), url));
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return std::make_exception_ptr(ClientConnectorError(msg("cannot connect"), url));
    case CURLE_PEER_FAILED_VERIFICATION:
      return std::make_exception_ptr(
          ClientConnectorCertificateError(msg("TLS certificate verification failed"), url));
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return std::make_exception_ptr(ClientSSLError(msg("TLS error"), url));
    case CURLE_OPERATION_TIMEDOUT:
      return std::make_exception_ptr(TimeoutError(msg("timeout")));
    case CURLE_GOT_NOTHING:
      return std::make_exception_ptr(ServerDisconnectedError(msg("server disconnected"), url));
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      if (!got_response) {
        return std::make_exception_ptr(ServerDisconnectedError(msg("server disconnected"), url));
      }
      return std::make_exception_ptr(
          ClientPayloadError(msg("response payload is not completed"), url));
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
      return std::make_exception_ptr(
          ClientPayloadError(msg("response payload is not completed"), url));
    case CURLE_WEIRD_SERVER_REPLY:
      return std::make_exception_ptr(
          ClientResponseError(msg("bad HTTP response"), url, 400, "Bad Response"));
    case CURLE_WRITE_ERROR:
      if (t.callback_error) return t.callback_error;
      if (t.too_big) {
        return std::make_exception_ptr(BodyTooLargeError(
            fmt::format("response body larger than max_body_size, {} bytes ({})", t.max_body, url),
            url, t.max_body));
      }
      return std::make_exception_ptr(ClientPayloadError(msg("write error"), url));
    case CURLE_OUT_OF_MEMORY:
      if (got_response) {
        // curl reports oversized response headers (> 100 KB) this way.
        return std::make_exception_ptr(ClientResponseError(
            fmt::format("bad HTTP response ({}): response headers too large ({})", url, detail),
            url, 400, "Bad Response"));
      }
      return std::make_exception_ptr(ClientError(msg("out of memory"), url));
    default:
      return std::make_exception_ptr(ClientError(msg("request failed"), url));
  }
}

// Sets every option of one hop on a fresh easy handle.
void configure(Transfer& t, const ClientSession::State& st, const std::string& method,
               const URL& url, const RequestOptions& ro, const Timeouts& to,
               std::optional<std::chrono::steady_clock::time_point> deadline) {
  CURL* h = t.easy;
  const SessionOptions& so = st.options;
  // The URL as parsed once (URL::parse), not a string for curl to parse again.
  curl_easy_setopt(h, CURLOPT_CURLU, static_cast<CURLU*>(url.native()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.errbuf);
  static const bool verbose = std::getenv("CORUN_HTTP_VERBOSE") != nullptr;  // debugging aid
  if (verbose) curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  if (!so.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, so.user_agent.c_str());
  if (so.auto_decompress) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                   so.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  if (!so.verify_tls) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // The CA file (or the system's store) is parsed once per multi handle and kept
  // (libcurl >= 7.87 caches it, CURLOPT_CA_CACHE_TIMEOUT, a day by default), not
  // once per handle or connection.
  if (!so.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, so.ca_file.c_str());
  if (so.http2 && url.scheme() == "https") {
    // Requests to a host whose first connection is still being set up wait for it
    // and multiplex over it (HTTP/2), rather than each opening a connection.
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
  }
  if (st.share != nullptr) curl_easy_setopt(h, CURLOPT_SHARE, st.share);
  if (st.cookie_share != nullptr) {
    // COOKIEFILE "" turns the cookie engine on, reading no file (CurlMulti::recycle
    // drops the file list again).
    curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
  }
  t.cookie.clear();
  if (!ro.cookies.empty()) {
    for (const auto& [name, value] : ro.cookies) {
      if (!t.cookie.empty()) t.cookie += "; ";
      t.cookie.append(name).append("=").append(value);
    }
    curl_easy_setopt(h, CURLOPT_COOKIE, t.cookie.c_str());
  }
  if (ro.proxy) {
    curl_easy_setopt(h, CURLOPT_PROXY, ro.proxy->c_str());  // "": none, variables ignored
  } else if (!so.proxy.empty()) {
    curl_easy_setopt(h, CURLOPT_PROXY, so.proxy.c_str());
  } else if (!so.trust_env) {
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // ignore http_proxy & co.
  }

  if (ro.headers.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, st.default_headers);
  } else {
    for (auto f : so.headers) {
      if (ro.headers.contains(f.name)) continue;
      t.headers = curl_slist_append(t.headers, fmt::format("{}: {}", f.name, f.value).c_str());
    }
    for (auto f : ro.headers) {
      // "Name:" with nothing after it would tell curl to drop the header; "Name;" sends it empty.
      std::string line =
          f.value.empty() ? fmt::format("{};", f.name) : fmt::format("{}: {}", f.name, f.value);
      t.headers = curl_slist_append(t.headers, line.c_str());
    }
    t.headers = curl_slist_append(t.headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers);
  }

  if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    if (method == "POST" || !ro.data.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(ro.data.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, ro.data.data());
    }
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  if (deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *deadline - std::chrono::steady_clock::now());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max(1L, to_ms(left)));
  }
  if (to.connect && to.connect->count() > 0) {
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::max(1L, to_ms(*to.connect)));
  }
  if (to.sock_read && to.sock_read->count() > 0) {
    long secs = static_cast<long>((to.sock_read->count() + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, secs);
  }
}

// A request's arguments, moved to the heap once: the coroutine takes a single
// pointer (g++ 12 mis-relocates some by-value class parameters of coroutines).
struct Call {
  std::shared_ptr<ClientSession::State> st;
  std::string method;
  std::string url;
  RequestOptions ro;
};

// What a request resolved from its options and the session's, once.
struct Plan {
  const Timeouts* timeouts = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  int max_redirects = 0;
  std::optional<std::size_t> max_body;
  bool raise = false;
};

Plan make_plan(const SessionOptions& so, const RequestOptions& ro) {
  Plan p;
  p.timeouts = ro.timeout ? &*ro.timeout : &so.timeout;
  if (p.timeouts->total && p.timeouts->total->count() > 0) {
    p.deadline = std::chrono::steady_clock::now() + *p.timeouts->total;
  }
  p.max_redirects = ro.max_redirects.value_or(so.max_redirects);
  p.max_body = ro.max_body_size ? ro.max_body_size : so.max_body_size;
  p.raise = ro.raise_for_status.value_or(so.raise_for_status);
  return p;
}

Task<detail::RequestGate::Permit> wait_in_gate(detail::RequestGate* gate, std::string origin) {
  auto waiting = gate->acquire(origin);
  co_return co_await waiting;
}

// Step 1: a slot in the session's gate (total and per-host limits), counted in
// the total timeout. An empty permit without a gate.
Task<detail::RequestGate::Permit> acquire_slot(ClientSession::State* st, const URL* url,
                                               const Plan* plan) {
  detail::RequestGate::Permit permit;
  if (!st->gate) co_return permit;
  std::string origin = url->origin();
  if (plan->deadline && st->gate->would_wait(origin)) {
    auto left = *plan->deadline - std::chrono::steady_clock::now();
    try {
      Task<detail::RequestGate::Permit> waiting = wait_in_gate(st->gate.get(), std::move(origin));
      permit = co_await wait_for(std::move(waiting), std::max(left, decltype(left)::zero()));
    } catch (const TimeoutError&) {
      throw TimeoutError(
          fmt::format("timeout ({}): total timeout expired waiting for a connection", url->str()));
    }
  } else {
    auto waiting = st->gate->acquire(origin);
    permit = co_await waiting;
  }
  if (st->closed) throw RuntimeError("Session is closed");
  co_return permit;
}

// Step 2: one hop (one HTTP exchange, no redirect followed by curl) into resp;
// location gets the redirect target curl resolved, if any. The transfer is gone
// when this returns, so the caller's slot can go.
Task<void> perform_hop(ClientSession::State* st, const std::string* method, const URL* url,
                       const RequestOptions* ro, const Plan* plan, Response* resp,
                       std::string* location) {
  RB::method(*resp) = *method;
  RB::url(*resp) = url->str();
  Transfer t(st, resp);
  t.allow_redirects = ro->allow_redirects;
  if (plan->max_body) t.max_body = *plan->max_body;
  if (ro->on_chunk) t.on_chunk = &ro->on_chunk;
  if (!ro->save_to.empty()) t.save_to = &ro->save_to;
  if (plan->deadline && std::chrono::steady_clock::now() >= *plan->deadline) {
    throw TimeoutError(fmt::format("timeout ({}): total timeout expired", url->str()));
  }
  t.easy = st->multi->acquire();
  configure(t, *st, *method, *url, *ro, *plan->timeouts, plan->deadline);
  t.done.emplace(*st->loop);
  st->multi->start(t.easy, &t);
  co_await *t.done;  // CancelledError: ~Transfer stops the transfer
  if (t.result != CURLE_OK) std::rethrow_exception(transfer_error(t, url->str()));

  long code = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
  RB::status(*resp) = static_cast<int>(code);
  long version = 0;
  curl_easy_getinfo(t.easy, CURLINFO_HTTP_VERSION, &version);
  RB::version(*resp) = static_cast<int>(version);
  char* effective = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective != nullptr) RB::url(*resp) = effective;
  if (t.file != nullptr) {
    int rc = std::fclose(t.file);
    t.file = nullptr;
    if (rc != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "cannot write " + ro->save_to.string());
    }
  }
  location->clear();
  if (ro->allow_redirects && is_redirect(static_cast<int>(code))) {
    char* target = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_REDIRECT_URL, &target);
    if (target != nullptr) *location = target;
  }
}

// Step 3: the hop after resp, if it is a redirect to follow (aiohttp's rules:
// 303 turns any method but HEAD into a GET, 301/302 turn a POST into a GET,
// dropping the body); TooManyRedirects past the plan's limit.
std::optional<URL> next_hop(Call& call, const Plan& plan, const Response& resp,
                            const std::string& location, std::size_t redirects_so_far) {
  if (location.empty()) return std::nullopt;
  int code = resp.status();
  if (static_cast<long long>(redirects_so_far) + 1 > plan.max_redirects) {
    throw TooManyRedirects(
        fmt::format("too many redirects (more than {}) ({})", plan.max_redirects, call.url),
        call.url, code, resp.reason());
  }
  URL next = URL::parse(location);
  if ((code == 303 && call.method != "HEAD") ||
      ((code == 301 || code == 302) && call.method == "POST")) {
    call.method = "GET";
    call.ro.data.clear();
    call.ro.headers.erase("Content-Type");
    call.ro.headers.erase("Content-Length");
  }
  return next;
}

Task<Response> run_request(std::unique_ptr<Call> call) {
  ClientSession::State* st = call->st.get();
  st->bind();
  URL url = URL::parse(call->url);
  for (char& c : call->method) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  const Plan plan = make_plan(st->options, call->ro);
  std::vector<Response> history;
  for (;;) {
    Response resp;
    std::string location;
    {
      Task<detail::RequestGate::Permit> acquiring = acquire_slot(st, &url, &plan);
      detail::RequestGate::Permit slot = co_await acquiring;
      Task<void> hop = perform_hop(st, &call->method, &url, &call->ro, &plan, &resp, &location);
      co_await hop;
    }  // the slot goes back here
    std::optional<URL> next = next_hop(*call, plan, resp, location, history.size());
    if (!next) {
      RB::history(resp) = std::move(history);
      if (plan.raise) resp.raise_for_status();
      co_return resp;
    }
    history.push_back(std::move(resp));
    call->url = next->str();
    url = std::move(*next);
  }
}

}  // namespace

ClientSession::ClientSession(SessionOptions options)
    : state_(std::make_shared<State>(std::move(options))) {}

ClientSession::~ClientSession() = default;
ClientSession::ClientSession(ClientSession&&) noexcept = default;
ClientSession& ClientSession::operator=(ClientSession&&) noexcept = default;

Task<Response> ClientSession::request(std::string method, std::string url, RequestOptions options) {
  if (!state_) throw RuntimeError("ClientSession was moved from");
  return run_request(
      std::make_unique<Call>(Call{state_, std::move(method), std::move(url), std::move(options)}));
}

Task<Response> ClientSession::request(std::string method, std::string url) {
  return request(std::move(method), std::move(url), RequestOptions{});
}

Task<Response> ClientSession::get(std::string url) {
  return request("GET", std::move(url), RequestOptions{});
}

Task<Response> ClientSession::post(std::string url, std::string data) {
  return post(std::move(url), std::move(data), RequestOptions{});
}

Task<Response> ClientSession::get(std::string url, RequestOptions options) {
  return request("GET", std::move(url), std::move(options));
}

Task<Response> ClientSession::post(std::string url, std::string data, RequestOptions options) {
  options.data = std::move(data);
  return request("POST", std::move(url), std::move(options));
}

Task<void> ClientSession::close() {
  if (state_) {
    state_->closed = true;
    state_->shutdown();
  }
  co_return;
}

bool ClientSession::closed() const noexcept {
  return !state_ || state_->closed;
}

namespace {

// Runs f on an easy handle attached to the jar alone (reading or clearing it).
template <class F>
void with_jar(CURLSH* share, F f) {
  if (share == nullptr) return;
  CURL* h = curl_easy_init();
  if (h == nullptr) throw std::bad_alloc();
  curl_easy_setopt(h, CURLOPT_SHARE, share);
  try {
    f(h);
  } catch (...) {
    curl_easy_cleanup(h);
    throw;
  }
  curl_easy_cleanup(h);
}

std::vector<Cookie> read_jar(CURLSH* share) {
  std::vector<Cookie> out;
  with_jar(share, [&](CURL* h) {
    curl_slist* list = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_COOKIELIST, &list) != CURLE_OK) return;
    for (curl_slist* l = list; l != nullptr; l = l->next) {
      // Netscape format: domain, include-subdomains, path, secure, expires, name, value.
      std::string_view line = l->data;
      std::vector<std::string_view> f;
      while (f.size() < 6) {
        auto tab = line.find('\t');
        if (tab == std::string_view::npos) break;
        f.push_back(line.substr(0, tab));
        line.remove_prefix(tab + 1);
      }
      if (f.size() < 6) continue;
      Cookie c;
      std::string_view domain = f[0];
      if (domain.starts_with("#HttpOnly_")) {
        c.http_only = true;
        domain.remove_prefix(10);
      }
      c.domain = std::string(domain);
      c.path = std::string(f[2]);
      c.secure = f[3] == "TRUE";
      c.expires = std::strtoll(std::string(f[4]).c_str(), nullptr, 10);
      c.name = std::string(f[5]);
      c.value = std::string(line);
      out.push_back(std::move(c));
    }
    curl_slist_free_all(list);
  });
  return out;
}

void clear_jar(CURLSH* share) {
  with_jar(share, [](CURL* h) { curl_easy_setopt(h, CURLOPT_COOKIELIST, "ALL"); });
}

}  // namespace

std::vector<Cookie> ClientSession::cookies() const {
  if (!state_) return {};
  return read_jar(state_->cookie_share);
}

void ClientSession::clear_cookies() {
  if (state_) clear_jar(state_->cookie_share);
}

// ---------------------------------------------------------------- shares

namespace {

// A libcurl share usable from several threads: one lock per kind of data it
// shares (libcurl locks the share itself too).
struct LockedShare {
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];

  LockedShare(bool cookies) {
    share = curl_share_init();
    if (share == nullptr) throw std::bad_alloc();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &LockedShare::lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &LockedShare::unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    if (cookies) curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    // Not CURL_LOCK_DATA_CONNECT: libcurl documents sharing connections between
    // concurrent threads as unsafe; a host's connections live in one lane instead.
  }
  ~LockedShare() { curl_share_cleanup(share); }
  LockedShare(const LockedShare&) = delete;
  LockedShare& operator=(const LockedShare&) = delete;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<LockedShare*>(user)->locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<LockedShare*>(user)->locks[data].unlock();
  }
};

}  // namespace

struct CookieJar::Impl : LockedShare {
  Impl() : LockedShare(true) {}
};

struct SharedCache::Impl : LockedShare {
  Impl() : LockedShare(false) {}
};

SharedCache::SharedCache() : impl_(std::make_unique<Impl>()) {}
SharedCache::~SharedCache() = default;
void* SharedCache::native() const noexcept {
  return impl_->share;
}

CookieJar::CookieJar() : impl_(std::make_unique<Impl>()) {}

CookieJar::~CookieJar() = default;

std::vector<Cookie> CookieJar::cookies() const {
  return read_jar(impl_->share);
}

void CookieJar::clear() {
  clear_jar(impl_->share);
}

void* CookieJar::native() const noexcept {
  return impl_->share;
}

const SessionOptions& ClientSession::options() const noexcept {
  return state_->options;
}

std::size_t ClientSession::open_sockets() const noexcept {
  return state_ && state_->multi ? state_->multi->watched_sockets() : 0;
}

}  // namespace corun::http
