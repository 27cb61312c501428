// corun::redis::Connection against a real redis-server started by the test on a
// free loopback port (tests/redis/redis_server.hpp): replies, pipelining,
// scripts, timeouts, cancellation, dropped connections, reconnection,
// authentication, the URL's db, and loop binding.
#include "corun/redis/connection.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/redis.hpp"
#include "redis/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
using corun::redis::Connection;
using corun::redis::ConnectOptions;
using corun::redis::Reply;
using corun::redis::Timeout;
namespace redis = corun::redis;

// Awaits t; returns the exception of type E it threw, or nothing when it
// succeeded (another exception propagates and fails the test).
template <class E, class T>
Task<std::optional<E>> caught(Task<T> t) {
  try {
    co_await t;
  } catch (const E& e) {
    co_return e;
  }
  co_return std::nullopt;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A field of INFO's "name:value" lines.
std::int64_t info_field(const std::string& info, const std::string& name) {
  auto pos = info.find(name + ":");
  if (pos == std::string::npos) throw std::runtime_error("INFO has no " + name);
  return std::stoll(info.substr(pos + name.size() + 1));
}

// Waits (bounded, not timed) until the server reports `clients` blocked clients.
Task<bool> wait_blocked_clients(Connection& observer, std::int64_t clients) {
  for (int i = 0; i < 1000; ++i) {
    Reply info = co_await observer.command("INFO", "clients");
    if (info_field(info.as_string(), "blocked_clients") == clients) co_return true;
    co_await corun::sleep(10ms);
  }
  co_return false;
}

ConnectOptions quick_reconnect() {
  ConnectOptions o;
  o.reconnect_initial_delay = 20ms;
  o.reconnect_max_delay = 200ms;
  return o;
}

class RedisConnection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new corun::testing::RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static corun::testing::RedisServer* server_;
};
corun::testing::RedisServer* RedisConnection::server_ = nullptr;

TEST_F(RedisConnection, SetGetBinarySafe) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    EXPECT_TRUE(conn.is_connected());
    EXPECT_EQ(conn.connections_made(), 1u);
    std::string value("a\0b\r\n$3\r\n", 9);
    Reply set = co_await conn.command("SET", "bin", value);
    EXPECT_EQ(set.as_status(), "OK");
    Reply get = co_await conn.command("GET", "bin");
    EXPECT_EQ(get.as_string(), value);
    Reply missing = co_await conn.command("GET", "no-such-key");
    EXPECT_TRUE(missing.is_nil());
    co_await conn.command("DEL", "bin");
  }());
}

TEST_F(RedisConnection, TypedReplies) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("DEL", "typed:n", "typed:l", "typed:s");
    EXPECT_EQ((co_await conn.command("INCRBY", "typed:n", 41)).as_integer(), 41);
    EXPECT_EQ((co_await conn.command("PING")).type(), Reply::Type::status);
    std::vector<std::string> items{"a", "b", "c"};
    co_await conn.command("RPUSH", "typed:l", items);
    Reply range = co_await conn.command("LRANGE", "typed:l", 0, -1);
    EXPECT_EQ(range.size(), 3u);
    if (range.size() == 3) {
      EXPECT_EQ(range[2].as_string(), "c");
    }
    // Nested arrays, integers, strings and a nil inside (Lua false becomes nil).
    Reply nested = co_await conn.command("EVAL", "return {1, {2, 'x', {false}}, 'y'}", 0);
    EXPECT_EQ(nested.repr(), "[1, [2, \"x\", [nil]], \"y\"]");
    // An error reply inside an array (EXEC), kept as a value.
    co_await conn.command("SET", "typed:s", "text");
    co_await conn.command("MULTI");
    co_await conn.command("INCR", "typed:n");
    co_await conn.command("LPUSH", "typed:s", "x");
    Reply exec = co_await conn.command("EXEC");
    EXPECT_EQ(exec.size(), 2u);
    if (exec.size() == 2) {
      EXPECT_EQ(exec[0].as_integer(), 42);
      EXPECT_TRUE(exec[1].is_error());
      EXPECT_TRUE(contains(exec[1].as_error(), "WRONGTYPE"));
    }
    co_await conn.command("DEL", "typed:n", "typed:l", "typed:s");
  }());
}

