// ClientSession against the fault-injecting server: every fault ends in the
// right error or result, never a hang or a crash.
#include <gtest/gtest.h>

#include <string>

#include "corun/corun.hpp"
#include "corun/http.hpp"
#include "support/fault_server.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
using corun::http::ClientSession;
using corun::http::RequestOptions;
using corun::http::Response;
using corun::http::SessionOptions;
using corun::testing::FaultServer;

// Runs body(server, session) on a fresh loop with a fresh server and session.
template <class Body>
void with_server(Body body, SessionOptions options = {}) {
  corun::run([&]() -> Task<void> {
    FaultServer server = co_await FaultServer::start();
    ClientSession session(options);
    std::exception_ptr failure;
    try {
      co_await body(server, session);
    } catch (...) {
      failure = std::current_exception();
    }
    co_await session.close();
    co_await server.close();
    if (failure) std::rethrow_exception(failure);
  }());
}

template <class E>
Task<std::string> expect_error(ClientSession& s, std::string url, RequestOptions o) {
  try {
    Response r = co_await s.get(url, std::move(o));
    ADD_FAILURE() << url << ": no error, status " << r.status();
    co_return "";
  } catch (const E& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(url), std::string::npos) << "message does not name the URL: " << what;
    co_return what;
  }
}

// (No default argument: g++ 12 mishandles defaulted class arguments in co_await expressions.)
template <class E>
Task<std::string> expect_error(ClientSession& s, std::string url) {
  return expect_error<E>(s, std::move(url), RequestOptions{});
}

TEST(HttpFaults, SlowDripCompletes) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    Response r = co_await s.get(f.url("/drip"));
    EXPECT_EQ(r.read(), std::string(20, 'd'));
  });
}

TEST(HttpFaults, StalledBodyHitsTheReadTimeout) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    RequestOptions o;
    o.timeout.emplace();
    o.timeout->sock_read = 1s;
    // aiohttp's ServerTimeoutError: a TimeoutError that names its URL.
    std::string what =
        co_await expect_error<corun::http::ServerTimeoutError>(s, f.url("/stall"), o);
    EXPECT_NE(what.find("sock_read"), std::string::npos) << what;
  });
}

// sock_read is the longest silence, whatever came before it and to the
// millisecond (libcurl's low-speed check averaged the speed over seconds: 100 KB
// before a 2 s pause hid the pause from a 300 ms limit, and limits were whole
// seconds). Data that keeps coming, slowly, is no silence.
TEST(HttpFaults, APauseAfterDataHitsTheReadTimeout) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    RequestOptions o;
    o.timeout.emplace();
    o.timeout->sock_read = 300ms;
    try {
      co_await s.get(f.url("/pause"), o);
      ADD_FAILURE() << "a 2 s pause passed a 300 ms sock_read";
    } catch (const corun::TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("sock_read"), std::string::npos) << e.what();
    }
    RequestOptions roomy;
    roomy.timeout.emplace();
    roomy.timeout->sock_read = 10s;
    EXPECT_EQ((co_await s.get(f.url("/pause"), roomy)).body_size(), 200000u);
    RequestOptions drip;  // a byte every 20 ms
    drip.timeout.emplace();
    drip.timeout->sock_read = 300ms;
    EXPECT_EQ((co_await s.get(f.url("/drip"), drip)).read(), std::string(20, 'd'));
  });
}

TEST(HttpFaults, StalledBodyHitsTheTotalTimeout) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    RequestOptions o;
    o.timeout.emplace();
    o.timeout->total = 300ms;
    try {
      co_await s.get(f.url("/stall"), o);
      ADD_FAILURE() << "no timeout";
    } catch (const corun::http::ServerTimeoutError& e) {
      ADD_FAILURE() << "the total timeout is a plain TimeoutError, as aiohttp's: " << e.what();
    } catch (const corun::TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find(f.url("/stall")), std::string::npos) << e.what();
    }
    // and the session still works
    EXPECT_EQ((co_await s.get(f.url("/ok"))).read(), "hello");
  });
}

TEST(HttpFaults, TruncatedBodyIsAPayloadError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    co_await expect_error<corun::http::ClientPayloadError>(s, f.url("/truncated"));
  });
}

TEST(HttpFaults, CloseWithoutResponseIsServerDisconnected) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    co_await expect_error<corun::http::ServerDisconnectedError>(s, f.url("/nothing"));
  });
}

