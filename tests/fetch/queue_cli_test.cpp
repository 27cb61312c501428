// `corun fetch --queue ...` as a user runs it (the real executable) against a
// redis-server started by the test: bad queue URLs, an unreachable server, a
// wrong-type key and a missing crawl are exit 2 with one clear line; the
// producer, --status and --collect work end to end (workers: see
// queue_integration_test.cpp).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/fetch/queue.hpp"
#include "corun/redis.hpp"
#include "fetch/cli_support.hpp"
#include "fetch/test_servers.hpp"
#include "redis/redis_server.hpp"
#include "support/nginx_fixture.hpp"

namespace {

namespace cli = corun::testing::cli;
using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One command to the crawl's server on a connection of its own (what the
// test sees of, or does to, the crawl's keys); its reply.
corun::redis::Reply redis_reply(const corun::fetch::QueueAddress& address,
                                std::vector<std::string> argv) {
  return corun::run(corun::co_invoke([&]() -> corun::Task<corun::redis::Reply> {
    corun::Task<corun::redis::Connection> connecting = corun::redis::connect(address.redis_url);
    corun::redis::Connection c = co_await connecting;
    corun::Task<corun::redis::Reply> running = c.command_argv(std::move(argv));
    corun::redis::Reply r = co_await running;
    co_return r;
  }));
}

int lines_of(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n' ? 1 : 0;
  return n;
}

TEST(QueueCli, BadQueueUrlIsAUsageErrorWithTheForm) {
  for (const char* bad : {"http://127.0.0.1:6379/x", "redis://127.0.0.1:6379", "redis://h:1/a b"}) {
    auto r = cli::run_corun({"fetch", "--queue", bad, "--status"});
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_TRUE(has(r.err, "redis://[user:password@]host:port[/db]/NAME")) << r;
  }
  auto mixed = cli::run_corun({"fetch", "--queue", "redis://h:1/x", "--status", "--collect", "r"});
  EXPECT_EQ(mixed.exit_code, 2) << mixed;
  // A file, not standard output (it is locked and resumed); no file named "-" made.
  auto dash = cli::run_corun({"fetch", "--queue", "redis://h:1/x", "--collect", "-"});
  EXPECT_EQ(dash.exit_code, 2) << dash;
  EXPECT_TRUE(has(dash.err, "--collect FILE")) << dash;
  EXPECT_FALSE(std::filesystem::exists("-"));
  auto urls = cli::run_corun({"fetch", "--queue", "redis://h:1/x", "http://a.test/"});
  EXPECT_EQ(urls.exit_code, 2) << urls;
  EXPECT_TRUE(has(urls.err, "--enqueue")) << urls;
}

TEST(QueueCli, UnreachableServerIsOneLineExit2) {
  auto port = std::to_string(corun::testing::free_port());
  auto r = cli::run_corun({"fetch", "--queue", "redis://127.0.0.1:" + port + "/x", "--status"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(lines_of(r.err), 1) << r;
  EXPECT_TRUE(has(r.err, "cannot connect to 127.0.0.1:" + port)) << r;
}

TEST(QueueCli, RefusedPasswordIsOneLineExit2) {
  corun::testing::RedisOptions ro;
  ro.requirepass = "right";
  corun::testing::RedisServer redis(ro);
  auto r = cli::run_corun({"fetch", "--queue", redis.url(":wrong") + "/x", "--status"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(lines_of(r.err), 1) << r;
  EXPECT_FALSE(has(r.err, "wrong")) << "the password is not shown: " << r;
}

TEST(QueueCli, ProducerStatusCollectAndWrongTypes) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  cli::write_file(dir.path() / "in.txt",
                  "http://a.test/1\nhttp://a.test/2\n# c\nhttp://a.test/1\n");
  auto q = redis.url() + "/cli";
  auto p = cli::run_corun(
      {"fetch", "--queue", q, "--enqueue", (dir.path() / "in.txt").string(), "--per-host", "3"});
  EXPECT_EQ(p.exit_code, 0) << p;
  EXPECT_TRUE(has(p.err, "2 URLs added")) << p;
  auto s = cli::run_corun({"fetch", "--queue", q, "--status"});
  EXPECT_EQ(s.exit_code, 0) << s;
  EXPECT_TRUE(has(s.out, "total 2")) << s;
  EXPECT_TRUE(has(s.out, "waiting 2")) << s;
  // Two workers' heartbeats (milliseconds, as the scripts store them): one a
  // moment ago, one two minutes ago, past the crawl's 60 s lease.
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  redis_reply(corun::fetch::parse_queue_url(q),
              {"HSET", "{cli}:workers", "live", std::to_string(now_ms - 1000), "gone",
               std::to_string(now_ms - 120000)});
  s = cli::run_corun({"fetch", "--queue", q, "--status"});
  EXPECT_EQ(s.exit_code, 0) << s;
  auto line_of = [&](const std::string& start) {
    auto at = s.out.find(start);
    return at == std::string::npos ? std::string() : s.out.substr(at, s.out.find('\n', at) - at);
  };
  std::string live = line_of("  worker live: ");
  std::string gone = line_of("  worker gone: ");
  EXPECT_TRUE(has(live, "0 in flight, seen 1.")) << s;
  EXPECT_FALSE(has(live, "lease")) << s;
  EXPECT_TRUE(has(gone, "0 in flight, seen 120.")) << s;
  EXPECT_TRUE(has(gone,
                  " s ago, past the crawl's 60 s lease (stopped or stalled: its URLs go to "
                  "the other workers)"))
      << s;
  // Nothing is fetched without workers: the collector would wait; a missing
  // crawl and a wrong-type key are errors at once.
  auto none = cli::run_corun({"fetch", "--queue", redis.url() + "/nothing", "--collect",
                              (dir.path() / "r.jsonl").string()});
  EXPECT_EQ(none.exit_code, 2) << none;
  EXPECT_TRUE(has(none.err, "no crawl of that name")) << none;
  std::string set = "redis-cli -p " + std::to_string(redis.port()) +
                    " SET '{taken}:work' 'not a stream' > /dev/null";
  ASSERT_EQ(std::system(set.c_str()), 0);
  auto wrong = cli::run_corun(
      {"fetch", "--queue", redis.url() + "/taken", "--enqueue", (dir.path() / "in.txt").string()});
  EXPECT_EQ(wrong.exit_code, 2) << wrong;
  EXPECT_TRUE(has(wrong.err, "key {taken}:work holds a string, not a stream")) << wrong;
  auto setter = cli::run_corun({"fetch", "--queue", redis.url() + "/cli", "--enqueue",
                                (dir.path() / "missing.txt").string()});
  EXPECT_EQ(setter.exit_code, 2) << setter;
}

// A worker's summary says why its URLs failed, grouped by cause, as `corun
// fetch`'s does.
TEST(QueueCli, WorkerSummarySaysWhyUrlsFailed) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  std::string dead = std::to_string(corun::testing::free_port());
  cli::write_file(dir.path() / "in.txt",
                  "http://127.0.0.1:" + dead + "/a\nhttp://127.0.0.1:" + dead + "/b\n");
  auto q = redis.url() + "/why";
  auto p = cli::run_corun(
      {"fetch", "--queue", q, "--enqueue", (dir.path() / "in.txt").string(), "--retries", "0"});
  ASSERT_EQ(p.exit_code, 0) << p;
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  auto w = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "out").string()}, o);
  EXPECT_FALSE(w.hung) << w;
  EXPECT_EQ(w.exit_code, 0) << w;  // the crawl is finished; its URLs failed
  EXPECT_TRUE(has(w.err, "; 0 done and 2 failed (2 recorded, 0 already recorded elsewhere)")) << w;
  EXPECT_TRUE(has(w.err, "failed, by cause")) << w;
  EXPECT_TRUE(has(w.err, "     2  cannot connect\n")) << w;
  EXPECT_TRUE(has(w.err, "e.g. http://127.0.0.1:" + dead + "/")) << w;
}

