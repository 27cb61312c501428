// corun::net internals: one TCP connection over a uv_tcp_t, shared by the
// StreamReader and StreamWriter of that connection (asyncio's transport +
// StreamReaderProtocol). Loop-thread only.
//
// Lifetime: the transport keeps itself alive while its uv handle is open and
// frees itself in the close callback; readers and writers hold a reference to
// an Endpoint, whose destruction (the last of the pair going away) closes the
// connection.
#pragma once

#include <uv.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "corun/core/future.hpp"

namespace corun::net::detail {

class TcpTransport : public std::enable_shared_from_this<TcpTransport> {
 public:
  static constexpr std::size_t kDefaultLimit = std::size_t{64} * 1024;

  // Takes an initialised uv_tcp_t (connected or accepted); starts reading.
  static std::shared_ptr<TcpTransport> adopt(uv_tcp_t* handle, std::size_t limit);
  ~TcpTransport();

  // Reader side.
  std::string& buffer() noexcept { return buffer_; }
  bool eof() const noexcept { return eof_; }
  std::size_t limit() const noexcept { return limit_; }
  // Waits until more data, EOF or an error arrives (throws the error).
  Task<void> wait_for_data();
  // Throws the connection's error (reset ...) once the buffered data is used up.
  void rethrow_if_failed() const {
    if (error_ && buffer_.empty()) std::rethrow_exception(error_);
  }
  // Called after the reader consumed from buffer(): resumes reading when below the limit.
  void consumed();

  // Writer side.
  void write(std::string_view data);
  Task<void> drain();
  void write_eof();
  void close() noexcept;
  void abort() noexcept;  // close with a TCP reset (RST)
  Task<void> wait_closed();
  bool is_closing() const noexcept { return closing_; }
  std::size_t write_buffer_size() const noexcept { return write_pending_; }
  std::string peername() const;

 private:
  TcpTransport() = default;
  struct WriteReq;
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  void start_reading();
  void wake_reader();
  void wake_drainers();
  void set_error(int status);

  uv_tcp_t* handle_ = nullptr;
  std::shared_ptr<TcpTransport> self_;  // while the handle is open
  std::string buffer_;
  char scratch_[16 * 1024];
  std::size_t limit_ = kDefaultLimit;
  bool reading_ = false;
  bool eof_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::exception_ptr error_;
  std::size_t write_pending_ = 0;
  std::optional<Future<void>> read_waiter_;
  std::optional<Future<void>> drain_waiter_;
  std::optional<Future<void>> close_waiter_;
};

// Closes the connection when the last of its reader/writer goes away.
struct Endpoint {
  std::shared_ptr<TcpTransport> transport;
  ~Endpoint() {
    if (transport) transport->close();
  }
};

}  // namespace corun::net::detail
