#include "corun/net/stream.hpp"

#include <fmt/format.h>
#include <uv.h>

#include <cstring>
#include <optional>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"

namespace corun::net {

IncompleteReadError::IncompleteReadError(std::string partial, std::size_t expected)
    : Error(fmt::format("{} bytes read on a total of {} expected bytes", partial.size(), expected)),
      partial_(std::move(partial)),
      expected_(expected) {}

namespace detail {

void free_tcp(uv_handle_t* h) {
  delete reinterpret_cast<uv_tcp_t*>(h);
}

namespace {
constexpr std::size_t kWriteHighWater = 64 * 1024;
constexpr std::size_t kWriteLowWater = 16 * 1024;

std::string describe_sockaddr(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, ip, sizeof ip);
    port = ntohs(in->sin_port);
    return fmt::format("{}:{}", ip, port);
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    return fmt::format("[{}]:{}", ip, port);
  }
  return "?";
}

// Wakes a waiting future once (it may have been cancelled meanwhile).
void wake(std::optional<Future<void>>& f) {
  if (f && !f->done()) f->set_result();
  f.reset();
}
}  // namespace

struct Connection {
  Loop* loop = nullptr;
  uv_tcp_t* tcp = nullptr;
  std::string buf;
  std::size_t pos = 0;
  std::size_t limit = kDefaultStreamLimit;
  bool eof = false;
  bool reading = false;
  bool closing = false;
  bool closed = false;
  int error = 0;
  std::size_t write_queued = 0;
  std::string peer;
  std::optional<Future<void>> read_waiter;
  std::optional<Future<void>> drain_waiter;
  std::optional<Future<void>> closed_waiter;

  Connection(Loop* l, uv_tcp_t* t, std::size_t lim) : loop(l), tcp(t), limit(lim) {
    tcp->data = this;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      peer = describe_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // The handle outlives us until libuv calls back; it must not find us then.
    if (!tcp) return;
    tcp->data = nullptr;
    if (!closing) uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_tcp);
  }

  std::size_t unread() const noexcept { return buf.size() - pos; }
  std::string take(std::size_t n) {
    std::string out = buf.substr(pos, n);
    pos += out.size();
    if (pos == buf.size()) {
      buf.clear();
      pos = 0;
    } else if (pos > 64 * 1024 && pos > buf.size() / 2) {
      buf.erase(0, pos);
      pos = 0;
    }
    maybe_resume_reading();
    return out;
  }

  void start_reading() {
    if (reading || eof || closing) return;
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(tcp),
        [](uv_handle_t*, std::size_t, uv_buf_t* b) {
          static thread_local char scratch[64 * 1024];
          *b = uv_buf_init(scratch, sizeof scratch);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          auto* c = static_cast<Connection*>(s->data);
          if (c) c->on_read(n, b);
        });
    if (rc == 0) {
      reading = true;
    } else {
      error = rc;
      eof = true;
    }
  }
  void stop_reading() {
    if (!reading) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp));
    reading = false;
  }
  void maybe_resume_reading() {
    if (!reading && !eof && !closing && unread() < limit) start_reading();
  }
  void on_read(ssize_t n, const uv_buf_t* b) {
    if (n > 0) {
      buf.append(b->base, static_cast<std::size_t>(n));
      if (unread() > limit) stop_reading();  // back-pressure: the peer's sends stall
    } else if (n < 0) {
      if (n != UV_EOF) error = static_cast<int>(n);
      eof = true;
      stop_reading();
    }
    wake(read_waiter);
  }

  Task<void> wait_for_data() {
    if (eof) co_return;
    start_reading();  // also past the limit: a reader that waits needs more
    if (eof) co_return;
    read_waiter.emplace(*loop);
    Future<void> f = *read_waiter;
    co_await f;
  }

  [[noreturn]] void raise_error(const char* what) const {
    throw ConnectionError(error, fmt::format("{} {}: {}", what, peer.empty() ? "connection" : peer,
                                             uv_strerror(error)));
  }

  struct WriteReq {
    uv_write_t req{};
    std::string data;
  };
  void write(std::string_view data) {
    if (closing) return;
    if (error) raise_error("write to");
    auto* stream = reinterpret_cast<uv_stream_t*>(tcp);
    if (write_queued == 0) {
      uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
      int n = uv_try_write(stream, &b, 1);
      if (n > 0) data.remove_prefix(static_cast<std::size_t>(n));
      if (data.empty()) return;
    }
    auto* w = new WriteReq();
    w->data.assign(data);
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, stream, &b, 1, [](uv_write_t* req, int status) {
      auto* w = reinterpret_cast<WriteReq*>(req);
      auto* c = static_cast<Connection*>(req->handle->data);
      if (c) c->on_written(w->data.size(), status);
      delete w;
    });
    if (rc != 0) {
      delete w;
      error = rc;
      raise_error("write to");
    }
    write_queued += data.size();
  }
  void on_written(std::size_t n, int status) {
    write_queued -= n;
    if (status < 0 && status != UV_ECANCELED && !error) error = status;
    if (write_queued <= kWriteLowWater || error) wake(drain_waiter);
  }

  void close(bool reset) {
    if (closing) return;
    closing = true;
    stop_reading();
    auto on_closed = [](uv_handle_t* h) {
      auto* c = static_cast<Connection*>(h->data);
      if (c) {
        c->closed = true;
        c->tcp = nullptr;
        wake(c->closed_waiter);
      }
      free_tcp(h);
    };
    if (reset) {
      uv_tcp_close_reset(tcp, on_closed);
      return;
    }
    if (write_queued > 0) {
      // Let the queued bytes go out first, then close.
      auto* req = new uv_shutdown_t();
      int rc = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(tcp), [](uv_shutdown_t* r, int) {
        auto* h = reinterpret_cast<uv_handle_t*>(r->handle);
        delete r;
        uv_close(h, [](uv_handle_t* h) {
          auto* c = static_cast<Connection*>(h->data);
          if (c) {
            c->closed = true;
            c->tcp = nullptr;
            wake(c->closed_waiter);
          }
          free_tcp(h);
        });
      });
      if (rc == 0) return;
      delete req;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), on_closed);
  }
};