TEST_F(RedisConnection, WrongTypeIsAResponseErrorAndTheConnectionGoesOn) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("SET", "wt", "string");
    Task<Reply> push = conn.command("LPUSH", "wt", "x");
    auto e = co_await caught<redis::ResponseError>(std::move(push));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_EQ(e->kind(), "WRONGTYPE");
      EXPECT_EQ(e->command(), "LPUSH");
      EXPECT_TRUE(contains(e->what(), "WRONGTYPE Operation against a key holding the wrong kind"))
          << e->what();
    }
    EXPECT_EQ((co_await conn.command("GET", "wt")).as_string(), "string");
    co_await conn.command("DEL", "wt");
  }());
}

TEST_F(RedisConnection, PipelineIsOneRoundTripAndKeepsOrder) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    Connection observer = co_await redis::connect(url);
    co_await conn.command("DEL", "pipe");
    constexpr int n = 1000;
    redis::Pipeline p = conn.pipeline();
    for (int i = 0; i < n; ++i) p.command("RPUSH", "pipe", i);
    p.command("LLEN", "pipe").command("LPUSH", "pipe:other", "x");
    EXPECT_EQ(p.size(), static_cast<std::size_t>(n + 2));
    std::int64_t reads_before = info_field((co_await observer.command("INFO", "stats")).as_string(),
                                           "total_reads_processed");
    std::vector<Reply> replies = co_await p.execute();
    std::int64_t reads_after = info_field((co_await observer.command("INFO", "stats")).as_string(),
                                          "total_reads_processed");
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(replies.size(), static_cast<std::size_t>(n + 2));
    if (replies.size() != static_cast<std::size_t>(n + 2)) co_return;
    for (int i = 0; i < n; ++i) EXPECT_EQ(replies[i].as_integer(), i + 1);
    EXPECT_EQ(replies[n].as_integer(), n);
    // One write from the client: the server reads it in a few reads (its
    // buffer is 16 KB; ~30 KB were sent), where command-by-command would be
    // n reads. The observer's own INFO adds one.
    EXPECT_LT(reads_after - reads_before, 20) << reads_after - reads_before;
    // The measure tells the two apart: 50 commands awaited one by one cost the
    // server at least 50 reads.
    reads_before = info_field((co_await observer.command("INFO", "stats")).as_string(),
                              "total_reads_processed");
    for (int i = 0; i < 50; ++i) co_await conn.command("LLEN", "pipe");
    reads_after = info_field((co_await observer.command("INFO", "stats")).as_string(),
                             "total_reads_processed");
    EXPECT_GE(reads_after - reads_before, 50);
    Reply order = co_await conn.command("LRANGE", "pipe", 0, 2);
    EXPECT_EQ(order.repr(), "[\"0\", \"1\", \"2\"]");
    co_await conn.command("DEL", "pipe", "pipe:other");
  }());
}

TEST_F(RedisConnection, PipelineErrorsStayInPlaceOrRaise) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("SET", "pe", "s");
    redis::Pipeline p = conn.pipeline();
    p.command("INCR", "pe-n").command("LPUSH", "pe", "x").command("GET", "pe");
    std::vector<Reply> replies = co_await p.execute(false);
    EXPECT_EQ(replies.size(), 3u);
    if (replies.size() != 3) co_return;
    EXPECT_TRUE(replies[1].is_error());
    EXPECT_EQ(replies[2].as_string(), "s");
    p.command("INCR", "pe-n").command("LPUSH", "pe", "x").command("INCR", "pe-n");
    Task<std::vector<Reply>> raising = p.execute();
    auto e = co_await caught<redis::ResponseError>(std::move(raising));
    EXPECT_TRUE(e && e->kind() == "WRONGTYPE");
    // Every command ran, the one after the error included.
    EXPECT_EQ((co_await conn.command("GET", "pe-n")).as_string(), "3");
    co_await conn.command("DEL", "pe", "pe-n");
  }());
}

