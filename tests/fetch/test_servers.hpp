// Small HTTP/1.1 servers for the tests that run `corun fetch` as a process:
// each on a loop thread of its own (the CLI is another process).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "corun/corun.hpp"
#include "corun/net.hpp"

namespace corun::testing {

// Answers every request after 150 ms with a small HTML page.
inline corun::Task<void> slow_handler(corun::net::StreamReader reader,
                                      corun::net::StreamWriter writer) {
  try {
    for (;;) {
      co_await reader.readuntil("\r\n\r\n");
      co_await corun::sleep(std::chrono::milliseconds(150));
      std::string body = "<p>slow</p>";
      writer.write(
          fmt::format("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{}",
                      body.size(), body));
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

// Answers every request with its own head as a text/plain body.
inline corun::Task<void> echo_handler(corun::net::StreamReader reader,
                                      corun::net::StreamWriter writer) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      writer.write(fmt::format(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
          "{}\r\n\r\n{}",
          head.size(), head));
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

// Answers every request at once with a 24,000-byte text/plain page.
inline corun::Task<void> big_page_handler(corun::net::StreamReader reader,
                                          corun::net::StreamWriter writer) {
  try {
    for (;;) {
      co_await reader.readuntil("\r\n\r\n");
      std::string body(24000, 'b');
      writer.write(
          fmt::format("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
                      body.size(), body));
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

class TestServer {
 public:
  explicit TestServer(corun::net::ClientHandler handler = slow_handler) {
    server_ = thread_.submit(corun::net::start_server(handler, "127.0.0.1", 0)).get();
  }
  ~TestServer() {
    thread_
        .submit(corun::co_invoke([this]() -> corun::Task<> {
          server_.close();
          co_return;
        }))
        .get();
    thread_.stop();
  }
  std::uint16_t port() const { return server_.port(); }

 private:
  corun::LoopThread thread_;
  corun::net::Server server_;
};

}  // namespace corun::testing