// A reset says so ("Connection reset by peer", as curl's error 56), not libcurl's
// generic "select/poll returned error".
TEST(HttpFaults, ResetBeforeResponseIsAConnectionError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    std::string what =
        co_await expect_error<corun::http::ClientConnectionError>(s, f.url("/reset"));
    EXPECT_EQ(what.find("select/poll"), std::string::npos) << what;
  });
}

TEST(HttpFaults, ResetMidBodyIsAPayloadError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    std::string what =
        co_await expect_error<corun::http::ClientPayloadError>(s, f.url("/reset-mid"));
    EXPECT_NE(what.find("reset"), std::string::npos) << what;
    EXPECT_EQ(what.find("select/poll"), std::string::npos) << what;
  });
}

TEST(HttpFaults, BadChunkingIsAPayloadError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    co_await expect_error<corun::http::ClientPayloadError>(s, f.url("/bad-chunk"));
  });
}

TEST(HttpFaults, HugeHeadersAreAResponseError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    std::string what =
        co_await expect_error<corun::http::ClientResponseError>(s, f.url("/huge-headers"));
    EXPECT_NE(what.find("too large"), std::string::npos) << what;
  });
}

// A reply that is not HTTP (no status line; libcurl: "Received HTTP/0.9 when not
// allowed", CURLE_UNSUPPORTED_PROTOCOL) is the server's fault, as aiohttp's
// ClientResponseError(400), not an InvalidURL.
TEST(HttpFaults, AReplyWithoutAStatusLineIsAResponseError) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    std::string what =
        co_await expect_error<corun::http::ClientResponseError>(s, f.url("/no-status-line"));
    EXPECT_NE(what.find("bad HTTP response"), std::string::npos) << what;
    try {
      co_await s.get(f.url("/no-status-line"));
    } catch (const corun::http::ClientResponseError& e) {
      EXPECT_EQ(e.status(), 400);
    }
  });
}

TEST(HttpFaults, RedirectLoopIsTooManyRedirects) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    try {
      co_await s.get(f.url("/redirect-loop"));
      ADD_FAILURE();
    } catch (const corun::http::TooManyRedirects& e) {
      EXPECT_EQ(e.status(), 302);
      // The 10 redirects followed (max_redirects' default) and the one refused.
      EXPECT_EQ(e.history().size(), 11U);
      for (const Response& r : e.history()) EXPECT_EQ(r.status(), 302);
    }
  });
}

TEST(HttpFaults, TooManyRequestsKeepsRetryAfter) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    Response r = co_await s.get(f.url("/429"));
    EXPECT_EQ(r.status(), 429);
    EXPECT_EQ(r.headers().get("retry-after").value_or(""), "7");
    EXPECT_THROW(r.raise_for_status(), corun::http::ClientResponseError);
  });
}

TEST(HttpFaults, KeepAliveThenCloseIsRecoveredOnTheNextRequest) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ((co_await s.get(f.url("/keepalive-close"))).read(), "bye");
      EXPECT_EQ((co_await s.get(f.url("/ok"))).read(), "hello");
    }
  });
}

TEST(HttpFaults, NoContentKeepsTheConnection) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    for (int i = 0; i < 5; ++i) {
      Response r = co_await s.get(f.url("/204"));
      EXPECT_EQ(r.status(), 204);
      EXPECT_TRUE(r.read().empty());
      EXPECT_EQ((co_await s.get(f.url("/ok"))).status(), 200);
    }
    EXPECT_EQ(f.connections(), 1);
  });
}

TEST(HttpFaults, EndlessBodyIsStoppedByMaxBodySizeOrCancellation) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    RequestOptions o;
    o.max_body_size = 1 << 20;
    co_await expect_error<corun::http::BodyTooLargeError>(s, f.url("/endless"), o);
    EXPECT_THROW(co_await corun::wait_for(s.get(f.url("/endless")), 100ms), corun::TimeoutError);
    EXPECT_EQ((co_await s.get(f.url("/ok"))).read(), "hello");
  });
}

// A body whose Content-Length is over max_body_size fails as soon as its
// first bytes come (as curl --max-filesize), not once the limit is reached:
// /stall announces 100 bytes, sends 2 and falls silent. The request's own
// timeout (10 s) would be the error if it waited.
TEST(HttpFaults, ABodyAnnouncedOverMaxBodySizeFailsAtOnce) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    RequestOptions o;
    o.max_body_size = 50;
    o.timeout.emplace();
    o.timeout->total = 10s;
    std::string what = co_await expect_error<corun::http::BodyTooLargeError>(s, f.url("/stall"), o);
    EXPECT_NE(what.find("larger than max_body_size, 50 bytes"), std::string::npos) << what;
    RequestOptions enough;
    enough.max_body_size = 100;
    enough.timeout.emplace();
    enough.timeout->total = 300ms;  // its 2 bytes, then silence: the limit is not the error
    co_await expect_error<corun::TimeoutError>(s, f.url("/stall"), enough);
  });
}