struct ServerState : std::enable_shared_from_this<ServerState> {
  Loop* loop = nullptr;
  uv_tcp_t* tcp = nullptr;
  ConnectionHandler handler;
  std::size_t limit = kDefaultStreamLimit;
  bool serving = false;
  bool closed = false;
  std::uint16_t port = 0;
  std::string host;
  std::optional<Future<void>> closed_waiter;

  ServerState() = default;
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;
  ~ServerState() {
    if (tcp) {
      tcp->data = nullptr;
      if (serving) uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_tcp);
    }
  }
  void close() {
    if (!serving) return;
    serving = false;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* h) {
      auto* s = static_cast<ServerState*>(h->data);
      if (s) {
        s->closed = true;
        s->tcp = nullptr;
        wake(s->closed_waiter);
      }
      free_tcp(h);
    });
  }
};

}  // namespace detail

using detail::Connection;

// ------------------------------------------------------------------ reader

Task<std::string> StreamReader::read(std::size_t n) {
  Connection& c = *c_;
  if (n == 0) co_return std::string();
  if (n == std::numeric_limits<std::size_t>::max()) {
    while (!c.eof) co_await c.wait_for_data();
    if (c.error && c.unread() == 0) c.raise_error("read from");
    co_return c.take(c.unread());
  }
  while (c.unread() == 0 && !c.eof) co_await c.wait_for_data();
  if (c.unread() == 0 && c.error) c.raise_error("read from");
  co_return c.take(std::min(n, c.unread()));
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  Connection& c = *c_;
  while (c.unread() < n) {
    if (c.eof) {
      if (c.error) c.raise_error("read from");
      throw IncompleteReadError(c.take(c.unread()), n);
    }
    co_await c.wait_for_data();
  }
  co_return c.take(n);
}

Task<std::string> StreamReader::readuntil(std::string separator) {
  Connection& c = *c_;
  if (separator.empty()) throw ValueError("Separator should be at least one-byte string");
  std::size_t searched = 0;
  for (;;) {
    std::string_view view(c.buf.data() + c.pos, c.unread());
    std::size_t at = view.find(separator, searched);
    if (at != std::string_view::npos) co_return c.take(at + separator.size());
    if (view.size() >= separator.size()) searched = view.size() - separator.size() + 1;
    if (c.unread() > c.limit) {
      throw LimitOverrunError("Separator is not found, and chunk exceed the limit", c.unread());
    }
    if (c.eof) {
      if (c.error) c.raise_error("read from");
      throw IncompleteReadError(c.take(c.unread()), c.unread() + separator.size());
    }
    co_await c.wait_for_data();
  }
}

