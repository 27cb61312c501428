// SessionOptions::limit_per_host and limit, enforced by the session itself: the
// requests a test server sees in flight at once, over HTTP/1.1 (straight to a
// corun::net server) and over HTTP/2 (nginx with TLS + h2 in front of it, one
// upstream request per stream), and other hosts served while one is saturated.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/http.hpp"
#include "corun/net.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
using corun::TaskHandle;
using corun::http::ClientSession;
using corun::http::Response;
using corun::http::SessionOptions;

// What the backend saw: requests in flight per Host header, and their peak.
struct Seen {
  std::map<std::string, int> active;
  std::map<std::string, int> peak;
  corun::Event release;  // /hold answers once this is set
};

std::string header_value(const std::string& head, const std::string& name) {
  std::string lower = head;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  auto p = lower.find("\r\n" + name + ":");
  if (p == std::string::npos) return {};
  std::size_t i = p + 3 + name.size();
  while (i < head.size() && head[i] == ' ') ++i;
  return head.substr(i, head.find("\r\n", i) - i);
}

// HTTP/1.1 keep-alive, GET only: /hold waits for Seen::release, anything else
// answers at once.
Task<void> serve_connection(Seen* seen, corun::net::StreamReader reader,
                            corun::net::StreamWriter writer) {
  for (;;) {
    std::string head;
    try {
      head = co_await reader.readuntil("\r\n\r\n");
    } catch (const std::exception&) {
      co_return;
    }
    std::string host = header_value(head, "host");
    bool hold = head.compare(0, 10, "GET /hold ") == 0;
    int& active = seen->active[host];
    ++active;
    seen->peak[host] = std::max(seen->peak[host], active);
    if (hold) co_await seen->release.wait();
    --seen->active[host];
    writer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    co_await writer.drain();
  }
}

Task<corun::net::Server> start_backend(Seen* seen, std::string host, int port) {
  auto handler = [seen](corun::net::StreamReader r, corun::net::StreamWriter w) {
    return serve_connection(seen, std::move(r), std::move(w));
  };
  Task<corun::net::Server> starting =
      corun::net::start_server(handler, std::move(host), static_cast<std::uint16_t>(port));
  co_return co_await starting;
}

// Waits (a hang guard, not a measurement) until `host` has `n` requests in flight.
Task<void> wait_active(Seen* seen, std::string host, int n) {
  for (int i = 0; i < 20000 && seen->active[host] < n; ++i) co_await corun::sleep(1ms);
  if (seen->active[host] != n) {
    throw std::runtime_error(host + " never had " + std::to_string(n) + " requests in flight");
  }
}

// Starts `n` GETs of /hold on base, saturating its host; then checks that a
// request to `other` completes while they wait, that the held host never saw
// more than `per_host` at once, and that all finish once released.
Task<void> saturate_one_host(ClientSession* s, Seen* seen, std::string base, std::string base_key,
                             std::string other, int n, int per_host, std::string version) {
  std::vector<TaskHandle<Response>> held;
  held.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) held.push_back(corun::create_task(s->get(base + "/hold")));
  co_await wait_active(seen, base_key, per_host);
  // Leave room for a broken gate to let more through before looking.
  co_await corun::sleep(100ms);
  EXPECT_EQ(seen->active[base_key], per_host);
  // Another host is served while this one is at its limit.
  Task<Response> quick = corun::wait_for(s->get(other + "/quick"), 60s);
  Response r = co_await quick;
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.version(), version);
  EXPECT_EQ(seen->active[base_key], per_host);
  seen->release.set();
  for (auto& t : held) {
    Response h = co_await t;
    EXPECT_EQ(h.read(), "ok");
    EXPECT_EQ(h.version(), version);
  }
  EXPECT_EQ(seen->peak[base_key], per_host);
}

TEST(LimitsTest, PerHostLimitHoldsOverHttp1AndOtherHostsProceed) {
  corun::run([]() -> Task<void> {
    Seen seen;
    Task<corun::net::Server> starting_a = start_backend(&seen, "127.0.0.1", 0);
    corun::net::Server a = co_await starting_a;
    Task<corun::net::Server> starting_b = start_backend(&seen, "127.0.0.2", a.port());
    corun::net::Server b = co_await starting_b;
    std::string key_a = "127.0.0.1:" + std::to_string(a.port());
    std::string key_b = "127.0.0.2:" + std::to_string(a.port());
    SessionOptions o;
    o.limit_per_host = 3;
    ClientSession s(o);
    Task<void> run =
        saturate_one_host(&s, &seen, "http://" + key_a, key_a, "http://" + key_b, 10, 3, "1.1");
    co_await run;
    EXPECT_EQ(seen.peak[key_b], 1);
    co_await s.close();
    a.close();
    b.close();
    co_await a.wait_closed();
    co_await b.wait_closed();
  }());
}

