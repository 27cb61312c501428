// redis::Connection over hiredis's async API, with corun's own libuv glue
// (see include/corun/redis/connection.hpp for the contract).
//
// Why not hiredis's libuv adapter: it ignores poll errors (a refused connect
// reports POLLERR, which libuv delivers as a status < 0 and then stops polling:
// the adapter returns and the connection hangs forever) and has no timeouts.
// Here a poll error fails the connection with the socket's error, and corun
// timers bound connecting and every command.
//
// Ownership: ConnectionState (shared by Connection, its Pipelines and the
// command coroutines) owns at most one Link, the hiredis context of the
// current TCP connection. hiredis owns a reference to each Slot (one command)
// it has been given, and runs its callback exactly once: with the reply, or
// with NULL when the context is freed. A Link's memory outlives its context:
// it is freed by its poll handle's close callback, after hiredis is done.
// hiredis callbacks never run user code: they complete Futures, whose waiters
// resume in a later loop step.
#include "corun/redis/connection.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <uv.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <system_error>

#include "corun/core/detail/sigpipe.hpp"
#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/text/ascii.hpp"

namespace corun::redis {

namespace detail {

namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

// Commands that make the server hold the reply until data arrives or their own
// timeout passes: abandoning one leaves the connection blocked behind it.
bool is_blocking_command(const std::string& name, const std::vector<std::string>& argv) {
  static const char* const kBlocking[] = {"BLPOP",  "BRPOP",    "BRPOPLPUSH", "BLMOVE",
                                          "BLMPOP", "BZPOPMIN", "BZPOPMAX",   "BZMPOP",
                                          "WAIT",   "WAITAOF"};
  for (const char* b : kBlocking) {
    if (name == b) return true;
  }
  if (name == "XREAD" || name == "XREADGROUP") {
    for (std::size_t i = 1; i < argv.size(); ++i) {
      std::string word = text::to_ascii_upper(argv[i]);
      if (word == "STREAMS") break;
      if (word == "BLOCK") return true;
    }
  }
  return false;
}

Reply to_reply(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return Reply::string(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return Reply::status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return Reply::integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) elements.push_back(to_reply(r->element[i]));
      return Reply::array(std::move(elements));
    }
    default:
      return Reply::nil();
  }
}

}  // namespace

// The exception a top-level error reply becomes.
std::exception_ptr response_error(const std::string& message, const std::string& command) {
  ResponseError probe(message);
  const std::string& kind = probe.kind();
  if (kind == "NOSCRIPT") return std::make_exception_ptr(NoScriptError(message, command));
  if (kind == "NOAUTH" || kind == "WRONGPASS") {
    return std::make_exception_ptr(AuthenticationError(fmt::format("{}: {}", command, message)));
  }
  return std::make_exception_ptr(ResponseError(message, command));
}

class ConnectionState;

// One command: its arguments until sent, then its outcome.
struct Slot {
  explicit Slot(Loop& loop) : done(loop) {}
  void add_ref() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) delete this;
  }

  enum class Phase : std::uint8_t { queued, sent, finished };

  int refs = 0;
  Future<void> done;  // completed (or failed) when the outcome is known
  Reply reply;
  std::vector<std::string> argv;  // until sent
  std::string name;               // the command's name, upper case, for messages
  ConnectionState* owner = nullptr;
  Clock::duration timeout{};
  std::multimap<Clock::time_point, Slot*>::iterator deadline_pos;
  bool scheduled = false;  // in owner->deadlines
  bool blocking = false;
  Phase phase = Phase::queued;
};

using SlotRef = ::corun::detail::Ref<Slot>;

enum class Step : std::uint8_t { auth, select, setname, ping };

// One hiredis context: one TCP connection and its handshake.
struct Link {
  uv_poll_t poll{};  // poll.data == this; freed by the poll's close callback
  ConnectionState* owner = nullptr;
  redisAsyncContext* ac = nullptr;  // null once hiredis has freed it
  int events = 0;
  bool ready = false;          // the handshake has answered
  std::deque<Step> steps;      // handshake replies still expected
  std::exception_ptr failure;  // why corun closed it (null: hiredis found an error)

  void set_events(int wanted) {
    if (ac == nullptr || wanted == events) return;
    events = wanted;
    if (wanted == 0) {
      uv_poll_stop(&poll);
    } else {
      uv_poll_start(&poll, wanted, &Link::on_poll);
    }
  }
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void add_read(void* d) {
    auto* l = static_cast<Link*>(d);
    l->set_events(l->events | UV_READABLE);
  }
  static void del_read(void* d) {
    auto* l = static_cast<Link*>(d);
    l->set_events(l->events & ~UV_READABLE);
  }
  static void add_write(void* d) {
    auto* l = static_cast<Link*>(d);
    l->set_events(l->events | UV_WRITABLE);
  }
  static void del_write(void* d) {
    auto* l = static_cast<Link*>(d);
    l->set_events(l->events & ~UV_WRITABLE);
  }
  static void cleanup(void* d);
};

