// corun::fetch demo server (see include/corun/fetch/demo.hpp).
#include "corun/fetch/demo.hpp"

#include <fmt/format.h>

#include <string_view>

#include "corun/text/ascii.hpp"
#include "demo_pages.inc"

namespace corun::fetch {

namespace {

constexpr std::string_view kMarker = "@@N@@";

// The page number of "/p/N.html", or -1.
long long page_number(std::string_view target) {
  if (!target.starts_with("/p/") || !target.ends_with(".html")) return -1;
  std::string_view digits = target.substr(3, target.size() - 3 - 5);
  if (digits.empty() || digits.size() > 12) return -1;
  long long n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

Task<void> serve_connection(net::StreamReader reader, net::StreamWriter writer) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      std::string_view h = head;
      std::string_view request_line = h.substr(0, h.find("\r\n"));
      auto sp1 = request_line.find(' ');
      auto sp2 = request_line.rfind(' ');
      std::string_view method = request_line.substr(0, sp1);
      std::string_view target = sp1 == std::string_view::npos || sp2 <= sp1
                                    ? std::string_view{}
                                    : request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      bool close = request_line.ends_with("HTTP/1.0");
      for (std::size_t pos = h.find("\r\n"); pos != std::string_view::npos && pos + 2 < h.size();) {
        std::size_t next = h.find("\r\n", pos + 2);
        std::string_view line = h.substr(pos + 2, next - pos - 2);
        if (text::istarts_with(line, "connection:")) {
          std::string_view v = line.substr(11);
          while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
          close = text::istarts_with(v, "close");
        }
        pos = next;
      }
      long long n = page_number(target);
      std::string response;
      if (n >= 0 && (method == "GET" || method == "HEAD")) {
        std::string page = demo_page(static_cast<std::size_t>(n));
        response = fmt::format(
            "HTTP/1.1 200 OK\r\nServer: corun-demo\r\nContent-Type: text/html\r\nContent-Length: "
            "{}\r\n{}\r\n",
            page.size(), close ? "Connection: close\r\n" : "");
        if (method == "GET") response += page;
      } else {
        std::string_view body = "not found\n";
        response = fmt::format(
            "HTTP/1.1 404 Not Found\r\nServer: corun-demo\r\nContent-Type: "
            "text/plain\r\nContent-Length: "
            "{}\r\n{}\r\n{}",
            body.size(), close ? "Connection: close\r\n" : "", body);
      }
      writer.write(response);
      co_await writer.drain();
      if (close) break;
    }
  } catch (const std::exception&) {
    // The client went away (EOF mid-request, reset): nothing to answer.
  }
  writer.close();
}

}  // namespace

std::size_t demo_template_count() noexcept {
  return std::size(kDemoPages);
}

std::string demo_page(std::size_t n) {
  std::string_view tpl = kDemoPages[n % std::size(kDemoPages)];
  auto at = tpl.find(kMarker);
  std::string out;
  out.reserve(tpl.size() + 8);
  out.append(tpl.substr(0, at));
  out.append(fmt::format("{}", n));
  out.append(tpl.substr(at + kMarker.size()));
  return out;
}

Task<net::Server> start_demo_server(std::string host, std::uint16_t port) {
  return net::start_server(serve_connection, std::move(host), port);
}

std::vector<std::string> demo_urls(std::string_view host, std::uint16_t port, std::size_t count) {
  std::vector<std::string> urls;
  urls.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    urls.push_back(fmt::format("http://{}:{}/p/{}.html", host, port, i));
  return urls;
}

}  // namespace corun::fetch
