// corun::net::Server / start_server (see include/corun/net/server.hpp).
#include "corun/net/server.hpp"

#include <fmt/format.h>

#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/log.hpp"
#include "corun/core/loop.hpp"
#include "corun/net/detail/tcp_transport.hpp"

namespace corun::net {

struct Server::State : std::enable_shared_from_this<Server::State> {
  Loop* loop = nullptr;
  ClientHandler handler;
  uv_tcp_t* listener = nullptr;  // heap; freed in its close callback
  std::uint16_t port = 0;
  std::string host;
  bool serving = false;
  bool closed = false;
  std::vector<TaskHandle<void>> clients;
  std::optional<Future<void>> listener_closed;
  std::shared_ptr<State> self;  // while the listener is open

  static void on_connection(uv_stream_t* server, int status);
};

namespace {

Task<void> run_client(ClientHandler handler, StreamReader reader, StreamWriter writer) {
  try {
    // Named, not a temporary inside the co_await expression (g++ 12 mishandles those).
    Task<void> session = handler(std::move(reader), std::move(writer));
    co_await session;
  } catch (const std::exception& e) {
    log(LogLevel::debug, fmt::format("corun::net::Server: client handler failed: {}", e.what()));
  }
}

}  // namespace

void Server::State::on_connection(uv_stream_t* server, int status) {
  auto* st = static_cast<State*>(server->data);
  if (status < 0 || st->closed) return;
  auto* client = new uv_tcp_t;
  uv_tcp_init(st->loop->uv_loop(), client);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(client),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return;
  }
  auto [reader, writer] =
      make_streams(detail::TcpTransport::adopt(client, detail::TcpTransport::kDefaultLimit));
  std::erase_if(st->clients, [](const TaskHandle<void>& t) { return t.done(); });
  st->clients.push_back(
      st->loop->create_task(run_client(st->handler, std::move(reader), std::move(writer))));
}

std::uint16_t Server::port() const noexcept {
  return state_ ? state_->port : 0;
}

std::string Server::host() const {
  return state_ ? state_->host : std::string();
}

bool Server::is_serving() const noexcept {
  return state_ && state_->serving;
}

void Server::close() {
  if (!state_ || state_->closed) return;
  State& st = *state_;
  st.closed = true;
  st.serving = false;
  st.listener_closed.emplace(*st.loop);
  uv_close(reinterpret_cast<uv_handle_t*>(st.listener), [](uv_handle_t* h) {
    auto* s = static_cast<State*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    s->listener = nullptr;
    if (s->listener_closed && !s->listener_closed->done()) s->listener_closed->set_result();
    std::shared_ptr<State> keep = std::move(s->self);
  });
  for (auto& c : st.clients) {
    if (!c.done()) c.cancel();
  }
}

Task<void> Server::wait_closed() {
  auto st = state_;
  if (!st) co_return;
  if (st->listener_closed) co_await *st->listener_closed;
  for (auto& c : st->clients) {
    try {
      co_await c;
    } catch (...) {  // cancelled or failed handlers: the server is closing anyway
    }
  }
  st->clients.clear();
}

Task<Server> start_server(ClientHandler handler, std::string host, std::uint16_t port,
                          int backlog) {
  Loop& loop = get_running_loop();
  auto st = std::make_shared<Server::State>();
  st->loop = &loop;
  st->handler = std::move(handler);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    throw ConnectionError(fmt::format("start_server: not a numeric address: {}", host), 0);
  }
  st->listener = new uv_tcp_t;
  uv_tcp_init(loop.uv_loop(), st->listener);
  st->listener->data = st.get();
  st->self = st;
  auto fail = [&](int rc) {
    uv_close(reinterpret_cast<uv_handle_t*>(st->listener), [](uv_handle_t* h) {
      auto* s = static_cast<Server::State*>(h->data);
      delete reinterpret_cast<uv_tcp_t*>(h);
      std::shared_ptr<Server::State> keep = std::move(s->self);
    });
    throw ConnectionError(fmt::format("cannot listen on {}:{}: {}", host, port, uv_strerror(rc)),
                          rc);
  };
  int rc = uv_tcp_bind(st->listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(st->listener), backlog,
                   &Server::State::on_connection);
  }
  if (rc != 0) fail(rc);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(st->listener, reinterpret_cast<sockaddr*>(&bound), &len);
  st->port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  st->host = host;
  st->serving = true;
  co_return Server(st);
}

}  // namespace corun::net