class ConnectionState : public std::enable_shared_from_this<ConnectionState> {
 public:
  enum class Phase : std::uint8_t { connecting, ready, waiting, closed };

  ConnectionState(Loop& loop, Url url, ConnectOptions options)
      : loop_(&loop), url_(std::move(url)), options_(std::move(options)), address_(url_.address()) {
    ::corun::detail::ignore_sigpipe_once();
  }
  ~ConnectionState() {
    if (phase_ != Phase::closed && !loop_gone_) {
      close_with(std::make_exception_ptr(ConnectionError("connection closed")), true);
    }
  }

  const Url& url() const noexcept { return url_; }
  Phase phase() const noexcept { return phase_; }
  std::uint64_t connections() const noexcept { return connections_; }
  Future<void>& opened() { return *opened_; }

  // connect(): the guard that closes this connection when the loop shuts down,
  // then the first attempt.
  void start();
  void check_loop() const;
  SlotRef make_slot(std::vector<std::string> argv, std::optional<Clock::duration> timeout);
  void submit(const SlotRef& slot);
  // The awaiting task was cancelled: forget slot (see the header's Cancellation).
  void abandon(Slot* slot);
  void close_from_user();
  void close_with(const std::exception_ptr& error, bool cancel_pending);
  void on_loop_shutdown() {
    loop_gone_ = true;
    close_with(std::make_exception_ptr(ConnectionError(
                   fmt::format("connection to {} closed: its event loop shut down", address_))),
               true);
  }
  bool loop_gone() const noexcept { return loop_gone_; }
  Loop* loop() const noexcept { return loop_; }

  // hiredis events.
  void on_link_ready(Link* l);
  void on_link_closed(Link* l, const std::exception_ptr& reason, const std::string& text);
  void on_slot_reply(Slot* s, redisAsyncContext* ac, redisReply* r);
  void fail_link(Link* l, std::exception_ptr why);
  std::exception_ptr handshake_error(Step step, const std::string& message) const;
  const std::string& address() const noexcept { return address_; }
  void open_link(const std::string& ip);
  void attempt_failed(const std::exception_ptr& error);
  std::uint64_t attempt() const noexcept { return attempt_; }

 private:
  void start_attempt();
  void resolve();
  void on_connect_timeout(std::uint64_t attempt);
  void schedule_reconnect();
  void send(Slot* s);
  void settle(Slot* s, std::exception_ptr error);
  void schedule_deadline(Slot* s);
  void unschedule(Slot* s) {
    if (!s->scheduled) return;
    deadlines_.erase(s->deadline_pos);
    s->scheduled = false;
  }
  void arm(Clock::time_point when);
  void on_deadline();
  void expire(Slot* s);
  std::exception_ptr not_sent_error(const Slot* s, std::string_view why) const;
  // The same, for a connection closed for good by `cause`: an
  // AuthenticationError stays one (code that retries on ConnectionError
  // must not loop on a refused password).
  std::exception_ptr not_sent_error(const Slot* s, const std::exception_ptr& cause) const;

  Loop* loop_;
  Url url_;
  ConnectOptions options_;
  std::string address_;
  Phase phase_ = Phase::connecting;
  bool ever_ready_ = false;
  bool loop_gone_ = false;
  bool cancel_pending_ = false;  // closing for a loop shutdown: cancel rather than fail
  Link* link_ = nullptr;
  std::uint64_t attempt_ = 0;
  std::uint64_t connections_ = 0;
  int failures_ = 0;  // reconnection attempts since the connection was last up
  std::string last_error_;
  std::exception_ptr closed_error_;
  std::deque<SlotRef> queued_;
  std::multimap<Clock::time_point, Slot*> deadlines_;
  Handle deadline_timer_;
  Clock::time_point armed_ = Clock::time_point::max();
  Handle connect_timer_;
  Handle reconnect_timer_;
  std::optional<Future<void>> opened_;
  std::optional<Future<void>> guard_stop_;
  std::minstd_rand jitter_{std::random_device{}()};
};

