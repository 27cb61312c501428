// corun::http::ClientSession (see include/corun/http/session.hpp): requests as
// coroutines over the CurlMulti engine. A request is a loop of hops, each three
// named steps: a slot in the session's gate (detail::RequestGate, the owner of
// limit and limit_per_host), one transfer (detail::Transfer, an easy handle set
// up by detail::configure_easy, failures mapped by detail::error_for), then the
// redirect decision. The transfer lives in the hop's coroutine frame; its
// destructor gives the easy handle back, which also stops a transfer still
// running (the cancellation path).
#include "corun/http/session.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <new>
#include <string_view>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/time.hpp"
#include "corun/http/detail/cookies.hpp"
#include "corun/http/detail/curl_errors.hpp"
#include "corun/http/detail/curl_multi.hpp"
#include "corun/http/detail/easy_options.hpp"
#include "corun/http/detail/request_checks.hpp"
#include "corun/http/detail/request_gate.hpp"
#include "corun/http/detail/transfer.hpp"
#include "corun/http/detail/verified_certs.hpp"
#include "corun/http/url.hpp"
#include "corun/text/ascii.hpp"

namespace corun::http {

namespace {

using RB = ResponseBuilder;

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

struct ClientSession::State : std::enable_shared_from_this<ClientSession::State> {
  SessionOptions options;
  Loop* loop = nullptr;
  bool loop_gone = false;  // the bound loop shut down (the guard ran)
  bool closed = false;
  // Before `multi`, which it outlives: its handshakes call into it.
  std::unique_ptr<detail::VerifiedCerts> verified_certs;
  std::unique_ptr<detail::CurlMulti> multi;
  detail::SessionEasy easy;        // what every easy handle gets from the session
  bool own_share = false;          // false: the shared jar's or cache's
  detail::TransferList transfers;  // in flight
  std::optional<Future<void>> guard_stop;
  // The one owner of `limit` and `limit_per_host`: requests beyond them wait here,
  // not in libcurl. A multi handle holding thousands of pending easy handles (a
  // gather of 10,000 requests) spends O(n) in curl_multi_remove_handle per
  // completion, each pending request would hold its transfer state, and over
  // HTTP/2 curl's per-host connection cap does not bound requests (streams).
  std::unique_ptr<detail::RequestGate> gate;