// A producer adding n URLs of the test server on `port` (/p/0 .. /p/n-1) to the
// crawl q; its exit code.
int enqueue_pages(const std::string& q, const std::filesystem::path& dir, std::uint16_t port,
                  int n) {
  std::string urls;
  for (int i = 0; i < n; ++i) {
    urls += "http://127.0.0.1:" + std::to_string(port) + "/p/" + std::to_string(i) + "\n";
  }
  cli::write_file(dir / "in.txt", urls);
  return cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir / "in.txt").string()}).exit_code;
}

// Two workers with -c 2 over 16 slow URLs: each claims for its free slots, so
// both work. (A worker used to claim 4 * -c + 64 URLs at once: the first took
// all 16 and the second had nothing to do.)
TEST(QueueCli, WorkersClaimForTheirFreeSlotsAndShareTheCrawl) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer slow;  // 150 ms a response
  auto q = redis.url() + "/share";
  ASSERT_EQ(enqueue_pages(q, dir.path(), slow.port(), 16), 0);
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  cli::RunResult w[2];
  std::thread second([&] {
    w[1] = cli::run_corun({"fetch", "--queue", q, "-c", "2", "--out",
                           (dir.path() / "out2").string(), "--worker-name", "w2"},
                          o);
  });
  w[0] = cli::run_corun({"fetch", "--queue", q, "-c", "2", "--out", (dir.path() / "out1").string(),
                         "--worker-name", "w1"},
                        o);
  second.join();
  std::size_t total = 0;
  for (const auto& r : w) {
    EXPECT_EQ(r.exit_code, 0) << r;
    auto at = r.err.find(" URLs taken");
    ASSERT_NE(at, std::string::npos) << r;
    auto begin = r.err.find_last_not_of("0123456789", at - 1) + 1;
    std::size_t taken = std::stoul(r.err.substr(begin, at - begin));
    EXPECT_GT(taken, 0u) << "a worker found nothing to do: " << r;
    total += taken;
  }
  EXPECT_EQ(total, 16u);
}

// A worker whose disk fills stops (exit 1, the reason said), as a plain run does,
// and hands its unstarted URLs back: a worker with room finishes the crawl.
TEST(QueueCli, AWorkerWhoseDiskIsFullStopsAndAnotherFinishes) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer pages(corun::testing::big_page_handler);  // 24 KB each
  auto q = redis.url() + "/full";
  ASSERT_EQ(enqueue_pages(q, dir.path(), pages.port(), 40), 0);
  auto small = dir.path() / "small";
  std::filesystem::create_directories(small);
  corun::testing::SmallTmpfs tmpfs(small, "200k");
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  auto full = cli::run_corun({"fetch", "--queue", q, "-c", "2", "--out", small.string()}, o);
  EXPECT_EQ(full.exit_code, 1) << full;
  EXPECT_TRUE(has(full.err, "stopped: the disk is full (cannot write ")) << full;
  auto roomy = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "roomy").string()}, o);
  EXPECT_EQ(roomy.exit_code, 0) << roomy;
  EXPECT_TRUE(has(roomy.err, "the crawl is finished")) << roomy;
  // The pages the full disk could not take were handed back, not recorded as
  // failed: every URL of the crawl is done, by one worker or the other.
  auto collected =
      cli::run_corun({"fetch", "--queue", q, "--collect", (dir.path() / "crawl.jsonl").string()});
  EXPECT_EQ(collected.exit_code, 0) << collected;
  std::size_t done = 0, failed = 0;
  for (const auto& rec : cli::read_report(dir.path() / "crawl.jsonl")) {
    (cli::ok(rec) ? done : failed) += 1;
  }
  EXPECT_EQ(done, 40u);
  EXPECT_EQ(failed, 0u);
}

// A worker whose --out cannot be written (here a read-only mount, which holds
// for root too) is refused before it takes a URL: exit 2, the folder named, and
// the crawl untouched. (It used to take URLs and record each as failed for good.)
TEST(QueueCli, AWorkerThatCannotWriteItsOutTakesNothing) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer pages(corun::testing::big_page_handler);
  auto q = redis.url() + "/readonly";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_pages(q, dir.path(), pages.port(), 5), 0);
  auto ro = dir.path() / "ro";
  std::filesystem::create_directories(ro);
  corun::testing::SmallTmpfs tmpfs(ro, "1m", /*read_only=*/true);
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  auto w = cli::run_corun({"fetch", "--queue", q, "--out", ro.string()}, o);
  EXPECT_EQ(w.exit_code, 2) << w;
  EXPECT_TRUE(has(w.err, "cannot write into " + ro.string() + ": Read-only file system")) << w;
  auto st = corun::run(corun::fetch::status(address));
  EXPECT_EQ(st.done + st.failed, 0u);
  EXPECT_EQ(st.waiting, 5u);
  // A plain run is refused the same way.
  auto plain = cli::run_corun(
      {"fetch", "--out", ro.string(), "--report", (dir.path() / "report.jsonl").string(),
       "http://127.0.0.1:" + std::to_string(pages.port()) + "/p/1"},
      o);
  EXPECT_EQ(plain.exit_code, 2) << plain;
  EXPECT_TRUE(has(plain.err, "cannot write into " + ro.string())) << plain;
}

