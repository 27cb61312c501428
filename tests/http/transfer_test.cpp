// detail::Transfer on its own (no network): the response head parsed from
// header lines, and the body sent to the buffer, the callback or a file, with
// max_body enforced. The engine is a CurlMulti on a bare libuv loop.
#include "corun/http/detail/transfer.hpp"

#include <gtest/gtest.h>
#include <uv.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "support/nginx_fixture.hpp"

namespace {

using corun::http::Response;
using corun::http::detail::CurlMulti;
using corun::http::detail::Transfer;
using corun::http::detail::TransferList;

class TransferTest : public ::testing::Test {
 protected:
  TransferTest() {
    uv_loop_init(&loop_);
    multi_ = std::make_unique<CurlMulti>(&loop_, corun::http::detail::MultiLimits{});
  }
  ~TransferTest() override {
    multi_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // the engine's close callbacks
    uv_loop_close(&loop_);
  }
  uv_loop_t loop_{};
  std::unique_ptr<CurlMulti> multi_;
  TransferList list_;
};

TEST_F(TransferTest, ParsesTheHeadAndDropsInterimBlocks) {
  Response r;
  Transfer t(list_, *multi_, r);
  EXPECT_EQ(list_.head, &t);
  t.on_header_line("HTTP/1.1 100 Continue\r\n");
  t.on_header_line("X-Interim: 1\r\n");
  t.on_header_line("\r\n");
  t.on_header_line("HTTP/1.1 404 Not Here \r\n");
  t.on_header_line("Content-Type: text/plain\r\n");
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.reason(), "Not Here");
  EXPECT_FALSE(r.headers().contains("X-Interim"));
  EXPECT_EQ(r.headers().get("content-type").value_or(""), "text/plain");

  Response h2;
  Transfer t2(list_, *multi_, h2);
  t2.on_header_line("HTTP/2 200\r\n");  // no reason phrase: the standard one
  EXPECT_EQ(h2.status(), 200);
  EXPECT_EQ(h2.reason(), "OK");
}

TEST_F(TransferTest, BuffersTheBodyUpToMaxBody) {
  Response r;
  Transfer t(list_, *multi_, r);
  t.max_body = 5;
  t.on_header_line("HTTP/1.1 200 OK\r\n");
  EXPECT_TRUE(t.on_body("abc"));
  EXPECT_EQ(r.read(), "abc");
  EXPECT_FALSE(t.on_body("def"));  // past max_body: abort
  t.result = CURLE_WRITE_ERROR;
  EXPECT_TRUE(t.failure().too_big);
  EXPECT_EQ(t.failure().max_body, 5U);
}

TEST_F(TransferTest, ARedirectsBodyIsDropped) {
  Response r;
  Transfer t(list_, *multi_, r);
  t.on_header_line("HTTP/1.1 302 Found\r\n");
  t.on_header_line("Location: /next\r\n");
  EXPECT_TRUE(t.on_body("moved"));
  EXPECT_EQ(r.read(), "");

  Response kept;
  Transfer t2(list_, *multi_, kept);
  t2.allow_redirects = false;  // the user gets the redirect itself
  t2.on_header_line("HTTP/1.1 302 Found\r\n");
  t2.on_header_line("Location: /next\r\n");
  EXPECT_TRUE(t2.on_body("moved"));
  EXPECT_EQ(kept.read(), "moved");
}

TEST_F(TransferTest, StreamsToTheCallbackAndKeepsWhatItThrows) {
  Response r;
  std::string seen;
  std::function<void(std::string_view)> sink = [&seen](std::string_view c) {
    if (c == "boom") throw std::runtime_error("sink failed");
    seen.append(c);
  };
  Transfer t(list_, *multi_, r);
  t.on_chunk = &sink;
  t.on_header_line("HTTP/1.1 200 OK\r\n");
  EXPECT_TRUE(t.on_body("ab"));
  EXPECT_TRUE(t.on_body("cd"));
  EXPECT_EQ(seen, "abcd");
  EXPECT_EQ(r.read(), "");  // not buffered
  EXPECT_FALSE(t.on_body("boom"));
  t.result = CURLE_WRITE_ERROR;
  EXPECT_THROW(std::rethrow_exception(t.failure().sink_error), std::runtime_error);
}

TEST_F(TransferTest, StreamsToAFile) {
  corun::testing::TempDir dir("corun-transfer");
  std::filesystem::path path = dir.path() / "body.bin";
  Response r;
  Transfer t(list_, *multi_, r);
  t.save_to = &path;
  t.on_header_line("HTTP/1.1 200 OK\r\n");
  EXPECT_FALSE(std::filesystem::exists(path));  // created by the first byte
  EXPECT_TRUE(t.on_body("hello "));
  EXPECT_TRUE(t.on_body("file"));
  t.finish_file();
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "hello file");
  EXPECT_EQ(r.read(), "");

  std::filesystem::path bad = dir.path() / "no-such-dir" / "x";
  Response r2;
  Transfer t2(list_, *multi_, r2);
  t2.save_to = &bad;
  t2.on_header_line("HTTP/1.1 200 OK\r\n");
  EXPECT_FALSE(t2.on_body("x"));
  EXPECT_THROW(std::rethrow_exception(t2.failure().sink_error), std::system_error);
}

}  // namespace
