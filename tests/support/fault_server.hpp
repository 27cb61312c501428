// A fault-injecting HTTP/1.1 server for tests, built on corun::net (the
// project's own streams), running on the test's loop on a free loopback port.
// Each path is one behaviour a real server (or network) can show:
//
//   /ok               200 "hello", keep-alive
//   /echo             echoes the request body (any method), keep-alive
//   /redirect-to?URL  302 to URL
//   /credentials      200 "Authorization: A|Cookie: C", the two headers as received
//   /no-status-line   "GARBAGE\r\n\r\n" (no status line), then close
//   /set-cookie       sets sid=abc123, 302 to /cookie
//   /cookie           200, the Cookie header as received
//   /drip             200, Content-Length 20, one byte every 20 ms (slow but complete)
//   /stall            200, Content-Length 100, 2 bytes, then silence (until the client gives up)
//   /pause            200, Content-Length 200000, 100000 bytes, 2 s of silence, the rest
//   /truncated        200, Content-Length 100, 10 bytes, then close
//   /nothing          reads the request, closes without a byte
//   /reset            reads the request, resets the connection (RST) without a byte
//   /reset-mid        headers and half the body, then RST
//   /bad-chunk        chunked body with an invalid chunk size
//   /huge-headers     a 300 KB response header
//   /redirect-loop    302 to itself, forever
//   /429              429 with Retry-After: 7
//   /keepalive-close  200 claiming keep-alive, then closes the connection anyway
//   /204              204 No Content, keep-alive
//   /endless          chunked body that never ends
//   anything else     404
//
// connections() counts accepted connections (keep-alive checks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "corun/core/task.hpp"
#include "corun/net/server.hpp"

namespace corun::testing {

class FaultServer {
 public:
  // Starts on 127.0.0.1 with a free port, on the running loop.
  static Task<FaultServer> start();

  std::uint16_t port() const noexcept { return server_.port(); }
  std::string url(std::string_view path) const;
  long connections() const noexcept { return *connections_; }
  Task<void> close();

 private:
  net::Server server_;
  std::shared_ptr<long> connections_ = std::make_shared<long>(0);
};

}  // namespace corun::testing
