// ClientSession::head, put, patch and delete_ (aiohttp's session methods) against
// nginx (which names the method and Content-Length it got) and the project's
// fault server (which echoes the body).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/http.hpp"
#include "corun/net/server.hpp"
#include "support/fault_server.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using corun::Task;
using corun::http::ClientSession;
using corun::http::RequestOptions;
using corun::http::Response;
using namespace std::chrono_literals;

class MethodsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corun::testing::NginxOptions o;
    o.extra_server_conf =
        "location = /method { return 200 \"$request_method $http_content_length\"; }\n"
        "location = /moved { return 302 /method; }\n";
    nginx_ = new corun::testing::Nginx(o);
  }
  static void TearDownTestSuite() { delete nginx_; }
  static std::string url(const std::string& path) { return nginx_->base_url() + path; }
  static corun::testing::Nginx* nginx_;
};
corun::testing::Nginx* MethodsTest::nginx_ = nullptr;

TEST_F(MethodsTest, PutPatchAndDeleteSendTheirMethodAndBody) {
  corun::run([]() -> Task<void> {
    ClientSession s;
    Response put = co_await s.put(url("/method"), "12345");
    EXPECT_EQ(put.status(), 200);
    EXPECT_EQ(put.read(), "PUT 5");
    EXPECT_EQ(put.method(), "PUT");
    Response patch = co_await s.patch(url("/method"), "abc");
    EXPECT_EQ(patch.read(), "PATCH 3");
    Response empty_put = co_await s.put(url("/method"), "");
    EXPECT_EQ(empty_put.read(), "PUT 0");  // a PUT always has a body, as in aiohttp
    Response del = co_await s.delete_(url("/method"));
    EXPECT_EQ(del.read(), "DELETE ");
    EXPECT_EQ(del.method(), "DELETE");
    RequestOptions ro;
    ro.data = "xy";
    Response del_body = co_await s.delete_(url("/method"), ro);
    EXPECT_EQ(del_body.read(), "DELETE 2");
    RequestOptions headers;
    headers.headers.add("Content-Type", "text/plain");
    Response put_opts = co_await s.put(url("/method"), "1234", headers);
    EXPECT_EQ(put_opts.read(), "PUT 4");
  }());
}

TEST_F(MethodsTest, HeadReadsNoBodyAndDoesNotFollowRedirects) {
  corun::run([]() -> Task<void> {
    ClientSession s;
    Response head = co_await s.head(url("/method"));
    EXPECT_EQ(head.status(), 200);
    EXPECT_EQ(head.method(), "HEAD");
    EXPECT_EQ(head.read(), "");
    EXPECT_EQ(head.headers().get("Content-Length").value_or(""), "5");  // "HEAD "

    Response moved = co_await s.head(url("/moved"));
    EXPECT_EQ(moved.status(), 302);  // not followed (aiohttp's head default)
    EXPECT_TRUE(moved.history().empty());
    RequestOptions follow;
    follow.allow_redirects = true;
    Response still = co_await s.head(url("/moved"), follow);
    EXPECT_EQ(still.status(), 302);  // head() never follows: request("HEAD") does
    Response followed = co_await s.request("HEAD", url("/moved"));
    EXPECT_EQ(followed.status(), 200);
    EXPECT_EQ(followed.history().size(), 1U);
  }());
}

TEST(MethodsEchoTest, BodiesArriveWholeAtTheServer) {
  corun::run([]() -> Task<void> {
    Task<corun::testing::FaultServer> starting = corun::testing::FaultServer::start();
    corun::testing::FaultServer server = co_await starting;
    ClientSession s;
    std::string big(100000, 'p');
    EXPECT_EQ((co_await s.put(server.url("/echo"), big)).read(), big);
    EXPECT_EQ((co_await s.patch(server.url("/echo"), "patch body")).read(), "patch body");
    RequestOptions ro;
    ro.data = "delete body";
    EXPECT_EQ((co_await s.delete_(server.url("/echo"), ro)).read(), "delete body");
    co_await s.close();
    co_await server.close();
  }());
}

TEST_F(MethodsTest, BeforeStartRunsOnceWithTheSlotAndCanStopTheRequest) {
  corun::run([]() -> Task<void> {
    corun::http::SessionOptions so;
    so.limit = 1;  // a slot that is not given back would hang the last request
    ClientSession s(so);
    int calls = 0;
    RequestOptions counted;
    counted.before_start = [&calls] { ++calls; };
    Response followed = co_await s.get(url("/moved"), counted);
    EXPECT_EQ(followed.status(), 200);
    EXPECT_EQ(followed.history().size(), 1U);
    EXPECT_EQ(calls, 1);  // once, not again for the redirect

    RequestOptions refused;
    refused.before_start = [] { throw std::runtime_error("not now"); };
    std::string error;
    try {
      Response r = co_await s.get(url("/method"), refused);
      error = "no exception, status " + std::to_string(r.status());
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    EXPECT_EQ(error, "not now");
    Response after = co_await s.get(url("/method"));  // the slot came back
    EXPECT_EQ(after.read(), "GET ");
  }());
}

// What a connection sends until it closes, appended to *received.
Task<void> record_bytes(std::shared_ptr<std::vector<std::string>> received,
                        corun::net::StreamReader r, corun::net::StreamWriter w) {
  std::string got;
  try {
    for (;;) {
      Task<std::string> reading = r.read(4096);
      std::string piece = co_await reading;
      if (piece.empty()) break;
      got += piece;
    }
  } catch (const std::exception&) {
  }
  received->push_back(got);
  w.close();
}

// before_send: after before_start, once the connection is ready, once per
// request (not again for a redirect); an exception from it ends the request
// with nothing sent: the server accepted a connection and read no byte.
TEST_F(MethodsTest, BeforeSendRunsOnceBeforeTheFirstByteAndCanStopTheRequest) {
  corun::run([]() -> Task<void> {
    ClientSession s;
    std::vector<std::string> calls;
    RequestOptions counted;
    counted.before_start = [&calls] { calls.push_back("start"); };
    counted.before_send = [&calls] { calls.push_back("send"); };
    Response followed = co_await s.get(url("/moved"), counted);
    EXPECT_EQ(followed.status(), 200);
    EXPECT_EQ(followed.history().size(), 1U);
    EXPECT_EQ(calls, (std::vector<std::string>{"start", "send"}));

    // A server that records the bytes each connection sends before it closes.
    auto received = std::make_shared<std::vector<std::string>>();
    Task<corun::net::Server> starting = corun::net::start_server(
        [received](corun::net::StreamReader r, corun::net::StreamWriter w) {
          return record_bytes(received, std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    corun::net::Server server = co_await starting;
    RequestOptions refused;
    bool connected_first = false;
    refused.before_send = [&] {
      connected_first = true;
      throw std::runtime_error("lease lapsed");
    };
    std::string error;
    try {
      Response r = co_await s.post("http://127.0.0.1:" + std::to_string(server.port()) + "/x",
                                   "body", refused);
      error = "no exception, status " + std::to_string(r.status());
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    EXPECT_EQ(error, "lease lapsed");
    EXPECT_TRUE(connected_first);
    co_await s.close();  // closes the connection, if curl kept it
    for (int i = 0; i < 200 && received->empty(); ++i) co_await corun::sleep(10ms);
    // One connection, accepted, and not a byte on it.
    EXPECT_EQ(*received, std::vector<std::string>{""});
    server.close();
  }());
}

}  // namespace
