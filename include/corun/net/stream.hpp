// corun::net streams: asyncio's StreamReader/StreamWriter, open_connection and
// start_server, over libuv TCP.
//
// Back-pressure: the reader stops reading from the socket while more than
// `limit` bytes (64 KiB by default, asyncio's) sit unread; the writer's drain()
// waits while more than the high-water mark (64 KiB) is queued for the kernel.
// Cancellation: a task cancelled inside read*() or drain() stops waiting; the
// bytes already buffered stay for the next read. Reader and writer are cheap
// handles to one connection, loop-thread only; the connection closes when the
// writer is closed (or both handles are gone).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "corun/core/task.hpp"
#include "corun/net/errors.hpp"

namespace corun::net {

namespace detail {
struct Connection;
struct ServerState;
}  // namespace detail

inline constexpr std::size_t kDefaultStreamLimit = 64 * 1024;

class StreamReader {
 public:
  StreamReader() = default;
  explicit StreamReader(std::shared_ptr<detail::Connection> c) : c_(std::move(c)) {}

  // Up to n bytes (at least 1 unless at EOF; "" at EOF). n = npos: everything
  // until EOF.
  Task<std::string> read(std::size_t n = std::numeric_limits<std::size_t>::max());
  // Exactly n bytes, or IncompleteReadError at EOF.
  Task<std::string> readexactly(std::size_t n);
  // Up to and including separator; IncompleteReadError at EOF before it;
  // LimitOverrunError if it does not show within the limit.
  Task<std::string> readuntil(std::string separator = "\n");
  // A line including "\n"; at EOF, whatever is left (possibly "").
  Task<std::string> readline();
  bool at_eof() const noexcept;

 private:
  std::shared_ptr<detail::Connection> c_;
};

class StreamWriter {
 public:
  StreamWriter() = default;
  explicit StreamWriter(std::shared_ptr<detail::Connection> c) : c_(std::move(c)) {}

  // Queues data for sending (never blocks); follow with drain() for back-pressure.
  void write(std::string_view data);
  // Waits until the send queue is below the high-water mark; raises the
  // connection's error if it broke.
  Task<void> drain();
  // Sends what is queued, then closes (asyncio's close: does not wait).
  void close();
  // Closes without sending what is queued (an RST for the peer).
  void abort();
  Task<void> wait_closed();
  bool is_closing() const noexcept;
  // Half-close: no more writes, the peer sees EOF; reading goes on.
  void write_eof();
  std::string peername() const;

 private:
  std::shared_ptr<detail::Connection> c_;
};

struct Streams {
  StreamReader reader;
  StreamWriter writer;
};

// Resolves host and connects (asyncio.open_connection). ConnectionError names
// host:port and the cause (refused, unreachable, unknown host).
Task<Streams> open_connection(std::string host, std::uint16_t port,
                              std::size_t limit = kDefaultStreamLimit);

using ConnectionHandler = std::function<Task<void>(StreamReader, StreamWriter)>;

// A listening TCP server (asyncio.Server). Each accepted connection runs
// handler(reader, writer) as its own task; the handler owns the connection.
class Server {
 public:
  Server() = default;
  explicit Server(std::shared_ptr<detail::ServerState> s) : s_(std::move(s)) {}
  // The port actually bound (useful with port 0).
  std::uint16_t port() const noexcept;
  std::string host() const;
  // Stops accepting; connections already accepted go on.
  void close();
  Task<void> wait_closed();
  bool is_serving() const noexcept;

 private:
  std::shared_ptr<detail::ServerState> s_;
};

// Binds host:port (port 0 picks a free one) and starts accepting.
Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port,
                          std::size_t limit = kDefaultStreamLimit);

}  // namespace corun::net
