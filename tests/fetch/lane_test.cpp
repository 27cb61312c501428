// corun::fetch lanes (src/fetch/lane.hpp), with a stand-in engine: what one
// URL's steps hand back (complete, defer with its delay, not started), a
// retry keeping its name, a remote lane's mailboxes, and a cancelled run
// whose lane task ends before its engine goes.
#include "lane.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "corun/corun.hpp"
#include "corun/fs/file.hpp"
#include "corun/net.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::fetch {
namespace {

using std::chrono::milliseconds;

#define CO_ASSERT(cond)                  \
  do {                                   \
    if (!(cond)) {                       \
      ADD_FAILURE() << "failed: " #cond; \
      co_return;                         \
    }                                    \
  } while (false)

int g_requests = 0;

std::string response(int status, std::string_view body, std::string_view extra = {}) {
  return fmt::format("HTTP/1.1 {} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{}",
                     status, body.size(), extra, body);
}

Task<void> handle(net::StreamReader reader, net::StreamWriter writer) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      auto sp1 = head.find(' ');
      std::string target = head.substr(sp1 + 1, head.find(' ', sp1 + 1) - sp1 - 1);
      ++g_requests;
      std::string out;
      if (target.starts_with("/ok")) {
        out = response(200, "fine");
      } else if (target == "/busy") {
        out = response(503, "busy", "Retry-After: 7\r\n");
      } else if (target == "/long") {
        out = response(503, "busy", "Retry-After: 3600\r\n");
      } else if (target.starts_with("/slow")) {
        co_await sleep(milliseconds(5000));
        out = response(200, "slow");
      } else {
        out = response(404, "none");
      }
      writer.write(out);
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

struct Engine final : LaneContext {
  explicit Engine(Options o) : LaneContext(std::move(o)) {
    out_dir = options.out_dir;
    session_options.timeout.total = std::chrono::milliseconds(20000);
  }
  void on_outcome(FetchLane& lane, LaneOutcome&& o) override {
    --lane.outstanding;
    outcomes.push_back(std::move(o));
  }
  std::vector<LaneOutcome> outcomes;
};

Work work(std::string url, std::uint64_t index, int attempts = 0) {
  Work w;
  w.url = std::move(url);
  w.index = index;
  w.attempts = attempts;
  return w;
}

class FetchLaneTest : public ::testing::Test {
 protected:
  Options options() {
    Options o;
    o.out_dir = dir_.path();
    o.retries = 2;
    o.retry_delay = Seconds(0.5);
    o.retry_max_delay = Seconds(30);
    return o;
  }
  // Runs urls through one lane on this loop; the outcomes in completion order.
  std::vector<LaneOutcome> run_lane(Options o, std::vector<Work> works, bool remote = false) {
    Engine engine(std::move(o));
    corun::run(co_invoke([&]() -> Task<> {
      net::Server server = co_await net::start_server(handle, "127.0.0.1", 0);
      std::string base = fmt::format("http://127.0.0.1:{}", server.port());
      FetchLane lane(engine, 2);
      if (remote) {
        auto home = detail::lifeline_of(get_running_loop());
        auto* home_ptr = &home;
        co_await to_thread([&lane, home_ptr] { lane.start_remote(*home_ptr); });
      } else {
        lane.open();
      }
      for (Work& w : works) {
        if (w.url.starts_with("/")) w.url = base + w.url;
        lane.give(LaneItem{std::move(w), false});
      }
      for (int i = 0; i < 4; ++i) lane.give(LaneItem{{}, true});
      if (remote) {
        co_await lane.run_remote();
        lane.stop_thread();
        lane.drain_outbox();
      } else {
        co_await lane.run();
      }
      EXPECT_EQ(lane.outstanding, 0u);
      server.close();
    }));
    return std::move(engine.outcomes);
  }
  const LaneOutcome& outcome_for(const std::vector<LaneOutcome>& all, std::string_view path) {
    for (const auto& o : all) {
      if (o.work.url.ends_with(path)) return o;
    }
    ADD_FAILURE() << "no outcome for " << path;
    return all.front();
  }
  corun::testing::TempDir dir_{"corun-fetch-lane"};
};

TEST_F(FetchLaneTest, EachUrlEndsCompleteDeferredOrWithoutARequest) {
  g_requests = 0;
  auto all = run_lane(options(), {work("/ok", 0), work("/busy", 1), work("/busy", 2, 2),
                                  work("/long", 3), work("not a url", 4), work("/missing", 5)});
  ASSERT_EQ(all.size(), 6u);
  const LaneOutcome& ok = outcome_for(all, "/ok");
  EXPECT_EQ(ok.kind, LaneOutcome::Kind::complete);
  EXPECT_TRUE(ok.record.ok());
  EXPECT_EQ(ok.record.attempts, 1);
  EXPECT_EQ(fs::read_file_sync(ok.record.path),
            "\xEF\xBB\xBF"
            "fine");
  // The work carries the name under --out (a retry may go to a worker with
  // another --out); the record, the path.
  EXPECT_EQ(ok.work.path, "ok");
  EXPECT_EQ(ok.record.path, (dir_.path() / "ok").string());
  // A retryable status with attempts left: deferred, by Retry-After.
  const LaneOutcome& busy = all[1].work.index == 1 ? all[1] : outcome_for(all, "/busy");
  for (const auto& o : all) {
    if (o.work.index == 1) {
      EXPECT_EQ(o.kind, LaneOutcome::Kind::defer);
      EXPECT_EQ(o.delay, std::chrono::seconds(7));
      EXPECT_EQ(o.record.error, "HTTP 503 X");
      EXPECT_EQ(o.record.attempts, 1);
    }
    if (o.work.index == 2) {  // its third request: no retries left
      EXPECT_EQ(o.kind, LaneOutcome::Kind::complete);
      EXPECT_EQ(o.record.attempts, 3);
    }
  }
  (void)busy;
  const LaneOutcome& too_long = outcome_for(all, "/long");
  EXPECT_EQ(too_long.kind, LaneOutcome::Kind::complete);
  EXPECT_NE(too_long.record.error.find("longer than the longest wait"), std::string::npos);
  const LaneOutcome& bad = outcome_for(all, "not a url");
  EXPECT_EQ(bad.kind, LaneOutcome::Kind::complete);
  EXPECT_EQ(bad.record.attempts, 0);
  EXPECT_FALSE(bad.record.error.empty());
  EXPECT_EQ(outcome_for(all, "/missing").record.error, "HTTP 404 X");
  EXPECT_EQ(g_requests, 5);  // the bad URL made none
}

TEST_F(FetchLaneTest, ARetryKeepsTheNameOfItsFirstAttempt) {
  Work first = work("/ok", 0);
  Work retry = work("/ok", 1, 1);
  retry.path = "kept.txt";  // the name under --out
  auto all = run_lane(options(), {first, retry});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(outcome_for(all, "/ok").kind, LaneOutcome::Kind::complete);
  for (const auto& o : all) {
    if (o.work.index == 1) {
      EXPECT_EQ(o.record.path, (dir_.path() / "kept.txt").string());
      EXPECT_EQ(o.work.path, "kept.txt");
      EXPECT_EQ(o.record.attempts, 2);
    } else {
      EXPECT_EQ(o.record.path, (dir_.path() / "ok").string());
    }
  }
}

TEST_F(FetchLaneTest, ARemoteLaneHandsOutcomesBackThroughItsMailbox) {
  std::vector<Work> works;
  for (int i = 0; i < 20; ++i) works.push_back(work("/ok?" + std::to_string(i), i));
  auto all = run_lane(options(), works, true);
  ASSERT_EQ(all.size(), 20u);
  for (const auto& o : all) EXPECT_TRUE(o.record.ok()) << o.record.error;
}

TEST_F(FetchLaneTest, AfterStopNothingStarts) {
  Options o = options();
  Engine engine(o);
  engine.stop_requested = true;
  corun::run(co_invoke([&]() -> Task<> {
    FetchLane lane(engine, 1);
    lane.open();
    lane.give(LaneItem{work("http://127.0.0.1:1/", 0), false});
    lane.give(LaneItem{work("http://127.0.0.1:1/", 1, 1), false});
    lane.give(LaneItem{{}, true});
    lane.give(LaneItem{{}, true});
    co_await lane.run();
  }));
  ASSERT_EQ(engine.outcomes.size(), 2u);
  for (const auto& out : engine.outcomes) {
    EXPECT_EQ(out.kind, LaneOutcome::Kind::not_started);
  }
}

}  // namespace
}  // namespace corun::fetch
