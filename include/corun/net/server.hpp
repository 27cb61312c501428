// corun::net::Server: asyncio.start_server / asyncio.Server over libuv TCP.
// Every accepted connection runs handler(reader, writer) as its own task.
//
//   auto server = co_await corun::net::start_server(handle_client, "127.0.0.1", 0);
//   std::uint16_t port = server.port();   // the port picked when 0 was asked
//   ...
//   server.close();
//   co_await server.wait_closed();
//
// close() stops accepting and cancels the handler tasks still running (their
// connections close as their streams go away); wait_closed() waits for the
// listening socket to close and those tasks to end. Loop-thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "corun/core/task.hpp"
#include "corun/net/stream.hpp"

namespace corun::net {

using ClientHandler = std::function<Task<void>(StreamReader, StreamWriter)>;
using ConnectionHandler = ClientHandler;

class Server {
 public:
  Server() = default;
  std::uint16_t port() const noexcept;
  // The address listened on ("127.0.0.1").
  std::string host() const;
  void close();
  Task<void> wait_closed();
  bool is_serving() const noexcept;

  struct State;
  explicit Server(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

// host: a numeric IPv4/IPv6 address or "localhost"; port 0 picks a free port.
// Raises ConnectionError when binding fails (address in use ...).
Task<Server> start_server(ClientHandler handler, std::string host, std::uint16_t port,
                          int backlog = 511);

}  // namespace corun::net