// `limit` alone bounds requests too (the total over every host).
TEST(LimitsTest, TotalLimitHoldsAcrossHosts) {
  corun::run([]() -> Task<void> {
    Seen seen;
    Task<corun::net::Server> starting_a = start_backend(&seen, "127.0.0.1", 0);
    corun::net::Server a = co_await starting_a;
    Task<corun::net::Server> starting_b = start_backend(&seen, "127.0.0.2", a.port());
    corun::net::Server b = co_await starting_b;
    std::string key_a = "127.0.0.1:" + std::to_string(a.port());
    std::string key_b = "127.0.0.2:" + std::to_string(a.port());
    SessionOptions o;
    o.limit = 4;
    o.limit_per_host = 3;
    ClientSession s(o);
    std::vector<TaskHandle<Response>> held;
    for (int i = 0; i < 6; ++i) {
      held.push_back(corun::create_task(s.get("http://" + key_a + "/hold")));
      held.push_back(corun::create_task(s.get("http://" + key_b + "/hold")));
    }
    // Arrival order a, b, a, b, ...: two of each fill the total.
    co_await wait_active(&seen, key_a, 2);
    co_await wait_active(&seen, key_b, 2);
    co_await corun::sleep(100ms);
    EXPECT_EQ(seen.active[key_a], 2);
    EXPECT_EQ(seen.active[key_b], 2);
    seen.release.set();
    for (auto& t : held) EXPECT_EQ((co_await t).status(), 200);
    co_await s.close();
    a.close();
    b.close();
    co_await a.wait_closed();
    co_await b.wait_closed();
  }());
}

// RequestOptions::total_timeout_from_admission. limit_per_host = 1 and the
// host's slot held by a request the server does not answer: a second request
// to the host waits in the session's gate past its total timeout. By default
// (aiohttp's ClientTimeout.total) the wait counts and it fails with
// TimeoutError; with the option its timeout has not started, and once the slot
// is free it completes. The option's request goes through the http::URL
// overload (parsed once, keyed by its origin: "127.0.0.1:port" written with the
// scheme's case changed is still the held host).
Task<void> queue_behind_a_held_request(bool from_admission) {
  Seen seen;
  Task<corun::net::Server> starting = start_backend(&seen, "127.0.0.1", 0);
  corun::net::Server server = co_await starting;
  std::string key = "127.0.0.1:" + std::to_string(server.port());
  SessionOptions o;
  o.limit_per_host = 1;
  ClientSession s(o);
  auto held = corun::create_task(s.get("http://" + key + "/hold"));
  co_await wait_active(&seen, key, 1);
  corun::http::RequestOptions ro;
  ro.timeout.emplace();
  ro.timeout->total = 500ms;
  ro.total_timeout_from_admission = from_admission;
  TaskHandle<Response> queued =
      from_admission
          ? corun::create_task(s.get(corun::http::parse_url("HTTP://" + key + "/quick"), ro))
          : corun::create_task(s.get("http://" + key + "/quick", ro));
  // Twice its total timeout in the queue (not a measurement: the queued
  // request's own timer is due first).
  co_await corun::sleep(1000ms);
  EXPECT_EQ(seen.active[key], 1);
  if (from_admission) {
    EXPECT_FALSE(queued.done());  // still queued: its timeout has not started
    seen.release.set();
    Response r = co_await queued;
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(r.read(), "ok");
  } else {
    EXPECT_TRUE(queued.done());
    try {
      co_await queued;
      ADD_FAILURE() << "the queued request did not time out";
    } catch (const corun::TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("waiting for a connection"), std::string::npos)
          << e.what();
    }
    seen.release.set();
  }
  EXPECT_EQ((co_await held).status(), 200);
  EXPECT_EQ(seen.peak[key], 1);
  co_await s.close();
  server.close();
  co_await server.wait_closed();
}

TEST(LimitsTest, QueuedRequestTimesOutWaitingForASlotByDefault) {
  corun::run(queue_behind_a_held_request(false));
}

TEST(LimitsTest, TotalTimeoutFromAdmissionDoesNotCountTheQueue) {
  corun::run(queue_behind_a_held_request(true));
}

class Http2LimitsTest : public ::testing::Test {
 public:
  void SetUp() override {
    dir_ = std::make_unique<corun::testing::TempDir>("corun-limits");
    certs_ = corun::testing::make_test_certs(dir_->path(), 2);
    backend_port_ = corun::testing::free_port();
    corun::testing::NginxOptions o;
    o.tls = true;
    o.http2 = true;
    o.certs = certs_;
    o.hosts = 2;
    // One upstream HTTP/1.1 request per client stream (no upstream keep-alive
    // pool), so the backend sees every stream in flight.
    std::string upstream = "http://127.0.0.1:" + std::to_string(backend_port_);
    o.extra_server_conf = "location /hold { proxy_pass " + upstream +
                          "; proxy_set_header Host $host; proxy_buffering off; }\n"
                          "location /quick { proxy_pass " +
                          upstream + "; proxy_set_header Host $host; }\n";
    nginx_ = std::make_unique<corun::testing::Nginx>(o);
  }

  std::unique_ptr<corun::testing::TempDir> dir_;
  corun::testing::TestCerts certs_;
  int backend_port_ = 0;
  std::unique_ptr<corun::testing::Nginx> nginx_;
};

TEST_F(Http2LimitsTest, PerHostLimitBoundsStreamsNotOnlyConnections) {
  long before = nginx_->accepted_connections();
  corun::run([](Http2LimitsTest* self) -> Task<void> {
    Seen seen;
    Task<corun::net::Server> starting = start_backend(&seen, "127.0.0.1", self->backend_port_);
    corun::net::Server backend = co_await starting;
    SessionOptions o;
    o.ca_file = self->certs_.ca_cert;
    o.limit_per_host = 3;
    ClientSession s(o);
    Task<void> run = saturate_one_host(&s, &seen, self->nginx_->host_url(1), "127.0.0.1",
                                       self->nginx_->host_url(2), 12, 3, "2");
    co_await run;
    EXPECT_EQ(seen.peak["127.0.0.2"], 1);
    co_await s.close();
    backend.close();
    co_await backend.wait_closed();
  }(this));
  // HTTP/2: one connection per host carried every stream.
  EXPECT_EQ(nginx_->accepted_connections() - before, 2);
}

}  // namespace
