// corun::http::ClientSession: aiohttp.ClientSession over libcurl's multi-socket
// interface, driven by the corun loop (one poll watcher per socket, one timer;
// thousands of requests on one thread, no thread per request). The session owns
// a connection pool: keep-alive connections are reused across requests, HTTP/2
// is negotiated where the server offers it, bodies are decompressed.
//
//   corun::http::SessionOptions options;
//   options.limit = 64;  // ({.limit = 64} works too, but g++ 12's -Wextra warns
//                        // of the fields it leaves to their defaults)
//   corun::http::ClientSession session(options);
//   corun::http::Response r = co_await session.get("http://example.com/");
//   r.raise_for_status();
//   std::string page = r.text();
//   co_await session.close();
//
// Loop binding: the session binds to the loop running when it is constructed
// (or, if none runs, to the loop of its first request); using it from another
// loop raises corun::RuntimeError. Not thread-safe (loop-thread only), like
// every loop-bound object.
//
// Cancellation: cancelling the task awaiting a request (or a wait_for timeout)
// stops its transfer at once and frees its connection slot. close() stops every
// transfer still running (they fail with ClientConnectionError) and frees the
// connections; any later request raises corun::RuntimeError("Session is closed").
// A session left unclosed when its loop shuts down is torn down by the loop's
// shutdown (its transfers are stopped) rather than leaking.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corun/core/task.hpp"
#include "corun/http/cookie_jar.hpp"
#include "corun/http/errors.hpp"
#include "corun/http/headers.hpp"
#include "corun/http/response.hpp"
#include "corun/http/url.hpp"

