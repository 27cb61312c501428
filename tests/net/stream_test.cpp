// corun::net streams and server over loopback.
#include <gtest/gtest.h>

#include <string>

#include "corun/corun.hpp"
#include "corun/net.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
using corun::net::StreamReader;
using corun::net::StreamWriter;

// Echoes every line back, upper-cased marker first; closes at "quit\n" or EOF.
Task<void> echo(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty() || line == "quit\n") break;
    writer.write("echo: " + line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

TEST(NetStreams, EchoServerRoundTrips) {
  corun::run([]() -> Task<void> {
    auto server = co_await corun::net::start_server(echo, "127.0.0.1", 0);
    EXPECT_TRUE(server.is_serving());
    EXPECT_NE(server.port(), 0);
    EXPECT_EQ(server.host(), "127.0.0.1");
    auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", server.port());
    EXPECT_EQ(writer.peername(), "127.0.0.1:" + std::to_string(server.port()));
    writer.write("hello\nworld\n");
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "echo: hello\n");
    EXPECT_EQ(co_await reader.readuntil("\n"), "echo: world\n");
    writer.write("abc\n");
    EXPECT_EQ(co_await reader.readexactly(6), "echo: ");
    EXPECT_EQ(co_await reader.read(100), "abc\n");
    writer.write("quit\n");
    EXPECT_EQ(co_await reader.read(), "");  // server closed: EOF
    EXPECT_TRUE(reader.at_eof());
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(NetStreams, EarlyEofRaisesIncompleteReadWithThePartialData) {
  corun::run([]() -> Task<void> {
    auto server = co_await corun::net::start_server(
        [](StreamReader, StreamWriter w) -> Task<void> {
          w.write("partial");
          w.close();
          co_return;
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", server.port());
    try {
      co_await reader.readexactly(100);
      ADD_FAILURE();
    } catch (const corun::net::IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "partial");
      EXPECT_EQ(e.expected(), 100u);
    }
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(NetStreams, LargeWritesDrainWithBackPressure) {
  constexpr std::size_t kSize = 8 << 20;
  std::size_t got = corun::run([]() -> Task<std::size_t> {
    auto server = co_await corun::net::start_server(
        [](StreamReader, StreamWriter w) -> Task<void> {
          std::string chunk(64 * 1024, 'z');
          for (std::size_t sent = 0; sent < kSize; sent += chunk.size()) {
            w.write(chunk);
            co_await w.drain();
            EXPECT_LE(w.write_buffer_size(), 128u * 1024);
          }
          w.close();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", server.port());
    std::size_t total = 0;
    for (;;) {
      std::string part = co_await reader.read(100000);
      if (part.empty()) break;
      total += part.size();
    }
    server.close();
    co_await server.wait_closed();
    co_return total;
  }());
  EXPECT_EQ(got, kSize);
}

TEST(NetStreams, RefusedConnectionRaisesConnectionError) {
  int port = corun::testing::free_port();
  corun::run([port]() -> Task<void> {
    try {
      co_await corun::net::open_connection("127.0.0.1", static_cast<std::uint16_t>(port));
      ADD_FAILURE();
    } catch (const corun::net::ConnectionError& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos) << e.what();
    }
  }());
}

TEST(NetStreams, CancellingAReadKeepsTheStreamUsable) {
  corun::run([]() -> Task<void> {
    auto server = co_await corun::net::start_server(echo, "127.0.0.1", 0);
    auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", server.port());
    EXPECT_THROW(co_await corun::wait_for(reader.readline(), 50ms), corun::TimeoutError);
    writer.write("again\n");
    EXPECT_EQ(co_await reader.readline(), "echo: again\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(NetStreams, AbortResetsThePeer) {
  corun::run([]() -> Task<void> {
    auto server = co_await corun::net::start_server(
        [](StreamReader r, StreamWriter w) -> Task<void> {
          co_await r.readline();
          w.abort();
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await corun::net::open_connection("127.0.0.1", server.port());
    writer.write("x\n");
    EXPECT_THROW(co_await reader.read(), corun::net::ConnectionResetError);
    server.close();
    co_await server.wait_closed();
  }());
}

}  // namespace