TEST(HttpFaults, PostBodiesArriveIntact) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    std::string big(300000, 'p');
    Response r = co_await s.post(f.url("/echo"), big);
    EXPECT_EQ(r.read(), big);
    RequestOptions o;
    o.headers.add("Content-Type", "text/plain");
    o.data = "put body";
    EXPECT_EQ((co_await s.request("PUT", f.url("/echo"), o)).read(), "put body");
  });
}

}  // namespace

// The session's cookie jar (aiohttp's CookieJar): /set-cookie sets sid and redirects
// to /cookie, which answers with the Cookie header it received.
TEST(HttpCookies, TheJarKeepsCookiesAcrossRedirectsAndRequests) {
  with_server([](FaultServer& f, ClientSession& s) -> Task<void> {
    Response first = co_await s.get(f.url("/set-cookie"));
    EXPECT_EQ(first.read(), "sid=abc123");  // sent on the redirect already
    Response later = co_await s.get(f.url("/cookie"));
    EXPECT_EQ(later.read(), "sid=abc123");
    std::vector<corun::http::Cookie> jar = s.cookies();
    EXPECT_EQ(jar.size(), 1u);
    if (!jar.empty()) {
      EXPECT_EQ(jar[0].name, "sid");
      EXPECT_EQ(jar[0].value, "abc123");
      EXPECT_EQ(jar[0].domain, "127.0.0.1");
      EXPECT_EQ(jar[0].path, "/");
      EXPECT_EQ(jar[0].expires, 0);
    }
    RequestOptions extra;
    extra.cookies = {{"lang", "zh"}, {"theme", "dark"}};
    EXPECT_EQ((co_await s.get(f.url("/cookie"), extra)).read(), "sid=abc123; lang=zh; theme=dark");
    s.clear_cookies();
    EXPECT_TRUE(s.cookies().empty());
    EXPECT_EQ((co_await s.get(f.url("/cookie"))).read(), "");
  });
}

// A redirect to another origin (here: another port) carries no credentials on:
// not the request's or the session's Authorization and Cookie headers, nor the
// request's cookies (curl's rule since 7.83, aiohttp's). To the same origin they
// go on; once dropped they stay dropped for the rest of the chain (A -> B -> A).
TEST(HttpCookies, ARedirectToAnotherOriginCarriesNoCredentials) {
  SessionOptions so;
  so.headers.add("X-Api-Key", "k");
  with_server(
      [](FaultServer& a, ClientSession& s) -> Task<void> {
        FaultServer b = co_await FaultServer::start();
        RequestOptions o;
        o.headers.add("authorization", "Bearer SECRET");
        o.cookies = {{"sid", "SESSION"}};
        std::string same = a.url("/redirect-to?" + a.url("/credentials"));
        EXPECT_EQ((co_await s.get(same, o)).read(),
                  "Authorization: Bearer SECRET|Cookie: sid=SESSION");
        std::string other = a.url("/redirect-to?" + b.url("/credentials"));
        Response r = co_await s.get(other, o);
        EXPECT_EQ(r.read(), "Authorization: |Cookie: ");
        EXPECT_EQ(r.history().size(), 1u);
        std::string back = a.url("/redirect-to?" + b.url("/redirect-to?" + a.url("/credentials")));
        EXPECT_EQ((co_await s.get(back, o)).read(), "Authorization: |Cookie: ");
        RequestOptions handwritten;
        handwritten.headers.add("Cookie", "sid=SESSION");
        EXPECT_EQ((co_await s.get(other, handwritten)).read(), "Authorization: |Cookie: ");
        // Without a redirect nothing is dropped.
        EXPECT_EQ((co_await s.get(b.url("/credentials"), o)).read(),
                  "Authorization: Bearer SECRET|Cookie: sid=SESSION");
        co_await b.close();
      },
      so);
  // The session's own Authorization header, too.
  SessionOptions with_auth;
  with_auth.headers.add("Authorization", "Bearer SESSIONWIDE");
  with_server(
      [](FaultServer& a, ClientSession& s) -> Task<void> {
        FaultServer b = co_await FaultServer::start();
        EXPECT_EQ((co_await s.get(a.url("/redirect-to?" + a.url("/credentials")))).read(),
                  "Authorization: Bearer SESSIONWIDE|Cookie: ");
        EXPECT_EQ((co_await s.get(a.url("/redirect-to?" + b.url("/credentials")))).read(),
                  "Authorization: |Cookie: ");
        co_await b.close();
      },
      with_auth);
}

