// Small HTTP/1.1 servers for the tests that run `corun fetch` as a process:
// each on a loop thread of its own (the CLI is another process).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "corun/corun.hpp"
#include "corun/net.hpp"

namespace corun::testing {

// A response with its Content-Length.
inline std::string http_ok(std::string_view content_type, std::string_view body) {
  return fmt::format("HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
                     content_type, body.size(), body);
}

// Answers each request on a connection, after `delay`, with respond(its head),
// until the client goes.
template <class Respond>
corun::Task<void> answer_each(corun::net::StreamReader reader, corun::net::StreamWriter writer,
                              std::chrono::milliseconds delay, Respond respond) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      if (delay.count() > 0) co_await corun::sleep(delay);
      writer.write(respond(head));
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

// Answers every request after 150 ms with a small HTML page.
inline corun::Task<void> slow_handler(corun::net::StreamReader reader,
                                      corun::net::StreamWriter writer) {
  return answer_each(std::move(reader), std::move(writer), std::chrono::milliseconds(150),
                     [](const std::string&) { return http_ok("text/html", "<p>slow</p>"); });
}

// Answers every request with its own head as a text/plain body.
inline corun::Task<void> echo_handler(corun::net::StreamReader reader,
                                      corun::net::StreamWriter writer) {
  return answer_each(
      std::move(reader), std::move(writer), std::chrono::milliseconds(0),
      [](const std::string& head) { return http_ok("text/plain; charset=utf-8", head); });
}

// Answers every request at once with a 24,000-byte text/plain page.
inline corun::Task<void> big_page_handler(corun::net::StreamReader reader,
                                          corun::net::StreamWriter writer) {
  return answer_each(
      std::move(reader), std::move(writer), std::chrono::milliseconds(0),
      [](const std::string&) { return http_ok("text/plain", std::string(24000, 'b')); });
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