// The crawl's keys deleted mid-crawl (FLUSHALL; or Redis restarted without
// its data): the worker and the collector each stop with exit 2 and a line
// that says so, and nothing is written back into the server. (The worker used
// to fail on a raw NOGROUP script error and half re-create the crawl, and the
// collector waited forever.)
TEST(QueueCli, ACrawlDeletedMidRunEndsWorkerAndCollectorClearly) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer slow;  // 150 ms a response
  auto q = redis.url() + "/gone";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_pages(q, dir.path(), slow.port(), 200), 0);
  bool flushed = false;
  auto flush_once_started = [&]() -> int {
    if (!flushed && corun::run(corun::fetch::status(address)).done >= 2) {
      corun::run(corun::co_invoke([&]() -> corun::Task<void> {
        corun::Task<corun::redis::Connection> connecting = corun::redis::connect(address.redis_url);
        corun::redis::Connection c = co_await connecting;
        corun::Task<corun::redis::Reply> flushing = c.command("FLUSHALL");
        co_await flushing;
      }));
      flushed = true;
    }
    return 0;
  };
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  cli::RunResult collector;
  std::thread collecting([&] {
    collector = cli::run_corun(
        {"fetch", "--queue", q, "--collect", (dir.path() / "crawl.jsonl").string()}, o);
  });
  cli::RunOptions wo = o;
  wo.signal_when = flush_once_started;
  auto worker = cli::run_corun(
      {"fetch", "--queue", q, "-c", "2", "--out", (dir.path() / "out").string()}, wo);
  collecting.join();
  ASSERT_TRUE(flushed) << worker;
  for (const auto* r : {&worker, &collector}) {
    EXPECT_EQ(r->exit_code, 2) << *r;
    EXPECT_TRUE(has(r->err, "the crawl is gone from the server")) << *r;
    EXPECT_FALSE(has(r->err, "NOGROUP")) << *r;
  }
  auto keys = corun::run(corun::co_invoke([&]() -> corun::Task<corun::redis::Reply> {
    corun::Task<corun::redis::Connection> connecting = corun::redis::connect(address.redis_url);
    corun::redis::Connection c = co_await connecting;
    corun::Task<corun::redis::Reply> listing = c.command("KEYS", "*");
    corun::redis::Reply r = co_await listing;
    co_return r;
  }));
  EXPECT_EQ(keys.size(), 0u) << "keys written back into the emptied server";
}

// Redis restarted without its data and the producer run again at once: a crawl
// of the same name made anew. A worker of the old crawl stops as for a crawl that
// is gone, and writes none of its old outcomes into the new one (it used to
// record them there: more done than total, URLs the new input never had).
TEST(QueueCli, AWorkerOfACrawlMadeAnewUnderItsNameWritesNothingIntoIt) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer slow;  // 150 ms a response
  auto q = redis.url() + "/anew";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_pages(q, dir.path(), slow.port(), 200), 0);
  std::string fresh;
  for (int i = 0; i < 5; ++i) {
    fresh +=
        "http://127.0.0.1:" + std::to_string(slow.port()) + "/p/" + std::to_string(1000 + i) + "\n";
  }
  cli::write_file(dir.path() / "fresh.txt", fresh);
  bool remade = false;
  auto remake_once_started = [&]() -> int {
    if (!remade && corun::run(corun::fetch::status(address)).done >= 2) {
      corun::run(corun::co_invoke([&]() -> corun::Task<void> {
        corun::Task<corun::redis::Connection> connecting = corun::redis::connect(address.redis_url);
        corun::redis::Connection c = co_await connecting;
        corun::Task<corun::redis::Reply> flushing = c.command("FLUSHALL");
        co_await flushing;
      }));
      EXPECT_EQ(
          cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "fresh.txt").string()})
              .exit_code,
          0);
      remade = true;
    }
    return 0;
  };
  cli::RunOptions wo;
  wo.hang_guard(std::chrono::seconds(120));
  wo.signal_when = remake_once_started;
  auto old_worker = cli::run_corun(
      {"fetch", "--queue", q, "-c", "2", "--out", (dir.path() / "old").string()}, wo);
  ASSERT_TRUE(remade) << old_worker;
  EXPECT_EQ(old_worker.exit_code, 2) << old_worker;
  EXPECT_TRUE(has(old_worker.err, "the crawl is gone from the server")) << old_worker;
  // The new crawl, finished by a worker of its own, holds its five URLs and no other.
  auto new_worker =
      cli::run_corun({"fetch", "--queue", q, "-c", "2", "--out", (dir.path() / "new").string()});
  EXPECT_EQ(new_worker.exit_code, 0) << new_worker;
  auto collector =
      cli::run_corun({"fetch", "--queue", q, "--collect", (dir.path() / "new.jsonl").string()});
  EXPECT_EQ(collector.exit_code, 0) << collector;
  std::vector<std::string> urls;
  for (const auto& rec : cli::read_report(dir.path() / "new.jsonl")) {
    urls.push_back(rec["url"].get<std::string>());
  }
  std::sort(urls.begin(), urls.end());
  std::vector<std::string> expected;
  expected.reserve(5);
  for (int i = 0; i < 5; ++i) {
    expected.push_back("http://127.0.0.1:" + std::to_string(slow.port()) + "/p/" +
                       std::to_string(1000 + i));
  }
  EXPECT_EQ(urls, expected);
}

// A producer stopped mid-input stays registered as reading for a while, and the
// crawl's input is not done while one is: the producer that finishes says so,
// and --status names who is reading, or says that nobody is and what to do.
TEST(QueueCli, WhyTheInputIsNotDoneIsSaid) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  auto q = redis.url() + "/why";
  auto address = corun::fetch::parse_queue_url(q);
  auto redis_command = [&](std::vector<std::string> argv) {
    redis_reply(address, std::move(argv));
  };
  ASSERT_EQ(enqueue_pages(q, dir.path(), 9, 3), 0);
  // A producer killed mid-input: registered for 30 s more (TIME is the server's).
  const std::string stopped_producer =
      "local t = redis.call('TIME') redis.call('ZADD', KEYS[1], t[1] * 1000 + 30000, "
      "'stopped.txt') redis.call('HSET', KEYS[2], 'input_done', '0') return 1";
  redis_command(
      {"EVAL", stopped_producer, "2", address.prefix() + "producers", address.prefix() + "meta"});
  cli::write_file(dir.path() / "empty.txt", "");
  auto producer =
      cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "empty.txt").string()});
  EXPECT_EQ(producer.exit_code, 0) << producer;
  EXPECT_TRUE(has(producer.err, "input is not done yet: 1 other producer still registered"))
      << producer;
  auto reading = cli::run_corun({"fetch", "--queue", q, "--status"});
  EXPECT_TRUE(has(reading.out + reading.err, "producer stopped.txt: reading")) << reading;
  // Its registration lapsed: nobody reads, and --status says what to do.
  redis_command({"ZREM", address.prefix() + "producers", "stopped.txt"});
  auto nobody = cli::run_corun({"fetch", "--queue", q, "--status"});
  EXPECT_TRUE(has(nobody.out + nobody.err, "input not done: no producer is reading")) << nobody;
  auto ending =
      cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "empty.txt").string()});
  EXPECT_FALSE(has(ending.err, "not done yet")) << ending;
  EXPECT_TRUE(corun::run(corun::fetch::status(address)).input_done);
}