Task<std::string> StreamReader::readline() {
  std::string partial;
  bool incomplete = false;
  try {
    co_return co_await readuntil("\n");
  } catch (const IncompleteReadError& e) {
    partial = e.partial();
    incomplete = true;
  }
  if (incomplete) co_return partial;
  co_return std::string();
}

bool StreamReader::at_eof() const noexcept {
  return c_->eof && c_->unread() == 0;
}

// ------------------------------------------------------------------ writer

void StreamWriter::write(std::string_view data) {
  c_->write(data);
}

Task<void> StreamWriter::drain() {
  Connection& c = *c_;
  if (c.error) c.raise_error("write to");
  while (c.write_queued > detail::kWriteHighWater && !c.error && !c.closed) {
    c.drain_waiter.emplace(*c.loop);
    Future<void> f = *c.drain_waiter;
    co_await f;
  }
  if (c.error) c.raise_error("write to");
}

void StreamWriter::close() {
  c_->close(false);
}
void StreamWriter::abort() {
  c_->close(true);
}
bool StreamWriter::is_closing() const noexcept {
  return c_->closing;
}

Task<void> StreamWriter::wait_closed() {
  auto keep = c_;
  if (!keep->closing) keep->close(false);
  if (keep->closed) co_return;
  keep->closed_waiter.emplace(*keep->loop);
  Future<void> f = *keep->closed_waiter;
  co_await f;
}

void StreamWriter::write_eof() {
  if (c_->closing) return;
  auto* req = new uv_shutdown_t();
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(c_->tcp),
                  [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
  }
}

std::string StreamWriter::peername() const {
  return c_->peer;
}

// ------------------------------------------------------------------ connect

namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* a) const noexcept { uv_freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// uv_getaddrinfo as a Future; the request frees itself in its callback.
Task<AddrInfoPtr> resolve(Loop& loop, const std::string& host, std::uint16_t port, bool passive) {
  struct Req {
    uv_getaddrinfo_t req{};
    Future<void> done;
    addrinfo* result = nullptr;
    int status = 0;
    bool abandoned = false;
    explicit Req(Loop& l) : done(l) {}
  };
  auto* r = new Req(loop);
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  std::string service = std::to_string(port);
  int rc = uv_getaddrinfo(
      loop.uv_loop(), &r->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* r = static_cast<Req*>(req->data);
        if (r->abandoned) {
          if (res) uv_freeaddrinfo(res);
          delete r;
          return;
        }
        r->status = status;
        r->result = res;
        if (!r->done.done()) r->done.set_result();
      },
      host.c_str(), service.c_str(), &hints);
  if (rc != 0) {
    delete r;
    throw ConnectionError(rc, fmt::format("Cannot resolve host {}: {}", host, uv_strerror(rc)));
  }
  Future<void> done = r->done;
  try {
    co_await done;
  } catch (const CancelledError&) {
    r->abandoned = true;
    uv_cancel(reinterpret_cast<uv_req_t*>(&r->req));
    throw;
  }
  AddrInfoPtr result(r->result);
  int status = r->status;
  delete r;
  if (status != 0) {
    throw ConnectionError(status,
                          fmt::format("Cannot resolve host {}: {}", host, uv_strerror(status)));
  }
  co_return result;
}

// One connect attempt; returns the connected handle or throws.
Task<uv_tcp_t*> connect_one(Loop& loop, const sockaddr* addr, const std::string& label) {
  struct Req {
    uv_connect_t req{};
    Future<void> done;
    int status = 0;
    bool abandoned = false;
    explicit Req(Loop& l) : done(l) {}
  };
  auto* tcp = new uv_tcp_t();
  uv_tcp_init(loop.uv_loop(), tcp);
  tcp->data = nullptr;
  uv_tcp_nodelay(tcp, 1);
  auto* r = new Req(loop);
  r->req.data = r;
  int rc = uv_tcp_connect(&r->req, tcp, addr, [](uv_connect_t* req, int status) {
    auto* r = static_cast<Req*>(req->data);
    if (r->abandoned) {
      delete r;
      return;
    }
    r->status = status;
    if (!r->done.done()) r->done.set_result();
  });
  if (rc != 0) {
    delete r;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), detail::free_tcp);
    throw ConnectionError(rc, fmt::format("Cannot connect to host {}: {}", label, uv_strerror(rc)));
  }
  Future<void> done = r->done;
  try {
    co_await done;
  } catch (const CancelledError&) {
    r->abandoned = true;  // closing the handle makes libuv call back with ECANCELED
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), detail::free_tcp);
    throw;
  }
  int status = r->status;
  delete r;
  if (status != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), detail::free_tcp);
    throw ConnectionError(status,
                          fmt::format("Cannot connect to host {}: {}", label, uv_strerror(status)));
  }
  co_return tcp;
}

}  // namespace