namespace {

// Ends with the loop: run() cancels this task at shutdown and Loop::close()
// destroys it; either way the scope closes the connection while the loop can
// still close its libuv handle. A normal close() ends it through stop.
Task<void> connection_guard(std::weak_ptr<ConnectionState> weak, Future<void> stop) {
  struct Scope {
    std::weak_ptr<ConnectionState> weak;
    bool normal = false;
    ~Scope() {
      if (normal) return;
      if (auto s = weak.lock()) s->on_loop_shutdown();
    }
  } scope{std::move(weak)};
  try {
    co_await stop;
    scope.normal = true;
  } catch (...) {  // CancelledError included: this task only waits
  }
}

void on_slot_reply_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* s = static_cast<Slot*>(privdata);
  SlotRef hold(s);
  // hold now owns the reference send() gave hiredis: the count stays >= 1, which the
  // analyzer cannot see through the intrusive count.
  // NOLINTBEGIN(clang-analyzer-cplusplus.NewDelete)
  s->release();
  s->owner->on_slot_reply(s, ac, static_cast<redisReply*>(reply));
  // NOLINTEND(clang-analyzer-cplusplus.NewDelete)
}

void on_handshake_reply_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  (void)ac;
  auto* l = static_cast<Link*>(privdata);
  Step step = l->steps.front();
  l->steps.pop_front();
  ConnectionState* st = l->owner;
  // NULL: the context is going away; its cleanup reports why.
  if (reply == nullptr || st == nullptr || l->failure) return;
  auto* r = static_cast<redisReply*>(reply);
  if (r->type == REDIS_REPLY_ERROR) {
    st->fail_link(l, st->handshake_error(step, std::string(r->str, r->len)));
    return;
  }
  if (l->steps.empty()) st->on_link_ready(l);
}