// The first request of a connection is answered 503 with Retry-After: 1, the
// rest 200 (a worker's retry of a URL then succeeds, on a new connection).
std::atomic<int> g_answered{0};
corun::Task<void> refuse_first_handler(corun::net::StreamReader reader,
                                       corun::net::StreamWriter writer) {
  return corun::testing::answer_each(
      std::move(reader), std::move(writer), std::chrono::milliseconds(0), [](const std::string&) {
        if (g_answered++ == 0) {
          return std::string(
              "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: "
              "0\r\n\r\n");
        }
        return corun::testing::http_ok("text/html", "<p>second try</p>");
      });
}

// A retry taken by another worker is saved under that worker's --out: the name
// travels with the URL, the first worker's folder does not. (It once did: the
// second worker wrote into the first one's --out, and when that was a full
// disk, it stopped too.)
TEST(QueueCli, ARetryTakenByAnotherWorkerIsSavedUnderItsOwnOut) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer pages(refuse_first_handler);
  auto q = redis.url() + "/moved";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_pages(q, dir.path(), pages.port(), 1), 0);
  // The first worker gets the 503, so its URL waits (delayed) for its retry:
  // then Ctrl-C, and the first worker is gone before the retry is due.
  bool sent = false;
  cli::RunOptions first;
  first.hang_guard(std::chrono::seconds(120));
  first.signal_when = [&]() -> int {
    if (sent || corun::run(corun::fetch::status(address)).delayed == 0) return 0;
    sent = true;
    return SIGINT;
  };
  auto a = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "a").string()}, first);
  ASSERT_TRUE(sent) << a;
  EXPECT_EQ(a.exit_code, 130) << a;
  cli::RunOptions second;
  second.hang_guard(std::chrono::seconds(120));
  auto b = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "b").string()}, second);
  EXPECT_EQ(b.exit_code, 0) << b;
  EXPECT_TRUE(has(b.err, "the crawl is finished")) << b;
  auto files_under = [](const std::filesystem::path& d) {
    std::vector<std::filesystem::path> found;
    if (!std::filesystem::exists(d)) return found;
    for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
      if (e.is_regular_file()) found.push_back(e.path());
    }
    return found;
  };
  auto saved = files_under(dir.path() / "b");
  ASSERT_EQ(saved.size(), 1u) << b;
  EXPECT_EQ(cli::read_file(saved[0]), "\xEF\xBB\xBF<p>second try</p>");
  EXPECT_TRUE(files_under(dir.path() / "a").empty());
}

// The producer killed with SIGKILL mid-input and run again: every URL is added
// exactly once (the stream holds each distinct URL once).
TEST(QueueCli, KilledProducerResumesWithoutAddingTwice) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  std::string lines;
  const int n = 200000;
  for (int i = 0; i < n; ++i)
    lines += "http://h" + std::to_string(i % 7) + ".test/" + std::to_string(i) + "\n";
  for (int i = 0; i < n; i += 50)
    lines += "http://h" + std::to_string(i % 7) + ".test/" + std::to_string(i) + "\n";
  cli::write_file(dir.path() / "in.txt", lines);
  auto q = redis.url() + "/big";
  auto address = corun::fetch::parse_queue_url(q);
  std::vector<std::string> args{"fetch", "--queue", q, "--enqueue",
                                (dir.path() / "in.txt").string()};
  cli::RunOptions killed;
  killed.kill_once([&] {
    try {
      auto st = corun::run(corun::fetch::status(address));
      return st.total > 1000;
    } catch (const std::exception&) {
      return false;  // not created yet
    }
  });
  auto first = cli::run_corun(args, killed);
  EXPECT_TRUE(first.killed_on_request) << "the producer finished before the kill: " << first;
  auto st = corun::run(corun::fetch::status(address));
  EXPECT_LT(st.total, static_cast<std::uint64_t>(n));
  auto second = cli::run_corun(args);
  EXPECT_EQ(second.exit_code, 0) << second;
  // It resumed from the stored position: "(N skipped: added by an earlier run)", N > 0.
  auto at = second.err.find(" skipped: added by an earlier run");
  auto open = second.err.rfind('(', at);
  EXPECT_NE(at, std::string::npos) << second;
  if (at != std::string::npos && open != std::string::npos) {
    EXPECT_GT(std::stoll(second.err.substr(open + 1, at - open - 1)), 0) << second;
  }
  st = corun::run(corun::fetch::status(address));
  EXPECT_EQ(st.total, static_cast<std::uint64_t>(n));
  EXPECT_EQ(st.waiting, static_cast<std::uint64_t>(n)) << "a URL was added twice";
  EXPECT_TRUE(st.input_done);
}

// A producer resumes by its input's identity, never by position alone: more
// URLs piped in later are all read (stdin has nothing to resume by), another
// file written to the same path starts from its first line, and the same file
// grown by appending adds just the new URLs (resuming the same file after a
// kill: KilledProducerResumesWithoutAddingTwice).
TEST(QueueCli, ALaterProducerSkipsOnlyWhatItsOwnInputAdded) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  auto q = redis.url() + "/later";
  auto address = corun::fetch::parse_queue_url(q);
  auto total = [&] { return corun::run(corun::fetch::status(address)).total; };
  cli::write_file(dir.path() / "a.txt", "http://a.test/1\nhttp://a.test/2\n");
  cli::write_file(dir.path() / "b.txt", "http://a.test/3\nhttp://a.test/4\nhttp://a.test/5\n");
  std::vector<std::string> from_stdin{"fetch", "--queue", q, "--enqueue", "-"};
  auto first = cli::run_corun(from_stdin, cli::RunOptions{}.stdin_from(dir.path() / "a.txt"));
  ASSERT_EQ(first.exit_code, 0) << first;
  auto second = cli::run_corun(from_stdin, cli::RunOptions{}.stdin_from(dir.path() / "b.txt"));
  ASSERT_EQ(second.exit_code, 0) << second;
  EXPECT_EQ(total(), 5U) << "a second pipe skipped lines: " << second;

  auto in = (dir.path() / "in.txt").string();
  std::vector<std::string> from_file{"fetch", "--queue", q, "--enqueue", in};
  cli::write_file(in, "http://b.test/1\nhttp://b.test/2\n");
  ASSERT_EQ(cli::run_corun(from_file).exit_code, 0);
  cli::write_file(in, "http://c.test/1\nhttp://c.test/2\n");
  auto rewritten = cli::run_corun(from_file);
  ASSERT_EQ(rewritten.exit_code, 0) << rewritten;
  EXPECT_EQ(total(), 9U) << "another file at the same path was skipped: " << rewritten;
  cli::write_file(in, "http://c.test/1\nhttp://c.test/2\nhttp://c.test/3\n");
  auto appended = cli::run_corun(from_file);
  ASSERT_EQ(appended.exit_code, 0) << appended;
  EXPECT_EQ(total(), 10U) << appended;
}