TEST_F(RedisConnection, ConcurrentCommandsShareTheConnection) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("DEL", "cc");
    std::vector<Task<std::int64_t>> tasks;
    for (int i = 0; i < 200; ++i) {
      tasks.push_back([](Connection& c, int i) -> Task<std::int64_t> {
        std::string key = "cc:" + std::to_string(i);
        co_await c.command("SET", key, i);
        Reply r = co_await c.command("GET", key);
        co_await c.command("DEL", key);
        co_return std::stoll(r.as_string());
      }(conn, i));
    }
    std::vector<std::int64_t> got = co_await corun::gather(std::move(tasks));
    for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], i);
  }());
}

TEST_F(RedisConnection, ScriptLoadsOnNoscriptAndAfterScriptFlush) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("SCRIPT", "FLUSH");
    redis::Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    Reply exists = co_await conn.command("SCRIPT", "EXISTS", script.sha());
    EXPECT_EQ(exists[0].as_integer(), 0);
    co_await conn.command("DEL", "sc");
    std::vector<std::string> keys{"sc"};
    std::vector<std::string> args{"5"};
    EXPECT_EQ((co_await script(conn, keys, args)).as_integer(), 5);
    exists = co_await conn.command("SCRIPT", "EXISTS", script.sha());
    EXPECT_EQ(exists[0].as_integer(), 1);  // loaded under the digest computed locally
    EXPECT_EQ((co_await script(conn, keys, args)).as_integer(), 10);
    co_await conn.command("SCRIPT", "FLUSH");
    EXPECT_EQ((co_await script(conn, keys, args)).as_integer(), 15);
    exists = co_await conn.command("SCRIPT", "EXISTS", script.sha());
    EXPECT_EQ(exists[0].as_integer(), 1);
    // An error the script raises is a ResponseError, not retried.
    redis::Script failing("return redis.error_reply('BADTHING it went wrong')");
    Task<Reply> run = failing(conn);
    auto e = co_await caught<redis::ResponseError>(std::move(run));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_EQ(e->kind(), "BADTHING") << e->what();
    }
    co_await conn.command("DEL", "sc");
  }());
}

TEST_F(RedisConnection, CommandTimeoutDiscardsTheLateReplyAndStaysUsable) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("SET", "to", "value");
    Task<Reply> sleeping = conn.command(Timeout(100ms), "DEBUG", "SLEEP", "0.5");
    auto e = co_await caught<redis::TimeoutError>(std::move(sleeping));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_TRUE(contains(e->what(), "DEBUG timed out after 0.1 s")) << e->what();
      EXPECT_TRUE(contains(e->what(), "stays usable")) << e->what();
    }
    // The next reply is GET's, not DEBUG's late +OK.
    EXPECT_EQ((co_await conn.command("GET", "to")).as_string(), "value");
    EXPECT_EQ(conn.connections_made(), 1u);
    // redis::TimeoutError is a corun::TimeoutError.
    Task<Reply> again = conn.command(Timeout(50ms), "DEBUG", "SLEEP", "0.2");
    auto base = co_await caught<corun::TimeoutError>(std::move(again));
    EXPECT_TRUE(base);
    EXPECT_EQ((co_await conn.command("PING")).as_status(), "PONG");
    co_await conn.command("DEL", "to");
  }());
}

TEST_F(RedisConnection, BlockingCommandTimeoutClosesAndReconnects) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url, quick_reconnect());
    std::int64_t id = (co_await conn.command("CLIENT", "ID")).as_integer();
    Task<Reply> blpop = conn.command(Timeout(100ms), "BLPOP", "never-filled", 30);
    auto e = co_await caught<redis::TimeoutError>(std::move(blpop));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_TRUE(contains(e->what(), "connection was closed")) << e->what();
    }
    std::int64_t new_id = (co_await conn.command("CLIENT", "ID")).as_integer();
    EXPECT_NE(new_id, id);
    EXPECT_EQ(conn.connections_made(), 2u);
  }());
}

