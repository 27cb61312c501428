// detail::configure_easy: an easy handle set up from SessionOptions and
// RequestOptions sends what they say (method, body, merged headers, cookies,
// user agent, no Expect), checked on the wire with a blocking perform against a
// one-shot echo server on a thread; and the small conversions on their own.
#include "corun/http/detail/easy_options.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corun::http::Headers;
using corun::http::RequestOptions;
using corun::http::SessionOptions;
using corun::http::Timeouts;
using corun::http::URL;
namespace detail = corun::http::detail;

std::vector<std::string> lines_of(curl_slist* list) {
  std::vector<std::string> out;
  for (curl_slist* l = list; l != nullptr; l = l->next) out.emplace_back(l->data);
  curl_slist_free_all(list);
  return out;
}

TEST(EasyOptionsTest, HeaderListsMergeSessionAndRequestHeaders) {
  Headers session;
  session.add("X-Session", "s");
  session.add("Accept", "text/html");
  EXPECT_EQ(lines_of(detail::session_header_list(session)),
            (std::vector<std::string>{"X-Session: s", "Accept: text/html", "Expect:"}));
  Headers request;
  request.add("accept", "text/plain");  // overrides the session's, whatever the case
  request.add("X-Empty", "");           // sent empty, not dropped
  EXPECT_EQ(
      lines_of(detail::request_header_list(session, request)),
      (std::vector<std::string>{"X-Session: s", "accept: text/plain", "X-Empty;", "Expect:"}));
}

TEST(EasyOptionsTest, SmallConversions) {
  EXPECT_EQ(detail::cookie_header({}), "");
  EXPECT_EQ(detail::cookie_header({{"a", "1"}, {"b", "2"}}), "a=1; b=2");
  EXPECT_EQ(detail::curl_ms(-5ms), 1);  // an expired deadline still gives curl a bound
  EXPECT_EQ(detail::curl_ms(250ms), 250);
}

// Accepts one connection, reads one request (head + Content-Length body) and
// answers 200 with the request's bytes as the body.
class EchoOnce {
 public:
  EchoOnce() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("echo server: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoOnce() {
    thread_.join();
    ::close(fd_);
  }
  EchoOnce(const EchoOnce&) = delete;
  EchoOnce& operator=(const EchoOnce&) = delete;
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string req;
    char buf[4096];
    std::size_t want = std::string::npos;
    while (want == std::string::npos || req.size() < want) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
      auto end = req.find("\r\n\r\n");
      if (want == std::string::npos && end != std::string::npos) {
        std::size_t body = 0;
        auto cl = req.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) body = std::stoul(req.substr(cl + 16));
        want = end + 4 + body;
      }
    }
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(req.size()) +
                       "\r\nConnection: close\r\n\r\n" + req;
    ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(c);
  }
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Performs one hop with configure_easy and returns what the server received.
std::string sent(const SessionOptions& so, const std::string& method, const RequestOptions& ro,
                 bool* got_body = nullptr) {
  EchoOnce server;
  URL url = URL::parse(server.url("/path?q=1"));
  detail::SessionEasy session;
  session.options = &so;
  session.default_headers = detail::session_header_list(so.headers);
  detail::EasyStorage storage;
  Timeouts to;
  to.total = 10s;
  detail::Hop hop{&method, &url, &ro, &to, std::chrono::steady_clock::now() + 10s};
  CURL* h = curl_easy_init();
  detail::configure_easy(h, session, hop, storage);
  std::string body;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(h);
  EXPECT_EQ(rc, CURLE_OK) << storage.errbuf;
  curl_easy_cleanup(h);
  curl_slist_free_all(session.default_headers);
  if (got_body != nullptr) *got_body = !body.empty();
  return body;
}

