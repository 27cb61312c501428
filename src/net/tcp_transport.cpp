// corun::net::detail::TcpTransport (see include/corun/net/detail/tcp_transport.hpp).
#include "corun/net/detail/tcp_transport.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <mutex>
#include <new>

#include "corun/core/detail/sigpipe.hpp"
#include "corun/net/errors.hpp"

namespace corun::net::detail {

namespace {
constexpr std::size_t kWriteHighWater = std::size_t{64} * 1024;

}  // namespace

struct TcpTransport::WriteReq {
  uv_write_t req;
  std::string data;
  TcpTransport* transport;
};

std::shared_ptr<TcpTransport> TcpTransport::adopt(uv_tcp_t* handle, std::size_t limit) {
  ::corun::detail::ignore_sigpipe_once();
  std::shared_ptr<TcpTransport> t(new TcpTransport);
  t->handle_ = handle;
  t->limit_ = limit > 0 ? limit : kDefaultLimit;
  t->self_ = t;
  handle->data = t.get();
  uv_tcp_nodelay(handle, 1);
  t->start_reading();
  return t;
}

TcpTransport::~TcpTransport() = default;

void TcpTransport::start_reading() {
  if (reading_ || closing_ || eof_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(handle_), &TcpTransport::on_alloc,
                    &TcpTransport::on_read) == 0) {
    reading_ = true;
  }
}

void TcpTransport::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* t = static_cast<TcpTransport*>(h->data);
  *buf = uv_buf_init(t->scratch_, sizeof t->scratch_);
}

void TcpTransport::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* t = static_cast<TcpTransport*>(s->data);
  if (n > 0) {
    t->buffer_.append(buf->base, static_cast<std::size_t>(n));
    if (t->buffer_.size() >= 2 * t->limit_) {  // back-pressure: the reader is behind
      uv_read_stop(s);
      t->reading_ = false;
    }
  } else if (n == UV_EOF) {
    t->eof_ = true;
    uv_read_stop(s);
    t->reading_ = false;
  } else if (n < 0) {
    t->set_error(static_cast<int>(n));
    t->eof_ = true;
    uv_read_stop(s);
    t->reading_ = false;
  } else {
    return;  // n == 0: EAGAIN, nothing happened
  }
  t->wake_reader();
}

void TcpTransport::set_error(int status) {
  if (error_) return;
  std::string msg = fmt::format("{} ({})", uv_strerror(status), uv_err_name(status));
  if (status == UV_ECONNRESET || status == UV_EPIPE) {
    error_ = std::make_exception_ptr(ConnectionResetError(msg, status));
  } else {
    error_ = std::make_exception_ptr(ConnectionError(msg, status));
  }
}

void TcpTransport::wake_reader() {
  if (read_waiter_ && !read_waiter_->done()) read_waiter_->set_result();
}

void TcpTransport::wake_drainers() {
  if (drain_waiter_ && !drain_waiter_->done()) drain_waiter_->set_result();
}

Task<void> TcpTransport::wait_for_data() {
  if (error_ && buffer_.empty()) std::rethrow_exception(error_);
  if (eof_ || closed_) co_return;
  start_reading();
  read_waiter_.emplace();
  Future<void> waiter = *read_waiter_;
  co_await waiter;
}

void TcpTransport::consumed() {
  if (!reading_ && !eof_ && !closing_ && buffer_.size() < limit_) start_reading();
}

void TcpTransport::write(std::string_view data) {
  if (closing_ || data.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(handle_);
  if (write_pending_ == 0) {
    // Fast path: the kernel takes it all now, nothing to queue.
    uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    int n = uv_try_write(stream, &b, 1);
    if (n > 0) data.remove_prefix(static_cast<std::size_t>(n));
    if (data.empty()) return;
    if (n < 0 && n != UV_EAGAIN) {
      set_error(n);
      return;
    }
  }
  auto* req = new WriteReq;
  req->data.assign(data);
  req->transport = this;
  write_pending_ += req->data.size();
  uv_buf_t b = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, stream, &b, 1, &TcpTransport::on_write);
  if (rc != 0) {
    write_pending_ -= req->data.size();
    delete req;
    set_error(rc);
  }
}

void TcpTransport::on_write(uv_write_t* r, int status) {
  auto* req = reinterpret_cast<WriteReq*>(r);
  TcpTransport* t = req->transport;
  t->write_pending_ -= req->data.size();
  delete req;
  if (status < 0 && status != UV_ECANCELED) t->set_error(status);
  if (t->write_pending_ <= kWriteHighWater / 2 || t->error_) t->wake_drainers();
}

Task<void> TcpTransport::drain() {
  for (;;) {
    if (error_) std::rethrow_exception(error_);
    if (write_pending_ <= kWriteHighWater || closed_) co_return;
    drain_waiter_.emplace();
    Future<void> waiter = *drain_waiter_;
    co_await waiter;
  }
}

void TcpTransport::write_eof() {
  if (closing_) return;
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(handle_),
                  [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
  }
}

void TcpTransport::close() noexcept {
  if (closing_) return;
  closing_ = true;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
  reading_ = false;
  if (write_pending_ > 0) {
    // Let queued writes go out first (uv_shutdown waits for them), then close.
    // close() is noexcept: without memory for the request, close at once instead.
    auto* req = new (std::nothrow) uv_shutdown_t;
    if (req != nullptr) req->data = this;
    if (req != nullptr &&
        uv_shutdown(req, reinterpret_cast<uv_stream_t*>(handle_), [](uv_shutdown_t* r, int) {
          auto* t = static_cast<TcpTransport*>(r->data);
          delete r;
          uv_close(reinterpret_cast<uv_handle_t*>(t->handle_), &TcpTransport::on_close);
        }) == 0) {
      return;
    }
    delete req;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), &TcpTransport::on_close);
}

void TcpTransport::abort() noexcept {
  if (closing_) return;
  closing_ = true;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(handle_));
  reading_ = false;
  if (uv_tcp_close_reset(handle_, &TcpTransport::on_close) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), &TcpTransport::on_close);
  }
}

void TcpTransport::on_close(uv_handle_t* h) {
  auto* t = static_cast<TcpTransport*>(h->data);
  delete reinterpret_cast<uv_tcp_t*>(h);
  t->handle_ = nullptr;
  t->closed_ = true;
  t->eof_ = true;
  if (t->close_waiter_ && !t->close_waiter_->done()) t->close_waiter_->set_result();
  t->wake_reader();
  t->wake_drainers();
  std::shared_ptr<TcpTransport> keep = std::move(t->self_);  // may free t at scope end
}

std::string TcpTransport::peername() const {
  if (handle_ == nullptr) return {};
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(handle_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  char ip[64] = {0};
  int port = 0;
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    return fmt::format("[{}]:{}", ip, port);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&addr);
  uv_ip4_name(a, ip, sizeof ip);
  port = ntohs(a->sin_port);
  return fmt::format("{}:{}", ip, port);
}

Task<void> TcpTransport::wait_closed() {
  if (closed_) co_return;
  if (!close_waiter_) close_waiter_.emplace();
  Future<void> waiter = *close_waiter_;
  co_await waiter;
}

}  // namespace corun::net::detail