struct Resolve {
  uv_getaddrinfo_t req{};
  std::weak_ptr<ConnectionState> owner;
  std::uint64_t attempt = 0;
};

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  std::unique_ptr<Resolve> r(static_cast<Resolve*>(req->data));
  std::string ip;
  if (status == 0) {
    // IPv4 first, like hiredis's own resolution.
    for (int family : {AF_INET, AF_INET6}) {
      for (addrinfo* p = res; p != nullptr && ip.empty(); p = p->ai_next) {
        if (p->ai_family != family) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        const void* addr =
            family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
        if (::inet_ntop(family, addr, buf, sizeof buf) != nullptr) ip = buf;
      }
    }
  }
  if (res != nullptr) uv_freeaddrinfo(res);
  auto st = r->owner.lock();
  if (!st || st->attempt() != r->attempt || st->phase() != ConnectionState::Phase::connecting) {
    return;
  }
  if (ip.empty()) {
    st->attempt_failed(std::make_exception_ptr(ConnectionError(
        fmt::format("cannot connect to {}: cannot resolve the host: {}", st->address(),
                    status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address"))));
    return;
  }
  st->open_link(ip);
}

}  // namespace

void Link::on_poll(uv_poll_t* handle, int status, int events) {
  auto* l = static_cast<Link*>(handle->data);
  if (l->ac == nullptr) return;
  if (status < 0) {
    // libuv stopped polling (POLLERR): a refused or reset connection. Name the
    // socket's own error where there is one.
    l->events = 0;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(l->ac->c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    std::string text =
        err != 0 ? std::error_code(err, std::generic_category()).message() : uv_strerror(status);
    ConnectionState* st = l->owner;
    std::string message = l->ready ? fmt::format("connection to {} lost: {}", st->address(), text)
                                   : fmt::format("cannot connect to {}: {}", st->address(), text);
    st->fail_link(l, std::make_exception_ptr(ConnectionError(message, l->ready)));
    return;
  }
  if ((events & UV_READABLE) != 0) redisAsyncHandleRead(l->ac);
  if (l->ac != nullptr && (events & UV_WRITABLE) != 0) redisAsyncHandleWrite(l->ac);
}

void Link::cleanup(void* d) {
  auto* l = static_cast<Link*>(d);
  if (l->ac == nullptr) return;
  std::exception_ptr reason = l->failure;
  std::string text;
  if (!reason) text = l->ac->err != 0 ? l->ac->errstr : "the connection was closed";
  l->ac = nullptr;
  uv_poll_stop(&l->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&l->poll),
           [](uv_handle_t* h) { delete static_cast<Link*>(h->data); });
  if (ConnectionState* st = l->owner) {
    l->owner = nullptr;
    st->on_link_closed(l, reason, text);
  }
}

void ConnectionState::start() {
  opened_.emplace(*loop_);
  guard_stop_.emplace(*loop_);
  loop_->create_task(connection_guard(weak_from_this(), *guard_stop_), "redis connection guard");
  start_attempt();
}

void ConnectionState::check_loop() const {
  if (loop_gone_) {
    throw RuntimeError("redis::Connection's event loop has shut down; connect again");
  }
  if (try_get_running_loop() != loop_) {
    throw RuntimeError(
        "redis::Connection is bound to the event loop it was connected on; use it from that "
        "loop's tasks (or connect again in this one)");
  }
}

void ConnectionState::start_attempt() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::connecting;
  std::uint64_t id = ++attempt_;
  connect_timer_.cancel();
  connect_timer_ = loop_->call_later(options_.connect_timeout, [weak = weak_from_this(), id] {
    if (auto s = weak.lock()) s->on_connect_timeout(id);
  });
  in6_addr probe{};
  if (::inet_pton(AF_INET, url_.host.c_str(), &probe) == 1 ||
      ::inet_pton(AF_INET6, url_.host.c_str(), &probe) == 1) {
    open_link(url_.host);
  } else {
    resolve();
  }
}

void ConnectionState::resolve() {
  auto* r = new Resolve;
  r->owner = weak_from_this();
  r->attempt = attempt_;
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc =
      uv_getaddrinfo(loop_->uv_loop(), &r->req, &on_resolved, url_.host.c_str(), nullptr, &hints);
  if (rc != 0) {
    delete r;
    attempt_failed(std::make_exception_ptr(ConnectionError(fmt::format(
        "cannot connect to {}: cannot resolve the host: {}", address_, uv_strerror(rc)))));
  }
}

void ConnectionState::open_link(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), url_.port);
  if (ac == nullptr) {
    attempt_failed(std::make_exception_ptr(
        ConnectionError(fmt::format("cannot connect to {}: out of memory", address_))));
    return;
  }
  if (ac->err != 0) {
    std::string text = ac->errstr;
    redisAsyncFree(ac);
    attempt_failed(std::make_exception_ptr(
        ConnectionError(fmt::format("cannot connect to {}: {}", address_, text))));
    return;
  }
  auto* l = new Link;
  if (uv_poll_init_socket(loop_->uv_loop(), &l->poll, ac->c.fd) != 0) {
    delete l;
    redisAsyncFree(ac);
    attempt_failed(std::make_exception_ptr(
        ConnectionError(fmt::format("cannot connect to {}: cannot poll the socket", address_))));
    return;
  }
  l->poll.data = l;
  l->owner = this;
  l->ac = ac;
  redisEnableKeepAlive(&ac->c);
  ac->data = l;
  ac->ev.data = l;
  ac->ev.addRead = &Link::add_read;
  ac->ev.delRead = &Link::del_read;
  ac->ev.addWrite = &Link::add_write;
  ac->ev.delWrite = &Link::del_write;
  ac->ev.cleanup = &Link::cleanup;
  link_ = l;
  // The handshake, pipelined behind the connect: hiredis buffers it until the
  // socket is writable. User commands wait until PING has answered.
  auto send_step = [&](Step step, const std::vector<std::string>& argv) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    l->steps.push_back(step);
    if (redisAsyncCommandArgv(ac, &on_handshake_reply_cb, l, static_cast<int>(ptrs.size()),
                              ptrs.data(), lens.data()) != REDIS_OK) {
      l->steps.pop_back();
    }
  };
  if (url_.password) {
    if (url_.username.empty()) {
      send_step(Step::auth, {"AUTH", *url_.password});
    } else {
      send_step(Step::auth, {"AUTH", url_.username, *url_.password});
    }
  }
  if (url_.db != 0) send_step(Step::select, {"SELECT", std::to_string(url_.db)});
  if (!options_.client_name.empty()) {
    send_step(Step::setname, {"CLIENT", "SETNAME", options_.client_name});
  }
  send_step(Step::ping, {"PING"});
}

std::exception_ptr ConnectionState::handshake_error(Step step, const std::string& message) const {
  ResponseError probe(message);
  const std::string& kind = probe.kind();
  if (kind == "NOAUTH") {
    return std::make_exception_ptr(AuthenticationError(
        fmt::format("{} requires a password and the URL gives none: {}", address_, message)));
  }
  switch (step) {
    case Step::auth:
      return std::make_exception_ptr(
          AuthenticationError(fmt::format("AUTH to {} refused: {}", address_, message)));
    case Step::select:
      return std::make_exception_ptr(ResponseError(
          message, "SELECT", fmt::format("SELECT {} on {} failed", url_.db, address_)));
    case Step::setname:
      return std::make_exception_ptr(
          ResponseError(message, "CLIENT", fmt::format("CLIENT SETNAME on {} failed", address_)));
    case Step::ping:
      break;
  }
  if (kind == "LOADING" || kind == "BUSY" || kind == "MASTERDOWN" || kind == "TRYAGAIN") {
    return std::make_exception_ptr(
        ConnectionError(fmt::format("{} is not ready to serve: {}", address_, message)));
  }
  return std::make_exception_ptr(
      ResponseError(message, "PING", fmt::format("PING to {} failed", address_)));
}

