// corun::net streams against its own server on loopback.
#include <gtest/gtest.h>

#include <corun/corun.hpp>
#include <corun/net.hpp>
#include <string>

using namespace std::chrono_literals;
using corun::Task;
using namespace corun::net;

namespace {
// Echoes lines back, upper-cased, until EOF.
Task<void> echo_upper(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string line = co_await r.readline();
    if (line.empty()) break;
    for (auto& ch : line) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    w.write(line);
    co_await w.drain();
  }
  w.close();
  co_await w.wait_closed();
}
}  // namespace

TEST(Stream, EchoRoundTrip) {
  auto main = []() -> Task<std::string> {
    Server server = co_await start_server(echo_upper, "127.0.0.1", 0);
    EXPECT_GT(server.port(), 0);
    auto [r, w] = co_await open_connection("127.0.0.1", server.port());
    w.write("hello\nworld\n");
    co_await w.drain();
    std::string a = co_await r.readline();
    std::string b = co_await r.readexactly(6);
    w.write_eof();
    std::string rest = co_await r.read();
    EXPECT_TRUE(r.at_eof());
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
    co_return a + b + "|" + rest;
  };
  EXPECT_EQ(corun::run(main()), "HELLO\nWORLD\n|");
}

TEST(Stream, ReadUntilAndIncompleteRead) {
  auto main = []() -> Task<> {
    auto handler = [](StreamReader, StreamWriter w) -> Task<void> {
      w.write("key: value\r\n\r\npartial");
      w.close();
      co_await w.wait_closed();
    };
    Server server = co_await start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", server.port());
    EXPECT_EQ(co_await r.readuntil("\r\n\r\n"), "key: value\r\n\r\n");
    try {
      co_await r.readexactly(100);
      ADD_FAILURE() << "expected IncompleteReadError";
    } catch (const IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "partial");
      EXPECT_EQ(e.expected(), 100u);
    }
    w.close();
    server.close();
  };
  corun::run(main());
}

TEST(Stream, LargeTransferWithBackPressure) {
  auto main = []() -> Task<std::size_t> {
    constexpr std::size_t kTotal = 8 * 1024 * 1024;
    auto handler = [](StreamReader, StreamWriter w) -> Task<void> {
      std::string chunk(64 * 1024, 'x');
      for (std::size_t sent = 0; sent < kTotal; sent += chunk.size()) {
        w.write(chunk);
        co_await w.drain();  // waits while the slow reader lags
      }
      w.close();
      co_await w.wait_closed();
    };
    Server server = co_await start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", server.port(), 16 * 1024);
    std::size_t got = 0;
    for (;;) {
      std::string part = co_await r.read(4096);
      if (part.empty()) break;
      got += part.size();
      if (got % (1024 * 1024) < 4096) co_await corun::sleep(1ms);  // a slow consumer
    }
    w.close();
    server.close();
    co_return got;
  };
  EXPECT_EQ(corun::run(main()), 8u * 1024 * 1024);
}

TEST(Stream, ConnectionRefusedNamesTheAddress) {
  auto main = []() -> Task<std::string> {
    // Bind a port, then close it: nothing listens there any more.
    Server server = co_await start_server(
        [](StreamReader, StreamWriter) -> Task<void> { co_return; }, "127.0.0.1", 0);
    auto port = server.port();
    server.close();
    co_await server.wait_closed();
    try {
      co_await open_connection("127.0.0.1", port);
    } catch (const ConnectionError& e) {
      co_return e.what();
    }
    co_return "connected (wrong)";
  };
  std::string msg = corun::run(main());
  EXPECT_NE(msg.find("Cannot connect to host 127.0.0.1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
}

TEST(Stream, UnknownHost) {
  auto main = []() -> Task<> {
    EXPECT_THROW(co_await open_connection("no-such-host.invalid", 80), ConnectionError);
  };
  corun::run(main());
}

TEST(Stream, CancelledReadKeepsTheConnectionUsable) {
  auto main = []() -> Task<std::string> {
    auto handler = [](StreamReader r, StreamWriter w) -> Task<void> {
      co_await corun::sleep(30ms);
      w.write("late\n");
      co_await w.drain();
      co_await r.read();  // until the client closes
      w.close();
    };
    Server server = co_await start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", server.port());
    EXPECT_THROW(co_await corun::wait_for(r.readline(), 5ms), corun::TimeoutError);
    std::string line = co_await r.readline();  // the data still arrives
    w.close();
    server.close();
    co_return line;
  };
  EXPECT_EQ(corun::run(main()), "late\n");
}

TEST(Stream, ResetIsAConnectionError) {
  auto main = []() -> Task<> {
    auto handler = [](StreamReader r, StreamWriter w) -> Task<void> {
      co_await r.readline();
      w.abort();  // RST
      co_return;
    };
    Server server = co_await start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", server.port());
    w.write("hi\n");
    co_await w.drain();
    bool failed_or_eof = false;
    try {
      std::string s = co_await r.read();
      failed_or_eof = s.empty();
    } catch (const ConnectionError& e) {
      failed_or_eof = true;
      EXPECT_NE(std::string(e.what()).find("reset"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(failed_or_eof);
    w.close();
    server.close();
  };
  corun::run(main());
}