// A FIFO made at `path` and written from a thread of its own: the writer
// waits for a reader to open it (a non-blocking open fails until one is
// there, so a producer that never opens it cannot leave the thread blocked),
// writes `text`, then keeps the FIFO open until hold_while() turns false (or
// the destructor). The destructor joins the thread.
class FifoWriter {
 public:
  FifoWriter(
      const std::filesystem::path& path, std::string text,
      std::function<bool()> hold_while = [] { return false; })
      : text_(std::move(text)), hold_while_(std::move(hold_while)) {
    if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    thread_ = std::thread([this, path] {
      int fd = -1;
      while (fd < 0 && !over_) {
        fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) ::usleep(1000);
      }
      if (fd < 0) return;
      ::fcntl(fd, F_SETFL, 0);
      ssize_t n = ::write(fd, text_.data(), text_.size());
      (void)n;
      written_ = true;
      while (!over_ && hold_while_()) ::usleep(10000);
      ::close(fd);
    });
  }
  ~FifoWriter() { finish(); }
  FifoWriter(const FifoWriter&) = delete;
  FifoWriter& operator=(const FifoWriter&) = delete;
  bool written() const { return written_; }
  // Closes the FIFO (if still open) and joins the writer.
  void finish() {
    over_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string text_;
  std::function<bool()> hold_while_;
  std::atomic<bool> over_{false};
  std::atomic<bool> written_{false};
  std::thread thread_;
};

// A loopback port that accepts connections (the kernel's backlog) and never
// answers: a worker's requests to it hang until its --timeout.
class SilentPort {
 public:
  SilentPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentPort() { ::close(fd_); }
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Adds 3 URLs of `silent` (requests that hang until their timeout) to the
// crawl q, without retries; the producer's exit code.
int enqueue_silent_urls(const std::string& q, const std::filesystem::path& dir,
                        const SilentPort& silent) {
  std::string lines;
  for (int i = 0; i < 3; ++i) {
    lines += "http://127.0.0.1:" + std::to_string(silent.port()) + "/" + std::to_string(i) + "\n";
  }
  cli::write_file(dir / "in.txt", lines);
  auto p = cli::run_corun(
      {"fetch", "--queue", q, "--enqueue", (dir / "in.txt").string(), "--retries", "0"});
  if (p.exit_code != 0) ADD_FAILURE() << p;
  return p.exit_code;
}

// A worker stopped with Ctrl-C while Redis is down: it does not wait forever
// to deliver its outcomes. With --deliver-timeout it gives up after that long
// with one line (how many, and that they will be fetched again); with a long
// one, a second Ctrl-C ends the wait at once.
// SIGTERM (kill, systemd, docker stop) stops a worker as Ctrl-C does, exit 143,
// and says so in its own words: no "Ctrl-C again" to a process with no terminal.
TEST(QueueCli, ATerminatedWorkerSaysSoInItsOwnWords) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  SilentPort silent;
  auto q = redis.url() + "/term";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_silent_urls(q, dir.path(), silent), 0);
  bool sent = false;
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  o.signal_when = [&]() -> int {
    if (sent || corun::run(corun::fetch::status(address)).in_flight < 3) return 0;
    sent = true;
    return SIGTERM;
  };
  auto w = cli::run_corun(
      {"fetch", "--queue", q, "--out", (dir.path() / "out").string(), "-c", "4", "-m", "1"}, o);
  ASSERT_TRUE(sent) << w;
  EXPECT_EQ(w.exit_code, 143) << w;
  EXPECT_TRUE(has(w.err, "terminated: finishing the URLs in flight")) << w;
  EXPECT_TRUE(has(w.err, "SIGTERM again to quit now")) << w;
  EXPECT_FALSE(has(w.err, "Ctrl-C")) << w;
}

// What a worker's closing warning says it left undelivered: outcomes plus URLs
// never started that it could not hand back (Redis away). -1 if it says neither.
// (No std::regex: g++ 12 warns inside it under the sanitizers.)
int left_undelivered(const std::string& err) {
  auto number_before = [&err](std::string_view words) -> int {
    auto at = err.find(words);
    if (at == std::string::npos) return -1;
    std::size_t begin = at;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(err[begin - 1])) != 0) --begin;
    return begin == at ? -1 : std::stoi(err.substr(begin, at - begin));
  };
  int outcomes =
      std::max(number_before(" outcomes not delivered"), number_before(" outcome not delivered"));
  int back = std::max(number_before(" URLs never started not handed back"),
                      number_before(" URL never started not handed back"));
  if (outcomes < 0 && back < 0) return -1;
  return std::max(outcomes, 0) + std::max(back, 0);
}

TEST(QueueCli, WorkerStoppedWhileRedisIsDownDoesNotWaitForever) {
  for (bool second_ctrl_c : {false, true}) {
    corun::testing::RedisServer redis;
    corun::testing::TempDir dir("corun-queue-cli");
    SilentPort silent;
    auto q = redis.url() + "/down";
    auto address = corun::fetch::parse_queue_url(q);
    ASSERT_EQ(enqueue_silent_urls(q, dir.path(), silent), 0);
    // Holding its 3 URLs (requests hanging): Redis killed, then Ctrl-C (and
    // with second_ctrl_c, Ctrl-C again once the first has had time to start
    // the wait: the transfers end after --timeout 2 s).
    int step = 0;
    auto since = std::chrono::steady_clock::now();
    cli::RunOptions o;
    o.hang_guard(std::chrono::seconds(120));
    o.signal_when = [&]() -> int {
      if (step == 0) {
        auto st = corun::run(corun::fetch::status(address));
        if (st.in_flight < 3) return 0;
        redis.kill();
        step = 1;
        since = std::chrono::steady_clock::now();
        return SIGINT;
      }
      if (step == 1 && second_ctrl_c && std::chrono::steady_clock::now() - since > 4s) {
        step = 2;
        return SIGINT;
      }
      return 0;
    };
    std::vector<std::string> args{"fetch",
                                  "--queue",
                                  q,
                                  "--out",
                                  (dir.path() / "out").string(),
                                  "-c",
                                  "4",
                                  "-m",
                                  "2",
                                  "--deliver-timeout",
                                  second_ctrl_c ? "600" : "1"};
    auto w = cli::run_corun(args, o);
    EXPECT_FALSE(w.hung) << w;
    EXPECT_EQ(w.exit_code, 130) << w;
    if (second_ctrl_c) {
      EXPECT_EQ(step, 2) << w;
      EXPECT_TRUE(has(w.err, "interrupted again: quitting now")) << w;
    } else {
      // Its 3 URLs: outcomes (timed out) or never started (-c split over lanes).
      EXPECT_EQ(left_undelivered(w.err), 3) << w;
      EXPECT_TRUE(has(w.err, "another worker takes them once their leases expire")) << w;
    }
  }
}