void ConnectionState::on_connect_timeout(std::uint64_t id) {
  if (id != attempt_ || phase_ != Phase::connecting) return;
  auto error = std::make_exception_ptr(
      ConnectionError(fmt::format("cannot connect to {}: no answer within the {:g} s connect "
                                  "timeout",
                                  address_, seconds(options_.connect_timeout))));
  if (link_ != nullptr) {
    fail_link(link_, error);  // its cleanup reports the failure
  } else {
    ++attempt_;  // a resolution still running is stale
    attempt_failed(error);
  }
}

void ConnectionState::attempt_failed(const std::exception_ptr& error) {
  connect_timer_.cancel();
  if (phase_ == Phase::closed) return;
  if (!ever_ready_) {  // connect() fails: it does not retry
    close_with(error, false);
    return;
  }
  bool permanent = false;
  try {
    std::rethrow_exception(error);
  } catch (const AuthenticationError&) {
    permanent = true;
  } catch (const ResponseError&) {
    permanent = true;
  } catch (...) {
  }
  if (permanent) {
    close_with(error, false);
    return;
  }
  last_error_ = what_of(error);
  schedule_reconnect();
}

void ConnectionState::schedule_reconnect() {
  phase_ = Phase::waiting;
  Clock::duration delay{0};
  if (failures_ > 0) {
    // Exponential backoff with "equal jitter": half the step fixed, half random.
    Clock::duration step = options_.reconnect_initial_delay;
    for (int i = 1; i < failures_ && step < options_.reconnect_max_delay; ++i) step *= 2;
    step = std::min(step, options_.reconnect_max_delay);
    std::uniform_int_distribution<Clock::rep> half(0, step.count() / 2);
    delay = step / 2 + Clock::duration(half(jitter_));
  }
  ++failures_;
  reconnect_timer_.cancel();
  reconnect_timer_ = loop_->call_later(delay, [weak = weak_from_this()] {
    if (auto s = weak.lock()) s->start_attempt();
  });
}

void ConnectionState::on_link_ready(Link* l) {
  l->ready = true;
  connect_timer_.cancel();
  phase_ = Phase::ready;
  ever_ready_ = true;
  failures_ = 0;
  last_error_.clear();
  ++connections_;
  if (opened_ && !opened_->done()) opened_->set_result();
  // Commands issued while connecting go out now, in the order they were issued.
  while (!queued_.empty() && phase_ == Phase::ready && link_ == l && l->ac != nullptr) {
    SlotRef s = std::move(queued_.front());
    queued_.pop_front();
    if (s->phase == Slot::Phase::queued) send(s.get());
  }
}

void ConnectionState::on_link_closed(Link* l, const std::exception_ptr& reason,
                                     const std::string& text) {
  if (link_ != l) return;
  link_ = nullptr;
  if (phase_ == Phase::closed) return;
  if (!l->ready) {
    attempt_failed(reason ? reason
                          : std::make_exception_ptr(ConnectionError(
                                fmt::format("cannot connect to {}: {}", address_, text))));
    return;
  }
  std::exception_ptr error =
      reason ? reason
             : std::make_exception_ptr(
                   ConnectionError(fmt::format("connection to {} lost: {}", address_, text), true));
  if (!options_.reconnect) {
    close_with(error, false);
    return;
  }
  last_error_ = what_of(error);
  failures_ = 0;
  schedule_reconnect();
}

void ConnectionState::fail_link(Link* l, std::exception_ptr why) {
  if (l->ac == nullptr) return;
  if (!l->failure) l->failure = std::move(why);
  // Inside a hiredis callback this only marks the context; hiredis frees it
  // when the callback returns. Pending callbacks then get NULL replies.
  redisAsyncFree(l->ac);
}

SlotRef ConnectionState::make_slot(std::vector<std::string> argv,
                                   std::optional<Clock::duration> timeout) {
  if (argv.empty()) throw Error("redis: a command needs at least its name");
  std::string name = text::to_ascii_upper(argv[0]);
  if (name == "SUBSCRIBE" || name == "PSUBSCRIBE" || name == "SSUBSCRIBE" ||
      name == "UNSUBSCRIBE" || name == "PUNSUBSCRIBE" || name == "SUNSUBSCRIBE" ||
      name == "MONITOR") {
    throw Error(fmt::format(
        "redis: {} is not supported by redis::Connection (pub/sub and MONITOR change what the "
        "connection receives)",
        name));
  }
  if (name == "CLIENT" && argv.size() > 1 && text::to_ascii_upper(argv[1]) == "REPLY") {
    // OFF and SKIP leave commands without replies: the next replies would go
    // to the wrong callers.
    throw Error(
        "redis: CLIENT REPLY is not supported by redis::Connection (every command's reply "
        "is matched to it in order)");
  }
  if (name == "HELLO" && argv.size() > 1 && argv[1] != "2") {
    throw Error(
        "redis: HELLO with a protocol other than 2 is not supported (hiredis 0.14 reads "
        "RESP2 only)");
  }
  Clock::duration t = timeout.value_or(options_.command_timeout);
  if (t <= Clock::duration::zero()) throw Error("redis: a command timeout must be positive");
  SlotRef s(new Slot(*loop_));
  s->blocking = is_blocking_command(name, argv);
  s->argv = std::move(argv);
  s->name = std::move(name);
  s->owner = this;
  s->timeout = t;
  return s;
}