TEST_F(RedisConnection, CancellingACommandKeepsTheConnectionUsable) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    co_await conn.command("SET", "cx", "kept");
    auto sleeper = corun::create_task([](Connection& c) -> Task<Reply> {
      co_return co_await c.command("DEBUG", "SLEEP", "0.3");
    }(conn));
    co_await corun::sleep(20ms);  // let it be sent (it is cancelled either way)
    sleeper.cancel();
    bool cancelled = false;
    try {
      co_await sleeper;
    } catch (const corun::CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_EQ((co_await conn.command("GET", "cx")).as_string(), "kept");
    EXPECT_EQ(conn.connections_made(), 1u);
    // wait_for around a command: its expiry cancels it and raises TimeoutError.
    Task<Reply> slow = conn.command("DEBUG", "SLEEP", "0.3");
    Task<Reply> bounded = corun::wait_for(std::move(slow), 50ms);
    auto e = co_await caught<corun::TimeoutError>(std::move(bounded));
    EXPECT_TRUE(e);
    EXPECT_EQ((co_await conn.command("GET", "cx")).as_string(), "kept");
    EXPECT_EQ(conn.connections_made(), 1u);
    co_await conn.command("DEL", "cx");
  }());
}

TEST_F(RedisConnection, CancellingABlockingCommandClosesItsConnection) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url, quick_reconnect());
    Connection observer = co_await redis::connect(url);
    auto waiter = corun::create_task([](Connection& c) -> Task<Reply> {
      co_return co_await c.command(Timeout::never(), "BLPOP", "cancel-q", 0);
    }(conn));
    EXPECT_TRUE(co_await wait_blocked_clients(observer, 1));
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const corun::CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    // The blocked connection is gone on the server's side too.
    EXPECT_TRUE(co_await wait_blocked_clients(observer, 0));
    EXPECT_EQ((co_await conn.command("PING")).as_status(), "PONG");
    EXPECT_EQ(conn.connections_made(), 2u);
    // A value pushed now is not eaten by the abandoned BLPOP.
    co_await observer.command("RPUSH", "cancel-q", "v");
    EXPECT_EQ((co_await conn.command("LPOP", "cancel-q")).as_string(), "v");
  }());
}

TEST_F(RedisConnection, DroppedMidCommandFailsItThenReconnects) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url, quick_reconnect());
    Connection killer = co_await redis::connect(url);
    std::int64_t id = (co_await conn.command("CLIENT", "ID")).as_integer();
    Task<Reply> blpop = conn.command(Timeout::never(), "BLPOP", "drop-q", 0);
    auto pending = corun::create_task(caught<redis::ConnectionError>(std::move(blpop)));
    EXPECT_TRUE(co_await wait_blocked_clients(killer, 1));
    Reply killed = co_await killer.command("CLIENT", "KILL", "ID", id);
    EXPECT_EQ(killed.as_integer(), 1);
    auto e = co_await pending;
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_TRUE(e->may_have_executed());
      EXPECT_TRUE(contains(e->what(), "BLPOP failed: connection to 127.0.0.1:")) << e->what();
      EXPECT_TRUE(contains(e->what(), "may or may not have executed")) << e->what();
    }
    EXPECT_EQ((co_await conn.command("PING")).as_status(), "PONG");
    EXPECT_EQ(conn.connections_made(), 2u);
  }());
}