TEST(EasyOptionsTest, TheRequestOnTheWireIsWhatTheOptionsSay) {
  SessionOptions so;
  so.user_agent = "agent/1";
  so.headers.add("X-Session", "s");
  so.headers.add("X-Both", "session");
  RequestOptions ro;
  ro.headers.add("X-Both", "request");
  ro.data = "payload";
  ro.cookies = {{"a", "1"}, {"b", "2"}};
  std::string wire = sent(so, "PUT", ro);
  EXPECT_EQ(wire.rfind("PUT /path?q=1 HTTP/1.1\r\n", 0), 0U) << wire;
  EXPECT_NE(wire.find("\r\nUser-Agent: agent/1\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nX-Session: s\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nX-Both: request\r\n"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("X-Both: session"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nCookie: a=1; b=2\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nContent-Length: 7\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Accept-Encoding: "), std::string::npos) << wire;  // auto_decompress
  EXPECT_EQ(wire.find("Expect:"), std::string::npos) << wire;
  EXPECT_EQ(wire.substr(wire.size() - 7), "payload");
}

TEST(EasyOptionsTest, MethodsGetTheirOwnShape) {
  SessionOptions so;
  so.auto_decompress = false;
  RequestOptions none;
  std::string get = sent(so, "GET", none);
  EXPECT_EQ(get.rfind("GET /path?q=1 HTTP/1.1\r\n", 0), 0U) << get;
  EXPECT_EQ(get.find("Accept-Encoding"), std::string::npos) << get;
  std::string post = sent(so, "POST", none);  // POST sends an empty body, not none
  EXPECT_EQ(post.rfind("POST ", 0), 0U) << post;
  EXPECT_NE(post.find("Content-Length: 0\r\n"), std::string::npos) << post;
  std::string put = sent(so, "PUT", none);  // so do PUT and PATCH
  EXPECT_EQ(put.rfind("PUT ", 0), 0U) << put;
  EXPECT_NE(put.find("Content-Length: 0\r\n"), std::string::npos) << put;
  std::string del = sent(so, "DELETE", none);
  EXPECT_EQ(del.rfind("DELETE /path?q=1 HTTP/1.1\r\n", 0), 0U) << del;
  EXPECT_EQ(del.find("Content-Length"), std::string::npos) << del;
  bool got_body = true;
  sent(so, "HEAD", none, &got_body);
  EXPECT_FALSE(got_body);  // HEAD reads no body (the server's echo is not read)
}

}  // namespace

// curl prunes its whole DNS cache after each transfer that leaves its connection
// idle; a session lets only the first handle of each kDnsPruneInterval do it
// (the others get CURLOPT_DNS_CACHE_TIMEOUT -1). The session's bookkeeping: the
// first handle takes the turn, the next ones within the interval do not, and a
// handle configured once the interval has passed takes it again.
TEST(EasyOptionsTest, OneHandleAnIntervalMayPruneTheDnsCache) {
  SessionOptions so;
  detail::SessionEasy session;
  session.options = &so;
  std::string method = "GET";
  URL url = URL::parse("http://127.0.0.1:9/");
  RequestOptions ro;
  Timeouts to;
  detail::Hop hop{&method, &url, &ro, &to, std::nullopt};
  auto configure = [&] {
    detail::EasyStorage storage;
    CURL* h = curl_easy_init();
    ASSERT_NE(h, nullptr);
    detail::configure_easy(h, session, hop, storage);
    curl_easy_cleanup(h);
  };
  auto before = std::chrono::steady_clock::now();
  configure();
  auto due = session.dns_prune_due;
  EXPECT_GE(due, before + detail::kDnsPruneInterval);
  EXPECT_LE(due, std::chrono::steady_clock::now() + detail::kDnsPruneInterval);
  // Within the interval (an hour from now, so that no stall of this machine
  // can end it), handles leave the turn alone.
  auto later = std::chrono::steady_clock::now() + 1h;
  session.dns_prune_due = later;
  configure();
  configure();
  EXPECT_EQ(session.dns_prune_due, later);
  session.dns_prune_due = std::chrono::steady_clock::now() - 1ms;  // the interval has passed
  auto again = std::chrono::steady_clock::now();
  configure();
  EXPECT_GE(session.dns_prune_due, again + detail::kDnsPruneInterval);
}