void ConnectionState::submit(const SlotRef& slot) {
  Slot* s = slot.get();
  if (phase_ == Phase::closed) {
    s->phase = Slot::Phase::finished;
    s->done.set_exception(not_sent_error(s, closed_error_));
    return;
  }
  schedule_deadline(s);
  if (phase_ == Phase::ready && link_ != nullptr && queued_.empty()) {
    send(s);
  } else {
    queued_.push_back(slot);
  }
}

void ConnectionState::send(Slot* s) {
  thread_local std::vector<const char*> ptrs;
  thread_local std::vector<std::size_t> lens;
  ptrs.clear();
  lens.clear();
  for (const auto& a : s->argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAsyncCommandArgv(link_->ac, &on_slot_reply_cb, s, static_cast<int>(ptrs.size()),
                            ptrs.data(), lens.data()) != REDIS_OK) {
    settle(s, not_sent_error(s, fmt::format("the connection to {} is closing", address_)));
    return;
  }
  s->add_ref();  // hiredis's, given back in on_slot_reply_cb
  s->phase = Slot::Phase::sent;
  s->argv.clear();
  s->argv.shrink_to_fit();
}

void ConnectionState::on_slot_reply(Slot* s, redisAsyncContext* ac, redisReply* r) {
  if (s->phase == Slot::Phase::finished) return;  // abandoned: the reply is discarded
  if (r != nullptr) {
    s->reply = to_reply(r);
    settle(s, nullptr);
    return;
  }
  auto* l = static_cast<Link*>(ac->data);
  std::string why;
  if (l != nullptr && l->failure) {
    why = what_of(l->failure);
  } else if (ac->err != 0) {
    why = fmt::format("connection to {} lost: {}", address_, ac->errstr);
  } else {
    why = fmt::format("connection to {} closed", address_);
  }
  settle(s, std::make_exception_ptr(ConnectionError(
                fmt::format("{} failed: {} (the command was in flight: it may or may not have "
                            "executed)",
                            s->name, why),
                true)));
}

void ConnectionState::settle(Slot* s, std::exception_ptr error) {
  unschedule(s);
  s->phase = Slot::Phase::finished;
  if (s->done.done()) return;
  if (cancel_pending_) {
    s->done.cancel();
  } else if (error) {
    s->done.set_exception(std::move(error));
  } else {
    s->done.set_result();
  }
}

std::exception_ptr ConnectionState::not_sent_error(const Slot* s, std::string_view why) const {
  return std::make_exception_ptr(
      ConnectionError(fmt::format("{} was not sent (it did not execute): {}", s->name, why)));
}

std::exception_ptr ConnectionState::not_sent_error(const Slot* s,
                                                   const std::exception_ptr& cause) const {
  try {
    if (cause) std::rethrow_exception(cause);
  } catch (const AuthenticationError& e) {
    return std::make_exception_ptr(AuthenticationError(
        fmt::format("{} was not sent (it did not execute): {}", s->name, e.what())));
  } catch (...) {
    // any other cause: a ConnectionError, below
  }
  return not_sent_error(s, what_of(cause));
}

void ConnectionState::abandon(Slot* s) {
  if (s->phase == Slot::Phase::finished) return;
  bool was_sent = s->phase == Slot::Phase::sent;
  unschedule(s);
  s->phase = Slot::Phase::finished;
  if (was_sent && s->blocking && link_ != nullptr) {
    fail_link(link_, std::make_exception_ptr(ConnectionError(
                         fmt::format("connection to {} closed: a blocking {} was cancelled, and "
                                     "the connection would stay blocked until the server answered",
                                     address_, s->name),
                         true)));
  }
}

void ConnectionState::schedule_deadline(Slot* s) {
  if (s->timeout == Clock::duration::max()) return;
  Clock::time_point now = loop_->now();
  Clock::time_point when =
      s->timeout >= Clock::time_point::max() - now ? Clock::time_point::max() : now + s->timeout;
  s->deadline_pos = deadlines_.emplace(when, s);
  s->scheduled = true;
  if (when < armed_) arm(when);
}