TEST_F(RedisConnection, WithoutReconnectADropClosesTheConnection) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    ConnectOptions o;
    o.reconnect = false;
    Connection conn = co_await redis::connect(url, o);
    Connection killer = co_await redis::connect(url);
    std::int64_t id = (co_await conn.command("CLIENT", "ID")).as_integer();
    co_await killer.command("CLIENT", "KILL", "ID", id);
    // The client learns of the kill when it next reads: a command in flight
    // then, or (the socket is polled all along) by itself.
    Task<Reply> ping = conn.command("PING");
    auto e = co_await caught<redis::ConnectionError>(std::move(ping));
    EXPECT_TRUE(e);
    EXPECT_TRUE(conn.is_closed());
    Task<Reply> later = conn.command("PING");
    auto e2 = co_await caught<redis::ConnectionError>(std::move(later));
    EXPECT_TRUE(e2);
    if (e2) {
      EXPECT_FALSE(e2->may_have_executed());
      EXPECT_TRUE(contains(e2->what(), "PING was not sent")) << e2->what();
    }
  }());
}

TEST_F(RedisConnection, RefusesPubSubAndResp3) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    Task<Reply> sub = conn.command("SUBSCRIBE", "ch");
    auto e = co_await caught<redis::Error>(std::move(sub));
    EXPECT_TRUE(e && contains(e->what(), "SUBSCRIBE is not supported"));
    Task<Reply> hello = conn.command("HELLO", "3");
    auto e2 = co_await caught<redis::Error>(std::move(hello));
    EXPECT_TRUE(e2 && contains(e2->what(), "RESP2"));
    // CLIENT REPLY OFF/SKIP would leave commands without replies, and the
    // next replies went to the wrong callers.
    Task<Reply> skip = conn.command("client", "reply", "SKIP");
    auto e3 = co_await caught<redis::Error>(std::move(skip));
    EXPECT_TRUE(e3 && contains(e3->what(), "CLIENT REPLY is not supported"))
        << (e3 ? e3->what() : "no error");
    co_await conn.command("SET", "after-skip", "mine");
    EXPECT_EQ((co_await conn.command("GET", "after-skip")).as_string(), "mine");
    EXPECT_EQ((co_await conn.command("PING")).as_status(), "PONG");
  }());
}

TEST_F(RedisConnection, DbFromTheUrl) {
  std::string db0 = server_->url();
  std::string db3 = server_->url("", 3);
  std::string db99 = server_->url("", 99);
  corun::run([&]() -> Task<void> {
    Connection c3 = co_await redis::connect(db3);
    Connection c0 = co_await redis::connect(db0);
    co_await c3.command("SET", "dbkey", "three");
    EXPECT_TRUE((co_await c0.command("GET", "dbkey")).is_nil());
    EXPECT_EQ((co_await c3.command("GET", "dbkey")).as_string(), "three");
    Reply info = co_await c3.command("CLIENT", "INFO");
    EXPECT_TRUE(contains(info.as_string(), " db=3 ")) << info.as_string();
    co_await c3.command("DEL", "dbkey");
    Task<Connection> bad = redis::connect(db99);
    auto e = co_await caught<redis::ResponseError>(std::move(bad));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_TRUE(contains(e->what(), "SELECT 99 on 127.0.0.1:")) << e->what();
    }
  }());
}

TEST_F(RedisConnection, HostNamesAreResolved) {
  std::string url = "redis://localhost:" + std::to_string(server_->port());
  corun::run([&]() -> Task<void> {
    ConnectOptions o;
    o.client_name = "corun-test";
    Connection conn = co_await redis::connect(url, o);
    EXPECT_EQ((co_await conn.command("CLIENT", "GETNAME")).as_string(), "corun-test");
  }());
}

TEST_F(RedisConnection, BoundToItsLoop) {
  std::string url = server_->url();
  corun::Runner first;
  Connection conn =
      first.run([&]() -> Task<Connection> { co_return co_await redis::connect(url); }());
  corun::run([&]() -> Task<void> {
    Task<Reply> elsewhere = conn.command("PING");
    auto e = co_await caught<corun::RuntimeError>(std::move(elsewhere));
    EXPECT_TRUE(e && contains(e->what(), "bound to the event loop")) << (e ? e->what() : "");
  }());
  Reply pong = first.run([&]() -> Task<Reply> { co_return co_await conn.command("PING"); }());
  EXPECT_EQ(pong.as_status(), "PONG");
  first.close();
  // Its loop has shut down: the connection was closed with it.
  EXPECT_TRUE(conn.is_closed());
  corun::run([&]() -> Task<void> {
    Task<Reply> after = conn.command("PING");
    auto e = co_await caught<corun::RuntimeError>(std::move(after));
    EXPECT_TRUE(e && contains(e->what(), "shut down")) << (e ? e->what() : "");
  }());
}

