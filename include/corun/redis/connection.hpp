// redis::Connection: an asyncio-style Redis client over hiredis, driven by the
// corun loop (one poll watcher on the socket, corun timers for deadlines; no
// thread). Names follow redis-py's asyncio client and aioredis.
//
//   redis::Connection conn = co_await redis::connect("redis://:secret@127.0.0.1:6379/2");
//   co_await conn.command("SET", "greeting", "hello");
//   redis::Reply r = co_await conn.command("GET", "greeting");   // r.as_string() == "hello"
//   co_await conn.command(redis::Timeout(2s), "BLPOP", "jobs", 1);
//
// connect() resolves the host (libuv's resolver: the loop never blocks), opens
// the TCP connection, and sends AUTH (from the URL), SELECT db (when not 0),
// CLIENT SETNAME (when options name one) and PING, pipelined; it returns once
// PING answers, so an unreachable, refusing or silent server fails connect()
// itself, within connect_timeout, with a ConnectionError or AuthenticationError
// naming the server. It does not retry: reconnection is for a connection that
// was up.
//
// Commands are sent in the order they are issued and hiredis matches replies in
// that order, so commands issued by several tasks at once (or a Pipeline)
// share round trips. command() returns a lazy Task: nothing is sent until it is
// awaited or scheduled (like a Python coroutine).
//
// Timeouts: every command has one (options.command_timeout unless the call
// passes a Timeout); it covers waiting for a reconnection and waiting for the
// reply. Expired before the command was sent: ConnectionError (it did not
// run). Expired while in flight: redis::TimeoutError; the reply is discarded
// when it arrives and the connection stays usable, except after a blocking
// command (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD/XREADGROUP ... BLOCK, WAIT...),
// which would keep the connection blocked until the server answers: that
// connection is closed (and reopened if reconnect is on). Give blocking
// commands a server-side timeout shorter than the client's.
//
// Cancellation (the awaiting task cancelled, or an outer wait_for expiring)
// does the same as a timeout: a command not yet sent is dropped; one in flight
// has its reply discarded (connection usable), a blocking one closes the
// connection. The task sees CancelledError.
//
// Reconnection (options.reconnect, on by default): when the connection drops,
// commands in flight fail with ConnectionError (may_have_executed() true: the
// server may or may not have run them); the connection reconnects in the
// background with exponential backoff and jitter, from reconnect_initial_delay
// up to reconnect_max_delay, repeating the AUTH/SELECT/SETNAME handshake.
// Commands issued meanwhile wait for it, up to their own timeout, then fail
// with ConnectionError (never sent). A refused AUTH or SELECT on reconnection
// closes the connection for good with that error. With reconnect off, a drop
// closes the connection. A SELECT sent by hand is not replayed: use the URL's db.
//
// Not supported: pub/sub (SUBSCRIBE...) and MONITOR (they change what the
// connection receives; command() refuses them), RESP3 (HELLO 3), TLS.
//
// Loop binding: a connection belongs to the loop it was connected on; using it
// from another loop or thread raises corun::RuntimeError. A connection left
// open when its loop shuts down is closed by the shutdown. close() (or the
// destructor) fails what is pending with ConnectionError and frees the socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/core/loop.hpp"
#include "corun/core/task.hpp"
#include "corun/redis/detail/args.hpp"
#include "corun/redis/errors.hpp"
#include "corun/redis/pipeline.hpp"
#include "corun/redis/reply.hpp"
#include "corun/redis/url.hpp"

namespace corun::redis {

class Connection;
struct ConnectOptions;

namespace detail {
class ConnectionState;
Task<Connection> open_connection(Url url, ConnectOptions options);
}  // namespace detail

struct ConnectOptions {
  // Resolving, connecting and the handshake, for connect() and each reconnection.
  Clock::duration connect_timeout = std::chrono::seconds(10);
  // The default timeout of every command (a Timeout argument overrides it).
  Clock::duration command_timeout = std::chrono::seconds(30);
  bool reconnect = true;
  Clock::duration reconnect_initial_delay = std::chrono::milliseconds(100);
  Clock::duration reconnect_max_delay = std::chrono::seconds(5);
  // CLIENT SETNAME on every (re)connection when not empty (shows in CLIENT LIST).
  std::string client_name;
};

// A command's own timeout, given as command()'s first argument. Timeout::never()
// waits as long as it takes (for blocking commands with a server-side timeout 0).
struct Timeout {
  explicit Timeout(Clock::duration d) : value(d) {}
  // One longer than Clock can hold (about 292 years) is never().
  template <class Rep, class Period>
  explicit Timeout(std::chrono::duration<Rep, Period> d) : value(clamped(d)) {}
  static Timeout never() { return Timeout(Clock::duration::max()); }
  Clock::duration value;

 private:
  template <class Rep, class Period>
  static Clock::duration clamped(std::chrono::duration<Rep, Period> d) {
    using Seconds = std::chrono::duration<long double>;
    auto s = std::chrono::duration_cast<Seconds>(d);
    if (s >= std::chrono::duration_cast<Seconds>(Clock::duration::max())) {
      return Clock::duration::max();
    }
    if (s <= std::chrono::duration_cast<Seconds>(Clock::duration::min())) {
      return Clock::duration::min();
    }
    return std::chrono::duration_cast<Clock::duration>(d);
  }
};

class Connection {
 public:
  Connection() = default;  // not connected; every command raises
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Sends one command (its name and arguments; see detail/args.hpp for how
  // numbers and lists become arguments) and returns its reply. An error reply
  // raises ResponseError (NoScriptError for NOSCRIPT, AuthenticationError for
  // NOAUTH/WRONGPASS).
  template <detail::CommandArg... A>
  Task<Reply> command(const A&... args) {
    return command_argv(detail::make_argv(args...));
  }
  template <detail::CommandArg... A>
  Task<Reply> command(Timeout timeout, const A&... args) {
    return command_argv(detail::make_argv(args...), timeout.value);
  }
  // The same with the arguments as a list; timeout empty: the default.
  Task<Reply> command_argv(std::vector<std::string> argv,
                           std::optional<Clock::duration> timeout = {});

  // Commands collected and sent together: see pipeline.hpp.
  Pipeline pipeline();

  // Closes the connection now (idempotent): commands waiting or in flight fail
  // with ConnectionError; later commands raise ConnectionError.
  void close();

  bool valid() const noexcept { return static_cast<bool>(state_); }
  // Connected and past the handshake right now (false while reconnecting).
  bool is_connected() const noexcept;
  bool is_closed() const noexcept;
  const Url& url() const;
  // Successful handshakes so far: 1 after connect(), +1 per reconnection.
  std::uint64_t connections_made() const noexcept;

 private:
  friend Task<Connection> detail::open_connection(Url url, ConnectOptions options);
  static Connection adopt(std::shared_ptr<detail::ConnectionState> state);
  explicit Connection(std::shared_ptr<detail::ConnectionState> state);
  std::shared_ptr<detail::ConnectionState> state_;
};

// Opens a connection (see above); throws InvalidURL, ConnectionError,
// AuthenticationError or ResponseError (a refused SELECT). (Overloads rather
// than a default argument: g++ 12 copies a class-type default argument of a
// call inside a coroutine bitwise, leaving its strings pointing at the copy it
// made first.)
Task<Connection> connect(std::string url);
Task<Connection> connect(std::string url, ConnectOptions options);
Task<Connection> connect(Url url);
Task<Connection> connect(Url url, ConnectOptions options);

}  // namespace corun::redis