void ConnectionState::arm(Clock::time_point when) {
  deadline_timer_.cancel();
  armed_ = when;
  deadline_timer_ = loop_->call_at(when, [weak = weak_from_this()] {
    if (auto s = weak.lock()) s->on_deadline();
  });
}

void ConnectionState::on_deadline() {
  armed_ = Clock::time_point::max();
  Clock::time_point now = loop_->now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    expire(deadlines_.begin()->second);
  }
  if (!deadlines_.empty()) arm(deadlines_.begin()->first);
}

void ConnectionState::expire(Slot* s) {
  unschedule(s);
  if (s->phase == Slot::Phase::queued) {
    std::string state = phase_ == Phase::connecting ? "connecting" : "reconnecting";
    std::string why = fmt::format("not connected to {} within its {:g} s timeout ({}{}{})",
                                  address_, seconds(s->timeout), state,
                                  last_error_.empty() ? "" : "; last error: ", last_error_);
    settle(s, not_sent_error(s, why));
    return;
  }
  if (s->phase != Slot::Phase::sent) return;
  std::string message = fmt::format("{} timed out after {:g} s waiting for {}'s reply", s->name,
                                    seconds(s->timeout), address_);
  if (s->blocking) {
    message +=
        "; the connection was closed, as a blocking command keeps it busy until the "
        "server answers";
  } else {
    message += "; the reply will be discarded and the connection stays usable";
  }
  settle(s, std::make_exception_ptr(TimeoutError(message)));
  if (s->blocking && link_ != nullptr) {
    fail_link(
        link_,
        std::make_exception_ptr(ConnectionError(
            fmt::format("connection to {} closed: a blocking {} timed out", address_, s->name),
            true)));
  }
}

void ConnectionState::close_from_user() {
  if (phase_ == Phase::closed || loop_gone_) return;
  if (loop_->is_running() && !loop_->in_loop_thread()) {
    throw RuntimeError(
        "redis::Connection::close() called from another thread while its loop runs; close it "
        "from the loop's tasks");
  }
  close_with(std::make_exception_ptr(ConnectionError(
                 fmt::format("connection to {} closed by Connection::close()", address_))),
             false);
}

void ConnectionState::close_with(const std::exception_ptr& error, bool cancel_pending) {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  closed_error_ = error;
  cancel_pending_ = cancel_pending;
  ++attempt_;
  connect_timer_.cancel();
  reconnect_timer_.cancel();
  deadline_timer_.cancel();
  armed_ = Clock::time_point::max();
  std::deque<SlotRef> queued = std::move(queued_);
  queued_.clear();
  for (auto& s : queued) {
    if (s->phase == Slot::Phase::queued) settle(s.get(), not_sent_error(s.get(), error));
  }
  if (link_ != nullptr) fail_link(link_, error);
  if (opened_ && !opened_->done()) {
    if (cancel_pending) {
      opened_->cancel();
    } else {
      opened_->set_exception(error);
    }
  }
  if (guard_stop_ && !guard_stop_->done()) guard_stop_->set_result();
}

// The coroutine behind Connection::command_argv.
Task<Reply> run_command(std::shared_ptr<ConnectionState> st, std::vector<std::string> argv,
                        std::optional<Clock::duration> timeout) {
  st->check_loop();
  SlotRef slot = st->make_slot(std::move(argv), timeout);
  st->submit(slot);
  try {
    co_await slot->done;
  } catch (const CancelledError&) {
    st->abandon(slot.get());
    throw;
  }
  if (slot->reply.is_error())
    std::rethrow_exception(response_error(slot->reply.as_error(), slot->name));
  co_return std::move(slot->reply);
}

// Forgets a slot whose outcome nobody will read (so no "exception was never
// retrieved" report for it).
void discard(Slot* s) {
  s->owner->abandon(s);
  if (!s->done.done()) {
    s->done.cancel();
  } else if (!s->done.cancelled()) {
    (void)s->done.exception();
  }
}

Task<std::vector<Reply>> run_pipeline(std::shared_ptr<ConnectionState> st,
                                      std::vector<std::vector<std::string>> commands,
                                      bool raise_on_error, std::optional<Clock::duration> timeout) {
  st->check_loop();
  std::vector<SlotRef> slots;
  slots.reserve(commands.size());
  // All are checked before any is sent: a bad command sends nothing.
  for (auto& argv : commands) slots.push_back(st->make_slot(std::move(argv), timeout));
  for (auto& s : slots) st->submit(s);
  std::vector<Reply> replies;
  replies.reserve(slots.size());
  std::exception_ptr first_failure;
  try {
    for (auto& s : slots) {
      try {
        co_await s->done;
      } catch (const CancelledError&) {
        throw;
      } catch (...) {
        if (!first_failure) first_failure = std::current_exception();
      }
      replies.push_back(std::move(s->reply));
    }
  } catch (const CancelledError&) {
    for (auto& s : slots) discard(s.get());
    throw;
  }
  if (first_failure) std::rethrow_exception(first_failure);
  if (raise_on_error) {
    for (std::size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].is_error()) {
        std::rethrow_exception(response_error(replies[i].as_error(), slots[i]->name));
      }
    }
  }
  co_return replies;
}

}  // namespace detail