TEST_F(RedisConnection, CloseFailsWhatIsPending) {
  std::string url = server_->url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url);
    Task<Reply> blpop = conn.command(Timeout::never(), "BLPOP", "close-q", 0);
    auto pending = corun::create_task(caught<redis::ConnectionError>(std::move(blpop)));
    co_await corun::sleep(20ms);
    conn.close();
    conn.close();  // idempotent
    auto e = co_await pending;
    EXPECT_TRUE(e && contains(e->what(), "closed by Connection::close()"))
        << (e ? e->what() : "no error");
    Task<Reply> later = conn.command("PING");
    auto e2 = co_await caught<redis::ConnectionError>(std::move(later));
    EXPECT_TRUE(e2 && !e2->may_have_executed());
  }());
}

// --- servers of their own ------------------------------------------------

TEST(RedisConnect, UnreachableServerIsAConnectionError) {
  int port = corun::testing::free_port();  // nothing listens there
  std::string url = "redis://127.0.0.1:" + std::to_string(port);
  corun::run([&]() -> Task<void> {
    Task<Connection> opening = redis::connect(url);
    auto e = co_await caught<redis::ConnectionError>(std::move(opening));
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_TRUE(contains(e->what(), "cannot connect to 127.0.0.1:" + std::to_string(port)))
          << e->what();
      EXPECT_TRUE(contains(e->what(), "refused")) << e->what();
      EXPECT_FALSE(e->may_have_executed());
    }
  }());
}

TEST(RedisConnect, SilentServerTimesOut) {
  // Accepts connections (the kernel does, from the backlog) and never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string url = "redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  corun::run([&]() -> Task<void> {
    ConnectOptions o;
    o.connect_timeout = 200ms;
    Task<Connection> opening = redis::connect(url, o);
    auto e = co_await caught<redis::ConnectionError>(std::move(opening));
    EXPECT_TRUE(e && contains(e->what(), "no answer within the 0.2 s connect timeout"))
        << (e ? e->what() : "no error");
  }());
  ::close(fd);
}

TEST(RedisConnect, PasswordRefusedOrMissing) {
  corun::testing::RedisOptions so;
  so.requirepass = "open sesame";
  corun::testing::RedisServer server(so);
  std::string good = server.url(":open%20sesame");
  std::string wrong = server.url(":guess");
  std::string none = server.url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(good);
    EXPECT_EQ((co_await conn.command("PING")).as_status(), "PONG");
    Task<Connection> refused = redis::connect(wrong);
    auto e = co_await caught<redis::AuthenticationError>(std::move(refused));
    EXPECT_TRUE(e && contains(e->what(), "AUTH to 127.0.0.1:") && contains(e->what(), "WRONGPASS"))
        << (e ? e->what() : "no error");
    Task<Connection> missing = redis::connect(none);
    auto e2 = co_await caught<redis::AuthenticationError>(std::move(missing));
    EXPECT_TRUE(e2 && contains(e2->what(), "requires a password")) << (e2 ? e2->what() : "");
  }());
}