Task<Streams> open_connection(std::string host, std::uint16_t port, std::size_t limit) {
  Loop& loop = get_running_loop();
  std::string label = fmt::format("{}:{}", host, port);
  AddrInfoPtr addrs = co_await resolve(loop, host, port, false);
  std::exception_ptr last;
  for (addrinfo* a = addrs.get(); a; a = a->ai_next) {
    uv_tcp_t* tcp = nullptr;
    try {
      tcp = co_await connect_one(loop, a->ai_addr, label);
    } catch (const ConnectionError&) {
      last = std::current_exception();
      continue;
    }
    auto conn = std::make_shared<Connection>(&loop, tcp, limit);
    co_return Streams{StreamReader(conn), StreamWriter(conn)};
  }
  if (last) std::rethrow_exception(last);
  throw ConnectionError(UV_EAI_NONAME, fmt::format("Cannot connect to host {}: no address", label));
}

// ------------------------------------------------------------------ server

namespace {
Task<void> run_handler(std::shared_ptr<detail::ServerState> keep, StreamReader r, StreamWriter w) {
  try {
    co_await keep->handler(std::move(r), std::move(w));
  } catch (const std::exception&) {
    keep->loop->call_exception_handler(
        {"Unhandled exception in client_connected_cb", std::current_exception(), {}});
  }
}
}  // namespace

Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port,
                          std::size_t limit) {
  Loop& loop = get_running_loop();
  AddrInfoPtr addrs = co_await resolve(loop, host, port, true);
  auto state = std::make_shared<detail::ServerState>();
  state->loop = &loop;
  state->handler = std::move(handler);
  state->limit = limit;
  state->host = host;
  int rc = UV_EADDRNOTAVAIL;
  for (addrinfo* a = addrs.get(); a; a = a->ai_next) {
    auto* tcp = new uv_tcp_t();
    uv_tcp_init(loop.uv_loop(), tcp);
    rc = uv_tcp_bind(tcp, a->ai_addr, 0);
    if (rc == 0) {
      tcp->data = state.get();
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 511, [](uv_stream_t* server, int status) {
        auto* s = static_cast<detail::ServerState*>(server->data);
        if (!s || status < 0) return;
        auto* client = new uv_tcp_t();
        uv_tcp_init(server->loop, client);
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) != 0) {
          uv_close(reinterpret_cast<uv_handle_t*>(client), detail::free_tcp);
          return;
        }
        uv_tcp_nodelay(client, 1);
        auto conn = std::make_shared<Connection>(s->loop, client, s->limit);
        // The handler task keeps the server state (and so the handler) alive.
        auto keep = s->shared_from_this();
        s->loop->create_task(run_handler(std::move(keep), StreamReader(conn), StreamWriter(conn)));
      });
    }
    if (rc == 0) {
      state->tcp = tcp;
      state->serving = true;
      sockaddr_storage ss{};
      int len = sizeof ss;
      uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
      auto* sa = reinterpret_cast<sockaddr*>(&ss);
      state->port = ntohs(sa->sa_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(sa)->sin6_port
                                                    : reinterpret_cast<sockaddr_in*>(sa)->sin_port);
      co_return Server(state);
    }
    tcp->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), detail::free_tcp);
  }
  throw ConnectionError(rc, fmt::format("Cannot listen on {}:{}: {}", host, port, uv_strerror(rc)));
}

std::uint16_t Server::port() const noexcept {
  return s_->port;
}
std::string Server::host() const {
  return s_->host;
}
void Server::close() {
  s_->close();
}
bool Server::is_serving() const noexcept {
  return s_->serving;
}

Task<void> Server::wait_closed() {
  auto keep = s_;
  if (keep->closed || !keep->tcp) co_return;
  keep->closed_waiter.emplace(*keep->loop);
  Future<void> f = *keep->closed_waiter;
  co_await f;
}

}  // namespace corun::net