// The same with Redis stalled rather than dead (SIGSTOP: a partition, a hung
// server), so a claim is in flight when Ctrl-C comes and would wait out its
// 10 s command timeout: --deliver-timeout bounds that wait too. Expected exit
// about 2 s after Ctrl-C (the transfers' -m 2, then 1 s of trying to deliver);
// before, 9-10 s. The bound below is a hang guard with room, not a speed check.
TEST(QueueCli, WorkerStoppedWhileRedisIsStalledExitsWithinDeliverTimeout) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  SilentPort silent;
  auto q = redis.url() + "/stalled";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_silent_urls(q, dir.path(), silent), 0);
  // Holding its 3 URLs and claiming for its fourth slot: Redis stopped; 1.5 s
  // later (a claim has gone out meanwhile: they go every 0.5 s at most) Ctrl-C.
  int step = 0;
  auto stalled = std::chrono::steady_clock::now();
  auto interrupted = stalled;
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  o.signal_when = [&]() -> int {
    if (step == 0) {
      if (corun::run(corun::fetch::status(address)).in_flight < 3) return 0;
      ::kill(redis.pid(), SIGSTOP);
      stalled = std::chrono::steady_clock::now();
      step = 1;
      return 0;
    }
    if (step == 1 && std::chrono::steady_clock::now() - stalled > 1500ms) {
      step = 2;
      interrupted = std::chrono::steady_clock::now();
      return SIGINT;
    }
    return 0;
  };
  auto w = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "out").string(), "-c", "4",
                           "-m", "2", "--deliver-timeout", "1"},
                          o);
  auto took = std::chrono::steady_clock::now() - interrupted;
  ::kill(redis.pid(), SIGCONT);
  ASSERT_EQ(step, 2) << w;
  EXPECT_FALSE(w.hung) << w;
  EXPECT_EQ(w.exit_code, 130) << w;
  EXPECT_EQ(left_undelivered(w.err), 3) << w;
  EXPECT_LT(took, 7s) << "from Ctrl-C to exit: " << std::chrono::duration<double>(took).count()
                      << " s\n"
                      << w;
  // The URLs were never acked: the crawl still has all 3 to hand out.
  EXPECT_EQ(corun::run(corun::fetch::status(address)).done, 0U);
}

// A FIFO given by path (as `<(cmd)` gives one) is read whole by the producer:
// its head is not consumed to identify it, and a second run through the same
// path is not resumed by position (each run's lines are new).
TEST(QueueCli, AFifoIsReadWholeAndNotResumedByPosition) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  auto q = redis.url() + "/fifo";
  for (int round = 0; round < 2; ++round) {
    std::string lines;
    for (int i = 0; i < 3; ++i) lines += "http://f.test/" + std::to_string(round * 3 + i) + "\n";
    auto fifo = dir.path() / ("urls" + std::to_string(round) + ".fifo");
    FifoWriter writer(fifo, lines);
    auto p = cli::run_corun({"fetch", "--queue", q, "--enqueue", fifo.string()});
    writer.finish();
    ASSERT_EQ(p.exit_code, 0) << p;
    EXPECT_TRUE(has(p.err, "3 URLs added")) << "round " << round << ": " << p;
  }
  auto address = corun::fetch::parse_queue_url(q);
  EXPECT_EQ(corun::run(corun::fetch::status(address)).total, 6U);
}

// One collector per crawl: a second one is refused (exit 2, the first named,
// the empty report it created removed), so no record lands in two reports; one killed lets go of
// its claim, and the next run on the same report waits for that and finishes it, each URL once.
TEST(QueueCli, OneCollectorAtATime) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  corun::testing::TestServer pages(corun::testing::big_page_handler);
  auto q = redis.url() + "/collectors";
  auto address = corun::fetch::parse_queue_url(q);
  ASSERT_EQ(enqueue_pages(q, dir.path(), pages.port(), 20), 0);
  auto claim_held = [&] {
    return corun::run(corun::co_invoke([&]() -> corun::Task<bool> {
      corun::Task<corun::redis::Connection> connecting = corun::redis::connect(address.redis_url);
      corun::redis::Connection c = co_await connecting;
      corun::Task<corun::redis::Reply> asking = c.command("EXISTS", address.prefix() + "collector");
      corun::redis::Reply r = co_await asking;
      co_return r.as_integer() == 1;
    }));
  };
  std::atomic<bool> kill_first{false};
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(120));
  cli::RunOptions first_options = o;
  first_options.kill_once([&] { return kill_first.load(); });
  auto report = dir.path() / "crawl.jsonl";
  cli::RunResult first;
  std::thread collecting([&] {
    first = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()}, first_options);
  });
  while (!claim_held()) std::this_thread::sleep_for(10ms);
  auto second = cli::run_corun(
      {"fetch", "--queue", q, "--collect", (dir.path() / "other.jsonl").string()}, o);
  EXPECT_EQ(second.exit_code, 2) << second;
  EXPECT_TRUE(has(second.err, "another collector (")) << second;
  // The report the refused collector created, empty, is not left behind.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "other.jsonl"));
  kill_first = true;
  collecting.join();
  EXPECT_TRUE(first.killed_on_request) << first;
  auto worker = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "out").string()}, o);
  EXPECT_EQ(worker.exit_code, 0) << worker;
  auto third = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()}, o);
  EXPECT_EQ(third.exit_code, 0) << third;
  std::set<std::string> urls;
  std::size_t records = 0;
  for (const auto& rec : cli::read_report(report)) {
    ++records;
    urls.insert(cli::str(rec, "url"));
  }
  EXPECT_EQ(records, 20u);
  EXPECT_EQ(urls.size(), 20u);
}