// The password changed while the connection was up: the reconnection's
// refusal closes it for good, and the commands waiting or issued later get
// that AuthenticationError (they got a ConnectionError, which code retrying on
// ConnectionError would loop on).
TEST(RedisReconnect, APasswordRequiredSinceIsAnAuthenticationErrorForLaterCommands) {
  corun::testing::RedisServer server;
  std::string url = server.url("", 3);
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url, quick_reconnect());
    std::int64_t id = (co_await conn.command("CLIENT", "ID")).as_integer();
    co_await conn.command("CONFIG", "SET", "requirepass", "new password");
    Connection killer = co_await redis::connect(server.url(":new%20password"));
    co_await killer.command("CLIENT", "KILL", "ID", id);
    // The first command may meet the drop itself (a ConnectionError); the
    // reconnection is refused, and from then on every command is told why.
    std::optional<redis::AuthenticationError> auth;
    for (int i = 0; i < 50 && !auth; ++i) {
      Task<Reply> get = conn.command("GET", "a");
      auth = co_await caught<redis::AuthenticationError>(std::move(get));
      if (!auth) co_await corun::sleep(20ms);
    }
    EXPECT_TRUE(auth);
    if (auth) {
      EXPECT_TRUE(contains(auth->what(), "GET was not sent")) << auth->what();
      EXPECT_TRUE(contains(auth->what(), "requires a password")) << auth->what();
    }
    EXPECT_TRUE(conn.is_closed());
  }());
}

// A Timeout longer than the clock holds (about 292 years) is never(), not an
// overflow (UBSan's signed overflow) that came out negative.
TEST(RedisTimeout, ALongerTimeoutThanTheClockHoldsIsNever) {
  EXPECT_EQ(Timeout(std::chrono::hours(100000000)).value, Timeout::never().value);
  EXPECT_EQ(Timeout(std::chrono::seconds(3)).value, std::chrono::seconds(3));
}

TEST(RedisConnect, AclUser) {
  corun::testing::RedisOptions so;
  so.extra_args = {"--user", "alice", "on", ">wonderland", "~*", "&*", "+@all"};
  corun::testing::RedisServer server(so);
  std::string good = server.url("alice:wonderland");
  std::string wrong = server.url("alice:looking-glass");
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(good);
    EXPECT_EQ((co_await conn.command("ACL", "WHOAMI")).as_string(), "alice");
    Task<Connection> refused = redis::connect(wrong);
    auto e = co_await caught<redis::AuthenticationError>(std::move(refused));
    EXPECT_TRUE(e) << "a wrong ACL password must be an AuthenticationError";
  }());
}

TEST(RedisReconnect, ServerRestartedWithAof) {
  corun::testing::RedisOptions so;
  so.appendonly = true;
  corun::testing::RedisServer server(so);
  std::string url = server.url();
  corun::run([&]() -> Task<void> {
    Connection conn = co_await redis::connect(url, quick_reconnect());
    co_await conn.command("SET", "survives", "yes");
    Task<Reply> blpop = conn.command(Timeout::never(), "BLPOP", "restart-q", 0);
    auto in_flight = corun::create_task(caught<redis::ConnectionError>(std::move(blpop)));
    Connection observer = co_await redis::connect(url);
    EXPECT_TRUE(co_await wait_blocked_clients(observer, 1));
    observer.close();
    server.kill();  // mid-command
    auto e = co_await in_flight;
    EXPECT_TRUE(e && e->may_have_executed()) << (e ? e->what() : "no error");
    // Down: a command waits for the reconnection up to its timeout, then fails unsent.
    Task<Reply> while_down = conn.command(Timeout(150ms), "GET", "survives");
    auto e2 = co_await caught<redis::ConnectionError>(std::move(while_down));
    EXPECT_TRUE(e2 && !e2->may_have_executed() && contains(e2->what(), "GET was not sent"))
        << (e2 ? e2->what() : "no error");
    if (e2) {
      EXPECT_TRUE(contains(e2->what(), "last error")) << e2->what();
    }
    EXPECT_FALSE(conn.is_connected());
    EXPECT_FALSE(conn.is_closed());
    // Issued while down, answered once the server is back.
    auto waiting = corun::create_task([](Connection& c) -> Task<Reply> {
      co_return co_await c.command("GET", "survives");
    }(conn));
    co_await corun::sleep(100ms);
    server.start();
    Reply value = co_await waiting;
    EXPECT_EQ(value.as_string(), "yes");  // from the AOF
    EXPECT_TRUE(conn.is_connected());
    EXPECT_EQ(conn.connections_made(), 2u);
  }());
}

}  // namespace
