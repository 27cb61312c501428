// The libcurl multi-socket engine driven by a bare uv_run loop against a real nginx.
#include "corun/http/detail/curl_multi.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/nginx_fixture.hpp"

namespace {

using corun::http::detail::CurlMulti;
using corun::http::detail::MultiLimits;
using corun::http::detail::TransferHandler;

struct Collect final : TransferHandler {
  std::string headers;
  std::string body;
  CURLcode result = CURLE_OK;
  bool done = false;
  std::size_t abort_after = 0;  // abort (return false) once this many bytes arrived; 0 = never
  std::function<void(Collect&)> then;

  void on_header_line(std::string_view line) override { headers.append(line); }
  bool on_body(std::string_view chunk) override {
    body.append(chunk);
    return abort_after == 0 || body.size() < abort_after;
  }
  void on_done(CURLcode r) override {
    result = r;
    done = true;
    if (then) then(*this);
  }
};

class CurlMultiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    std::string page;
    for (int i = 0; i < 1000; ++i) page += "line " + std::to_string(i) + "\n";
    page_ = page;
    nginx_ = std::make_unique<corun::testing::Nginx>();
    corun::testing::write_text_file(nginx_->root() / "page.txt", page_);
    corun::testing::write_text_file(nginx_->root() / "big.bin", std::string(8 << 20, 'x'));
  }
  void TearDown() override {
    nginx_.reset();
    run_all();  // lets close callbacks free what the engine closed
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  // Runs the loop until nothing is left (the engine stops each iteration that completes work).
  void run_all() {
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
  }
  CURL* get(CurlMulti& m, const std::string& path) {
    CURL* h = m.acquire();
    url_ = nginx_->base_url() + path;
    curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
    return h;
  }

  uv_loop_t loop_;
  std::unique_ptr<corun::testing::Nginx> nginx_;
  std::string page_;
  std::string url_;
};

TEST_F(CurlMultiTest, FetchesOnePage) {
  CurlMulti multi(&loop_, MultiLimits{});
  Collect c;
  CURL* h = get(multi, "/page.txt");
  multi.start(h, &c);
  EXPECT_EQ(multi.active(), 1u);
  run_all();
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.result, CURLE_OK);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(c.body, page_);
  EXPECT_NE(c.headers.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(multi.active(), 0u);
  multi.release(h);
}

TEST_F(CurlMultiTest, ReportsNotFoundAsAStatus) {
  CurlMulti multi(&loop_, MultiLimits{});
  Collect c;
  CURL* h = get(multi, "/missing");
  multi.start(h, &c);
  run_all();
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.result, CURLE_OK);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 404);
  multi.release(h);
}

TEST_F(CurlMultiTest, ManyRequestsStayWithinTheConnectionLimit) {
  constexpr int kRequests = 2000;
  CurlMulti multi(&loop_, MultiLimits{8, 0});
  std::vector<Collect> results(kRequests);
  std::vector<CURL*> handles;
  for (auto& c : results) {
    CURL* h = get(multi, "/page.txt");
    handles.push_back(h);
    multi.start(h, &c);
  }
  run_all();
  for (auto& c : results) {
    ASSERT_TRUE(c.done);
    ASSERT_EQ(c.result, CURLE_OK);
    ASSERT_EQ(c.body.size(), page_.size());
  }
  for (CURL* h : handles) multi.release(h);
  long accepted = nginx_->accepted_connections();
  EXPECT_GE(accepted, 1);
  EXPECT_LE(accepted, 8);
}

TEST_F(CurlMultiTest, ChainedStartsFromOnDoneReuseTheConnection) {
  CurlMulti multi(&loop_, MultiLimits{1, 0});
  Collect c;
  int remaining = 50;
  CURL* h = get(multi, "/page.txt");
  c.then = [&](Collect& self) {
    if (--remaining == 0) return;
    self.body.clear();
    self.done = false;
    multi.start(h, &self);  // same easy handle again
  };
  multi.start(h, &c);
  run_all();
  EXPECT_EQ(remaining, 0);
  EXPECT_EQ(c.body, page_);
  multi.release(h);
  EXPECT_EQ(nginx_->accepted_connections(), 1);
}

TEST_F(CurlMultiTest, HandlerAbortEndsWithWriteError) {
  CurlMulti multi(&loop_, MultiLimits{});
  Collect c;
  c.abort_after = 1;
  CURL* h = get(multi, "/big.bin");
  multi.start(h, &c);
  run_all();
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.result, CURLE_WRITE_ERROR);
  EXPECT_LT(c.body.size(), std::size_t{8} << 20);
  multi.release(h);
}

TEST_F(CurlMultiTest, AbortFromOutsideStopsTheTransferWithoutOnDone) {
  CurlMulti multi(&loop_, MultiLimits{});
  Collect c;
  CURL* h = get(multi, "/big.bin");
  multi.start(h, &c);
  // Abort from a uv timer as soon as the first bytes have arrived.
  struct Ctx {
    CurlMulti* multi;
    CURL* h;
    Collect* c;
    bool aborted = false;
  } ctx{&multi, h, &c};
  uv_timer_t timer;
  uv_timer_init(&loop_, &timer);
  timer.data = &ctx;
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* x = static_cast<Ctx*>(t->data);
        if (x->c->body.empty() && !x->c->done) return;  // repeat until data arrives
        x->multi->abort(x->h);
        x->aborted = true;
        uv_timer_stop(t);
      },
      1, 1);
  run_all();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  run_all();
  EXPECT_TRUE(ctx.aborted);
  EXPECT_FALSE(c.done);
  EXPECT_EQ(multi.active(), 0u);
  multi.release(h);
}

TEST_F(CurlMultiTest, RefusedConnectionIsReported) {
  CurlMulti multi(&loop_, MultiLimits{});
  Collect c;
  CURL* h = multi.acquire();
  std::string url = "http://127.0.0.1:" + std::to_string(corun::testing::free_port()) + "/";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  multi.start(h, &c);
  run_all();
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.result, CURLE_COULDNT_CONNECT);
  multi.release(h);
}

TEST_F(CurlMultiTest, DestroyingTheEngineMidTransferLeavesNothingBehind) {
  Collect c1, c2;
  {
    CurlMulti multi(&loop_, MultiLimits{});
    CURL* h1 = get(multi, "/big.bin");
    CURL* h2 = get(multi, "/big.bin");
    multi.start(h1, &c1);
    multi.start(h2, &c2);
    uv_run(&loop_, UV_RUN_ONCE);
    ASSERT_FALSE(c1.done);
    multi.release(h1);  // releasing a running transfer aborts it
    EXPECT_EQ(multi.active(), 1u);
    // h2 is still running when the engine goes away.
  }
  run_all();
  EXPECT_FALSE(c1.done);
  EXPECT_FALSE(c2.done);
}

}  // namespace
