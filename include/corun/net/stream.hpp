// corun::net streams: asyncio's StreamReader / StreamWriter and
// open_connection over libuv TCP.
//
//   auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", 8080);
//   writer.write("GET / HTTP/1.0\r\n\r\n");
//   co_await writer.drain();
//   std::string head = co_await reader.readuntil("\r\n\r\n");
//   writer.close();
//   co_await writer.wait_closed();
//
// Back-pressure: the reader stops reading from the socket while more than
// limit() bytes wait unread; drain() suspends while more than the writer's high
// water mark (64 KiB) waits to be sent. Cancellation: cancelling a task
// suspended in any read or in drain() raises CancelledError there and loses no
// data (what arrived stays buffered); cancelling open_connection closes the
// half-made socket. Loop-thread only; the pair closes the socket when both are
// destroyed (close() does it earlier).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "corun/core/task.hpp"
#include "corun/net/errors.hpp"

namespace corun::net {

inline constexpr std::size_t kDefaultStreamLimit = std::size_t{64} * 1024;

namespace detail {
class TcpTransport;
struct Endpoint;
}  // namespace detail

class StreamReader {
 public:
  StreamReader() = default;
  explicit StreamReader(std::shared_ptr<detail::Endpoint> endpoint);

  // Up to n bytes (at least one unless at EOF, where it returns ""); n < 0: everything until EOF.
  Task<std::string> read(std::ptrdiff_t n = -1);
  // Exactly n bytes; IncompleteReadError (with what arrived) at an early EOF.
  Task<std::string> readexactly(std::size_t n);
  // Through the next "\n" (included); at EOF what is left, possibly "".
  Task<std::string> readline();
  // Through separator (included); IncompleteReadError at EOF, LimitOverrunError
  // when limit() bytes arrive without the separator.
  // (An overload, not a default argument: see ClientSession::get.)
  Task<std::string> readuntil(std::string separator);
  Task<std::string> readuntil();
  // EOF seen and the buffer is empty.
  bool at_eof() const noexcept;
  std::size_t limit() const noexcept;

 private:
  std::shared_ptr<detail::Endpoint> endpoint_;
};

class StreamWriter {
 public:
  StreamWriter() = default;
  explicit StreamWriter(std::shared_ptr<detail::Endpoint> endpoint);

  // Queues bytes (sent in order; never blocks). After close(): ignored.
  void write(std::string_view data);
  // Suspends while the queue is above the high water mark; raises the
  // connection's error (ConnectionResetError ...) if sending failed.
  Task<void> drain();
  // Half-close: no more writes, the peer reads EOF; reading goes on.
  void write_eof();
  // Sends what is queued, then closes. Idempotent.
  void close();
  // Closes at once with a TCP reset (RST): the peer sees "connection reset".
  void abort();
  Task<void> wait_closed();
  bool is_closing() const noexcept;
  std::size_t write_buffer_size() const noexcept;
  // The peer's "address:port" ("" once closed).
  std::string peername() const;

 private:
  std::shared_ptr<detail::Endpoint> endpoint_;
};

// asyncio.open_connection: resolves host (libuv getaddrinfo), connects, and
// returns the pair. ConnectionError (naming host:port) when that fails.
Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            std::size_t limit = std::size_t{64} *
                                                                                1024);

// Makes the pair for an accepted or connected transport (used by Server).
std::pair<StreamReader, StreamWriter> make_streams(std::shared_ptr<detail::TcpTransport> t);

}  // namespace corun::net