// Settings given to the producer of a crawl that exists are not applied (the
// crawl keeps those it was created with): the producer says which, and what
// the crawl has, rather than dropping them silently.
TEST(QueueCli, SettingsALaterProducerCannotChangeAreNamed) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  auto q = redis.url() + "/settings";
  cli::write_file(dir.path() / "a.txt", "http://s.test/1\n");
  cli::write_file(dir.path() / "b.txt", "http://s.test/2\n");
  auto first = cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "a.txt").string(),
                               "--per-host", "2", "--rate", "5"});
  EXPECT_EQ(first.exit_code, 0) << first;
  EXPECT_FALSE(has(first.err, "not applied")) << first;
  auto later = cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "b.txt").string(),
                               "--per-host", "9", "--rate", "5", "--lease", "20"});
  EXPECT_EQ(later.exit_code, 0) << later;
  EXPECT_TRUE(has(later.err,
                  "not applied: --per-host 9 (the crawl's: 2), --lease 20 (the crawl's: 60): the "
                  "crawl keeps the settings it was created with"))
      << later;
  EXPECT_TRUE(has(later.err, "1 URL added")) << later;
}

// A slow pipe's lines reach the crawl as they come (within about a second),
// not once 500 have arrived or the pipe closes: here 3 lines are added while
// the writer still holds the FIFO open.
TEST(QueueCli, ASlowPipesLinesAreAddedAsTheyCome) {
  corun::testing::RedisServer redis;
  corun::testing::TempDir dir("corun-queue-cli");
  auto q = redis.url() + "/slowpipe";
  auto address = corun::fetch::parse_queue_url(q);
  std::atomic<bool> seen{false};
  // Held open until the crawl shows the 3 URLs (or the producer is gone).
  FifoWriter writer(dir.path() / "slow.fifo", "http://s.test/1\nhttp://s.test/2\nhttp://s.test/3\n",
                    [&] {
                      try {
                        if (corun::run(corun::fetch::status(address)).total == 3) {
                          seen = true;
                          return false;
                        }
                      } catch (const std::exception&) {
                        // not created yet
                      }
                      return true;
                    });
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(60));
  auto p =
      cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "slow.fifo").string()}, o);
  writer.finish();
  EXPECT_TRUE(seen) << "the lines waited for the pipe to close: " << p;
  EXPECT_EQ(p.exit_code, 0) << p;
  EXPECT_TRUE(has(p.err, "3 URLs added")) << p;
}

// Ctrl-C stops a producer reading a pipe: what it read is in the crawl, and it
// says how far it got (exit 130). Ctrl-C twice while Redis stalls (the lines'
// last add hanging): it quits at once, cleanly (the renewals it ran beside the
// reading end before its frame does; under ASan a use after free shows here).
// Ctrl-C, or SIGTERM (kill, systemd, docker stop): the same stop, exit 128 + it.
void interrupted_producer_says_how_far_it_got(int signum) {
  for (bool twice : {false, true}) {
    corun::testing::RedisServer redis;
    corun::testing::TempDir dir("corun-queue-cli");
    auto q = redis.url() + "/stopped";
    auto address = corun::fetch::parse_queue_url(q);
    auto total = [&]() -> std::uint64_t {
      try {
        return corun::run(corun::fetch::status(address)).total;
      } catch (const std::exception&) {
        return 0;  // not created yet
      }
    };
    FifoWriter writer(dir.path() / "urls.fifo", "http://i.test/1\nhttp://i.test/2\n",
                      [] { return true; });
    int step = 0;
    auto since = std::chrono::steady_clock::now();
    cli::RunOptions o;
    o.hang_guard(std::chrono::seconds(60));
    o.signal_when = [&]() -> int {
      if (!twice) {
        // Once the 2 lines are in the crawl (a partial batch goes after 1 s).
        if (step == 0 && total() == 2) {
          step = 1;
          return signum;
        }
        return 0;
      }
      // Read but not yet added (that waits 1 s): Redis stalls, Ctrl-C, and
      // again while the last add hangs.
      if (step == 0 && writer.written()) {
        ::usleep(200000);
        ::kill(redis.pid(), SIGSTOP);
        step = 1;
        since = std::chrono::steady_clock::now();
        return signum;
      }
      if (step == 1 && std::chrono::steady_clock::now() - since > 500ms) {
        step = 2;
        return signum;
      }
      return 0;
    };
    auto p = cli::run_corun(
        {"fetch", "--queue", q, "--enqueue", (dir.path() / "urls.fifo").string()}, o);
    ::kill(redis.pid(), SIGCONT);
    writer.finish();
    EXPECT_FALSE(p.hung) << p;
    EXPECT_EQ(p.signal, 0) << p;
    EXPECT_EQ(p.exit_code, 128 + signum) << p;
    EXPECT_FALSE(has(p.err, "Sanitizer")) << p;
    if (twice) {
      EXPECT_EQ(step, 2) << p;
      EXPECT_TRUE(has(p.err, signum == SIGINT ? "corun fetch: interrupted: 0 URLs added"
                                              : "corun fetch: terminated again: quitting now"))
          << p;
    } else {
      EXPECT_EQ(step, 1) << p;
      EXPECT_TRUE(
          has(p.err, "corun fetch: interrupted: 2 URLs added to " + address.to_string() +
                         " from the first 2 lines read; the rest of the input was not read"))
          << p;
      EXPECT_EQ(total(), 2U);
    }
  }
}

TEST(QueueCli, AnInterruptedProducerSaysHowFarItGot) {
  interrupted_producer_says_how_far_it_got(SIGINT);
}

TEST(QueueCli, ATerminatedProducerSaysHowFarItGot) {
  interrupted_producer_says_how_far_it_got(SIGTERM);
}

// Ctrl-C stops a collector: it says how many records it wrote, lets go of its
// claim at once (the same command again starts without waiting for it to
// lapse) and goes on where it stopped.
// A crawl of two pages (nginx), both recorded by a worker, whose input is held
// open (a FIFO the producer reads): the crawl is not finished, so a collector
// writes both records and waits for more. end_input() closes the input.
class TwoPagesInputOpen {
 public:
  TwoPagesInputOpen(const corun::testing::RedisServer& redis, const std::string& name)
      : q(redis.url() + "/" + name),
        address(corun::fetch::parse_queue_url(q)),
        writer_(pages_written(dir, nginx) / "urls.fifo",
                nginx.base_url() + "/a.html\n" + nginx.base_url() + "/b.html\n",
                [] { return true; }) {
    cli::RunOptions bg;
    bg.hang_guard(std::chrono::seconds(90));
    producer_ = std::thread([this, bg] {
      cli::run_corun({"fetch", "--queue", q, "--enqueue", (dir.path() / "urls.fifo").string()}, bg);
    });
    for (auto guard = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < guard;) {
      try {
        if (corun::run(corun::fetch::status(address)).total == 2) break;
      } catch (const std::exception&) {
        // not created yet
      }
      ::usleep(20000);
    }
    // A worker does both and waits for more: ended once they are recorded.
    worker = cli::run_corun({"fetch", "--queue", q, "--out", (dir.path() / "out").string()},
                            cli::RunOptions{}.hang_guard(std::chrono::seconds(60)).kill_once([&] {
                              return corun::run(corun::fetch::status(address)).done == 2;
                            }));
  }
  ~TwoPagesInputOpen() { end_input(); }
  TwoPagesInputOpen(const TwoPagesInputOpen&) = delete;
  TwoPagesInputOpen& operator=(const TwoPagesInputOpen&) = delete;

