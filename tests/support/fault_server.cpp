// The fault-injecting HTTP server (see fault_server.hpp).
#include "support/fault_server.hpp"

#include <charconv>
#include <chrono>

#include "corun/corun.hpp"
#include "corun/net.hpp"

namespace corun::testing {

namespace {

using namespace std::chrono_literals;

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::string cookie;         // the Cookie header, if any
  std::string authorization;  // the Authorization header, if any
  bool keep_alive = true;
};

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return s;
}

// Reads one request; nullopt at a clean EOF between requests.
Task<std::optional<Request>> read_request(net::StreamReader& reader) {
  std::string head;
  try {
    head = co_await reader.readuntil("\r\n\r\n");
  } catch (const net::IncompleteReadError&) {
    co_return std::nullopt;
  }
  Request req;
  auto line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  auto sp1 = first.find(' ');
  auto sp2 = first.find(' ', sp1 + 1);
  req.method = first.substr(0, sp1);
  req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t content_length = 0;
  std::string lhead = lower(head);
  if (auto p = lhead.find("\r\ncontent-length:"); p != std::string::npos) {
    std::size_t i = p + 17;
    while (i < lhead.size() && lhead[i] == ' ') ++i;
    std::from_chars(lhead.data() + i, lhead.data() + lhead.size(), content_length);
  }
  if (lhead.find("\r\nconnection: close") != std::string::npos) req.keep_alive = false;
  if (auto p = lhead.find("\r\ncookie:"); p != std::string::npos) {
    std::size_t i = p + 9;
    while (i < head.size() && head[i] == ' ') ++i;
    req.cookie = head.substr(i, head.find("\r\n", i) - i);
  }
  if (auto p = lhead.find("\r\nauthorization:"); p != std::string::npos) {
    std::size_t i = p + 16;
    while (i < head.size() && head[i] == ' ') ++i;
    req.authorization = head.substr(i, head.find("\r\n", i) - i);
  }
  if (content_length > 0) req.body = co_await reader.readexactly(content_length);
  co_return req;
}

std::string response(int status, std::string_view reason, std::string_view body,
                     std::string_view extra_headers = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

// Serves one request; returns false when the connection must end.
Task<bool> serve(const Request& req, net::StreamWriter& w) {
  const std::string& p = req.path;
  if (p == "/ok") {
    w.write(response(200, "OK", "hello", "Content-Type: text/plain\r\n"));
  } else if (p == "/set-cookie") {  // sets a cookie, then redirects to /cookie
    w.write(response(302, "Found", "", "Set-Cookie: sid=abc123; Path=/\r\nLocation: /cookie\r\n"));
  } else if (p == "/cookie") {  // the Cookie header the client sent
    w.write(response(200, "OK", req.cookie, "Content-Type: text/plain\r\n"));
  } else if (p.starts_with("/redirect-to?")) {  // 302 to the URL after '?'
    w.write(response(302, "Found", "", "Location: " + p.substr(13) + "\r\n"));
  } else if (p == "/no-status-line") {  // no HTTP at all: a reply without a status line
    w.write("GARBAGE\r\n\r\n");
    co_return false;
  } else if (p == "/credentials") {  // "Authorization: ...|Cookie: ..." as received
    w.write(response(200, "OK", "Authorization: " + req.authorization + "|Cookie: " + req.cookie,
                     "Content-Type: text/plain\r\n"));
  } else if (p == "/echo") {
    w.write(response(200, "OK", req.body, "Content-Type: application/octet-stream\r\n"));
  } else if (p == "/drip") {
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n");
    for (int i = 0; i < 20; ++i) {
      co_await w.drain();
      co_await corun::sleep(20ms);
      w.write("d");
    }
  } else if (p == "/stall") {
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nst");
    co_await w.drain();
    co_await corun::sleep(3600s);
    co_return false;
  } else if (p == "/pause") {
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + std::string(100000, 'p'));
    co_await w.drain();
    co_await corun::sleep(2s);
    w.write(std::string(100000, 'q'));
  } else if (p == "/truncated") {
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    co_return false;
  } else if (p == "/nothing") {
    co_return false;
  } else if (p == "/reset") {
    w.abort();
    co_return false;
  } else if (p == "/reset-mid") {
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(50000, 'r'));
    co_await w.drain();
    co_await corun::sleep(50ms);
    w.abort();
    co_return false;
  } else if (p == "/bad-chunk") {
    w.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        "chunked\r\n\r\n5\r\nhello\r\nzz\r\nbad\r\n0\r\n\r\n");
    co_await w.drain();
    co_await corun::sleep(100ms);
    co_return false;
  } else if (p == "/huge-headers") {
    w.write("HTTP/1.1 200 OK\r\nX-Huge: " + std::string(300 * 1024, 'h') +
            "\r\nContent-Length: 2\r\n\r\nok");
  } else if (p == "/redirect-loop") {
    w.write(response(302, "Found", "", "Location: /redirect-loop\r\n"));
  } else if (p == "/429") {
    w.write(response(429, "Too Many Requests", "slow down", "Retry-After: 7\r\n"));
  } else if (p == "/keepalive-close") {
    w.write(response(200, "OK", "bye", "Connection: keep-alive\r\n"));
    co_await w.drain();
    co_return false;
  } else if (p == "/204") {
    w.write("HTTP/1.1 204 No Content\r\n\r\n");
  } else if (p == "/endless") {
    w.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string chunk = "4000\r\n" + std::string(0x4000, 'e') + "\r\n";
    for (;;) {
      w.write(chunk);
      co_await w.drain();
      co_await corun::sleep(0ms);
    }
  } else {
    w.write(response(404, "Not Found", "no such fault"));
  }
  co_await w.drain();
  co_return req.keep_alive;
}

}  // namespace

Task<FaultServer> FaultServer::start() {
  FaultServer fs;
  std::shared_ptr<long> counter = fs.connections_;
  // A named handler: g++ 12 mishandles class-type temporaries built inside a
  // co_await expression (here: the lambda converted to std::function).
  net::ClientHandler handler = [counter](net::StreamReader reader,
                                         net::StreamWriter writer) -> Task<void> {
    ++*counter;
    for (;;) {
      std::optional<Request> req = co_await read_request(reader);
      if (!req) break;
      if (!co_await serve(*req, writer)) break;
    }
    writer.close();
    co_await writer.wait_closed();
  };
  // Named too (g++ 12 mishandles class-type temporaries inside co_await expressions):
  // with the call inside the co_await, ASan once saw the shared_ptr captured above
  // released one time too many; not reproduced since (3 ASan runs each way).
  Task<net::Server> starting = net::start_server(std::move(handler), "127.0.0.1", 0);
  fs.server_ = co_await starting;
  co_return fs;
}

std::string FaultServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

Task<void> FaultServer::close() {
  server_.close();
  co_await server_.wait_closed();
}

}  // namespace corun::testing