// A CookieJar shared by sessions on two loops (two threads): what one session's
// response sets, the other sends; clearing it clears it for both.
TEST(HttpCookies, ASharedJarServesSessionsOnOtherThreads) {
  auto jar = std::make_shared<corun::http::CookieJar>();
  SessionOptions o;
  o.shared_cookie_jar = jar;
  with_server(
      [&](FaultServer& f, ClientSession& s) -> Task<void> {
        EXPECT_EQ((co_await s.get(f.url("/set-cookie"))).read(), "sid=abc123");
        std::vector<corun::http::Cookie> held = jar->cookies();
        EXPECT_EQ(held.size(), 1u);
        if (!held.empty()) {
          EXPECT_EQ(held[0].value, "abc123");
        }
        EXPECT_EQ(s.cookies().size(), 1u);
        corun::LoopThread other;
        std::string url = f.url("/cookie");
        auto get_there = [](std::string u, const SessionOptions* so) -> Task<std::string> {
          ClientSession there(*so);
          std::string body = (co_await there.get(u)).read();
          co_await there.close();
          co_return body;
        };
        // Wait on the pool: this loop serves the request.
        auto there = other.submit(get_there(url, &o));
        std::string body = co_await corun::to_thread([&] { return there.get(); });
        EXPECT_EQ(body, "sid=abc123");
        jar->clear();
        EXPECT_TRUE(s.cookies().empty());
        auto again = other.submit(get_there(url, &o));
        body = co_await corun::to_thread([&] { return again.get(); });
        EXPECT_EQ(body, "");
      },
      o);
}

// With a connection limit, requests beyond it wait in the session, not in
// libcurl: the wait counts in the total timeout, and a waiter cancelled while
// it waits takes no slot with it.
TEST(HttpLimits, RequestsBeyondTheLimitWaitInTheSession) {
  SessionOptions o;
  o.limit = 1;
  with_server(
      [](FaultServer& f, ClientSession& s) -> Task<void> {
        auto slow = corun::create_task(s.get(f.url("/drip")));  // the one slot, ~400 ms
        co_await corun::sleep(std::chrono::milliseconds(20));
        RequestOptions quick;
        quick.timeout = corun::http::Timeouts{};
        quick.timeout->total = std::chrono::milliseconds(100);
        std::string what = co_await expect_error<corun::TimeoutError>(s, f.url("/ok"), quick);
        EXPECT_NE(what.find("waiting for a connection"), std::string::npos) << what;
        auto waiting = corun::create_task(s.get(f.url("/ok")));
        co_await corun::sleep(std::chrono::milliseconds(20));
        EXPECT_FALSE(waiting.done());
        waiting.cancel();
        bool cancelled = false;
        try {
          co_await waiting;
        } catch (const corun::CancelledError&) {
          cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        Response r = co_await slow;
        EXPECT_EQ(r.status(), 200);
        // The slot is back, once: requests still run, one at a time.
        std::vector<Task<Response>> more;
        for (int i = 0; i < 3; ++i) more.push_back(s.get(f.url("/ok")));
        for (Response& each : co_await corun::gather(std::move(more))) {
          EXPECT_EQ(each.read(), "hello");
        }
        EXPECT_LE(f.connections(), 2);
      },
      o);
}

TEST(HttpCookies, WithoutAJarNothingIsKept) {
  SessionOptions o;
  o.cookie_jar = false;
  with_server(
      [](FaultServer& f, ClientSession& s) -> Task<void> {
        EXPECT_EQ((co_await s.get(f.url("/set-cookie"))).read(), "");
        EXPECT_EQ((co_await s.get(f.url("/cookie"))).read(), "");
        EXPECT_TRUE(s.cookies().empty());
        RequestOptions extra;
        extra.cookies = {{"lang", "zh"}};
        EXPECT_EQ((co_await s.get(f.url("/cookie"), extra)).read(), "lang=zh");
      },
      o);
}