  void end_input() {
    writer_.finish();
    if (producer_.joinable()) producer_.join();
  }

  corun::testing::TempDir dir{"corun-queue-cli"};
  corun::testing::Nginx nginx;
  const std::string q;
  const corun::fetch::QueueAddress address;
  cli::RunResult worker;  // killed_on_request once both were recorded

 private:
  static const std::filesystem::path& pages_written(const corun::testing::TempDir& dir,
                                                    const corun::testing::Nginx& nginx) {
    cli::write_file(nginx.root() / "a.html", "<p>a</p>");
    cli::write_file(nginx.root() / "b.html", "<p>b</p>");
    return dir.path();
  }

  FifoWriter writer_;
  std::thread producer_;
};

void interrupted_collector_lets_go_and_goes_on(int signum) {
  corun::testing::RedisServer redis;
  TwoPagesInputOpen crawl(redis, "collect");
  const std::string& q = crawl.q;
  const corun::fetch::QueueAddress& address = crawl.address;
  ASSERT_TRUE(crawl.worker.killed_on_request) << crawl.worker;
  auto report = crawl.dir.path() / "report.jsonl";
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(60));
  int step = 0;
  o.signal_when = [&]() -> int {
    if (step == 0 && std::filesystem::exists(report) && lines_of(cli::read_file(report)) == 2) {
      step = 1;
      return signum;
    }
    return 0;
  };
  auto c = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()}, o);
  EXPECT_EQ(step, 1) << c;
  EXPECT_EQ(c.exit_code, 128 + signum) << c;
  // Its claim is let go on the way out (not left to lapse in 10 s).
  EXPECT_EQ(redis_reply(address, {"EXISTS", address.prefix() + "collector"}).as_integer(), 0) << c;
  // Ctrl-C comes once the file has both lines: their batch stored (2 written
  // by this run) or not yet (0: the next run cuts them off and writes them).
  int first = has(c.err, "interrupted: 2 records written to ") ? 2 : 0;
  EXPECT_TRUE(has(c.err, "corun fetch: interrupted: " + std::to_string(first) +
                             " records written to " + report.string() +
                             " by this run; the same command again goes on from there"))
      << c;
  // The input ends: the same collector command again finishes the report
  // (claim let go: no wait) without writing the 2 records twice.
  crawl.end_input();
  auto again = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()},
                              cli::RunOptions{}.hang_guard(std::chrono::seconds(60)));
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_FALSE(has(again.err, "another collector")) << again;
  EXPECT_TRUE(has(again.err, std::to_string(2 - first) + " records written")) << again;
  EXPECT_EQ(lines_of(cli::read_file(report)), 2) << cli::read_file(report);
}

// Redis restarted under a running collector (AOF on: the crawl survives): the
// collector says once that Redis is away, waits it out (as workers do, rather
// than dying after a command timeout), says when it is back and goes on.
TEST(QueueCli, ACollectorWaitsOutARedisRestart) {
  corun::testing::RedisOptions ro;
  ro.appendonly = true;
  ro.extra_args = {"--appendfsync", "always"};
  corun::testing::RedisServer redis(ro);
  TwoPagesInputOpen crawl(redis, "restart");
  const std::string& q = crawl.q;
  const corun::fetch::QueueAddress& address = crawl.address;
  ASSERT_TRUE(crawl.worker.killed_on_request) << crawl.worker;
  // XRANGE calls the restarted server has seen (its statistics start at 0):
  // the collector is reading again.
  auto reads_since_restart = [&]() {
    try {
      return has(redis_reply(address, {"INFO", "commandstats"}).as_string(), "cmdstat_xrange:");
    } catch (const std::exception&) {
      return false;  // not up yet
    }
  };
  // The collector's batch stored in Redis (after its write and fsync): from
  // then on it only polls, each poll with its 5 s of patience. (Killed before,
  // a store held up behind a slow fsync could wait out the whole restart
  // within its own 30 s timeout, with nothing to say.)
  auto batch_stored = [&]() {
    try {
      return redis_reply(address, {"HGET", address.prefix() + "meta", "collect_bytes"})
                 .as_optional_string()
                 .value_or("0") != "0";
    } catch (const std::exception&) {
      return false;
    }
  };
  auto report = crawl.dir.path() / "report.jsonl";
  cli::RunOptions o;
  o.hang_guard(std::chrono::seconds(90));
  int step = 0;
  auto since = std::chrono::steady_clock::now();
  o.signal_when = [&]() -> int {
    if (step == 0 && std::filesystem::exists(report) && lines_of(cli::read_file(report)) == 2 &&
        batch_stored()) {
      redis.kill();  // the 2 records written and stored; the collector waits for more
      since = std::chrono::steady_clock::now();
      step = 1;
    } else if (step == 1 && std::chrono::steady_clock::now() - since > 8s) {
      redis.start();  // past the collector's 5 s of patience: it has said so
      step = 2;
    } else if (step == 2 && reads_since_restart()) {
      step = 3;
      return SIGINT;
    }
    return 0;
  };
  auto c = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()}, o);
  EXPECT_EQ(step, 3) << c;
  EXPECT_FALSE(c.hung) << c;
  EXPECT_EQ(c.exit_code, 130) << c;
  EXPECT_TRUE(has(c.err, "(retrying; records stay in Redis until written)")) << c;
  EXPECT_TRUE(has(c.err, "queue " + address.to_string() + ": connected again")) << c;
  EXPECT_EQ(lines_of(cli::read_file(report)), 2) << cli::read_file(report);
  // The input ends: the same command finishes the report, nothing written twice.
  crawl.end_input();
  auto again = cli::run_corun({"fetch", "--queue", q, "--collect", report.string()},
                              cli::RunOptions{}.hang_guard(std::chrono::seconds(60)));
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_EQ(lines_of(cli::read_file(report)), 2) << cli::read_file(report);
}

TEST(QueueCli, AnInterruptedCollectorLetsGoAndGoesOn) {
  interrupted_collector_lets_go_and_goes_on(SIGINT);
}

TEST(QueueCli, ATerminatedCollectorLetsGoAndGoesOn) {
  interrupted_collector_lets_go_and_goes_on(SIGTERM);
}

}  // namespace
