// corun::net StreamReader / StreamWriter / open_connection (see include/corun/net/stream.hpp).
#include "corun/net/stream.hpp"

#include <fmt/format.h>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/net/detail/tcp_transport.hpp"

namespace corun::net {

IncompleteReadError::IncompleteReadError(std::string partial, std::size_t expected)
    : Error(fmt::format("{} bytes read on a total of {} expected bytes", partial.size(),
                        expected == 0 ? std::string("undefined") : std::to_string(expected))),
      partial_(std::move(partial)),
      expected_(expected) {}

std::pair<StreamReader, StreamWriter> make_streams(std::shared_ptr<detail::TcpTransport> t) {
  auto endpoint = std::make_shared<detail::Endpoint>();
  endpoint->transport = std::move(t);
  return {StreamReader(endpoint), StreamWriter(endpoint)};
}

// ------------------------------------------------------------------ StreamReader

StreamReader::StreamReader(std::shared_ptr<detail::Endpoint> endpoint)
    : endpoint_(std::move(endpoint)) {}

bool StreamReader::at_eof() const noexcept {
  auto& t = *endpoint_->transport;
  return t.eof() && t.buffer().empty();
}

std::size_t StreamReader::limit() const noexcept {
  return endpoint_->transport->limit();
}

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
  auto endpoint = endpoint_;  // the frame keeps the connection alive
  auto& t = *endpoint->transport;
  if (n == 0) co_return std::string();
  if (n < 0) {
    while (!t.eof()) co_await t.wait_for_data();
    if (t.buffer().empty()) t.rethrow_if_failed();
    std::string all = std::move(t.buffer());
    t.buffer().clear();
    co_return all;
  }
  while (t.buffer().empty() && !t.eof()) co_await t.wait_for_data();
  t.rethrow_if_failed();
  std::size_t take = std::min(static_cast<std::size_t>(n), t.buffer().size());
  std::string out = t.buffer().substr(0, take);
  t.buffer().erase(0, take);
  t.consumed();
  co_return out;
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  auto endpoint = endpoint_;
  auto& t = *endpoint->transport;
  while (t.buffer().size() < n) {
    if (t.eof()) {
      t.rethrow_if_failed();
      std::string partial = std::move(t.buffer());
      t.buffer().clear();
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await t.wait_for_data();
  }
  std::string out = t.buffer().substr(0, n);
  t.buffer().erase(0, n);
  t.consumed();
  co_return out;
}

Task<std::string> StreamReader::readuntil() {
  return readuntil("\n");
}

Task<std::string> StreamReader::readuntil(std::string separator) {
  auto endpoint = endpoint_;
  auto& t = *endpoint->transport;
  std::size_t searched = 0;
  for (;;) {
    auto pos = t.buffer().find(separator, searched);
    if (pos != std::string::npos) {
      std::size_t end = pos + separator.size();
      if (end > t.limit()) {
        throw LimitOverrunError("Separator is found, but chunk is longer than limit", pos);
      }
      std::string out = t.buffer().substr(0, end);
      t.buffer().erase(0, end);
      t.consumed();
      co_return out;
    }
    if (t.buffer().size() > t.limit()) {
      throw LimitOverrunError("Separator is not found, and chunk exceed the limit",
                              t.buffer().size());
    }
    searched = t.buffer().size() >= separator.size() ? t.buffer().size() - separator.size() + 1 : 0;
    if (t.eof()) {
      t.rethrow_if_failed();
      std::string partial = std::move(t.buffer());
      t.buffer().clear();
      throw IncompleteReadError(std::move(partial), 0);
    }
    co_await t.wait_for_data();
  }
}

Task<std::string> StreamReader::readline() {
  try {
    co_return co_await readuntil("\n");
  } catch (const IncompleteReadError& e) {
    co_return e.partial();
  }
}

// ------------------------------------------------------------------ StreamWriter

StreamWriter::StreamWriter(std::shared_ptr<detail::Endpoint> endpoint)
    : endpoint_(std::move(endpoint)) {}

void StreamWriter::write(std::string_view data) {
  endpoint_->transport->write(data);
}

Task<void> StreamWriter::drain() {
  auto endpoint = endpoint_;
  co_await endpoint->transport->drain();
}

void StreamWriter::write_eof() {
  endpoint_->transport->write_eof();
}
void StreamWriter::close() {
  endpoint_->transport->close();
}
void StreamWriter::abort() {
  endpoint_->transport->abort();
}

Task<void> StreamWriter::wait_closed() {
  auto endpoint = endpoint_;
  co_await endpoint->transport->wait_closed();
}

bool StreamWriter::is_closing() const noexcept {
  return endpoint_->transport->is_closing();
}

std::string StreamWriter::peername() const {
  return endpoint_->transport->peername();
}

std::size_t StreamWriter::write_buffer_size() const noexcept {
  return endpoint_->transport->write_buffer_size();
}

// ------------------------------------------------------------------ open_connection

namespace {

// One in-flight libuv request (getaddrinfo or connect) completing a Future.
struct ResolveOp {
  uv_getaddrinfo_t req;
  std::optional<Future<void>> done;
  int status = 0;
  addrinfo* result = nullptr;
  bool abandoned = false;  // the awaiting task went away: free on completion
};

struct ConnectOp {
  uv_connect_t req;
  std::optional<Future<void>> done;
  int status = 0;
  bool abandoned = false;
};

}  // namespace

Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            std::size_t limit) {
  Loop& loop = get_running_loop();
  std::string where = fmt::format("{}:{}", host, port);

  // Resolve (asynchronously, on libuv's pool).
  auto* resolve = new ResolveOp;
  resolve->done.emplace(loop);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string service = std::to_string(port);
  int rc = uv_getaddrinfo(
      loop.uv_loop(), &resolve->req,
      [](uv_getaddrinfo_t* r, int status, addrinfo* res) {
        auto* op = reinterpret_cast<ResolveOp*>(r);
        if (op->abandoned) {
          uv_freeaddrinfo(res);
          delete op;
          return;
        }
        op->status = status;
        op->result = res;
        if (!op->done->done()) op->done->set_result();
      },
      host.c_str(), service.c_str(), &hints);
  if (rc != 0) {
    delete resolve;
    throw ConnectionError(fmt::format("cannot resolve {}: {}", where, uv_strerror(rc)), rc);
  }
  struct ResolveGuard {
    ResolveOp* op;
    ~ResolveGuard() {
      if (op->done->done() && !op->done->cancelled()) {
        uv_freeaddrinfo(op->result);
        delete op;
      } else {
        op->abandoned = true;
        uv_cancel(reinterpret_cast<uv_req_t*>(&op->req));
      }
    }
  } resolve_guard{resolve};
  co_await *resolve->done;
  if (resolve->status != 0 || resolve->result == nullptr) {
    throw ConnectionError(fmt::format("cannot resolve {}: {}", where, uv_strerror(resolve->status)),
                          resolve->status);
  }

  // Connect to the first address that accepts.
  int last = UV_ECONNREFUSED;
  for (addrinfo* ai = resolve->result; ai != nullptr; ai = ai->ai_next) {
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop.uv_loop(), tcp);
    auto* op = new ConnectOp;
    op->done.emplace(loop);
    tcp->data = op;
    rc = uv_tcp_connect(&op->req, tcp, ai->ai_addr, [](uv_connect_t* r, int status) {
      auto* op = reinterpret_cast<ConnectOp*>(r);
      if (op->abandoned) {
        delete op;
        return;
      }
      op->status = status;
      if (!op->done->done()) op->done->set_result();
    });
    if (rc != 0) {
      delete op;
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      last = rc;
      continue;
    }
    struct ConnectGuard {
      ConnectOp* op;
      uv_tcp_t* tcp;
      bool adopted = false;
      ~ConnectGuard() {
        if (adopted) {
          delete op;
          return;
        }
        // Not connected (failed or cancelled): closing the handle cancels a pending connect.
        if (!op->done->done() || op->done->cancelled()) {
          op->abandoned = true;
        } else {
          delete op;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(tcp),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      }
    } guard{op, tcp};
    co_await *op->done;
    if (op->status == 0) {
      guard.adopted = true;
      co_return make_streams(detail::TcpTransport::adopt(tcp, limit));
    }
    last = op->status;
  }
  throw ConnectionError(fmt::format("cannot connect to {}: {}", where, uv_strerror(last)), last);
}

}  // namespace corun::net