namespace corun::http {

// aiohttp.ClientTimeout. nullopt (or zero) means no limit.
struct Timeouts {
  // The whole request: connection wait, connect, redirects, body.
  std::optional<std::chrono::milliseconds> total = std::chrono::seconds(300);
  // Establishing a connection (TCP + TLS).
  std::optional<std::chrono::milliseconds> connect = std::chrono::seconds(30);
  // Longest silence while waiting for the response or its body, once the
  // connection is up (a timer that moves with the data, to the millisecond).
  std::optional<std::chrono::milliseconds> sock_read;
};

struct SessionOptions {
  // Requests in flight at once (aiohttp's TCPConnector limit: connections in use;
  // idle keep-alive connections do not count). Over HTTP/2 they are streams, and
  // requests to one host share a connection. 0 = none.
  std::size_t limit = 100;
  // Requests in flight at once to one host (scheme, host and port: URL::origin(),
  // so http://a and http://a:80 are one host); over HTTP/2, streams. 0 = none.
  // The session enforces both limits itself: requests past them wait, first come
  // first served per host, and a host at its limit holds up no other host's
  // requests (aiohttp's connector). A request waiting counts in its total timeout;
  // cancelling it gives its place up.
  std::size_t limit_per_host = 0;
  Timeouts timeout;
  Headers headers;  // sent with every request (a request's own win)
  std::string user_agent = "corun/0.1";
  bool raise_for_status = false;             // every >= 400 response raises ClientResponseError
  int max_redirects = 10;                    // more redirects than this raise TooManyRedirects
  bool verify_tls = true;                    // certificate and host name verification
  std::filesystem::path ca_file;             // PEM CA bundle to trust instead of the system's
  bool trust_env = false;                    // take proxies from http_proxy/https_proxy/no_proxy
  std::string proxy;                         // explicit proxy URL for every request
  std::optional<std::size_t> max_body_size;  // larger bodies raise ClientPayloadError
  bool http2 = true;                         // HTTP/2 over TLS when the server offers it (ALPN)
  bool auto_decompress = true;  // Accept-Encoding gzip, br, zstd, deflate; decoded bodies
  // A cookie jar shared by the session's requests (aiohttp's CookieJar): cookies
  // a response sets are sent by later requests (and redirects) to that site.
  // false: no jar (aiohttp's DummyCookieJar).
  bool cookie_jar = true;
  // With cookie_jar: this jar instead of one of the session's own, so several
  // sessions (on any threads) keep one set of cookies. See CookieJar.
  std::shared_ptr<class CookieJar> shared_cookie_jar;
  // Idle keep-alive connections kept for reuse (libcurl's connection cache), over
  // all hosts: a crawl over more hosts than `limit` reuses a host's connection on
  // its next URL instead of a new TCP + TLS handshake. 0: max(4 * limit, 1024),
  // at most a quarter of the open-files limit.
  std::size_t keepalive_connections = 0;
  // TLS sessions (resumption) and resolved addresses shared with other sessions,
  // on any threads. Used when the session has no shared_cookie_jar (a shared jar
  // shares TLS sessions and addresses itself) and no jar of its own (cookie_jar =
  // false); otherwise the session's own cache is used.
  std::shared_ptr<class SharedCache> shared_cache;
};

// Per-request options; the unset ones come from the session.
struct RequestOptions {
  Headers headers;
  std::string data;  // request body (sent as is; set Content-Type in headers)
  std::optional<Timeouts> timeout;
  bool allow_redirects = true;
  std::optional<int> max_redirects;
  std::optional<bool> raise_for_status;
  std::optional<std::size_t> max_body_size;
  // A proxy for this request (aiohttp's proxy=): replaces the session's proxy and
  // trust_env; an empty string means no proxy at all.
  std::optional<std::string> proxy;
  // Cookies sent with this request in addition to the jar's ("name", "value").
  std::vector<std::pair<std::string, std::string>> cookies;
  // Streaming: when set, the body is not buffered in the Response; each piece
  // goes to on_chunk as it arrives (loop thread, inside the transfer: keep it
  // short and do not block). An exception from it stops the transfer and is
  // rethrown by the request. Memory stays bounded by curl's buffer size.
  std::function<void(std::string_view chunk)> on_chunk;
  // Streaming to a file: the body is written to this path as it arrives
  // (created/truncated when the first byte of the final response arrives).
  std::filesystem::path save_to;
  // Called once the request holds its slot under the session's limit and
  // limit_per_host, just before its first byte is sent (loop thread; not again
  // for redirects). An exception from it ends the request before anything was
  // sent, gives the slot back and is rethrown by the request: a caller that is
  // shutting down uses it so that a request which waited for a slot never starts.
  std::function<void()> before_start;
  // Called once the request's connection is ready (connected, TLS done, or an
  // idle one reused), just before its first byte is sent: libcurl's
  // CURLOPT_PREREQFUNCTION (loop thread, inside the transfer; not again for
  // redirects). An exception from it ends the request with nothing sent (the
  // connection may be closed) and is rethrown by the request. The latest point
  // a check can come before the request leaves: a worker that may have been
  // stalled (SIGSTOP) since before_start checks its lease again here.
  std::function<void()> before_send;
  // When the total timeout starts. false (aiohttp's ClientTimeout.total): at the
  // call, so the wait for a slot under the session's limit and limit_per_host
  // counts, and a request queued too long fails with TimeoutError ("total
  // timeout expired waiting for a connection"). true: once the gate admitted the
  // request's first hop; the wait before it is unbounded (cancel the task, or use
  // before_start, to give it up). A caller that queues a backlog on purpose (a
  // crawl behind a per-host limit) uses it so that only the request itself is
  // timed. Later hops (redirects) run under the deadline already started, their
  // waits for a slot included. timeout.connect and sock_read are not affected.
  bool total_timeout_from_admission = false;
};

class ClientSession {
 public:
  explicit ClientSession(SessionOptions options = {});
  ~ClientSession();
  ClientSession(ClientSession&&) noexcept;
  ClientSession& operator=(ClientSession&&) noexcept;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // method: "GET", "POST", "HEAD", ... (any case; sent in upper case). The task
  // completes with the final response
  // once its body has arrived. Errors: see errors.hpp.
  // (Overloads rather than default arguments: g++ 12 mishandles a defaulted
  // class-type argument inside a co_await expression.)
  Task<Response> request(std::string method, std::string url);
  Task<Response> request(std::string method, std::string url, RequestOptions options);
  // An already parsed URL (http::URL): not parsed again; its origin() keys
  // limit_per_host. The same as passing url.str().
  Task<Response> request(std::string method, URL url, RequestOptions options);
  Task<Response> get(std::string url);
  Task<Response> get(std::string url, RequestOptions options);
  Task<Response> get(URL url, RequestOptions options);
  Task<Response> post(std::string url, std::string data);
  Task<Response> post(std::string url, std::string data, RequestOptions options);
  Task<Response> put(std::string url, std::string data);
  Task<Response> put(std::string url, std::string data, RequestOptions options);
  Task<Response> patch(std::string url, std::string data);
  Task<Response> patch(std::string url, std::string data, RequestOptions options);
  // aiohttp's session.delete(); `delete` is a C++ keyword, so the name takes a
  // trailing underscore (the Python convention for a name that clashes with a
  // keyword, as in `class_`). A body, if any, goes in options.data.
  Task<Response> delete_(std::string url);
  Task<Response> delete_(std::string url, RequestOptions options);
  // HEAD, not following redirects (aiohttp's head() default, allow_redirects=False):
  // options.allow_redirects is not read. To follow them: request("HEAD", url, options).
  Task<Response> head(std::string url);
  Task<Response> head(std::string url, RequestOptions options);

  // Stops running transfers, closes the connections; idempotent.
  Task<void> close();
  bool closed() const noexcept;

  const SessionOptions& options() const noexcept;

  // The jar (aiohttp's session.cookie_jar): every cookie it holds, and clearing it.
  std::vector<Cookie> cookies() const;
  void clear_cookies();

  // Connections currently open in the pool (for tests and diagnostics).
  std::size_t open_sockets() const noexcept;

  // Server certificates checked in this session's TLS handshakes (for tests and
  // diagnostics): chains verified in full, and handshakes whose leaf certificate
  // the session had already verified, whose chain was not verified again (the host
  // name is checked every time). docs/behaviour.md, "A certificate chain is verified once".
  struct CertificateChecks {
    std::size_t verified = 0;
    std::size_t known = 0;
  };
  CertificateChecks certificate_checks() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace corun::http