  explicit State(SessionOptions o) : options(std::move(o)) {
    if (Loop* l = try_get_running_loop()) loop = l;
    easy.options = &options;
    if (options.verify_tls && detail::VerifiedCerts::available()) {
      verified_certs = std::make_unique<detail::VerifiedCerts>();
      easy.verified_certs = verified_certs.get();
    }
    easy.default_headers = detail::session_header_list(options.headers);
    // A transfer takes one share object: the jar's when there is one (shared
    // jars share TLS sessions too), else the run's shared cache, else our own.
    if (options.cookie_jar && options.shared_cookie_jar) {
      easy.share = static_cast<CURLSH*>(options.shared_cookie_jar->native());
      easy.cookie_engine = true;
    } else if (!options.cookie_jar && options.shared_cache) {
      easy.share = static_cast<CURLSH*>(options.shared_cache->native());
    } else {
      // Loop-thread only, so no lock callbacks.
      easy.share = curl_share_init();
      if (easy.share == nullptr) {
        curl_slist_free_all(easy.default_headers);
        throw std::bad_alloc();
      }
      own_share = true;
      if (options.cookie_jar) {
        curl_share_setopt(easy.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
        easy.cookie_engine = true;
      }
      // TLS sessions and addresses outlive the pooled easy handles' own caches.
      curl_share_setopt(easy.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
      curl_share_setopt(easy.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    shutdown();  // frees every easy handle, so none uses the share any more
    curl_slist_free_all(easy.default_headers);
    if (own_share) curl_share_cleanup(easy.share);
  }

  // The share holding the session's cookies, if it has a jar.
  CURLSH* cookie_share() const noexcept { return easy.cookie_engine ? easy.share : nullptr; }

  void bind();
  void shutdown() noexcept;
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
  for (detail::Transfer* t = transfers.head; t != nullptr; t = t->next_in_list()) {
    std::exception_ptr why;
    try {
      why = std::make_exception_ptr(ClientConnectionError("Session is closed", t->url()));
    } catch (...) {
      why = std::current_exception();
    }
    t->stop(why);
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

// A request's arguments, moved to the heap once: the coroutine takes a single
// pointer (g++ 12 mis-relocates some by-value class parameters of coroutines).
struct Call {
  std::shared_ptr<ClientSession::State> st;
  std::string method;
  std::string url;  // the string overloads' text (parsed by run_request)
  RequestOptions ro;
  std::optional<URL> parsed;  // set by the URL overloads instead (url stays empty)
  // Set once a redirect leaves the first request's origin (see Hop).
  bool without_credentials = false;
};

// What a request resolved from its options and the session's, once.
struct Plan {
  const Timeouts* timeouts = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  int max_redirects = 0;
  std::optional<std::size_t> max_body;
  bool raise = false;
};

// The total timeout's deadline, counted from now.
void start_total(Plan& p) {
  if (p.timeouts->total && p.timeouts->total->count() > 0) {
    p.deadline = std::chrono::steady_clock::now() + *p.timeouts->total;
  }
}

Plan make_plan(const SessionOptions& so, const RequestOptions& ro) {
  Plan p;
  p.timeouts = ro.timeout ? &*ro.timeout : &so.timeout;
  if (!ro.total_timeout_from_admission) start_total(p);
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
  std::string origin = st->gate->keys_by_host() ? url->origin() : std::string();
  if (plan->deadline && st->gate->would_wait(origin)) {
    auto left = *plan->deadline - std::chrono::steady_clock::now();
    try {
      Task<detail::RequestGate::Permit> waiting = wait_in_gate(st->gate.get(), std::move(origin));
      Task<detail::RequestGate::Permit> bounded =
          wait_for(std::move(waiting), std::max(left, decltype(left)::zero()));
      permit = co_await bounded;
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
                       const RequestOptions* ro, const Plan* plan, bool first,
                       bool without_credentials, Response* resp, std::string* location) {
  RB::method(*resp) = *method;
  RB::set_url(*resp, url->str());
  if (!st->multi) throw RuntimeError("Session is closed");
  detail::Transfer t(st->transfers, *st->multi, *resp);
  t.allow_redirects = ro->allow_redirects;
  if (plan->max_body) t.max_body = *plan->max_body;
  if (ro->on_chunk) t.on_chunk = &ro->on_chunk;
  if (!ro->save_to.empty()) t.save_to = &ro->save_to;
  if (plan->deadline && std::chrono::steady_clock::now() >= *plan->deadline) {
    throw TimeoutError(fmt::format("timeout ({}): total timeout expired", url->str()));
  }
  t.easy = st->multi->acquire();
  detail::Hop hop{method, url, ro, plan->timeouts, plan->deadline, without_credentials};
  detail::configure_easy(t.easy, st->easy, hop, t.storage);
  if (first && ro->before_send) {
    t.before_send = &ro->before_send;
    detail::CurlMulti::call_before_send(t.easy);
  }
  t.done.emplace(*st->loop);
  st->multi->start(t.easy, &t);
  if (plan->timeouts->sock_read && plan->timeouts->sock_read->count() > 0) {
    t.watch_reads(*st->loop, *plan->timeouts->sock_read);
  }
  co_await *t.done;  // CancelledError: ~Transfer stops the transfer
  if (t.result != CURLE_OK) std::rethrow_exception(detail::error_for(t.failure(), url->str()));

  long code = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
  RB::status(*resp) = static_cast<int>(code);
  long version = 0;
  curl_easy_getinfo(t.easy, CURLINFO_HTTP_VERSION, &version);
  RB::version(*resp) = static_cast<int>(version);
  char* effective = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective != nullptr) RB::set_url(*resp, effective);
  t.finish_file();
  location->clear();
  if (ro->allow_redirects && detail::is_redirect(static_cast<int>(code))) {
    char* target = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_REDIRECT_URL, &target);
    if (target != nullptr) *location = target;
  }
}

// A Location as browsers (and aiohttp, through yarl) read it: what surrounds it
// of spaces and control characters dropped, tabs and line breaks inside
// removed, and after the host a space or a byte past ASCII percent-encoded
// ("http://h/a b" -> "http://h/a%20b"). libcurl does this for a relative
// Location it resolves, not for an absolute one, which URL::parse would refuse.
std::string as_browsers_read(std::string_view location) {
  auto c0_or_space = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  while (!location.empty() && c0_or_space(location.front())) location.remove_prefix(1);
  while (!location.empty() && c0_or_space(location.back())) location.remove_suffix(1);
  std::size_t authority = location.find("://");
  std::size_t after_host =
      authority == std::string_view::npos ? 0 : location.find_first_of("/?#", authority + 3);
  if (after_host == std::string_view::npos) after_host = location.size();
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(location.size());
  for (std::size_t i = 0; i < location.size(); ++i) {
    auto c = static_cast<unsigned char>(location[i]);
    if (c == '\t' || c == '\n' || c == '\r') continue;
    if (i >= after_host && (c == ' ' || c >= 0x80)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Step 3: the hop after resp, if it is a redirect to follow (aiohttp's rules:
// 303 turns any method but HEAD into a GET, 301/302 turn a POST into a GET,
// dropping the body); TooManyRedirects past the plan's limit.
// The message names the hop's URL as its text was given (URL::str()), built
// only here, when it is thrown.
std::optional<URL> next_hop(Call& call, const URL& url, const Plan& plan, const Response& resp,
                            const std::string& location, std::vector<Response>& history) {
  if (location.empty()) return std::nullopt;
  int code = resp.status();
  if (static_cast<long long>(history.size()) + 1 > plan.max_redirects) {
    auto followed = std::make_shared<std::vector<Response>>(std::move(history));
    followed->push_back(resp);
    throw TooManyRedirects(
        fmt::format("too many redirects (more than {}) ({})", plan.max_redirects, url.str()),
        url.str(), code, resp.reason(), std::move(followed));
  }
  URL next = URL::parse(as_browsers_read(location));
  if ((code == 303 && call.method != "HEAD") ||
      ((code == 301 || code == 302) && call.method == "POST")) {
    call.method = "GET";
    call.ro.data.clear();
    call.ro.headers.erase("Content-Type");
    call.ro.headers.erase("Content-Length");
  }
  return next;
}

void drop_credentials(Call& call) {
  call.without_credentials = true;
  call.ro.cookies.clear();
  call.ro.headers.erase("Authorization");  // any case (is_credential_header's names)
  call.ro.headers.erase("Cookie");
}

Task<Response> run_request(std::unique_ptr<Call> call) {
  ClientSession::State* st = call->st.get();
  st->bind();
  URL url = call->parsed ? std::move(*call->parsed) : URL::parse(call->url);
  call->parsed.reset();
  for (char& c : call->method) c = text::ascii_upper(c);
  detail::check_method(call->method);
  detail::check_headers(call->ro.headers);
  detail::check_cookies(call->ro.cookies);
  Plan plan = make_plan(st->options, call->ro);
  std::vector<Response> history;
  std::string first_origin;  // set at the first redirect
  for (;;) {
    Response resp;
    std::string location;
    {
      Task<detail::RequestGate::Permit> acquiring = acquire_slot(st, &url, &plan);
      detail::RequestGate::Permit slot = co_await acquiring;
      if (history.empty() && call->ro.total_timeout_from_admission) start_total(plan);
      if (history.empty() && call->ro.before_start) call->ro.before_start();
      Task<void> hop = perform_hop(st, &call->method, &url, &call->ro, &plan, history.empty(),
                                   call->without_credentials, &resp, &location);
      co_await hop;
    }  // the slot goes back here
    std::optional<URL> next = next_hop(*call, url, plan, resp, location, history);
    if (!next) {
      RB::history(resp) = std::move(history);
      if (plan.raise) resp.raise_for_status();
      co_return resp;
    }
    // A redirect to another origin (scheme, host or port) than the first
    // request's carries no credentials on, for the rest of the chain: not the
    // Authorization or Cookie headers (the session's or the request's), nor the
    // request's cookies (curl's rule since 7.83, aiohttp's). The cookie jar's
    // cookies go by their own domains.
    if (!call->without_credentials) {
      if (first_origin.empty()) first_origin = url.origin();  // url: the first hop's here
      if (next->origin() != first_origin) drop_credentials(*call);
    }
    history.push_back(std::move(resp));
    url = std::move(*next);
  }
}

}  // namespace

namespace {
// The session's own options, checked before any request uses them.
const SessionOptions& checked(const SessionOptions& options) {
  detail::check_headers(options.headers);
  if (options.verify_tls && !options.ca_file.empty()) {
    if (auto problem = detail::ca_file_problem(options.ca_file)) {
      throw ValueError(problem->message);
    }
  }
  return options;
}
}  // namespace

ClientSession::ClientSession(SessionOptions options)
    : state_((checked(options), std::make_shared<State>(std::move(options)))) {}

ClientSession::~ClientSession() = default;
ClientSession::ClientSession(ClientSession&&) noexcept = default;
ClientSession& ClientSession::operator=(ClientSession&&) noexcept = default;

Task<Response> ClientSession::request(std::string method, std::string url, RequestOptions options) {
  if (!state_) throw RuntimeError("ClientSession was moved from");
  return run_request(std::make_unique<Call>(
      Call{state_, std::move(method), std::move(url), std::move(options), std::nullopt}));
}

Task<Response> ClientSession::request(std::string method, URL url, RequestOptions options) {
  if (!state_) throw RuntimeError("ClientSession was moved from");
  // No copy of the URL's text per request: only a too-many-redirects error
  // needs it, and takes it from the URL then.
  return run_request(std::make_unique<Call>(
      Call{state_, std::move(method), std::string(), std::move(options), std::move(url)}));
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

Task<Response> ClientSession::get(URL url, RequestOptions options) {
  return request("GET", std::move(url), std::move(options));
}

Task<Response> ClientSession::post(std::string url, std::string data, RequestOptions options) {
  options.data = std::move(data);
  return request("POST", std::move(url), std::move(options));
}

Task<Response> ClientSession::put(std::string url, std::string data) {
  return put(std::move(url), std::move(data), RequestOptions{});
}

Task<Response> ClientSession::put(std::string url, std::string data, RequestOptions options) {
  options.data = std::move(data);
  return request("PUT", std::move(url), std::move(options));
}

Task<Response> ClientSession::patch(std::string url, std::string data) {
  return patch(std::move(url), std::move(data), RequestOptions{});
}

Task<Response> ClientSession::patch(std::string url, std::string data, RequestOptions options) {
  options.data = std::move(data);
  return request("PATCH", std::move(url), std::move(options));
}

Task<Response> ClientSession::delete_(std::string url) {
  return request("DELETE", std::move(url), RequestOptions{});
}

Task<Response> ClientSession::delete_(std::string url, RequestOptions options) {
  return request("DELETE", std::move(url), std::move(options));
}

Task<Response> ClientSession::head(std::string url) {
  return head(std::move(url), RequestOptions{});
}

Task<Response> ClientSession::head(std::string url, RequestOptions options) {
  options.allow_redirects = false;
  return request("HEAD", std::move(url), std::move(options));
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

std::vector<Cookie> ClientSession::cookies() const {
  if (!state_) return {};
  return detail::read_cookies(state_->cookie_share());
}

void ClientSession::clear_cookies() {
  if (state_) detail::clear_cookies(state_->cookie_share());
}

const SessionOptions& ClientSession::options() const noexcept {
  return state_->options;
}

std::size_t ClientSession::open_sockets() const noexcept {
  return state_ && state_->multi ? state_->multi->watched_sockets() : 0;
}

ClientSession::CertificateChecks ClientSession::certificate_checks() const noexcept {
  if (!state_ || !state_->verified_certs) return {};
  return {state_->verified_certs->full_verifications(), state_->verified_certs->hits()};
}

}  // namespace corun::http