// ---------------------------------------------------------------- Connection

Connection::Connection(std::shared_ptr<detail::ConnectionState> state) : state_(std::move(state)) {}

Connection Connection::adopt(std::shared_ptr<detail::ConnectionState> state) {
  return Connection(std::move(state));
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Connection old(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

Connection::~Connection() {
  if (!state_ || state_->loop_gone() || state_->phase() == detail::ConnectionState::Phase::closed) {
    return;
  }
  Loop* loop = state_->loop();
  if (loop->is_running() && !loop->in_loop_thread()) {
    // Another thread runs the loop: close there.
    try {
      loop->call_soon_threadsafe([s = state_] { s->close_from_user(); });
    } catch (const std::exception&) {  // the loop closed meanwhile; its shutdown closed us
    }
    return;
  }
  state_->close_from_user();
}

Task<Reply> Connection::command_argv(std::vector<std::string> argv,
                                     std::optional<Clock::duration> timeout) {
  if (!state_)
    throw RuntimeError("redis::Connection is not connected (default-constructed or moved from)");
  return detail::run_command(state_, std::move(argv), timeout);
}

Pipeline Connection::pipeline() {
  if (!state_)
    throw RuntimeError("redis::Connection is not connected (default-constructed or moved from)");
  return Pipeline(state_);
}

void Connection::close() {
  if (state_) state_->close_from_user();
}

bool Connection::is_connected() const noexcept {
  return state_ && state_->phase() == detail::ConnectionState::Phase::ready;
}

bool Connection::is_closed() const noexcept {
  return !state_ || state_->phase() == detail::ConnectionState::Phase::closed;
}

const Url& Connection::url() const {
  if (!state_)
    throw RuntimeError("redis::Connection is not connected (default-constructed or moved from)");
  return state_->url();
}

std::uint64_t Connection::connections_made() const noexcept {
  return state_ ? state_->connections() : 0;
}

Pipeline& Pipeline::command_argv(std::vector<std::string> argv) {
  commands_.push_back(std::move(argv));
  return *this;
}

Task<std::vector<Reply>> Pipeline::execute(bool raise_on_error,
                                           std::optional<Clock::duration> timeout) {
  if (!state_) throw RuntimeError("redis::Pipeline has no connection");
  std::vector<std::vector<std::string>> commands = std::move(commands_);
  commands_.clear();
  return detail::run_pipeline(state_, std::move(commands), raise_on_error, timeout);
}

namespace detail {

Task<Connection> open_connection(Url url, ConnectOptions options) {
  Loop& loop = get_running_loop();
  if (options.connect_timeout <= Clock::duration::zero() ||
      options.command_timeout <= Clock::duration::zero() ||
      options.reconnect_initial_delay <= Clock::duration::zero() ||
      options.reconnect_max_delay < options.reconnect_initial_delay) {
    throw ValueError(
        "redis::ConnectOptions: timeouts and delays must be positive, and "
        "reconnect_max_delay at least reconnect_initial_delay");
  }
  auto st = std::make_shared<ConnectionState>(loop, std::move(url), std::move(options));
  st->start();
  Future<void> opened = st->opened();
  try {
    co_await opened;
  } catch (const CancelledError&) {
    st->close_with(std::make_exception_ptr(ConnectionError(fmt::format(
                       "connection to {} closed: connect() was cancelled", st->address()))),
                   false);
    throw;
  }
  co_return Connection::adopt(std::move(st));
}

Task<Connection> open_connection_url(std::string url, ConnectOptions options) {
  Url parsed = parse_url(url);
  Task<Connection> opening = open_connection(std::move(parsed), std::move(options));
  Connection conn = co_await opening;
  co_return conn;
}

}  // namespace detail

Task<Connection> connect(Url url) {
  return detail::open_connection(std::move(url), ConnectOptions{});
}

Task<Connection> connect(std::string url) {
  return detail::open_connection_url(std::move(url), ConnectOptions{});
}

Task<Connection> connect(Url url, ConnectOptions options) {
  return detail::open_connection(std::move(url), std::move(options));
}

Task<Connection> connect(std::string url, ConnectOptions options) {
  return detail::open_connection_url(std::move(url), std::move(options));
}

}  // namespace corun::redis
