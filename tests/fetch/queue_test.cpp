// The shared crawl (corun::fetch queue.hpp, frontier_redis.hpp) against a real
// redis-server started by the test on a free loopback port
// (tests/redis/redis_server.hpp): queue URLs, the producer's dedup and resume,
// the settings, exactly one record per URL however often it is completed,
// lease takeover and the delivery limit, retries through the delay set,
// per-host limits across workers, wrong-type keys, an unreachable server,
// outcomes kept while Redis is down (and given up after close_timeout when it
// stays down), collect and status, and a stalled worker's lapsed leases
// (refused once taken over, renewed or bounced when still held, not fetched
// by the engine). No timed assertions: waits are loops until a state is
// reached (a stall is a loop blocked on purpose).
#include "corun/fetch/queue.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/fetch/frontier_redis.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/http.hpp"
#include "corun/net.hpp"
#include "corun/redis.hpp"
#include "redis/redis_server.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Task;
namespace fetch = corun::fetch;
namespace redis = corun::redis;

class Queue : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new corun::testing::RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // A fresh crawl name per test.
  fetch::QueueAddress address() const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return fetch::parse_queue_url(server_->url() + "/" + info->name());
  }
  static corun::testing::RedisServer* server_;
};
corun::testing::RedisServer* Queue::server_ = nullptr;

fetch::EnqueueOptions quick(fetch::QueueSettings s = {}) {
  fetch::EnqueueOptions o;
  o.settings = s;
  o.batch = 7;  // several atomic steps even for small inputs
  return o;
}

Task<fetch::EnqueueResult> add_lines(const fetch::QueueAddress& a, std::vector<std::string> lines,
                                     std::string name, fetch::EnqueueOptions o) {
  fetch::ListSource src(std::move(lines));
  Task<fetch::EnqueueResult> t = fetch::enqueue(a, src, std::move(name), std::move(o));
  fetch::EnqueueResult r = co_await t;
  co_return r;
}

Task<redis::Reply> cmd(const fetch::QueueAddress& a, std::vector<std::string> argv) {
  Task<redis::Connection> c = redis::connect(a.redis_url);
  redis::Connection conn = co_await c;
  Task<redis::Reply> t = conn.command_argv(std::move(argv));
  redis::Reply r = co_await t;
  co_return r;
}

fetch::Record ok_record(const fetch::Work& w) {
  fetch::Record r;
  r.url = w.url;
  r.index = w.index;
  r.status = 200;
  r.attempts = w.attempts + 1;
  r.path = "out/" + std::to_string(w.index);
  return r;
}

std::vector<std::string> urls(int n, const std::string& host = "a.test") {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("http://" + host + "/p/" + std::to_string(i));
  return v;
}

// Takes everything a frontier gives until it says the crawl is finished,
// completing each URL at once.
Task<std::vector<fetch::Work>> drain(fetch::RedisFrontier& f) {
  std::vector<fetch::Work> all;
  for (;;) {
    std::vector<fetch::Work> got;
    Task<bool> t = f.take(got, 16);
    bool more = co_await t;
    for (auto& w : got) {
      f.complete(w, ok_record(w));
      all.push_back(w);
    }
    if (!more) break;
  }
  co_return all;
}

TEST(QueueUrl, SplitsServerAndName) {
  auto a = fetch::parse_queue_url("redis://127.0.0.1:6379/crawl-1");
  EXPECT_EQ(a.redis_url, "redis://127.0.0.1:6379");
  EXPECT_EQ(a.name, "crawl-1");
  EXPECT_EQ(a.prefix(), "{crawl-1}:");
  auto b = fetch::parse_queue_url("redis://u:secret@host:7000/3/news.2024");
  EXPECT_EQ(b.redis_url, "redis://u:secret@host:7000/3");
  EXPECT_EQ(b.name, "news.2024");
  EXPECT_EQ(b.to_string().find("secret"), std::string::npos);
  // A number as the name is clear once the database is given.
  auto c = fetch::parse_queue_url("redis://h:1/0/5");
  EXPECT_EQ(c.redis_url, "redis://h:1/0");
  EXPECT_EQ(c.name, "5");
}

// redis://host:port/5 is database 5 to a redis-py user, not a crawl named "5".
TEST(QueueUrl, ANumberAloneAfterTheServerIsRefused) {
  try {
    fetch::parse_queue_url("redis://127.0.0.1:6379/5");
    ADD_FAILURE() << "accepted";
  } catch (const fetch::QueueUrlError& e) {
    EXPECT_NE(std::string(e.what()).find("for database 5 give redis://host:port/5/NAME"),
              std::string::npos)
        << e.what();
  }
}

TEST(QueueUrl, RejectsWithTheExpectedForm) {
  for (const char* bad : {"http://h:1/x", "redis://h:1/", "redis://h:1", "redis://h:1/x y",
                          "redis://h:99999/x", "redis://h:1/db/x/y", "rediss://h:1/x", "x"}) {
    try {
      fetch::parse_queue_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const fetch::QueueUrlError& e) {
      EXPECT_NE(std::string(e.what()).find("redis://[user:password@]host:port[/db]/NAME"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(QueueFingerprint, StableAndSpread) {
  auto a = fetch::fingerprint("http://a.test/1", 65536);
  auto b = fetch::fingerprint("http://a.test/1", 65536);
  auto c = fetch::fingerprint("http://a.test/2", 65536);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.bucket, b.bucket);
  EXPECT_NE(a.value, c.value);
  EXPECT_GE(a.value, 1U);
  EXPECT_LT(a.value, 1ULL << 62);
  EXPECT_LT(a.bucket, 65536U);
}

TEST_F(Queue, EnqueueDedupsStoresSettingsAndResumes) {
  auto a = address();
  fetch::QueueSettings s;
  s.limit_per_host = 2;
  s.rate = 5;
  s.retries = 7;
  s.encoding = "gb18030";
  s.name_template = "{host}/{hash}.html";
  std::vector<std::string> lines = urls(40);
  lines.push_back("# a comment");
  lines.push_back("");
  lines.push_back("http://a.test/p/3");  // duplicate
  lines.push_back("http://a.test/p/5 shift_jis");
  auto r = corun::run(add_lines(a, lines, "list-1", quick(s)));
  EXPECT_EQ(r.added, 40U);
  EXPECT_EQ(r.duplicates, 2U);
  EXPECT_EQ(corun::run(cmd(a, {"XLEN", a.prefix() + "work"})).as_integer(), 40);
  fetch::QueueSettings back = corun::run(fetch::read_queue_settings(a));
  EXPECT_EQ(back.limit_per_host, 2U);
  // Stored under the key earlier versions used ("per_host", before the member
  // took SessionOptions' name), so their crawls still load: the scripts read it.
  EXPECT_EQ(corun::run(cmd(a, {"HGET", a.prefix() + "meta", "per_host"})).as_string(), "2");
  EXPECT_EQ(back.rate, 5);
  EXPECT_EQ(back.retries, 7);
  EXPECT_EQ(back.encoding, "gb18030");
  EXPECT_EQ(back.name_template, "{host}/{hash}.html");
  // The same input again (a producer restarted): every line is skipped.
  auto again = corun::run(add_lines(a, lines, "list-1", quick(s)));
  EXPECT_EQ(again.resumed, lines.size());
  EXPECT_EQ(again.added, 0U);
  // Another input with old and new URLs: only the new ones are added; the
  // crawl keeps the settings it was created with.
  auto more = corun::run(add_lines(a, urls(50), "list-2", quick()));
  EXPECT_EQ(corun::run(fetch::read_queue_settings(a)).limit_per_host, 2U);
  EXPECT_EQ(more.added, 10U);
  EXPECT_EQ(more.duplicates, 40U);
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.total, 50U);
  EXPECT_EQ(st.waiting, 50U);
  EXPECT_TRUE(st.input_done);
  EXPECT_FALSE(st.finished);
}

// A producer killed between two batches: the position stored with the last
// batch lets the next run add exactly the rest.
TEST_F(Queue, ProducerResumesFromItsStoredPosition) {
  auto a = address();
  std::vector<std::string> lines = urls(30);
  // The first run "dies" after 14 lines: the same input, cut short.
  std::vector<std::string> head(lines.begin(), lines.begin() + 14);
  auto o = quick();
  auto first = corun::run(add_lines(a, head, "in", o));
  EXPECT_EQ(first.added, 14U);
  auto second = corun::run(add_lines(a, lines, "in", o));
  EXPECT_EQ(second.resumed, 14U);
  EXPECT_EQ(second.added, 16U);
  EXPECT_EQ(second.duplicates, 0U);
  EXPECT_EQ(corun::run(cmd(a, {"XLEN", a.prefix() + "work"})).as_integer(), 30);
}

// Lines given in two parts: the second only once `gate` is set (a producer
// still reading a slow pipe).
class GatedSource final : public fetch::UrlSource {
 public:
  GatedSource(std::vector<std::string> first, std::vector<std::string> rest, corun::Event* gate)
      : first_(std::move(first)), rest_(std::move(rest)), gate_(gate) {}
  Task<bool> next_batch(std::vector<std::string>& out) override {
    if (!gave_first_) {
      gave_first_ = true;
      out = first_;
      co_return true;
    }
    co_await gate_->wait();
    out = rest_;
    co_return false;
  }
  bool gave_first() const { return gave_first_; }

 private:
  std::vector<std::string> first_, rest_;
  corun::Event* gate_;
  bool gave_first_ = false;
};

Task<void> two_producers_at_once(fetch::QueueAddress a) {
  std::vector<std::string> all = urls(40);
  corun::Event gate;
  GatedSource slow({all.begin(), all.begin() + 10}, {all.begin() + 10, all.begin() + 20}, &gate);
  fetch::EnqueueOptions options = quick();
  // (Each Task is named before it is awaited: g++ 12 mishandles temporaries
  // in a co_await expression.)
  auto reading = corun::create_task(fetch::enqueue(a, slow, "slow", options));
  // The slow producer has added its first part (10 lines, batch 7: 7 at least).
  for (;;) {
    try {
      Task<fetch::QueueStatus> asking = fetch::status(a);
      fetch::QueueStatus st = co_await asking;
      if (st.total >= 7) break;
    } catch (const fetch::QueueError&) {
      // not created yet
    }
    co_await corun::sleep(10ms);
  }
  Task<fetch::EnqueueResult> adding = add_lines(a, {all.begin() + 20, all.end()}, "quick", options);
  fetch::EnqueueResult quick_one = co_await adding;
  EXPECT_EQ(quick_one.added, 20U);
  Task<fetch::QueueStatus> asking = fetch::status(a);
  fetch::QueueStatus st = co_await asking;
  EXPECT_FALSE(st.input_done) << "the crawl's input was done while a producer still read";
  EXPECT_FALSE(st.finished);
  gate.set();
  fetch::EnqueueResult slow_one = co_await reading;
  EXPECT_EQ(slow_one.added, 20U);
  Task<fetch::QueueStatus> asking_again = fetch::status(a);
  st = co_await asking_again;
  EXPECT_TRUE(st.input_done);
  EXPECT_EQ(st.total, 40U);
  EXPECT_EQ(st.input_lines, 40U);
  // Every URL has an input index of its own ({index} names never collide).
  Task<redis::Reply> listing = cmd(a, {"XRANGE", a.prefix() + "work", "-", "+"});
  redis::Reply entries = co_await listing;
  std::set<std::string> indexes;
  for (const redis::Reply& e : entries.as_array()) {
    const redis::Reply& f = e[1];
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].as_string() == "i") indexes.insert(f[i + 1].as_string());
    }
  }
  EXPECT_EQ(indexes.size(), 40U);
}

// Two producers at once: the input is done only when both are, and their URLs
// never share an input index. (The first to finish used to mark the whole
// input done, and workers finished the crawl without the other's URLs.)
TEST_F(Queue, ProducersAtOnceFinishTheInputTogether) {
  corun::run(two_producers_at_once(address()));
}

Task<void> interrupted_producer(fetch::QueueAddress a) {
  corun::Event never;
  GatedSource pipe(urls(5), {}, &never);    // 5 lines, then a pipe that stays silent
  fetch::EnqueueOptions options = quick();  // batches of 7: these 5 wait for more
  auto reading = corun::create_task(fetch::enqueue(a, pipe, "pipe", options));
  while (!pipe.gave_first()) co_await corun::sleep(1ms);
  reading.cancel();  // Ctrl-C
  bool cancelled = false;
  try {
    co_await reading;
  } catch (const corun::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  Task<fetch::QueueStatus> asking = fetch::status(a);
  fetch::QueueStatus st = co_await asking;
  EXPECT_EQ(st.total, 5U) << "lines read from a pipe were lost with the interrupted producer";
  EXPECT_FALSE(st.input_done);
}

// A producer interrupted while its batch is not full adds what it has read
// (a pipe's lines cannot be read again); a slow pipe's lines are added within
// about a second, not held back until a batch fills (see the CLI test).
TEST_F(Queue, AnInterruptedProducerAddsTheLinesItRead) {
  corun::run(interrupted_producer(address()));
}

TEST_F(Queue, EveryUrlGetsExactlyOneRecordAcrossWorkers) {
  auto a = address();
  corun::run(add_lines(a, urls(60), "in", quick()));
  auto body = [&]() -> Task<std::vector<std::string>> {
    fetch::RedisFrontier one(a), two(a);
    co_await one.open();
    co_await two.open();
    std::vector<fetch::Work> first, second;
    Task<bool> t1 = one.take(first, 10);
    co_await t1;
    Task<bool> t2 = two.take(second, 10);
    co_await t2;
    std::set<std::string> seen;
    for (auto& w : first) seen.insert(w.url);
    for (auto& w : second) EXPECT_EQ(seen.count(w.url), 0U) << "handed out twice: " << w.url;
    // Both workers complete the first worker's URLs (a duplicate fetch): the
    // second outcome must not make a second record.
    for (auto& w : first) {
      one.complete(w, ok_record(w));
      two.complete(w, ok_record(w));
    }
    for (auto& w : second) two.complete(w, ok_record(w));
    Task<std::vector<fetch::Work>> d1 = drain(one);
    co_await d1;
    Task<std::vector<fetch::Work>> d2 = drain(two);
    co_await d2;
    co_await one.close();
    co_await two.close();
    EXPECT_EQ(one.counters().recorded + two.counters().recorded, 60U);
    EXPECT_EQ(one.counters().duplicates + two.counters().duplicates, first.size());
    std::vector<std::string> out;
    co_return out;
  };
  corun::run(body());
  EXPECT_EQ(corun::run(cmd(a, {"XLEN", a.prefix() + "results"})).as_integer(), 60);
  auto st = corun::run(fetch::status(a));
  EXPECT_TRUE(st.finished);
  EXPECT_EQ(st.done, 60U);
  EXPECT_EQ(st.in_flight, 0U);
  EXPECT_EQ(st.waiting, 0U);
  EXPECT_EQ(st.delayed, 0U);
  EXPECT_TRUE(st.workers.empty()) << "workers that left cleanly are removed";
  // The collector writes the 60 records once, then returns (finished).
  corun::testing::TempDir dir("corun-queue");
  auto report = dir.path() / "report.jsonl";
  auto c = corun::run(fetch::collect(a, report, {}));
  EXPECT_EQ(c.written, 60U);
  EXPECT_EQ(c.exit_code(), 0);
  std::ifstream in(report);
  std::set<std::string> lines;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    fetch::Record r;
    ASSERT_TRUE(fetch::parse_json_line(line, r)) << line;
    lines.insert(r.url);
    ++n;
  }
  EXPECT_EQ(n, 60);
  EXPECT_EQ(lines.size(), 60U);
  // Run again: nothing new, nothing written twice.
  auto c2 = corun::run(fetch::collect(a, report, {}));
  EXPECT_EQ(c2.written, 0U);
  EXPECT_EQ(corun::run(cmd(a, {"XLEN", a.prefix() + "results"})).as_integer(), 0);
}

// A collector killed after writing but before storing its cursor: the file's
// tail past the stored length is cut and written again, once.
TEST_F(Queue, CollectCutsWhatItHadNotConfirmed) {
  auto a = address();
  corun::run(add_lines(a, urls(5), "in", quick()));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier w(a);
    co_await w.open();
    Task<std::vector<fetch::Work>> d = drain(w);
    co_await d;
    co_await w.close();
  }());
  corun::testing::TempDir dir("corun-queue");
  auto report = dir.path() / "report.jsonl";
  {
    std::ofstream junk(report);
    junk << "{\"url\":\"half a line written by a killed collec";
  }
  auto c = corun::run(fetch::collect(a, report, {}));
  EXPECT_EQ(c.written, 5U);
  std::ifstream in(report);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    fetch::Record r;
    EXPECT_TRUE(fetch::parse_json_line(line, r)) << line;
    ++n;
  }
  EXPECT_EQ(n, 5);
}

std::size_t lines_in(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// A second collector started on the same report while the first runs is refused
// at once, naming the first (it used to wait for the claim, then cut the report
// back to where it stood when it started: the records the first wrote meanwhile,
// already deleted from Redis, were lost). The first writes every record once.
TEST_F(Queue, ASecondCollectorOnTheSameReportIsRefusedAndTheFirstKeepsAll) {
  auto a = address();
  corun::run(add_lines(a, urls(10), "in", quick()));
  corun::testing::TempDir dir("corun-queue");
  auto report = dir.path() / "report.jsonl";
  fetch::CollectResult r1, r2;
  corun::run([&]() -> Task<void> {
    {
      fetch::RedisFrontier w(a, {"first"});
      co_await w.open();
      std::vector<fetch::Work> got;
      Task<bool> taking = w.take(got, 5);
      co_await taking;
      for (auto& x : got) w.complete(x, ok_record(x));
      co_await w.close();
    }
    fetch::CollectOptions fast;
    fast.poll = 50ms;
    corun::TaskHandle<fetch::CollectResult> c1 =
        corun::create_task(fetch::collect(a, report, fast));
    while (lines_in(report) < 5) co_await corun::sleep(20ms);
    // The second starts while the first runs; the first then finishes (and
    // lets its claim go) while the second is still there.
    corun::TaskHandle<fetch::CollectResult> c2 =
        corun::create_task(fetch::collect(a, report, fast));
    co_await corun::sleep(300ms);
    fetch::RedisFrontier rest(a, {"rest"});
    co_await rest.open();
    Task<std::vector<fetch::Work>> d = drain(rest);
    co_await d;
    co_await rest.close();
    r1 = co_await c1;
    try {
      r2 = co_await c2;
      ADD_FAILURE() << "a second collector on the same report ran: " << r2.written << " written";
    } catch (const fetch::QueueError& e) {
      EXPECT_NE(std::string(e.what()).find("another collector"), std::string::npos) << e.what();
    }
  }());
  EXPECT_EQ(r1.written, 10U);
  EXPECT_EQ(r2.written, 0U);
  std::ifstream in(report);
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    fetch::Record r;
    ASSERT_TRUE(fetch::parse_json_line(line, r)) << line;
    EXPECT_TRUE(seen.insert(r.url).second) << "twice: " << r.url;
  }
  EXPECT_EQ(seen.size(), 10U);
}

// A report file another process writes (its lock held) is refused untouched,
// and the crawl's claim is not taken.
TEST_F(Queue, ACollectorRefusesAReportAnotherRunIsWriting) {
  auto a = address();
  corun::run(add_lines(a, urls(2), "in", quick()));
  corun::testing::TempDir dir("corun-queue");
  auto report = dir.path() / "report.jsonl";
  { std::ofstream(report) << "{\"url\":\"x\"}\n"; }
  int fd = ::open(report.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  try {
    corun::run(fetch::collect(a, report, {}));
    ADD_FAILURE() << "collected into a report another run holds";
  } catch (const fetch::SetupError& e) {
    EXPECT_NE(std::string(e.what()).find("being written by another run"), std::string::npos)
        << e.what();
  }
  ::close(fd);
  EXPECT_EQ(lines_in(report), 1U);
  EXPECT_TRUE(corun::run(cmd(a, {"GET", a.prefix() + "collector"})).is_nil());
}

// A worker that dies holding URLs (no renewal, no goodbye): another worker
// takes them over once the lease lapses, with the same attempts.
TEST_F(Queue, ExpiredLeasesAreTakenOver) {
  auto a = address();
  fetch::QueueSettings s;
  s.lease = 300ms;
  corun::run(add_lines(a, urls(3), "in", quick(s)));
  auto body = [&]() -> Task<void> {
    std::vector<fetch::Work> lost;
    {
      auto dead = std::make_unique<fetch::RedisFrontier>(a, fetch::RedisFrontierOptions{"dead"});
      co_await dead->open();
      Task<bool> t = dead->take(lost, 3);
      co_await t;
      // Destroyed without close(): a kill -9 as far as Redis can tell.
    }
    EXPECT_EQ(lost.size(), 3U);
    fetch::RedisFrontier heir(a, {"heir"});
    co_await heir.open();
    Task<std::vector<fetch::Work>> d = drain(heir);
    std::vector<fetch::Work> got = co_await d;
    co_await heir.close();
    std::set<std::string> a1, a2;
    for (auto& w : lost) a1.insert(w.url);
    for (auto& w : got) a2.insert(w.url);
    EXPECT_EQ(a1, a2);
    EXPECT_EQ(heir.counters().recorded, 3U);
  };
  corun::run(body());
  auto st = corun::run(fetch::status(a));
  EXPECT_TRUE(st.finished);
  EXPECT_EQ(st.done, 3U);
}

// A worker that holds a URL longer than the lease renews it: nobody takes it
// over. (The lease is 3 s and renewed every second; only a loop stalled for
// two seconds could lose it.)
TEST_F(Queue, RenewedLeasesAreNotTakenOver) {
  auto a = address();
  fetch::QueueSettings s;
  s.lease = 3000ms;
  corun::run(add_lines(a, urls(2), "in", quick(s)));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier holder(a, {"holder"}), other(a, {"other"});
    co_await holder.open();
    co_await other.open();
    std::vector<fetch::Work> held;
    Task<bool> t1 = holder.take(held, 1);
    co_await t1;
    EXPECT_EQ(held.size(), 1U);
    co_await corun::sleep(7s);  // more than twice the lease
    std::vector<fetch::Work> got;
    Task<bool> t2 = other.take(got, 2);
    co_await t2;
    EXPECT_EQ(got.size(), 1U);
    if (got.size() != 1 || held.size() != 1) co_return;
    EXPECT_NE(got[0].url, held[0].url) << "a renewed lease was taken over";
    Task<redis::Reply> p =
        cmd(a, {"XPENDING", a.prefix() + "work", "workers", "-", "+", "10", "holder"});
    redis::Reply pending = co_await p;
    EXPECT_EQ(pending.size(), 1U);
    if (pending.size() == 1) {
      EXPECT_EQ(pending[0][3].as_integer(), 1) << "delivered once";
    }
    holder.complete(held[0], ok_record(held[0]));
    other.complete(got[0], ok_record(got[0]));
    co_await holder.close();
    co_await other.close();
  }());
  EXPECT_TRUE(corun::run(fetch::status(a)).finished);
}

// A URL whose every holder dies (a page that crashes workers) is recorded as
// failed once delivered more than max_deliveries times.
TEST_F(Queue, DeliveredTooOftenIsRecordedAsFailed) {
  auto a = address();
  fetch::QueueSettings s;
  s.lease = 200ms;
  s.max_deliveries = 2;
  corun::run(add_lines(a, {"http://a.test/poison"}, "in", quick(s)));
  auto body = [&]() -> Task<void> {
    for (int i = 0; i < 2; ++i) {
      fetch::RedisFrontier dies(a, {"crash-" + std::to_string(i)});
      co_await dies.open();
      std::vector<fetch::Work> got;
      Task<bool> t = dies.take(got, 1);
      co_await t;
      EXPECT_EQ(got.size(), 1U);
    }
    fetch::RedisFrontier last(a, {"last"});
    // The claim that gives the URL up writes its record: this worker's, so
    // the engine counts it (the observer) like any record it made.
    std::vector<fetch::Record> observed;
    last.set_record_observer([&observed](const fetch::Record& r) { observed.push_back(r); });
    co_await last.open();
    std::vector<fetch::Work> got;
    Task<bool> t = last.take(got, 1);
    bool more = co_await t;
    EXPECT_FALSE(more) << "the crawl is finished: its one URL was given up";
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(last.counters().given_up, 1U);
    EXPECT_EQ(observed.size(), 1U);
    if (observed.size() == 1) {
      EXPECT_EQ(observed[0].url, "http://a.test/poison");
      EXPECT_FALSE(observed[0].ok());
      EXPECT_NE(observed[0].error.find("delivered 3 times"), std::string::npos);
    }
    co_await last.close();
  };
  corun::run(body());
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.failed, 1U);
  EXPECT_TRUE(st.finished);
  corun::testing::TempDir dir("corun-queue");
  auto c = corun::run(fetch::collect(a, dir.path() / "r.jsonl", {}));
  EXPECT_EQ(c.written, 1U);
  EXPECT_EQ(c.exit_code(), 1);
  std::ifstream in(dir.path() / "r.jsonl");
  std::string line;
  std::getline(in, line);
  fetch::Record r;
  ASSERT_TRUE(fetch::parse_json_line(line, r));
  EXPECT_EQ(r.url, "http://a.test/poison");
  EXPECT_NE(r.error.find("delivered 3 times"), std::string::npos) << r.error;
}

// A worker that stalls (its loop blocked, as under SIGSTOP) past its lease:
// meanwhile another worker takes the URL over (with its host slot). When the
// stalled worker comes back, the URL's lease counts as lapsed and the
// frontier refuses to start it: it is dropped here, not fetched a second time
// beside its new owner's request.
TEST_F(Queue, LapsedLeaseIsRefusedOnceTakenOver) {
  auto a = address();
  fetch::QueueSettings s;
  s.lease = 1000ms;
  s.limit_per_host = 1;
  corun::run(add_lines(a, {"http://x.test/only"}, "in", quick(s)));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier stalled(a, {"stalled"});
    co_await stalled.open();
    std::vector<fetch::Work> got;
    Task<bool> t = stalled.take(got, 1);
    co_await t;
    EXPECT_EQ(got.size(), 1U);
    if (got.size() != 1) co_return;
    fetch::Work& w = got[0];
    EXPECT_FALSE(stalled.lease_lapsed(w)) << "just taken (less than half a lease ago): no check";
    // The stall: this loop is blocked while another worker, on a thread of
    // its own, waits for the lease to expire and takes the URL over.
    std::string heir_url;
    std::thread other([&] {
      corun::run([&]() -> Task<void> {
        fetch::RedisFrontier heir(a, {"heir"});
        co_await heir.open();
        for (int i = 0; i < 1000 && heir_url.empty(); ++i) {
          std::vector<fetch::Work> mine;
          Task<bool> taking = heir.take(mine, 1);
          co_await taking;
          if (!mine.empty()) heir_url = mine[0].url;
        }
        // Gone without close(): its lease stays with it until it expires.
      }());
    });
    other.join();
    EXPECT_EQ(heir_url, "http://x.test/only");
    EXPECT_TRUE(stalled.lease_lapsed(w)) << "older than half a lease";
    Task<bool> asking = stalled.confirm_lease(w);
    bool may_start = co_await asking;
    EXPECT_FALSE(may_start) << "taken over: must not be fetched here";
    EXPECT_EQ(stalled.counters().dropped, 1U);
    EXPECT_EQ(stalled.counters().confirmed, 0U);
    // The heir's claim holds the host's one slot; the refusal left it alone.
    Task<redis::Reply> k = cmd(a, {"KEYS", a.prefix() + "slots:*"});
    redis::Reply keys = co_await k;
    EXPECT_EQ(keys.size(), 1U);
    if (keys.size() == 1) {
      Task<redis::Reply> z = cmd(a, {"ZCARD", keys[0].as_string()});
      redis::Reply n = co_await z;
      EXPECT_EQ(n.as_integer(), 1);
    }
    co_await stalled.close();
    EXPECT_EQ(stalled.counters().released, 0U) << "not this worker's to hand back";
  }());
}

// Stalled past half its lease but nobody took the URL: the confirmation
// renews lease and slot and the request may start; with the host's slot given
// to someone else meanwhile, the URL goes back to the delay set instead.
TEST_F(Queue, LapsedLeaseStillHeldIsRenewedOrBounced) {
  auto a = address();
  fetch::QueueSettings s;
  s.lease = 2000ms;
  s.limit_per_host = 1;
  corun::run(add_lines(a, {"http://x.test/1", "http://y.test/1"}, "in", quick(s)));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier w(a, {"w"});
    co_await w.open();
    std::vector<fetch::Work> got;
    Task<bool> t = w.take(got, 2);
    co_await t;
    EXPECT_EQ(got.size(), 2U);
    if (got.size() != 2) co_return;
    std::this_thread::sleep_for(1200ms);  // the stall, past half the lease (no renewal meanwhile)
    EXPECT_TRUE(w.lease_lapsed(got[0]));
    EXPECT_TRUE(w.lease_lapsed(got[1]));
    // got[1]'s host slot is taken by another entry (as if it had expired and
    // another worker's claim had taken the room).
    fetch::UrlParts parts;
    std::string error;
    bool parsed = fetch::parse_url(got[1].url, parts, error);
    EXPECT_TRUE(parsed) << error;
    if (!parsed) co_return;
    std::string slots = a.prefix() + "slots:" + fetch::host_key(parts);
    Task<redis::Reply> del = cmd(a, {"DEL", slots});
    co_await del;
    Task<redis::Reply> z = cmd(a, {"ZADD", slots, "99999999999999", "0-1"});
    co_await z;
    Task<bool> c0 = w.confirm_lease(got[0]);
    bool start0 = co_await c0;
    EXPECT_TRUE(start0) << "still this worker's";
    EXPECT_FALSE(w.lease_lapsed(got[0])) << "confirmed just now";
    Task<bool> c1 = w.confirm_lease(got[1]);
    bool start1 = co_await c1;
    EXPECT_FALSE(start1) << "its host has no free slot";
    EXPECT_EQ(w.counters().confirmed, 1U);
    EXPECT_EQ(w.counters().bounced, 1U);
    Task<redis::Reply> d = cmd(a, {"ZCARD", a.prefix() + "delay"});
    redis::Reply delayed = co_await d;
    EXPECT_EQ(delayed.as_integer(), 1) << "back in the delay set";
    w.complete(got[0], ok_record(got[0]));
    co_await w.close();
  }());
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.done, 1U);
  EXPECT_EQ(st.delayed, 1U);
  EXPECT_EQ(st.in_flight, 0U);
}

// Requests per path as a loopback server saw them; /slow answers after 1 s.
struct Seen {
  std::mutex m;
  std::map<std::string, int> requests;
  std::atomic<bool> slow_started{false};
};

Task<void> serve_pages(Seen* seen, corun::net::StreamReader reader,
                       corun::net::StreamWriter writer) {
  for (;;) {
    std::string head;
    try {
      Task<std::string> reading = reader.readuntil("\r\n\r\n");
      head = co_await reading;
    } catch (const std::exception&) {
      break;
    }
    std::string path = head.substr(4, head.find(' ', 4) - 4);
    {
      std::lock_guard lock(seen->m);
      ++seen->requests[path];
    }
    if (path == "/slow") {
      seen->slow_started = true;
      co_await corun::sleep(1s);
    }
    std::string body = "page " + path;
    writer.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
    try {
      Task<void> draining = writer.drain();
      co_await draining;
    } catch (const std::exception&) {
      break;
    }
  }
  writer.close();
}

// The engine (a worker as `corun fetch --queue` runs it, -c 1) stalls while
// /b waits behind /slow for its one request slot: its whole loop blocked, as
// under SIGSTOP, past the lease. Meanwhile another worker takes /b over and
// fetches it. When the engine comes back, /b's lease has lapsed: its request
// must not start (the check before the first byte), so the server sees /b
// once, not twice, and it has one record.
TEST_F(Queue, EngineDoesNotStartAUrlTakenOverDuringAStall) {
  auto a = address();
  Seen seen;
  corun::LoopThread server_thread;
  auto started = server_thread.submit([](Seen* s) -> Task<corun::net::Server> {
    Task<corun::net::Server> st = corun::net::start_server(
        [s](corun::net::StreamReader r, corun::net::StreamWriter w) {
          return serve_pages(s, std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    corun::net::Server server = co_await st;
    co_return server;
  }(&seen));
  corun::net::Server server = started.get();
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  fetch::QueueSettings s;
  s.lease = 1000ms;
  corun::run(add_lines(a, {base + "/slow", base + "/b"}, "in", quick(s)));
  corun::testing::TempDir dir("corun-queue-engine");
  fetch::Options o;
  o.concurrency = 1;
  o.threads = 1;
  o.out_dir = dir.path();
  corun::run(fetch::read_queue_settings(a)).apply_to(o);
  fetch::RedisFrontier frontier(a, {"engine"});
  // The other worker, run while the engine's loop is blocked: takes /b over
  // (hands /slow back if it gets it), fetches /b and records it.
  auto heir = [&]() -> Task<void> {
    fetch::RedisFrontier other(a, {"heir"});
    co_await other.open();
    corun::http::ClientSession session;
    bool done = false;
    for (int i = 0; i < 1000 && !done; ++i) {
      std::vector<fetch::Work> got;
      Task<bool> taking = other.take(got, 1);
      co_await taking;
      for (auto& w : got) {
        if (w.url != base + "/b") {
          other.release(w);
          continue;
        }
        Task<corun::http::Response> getting = session.get(w.url);
        corun::http::Response r = co_await getting;
        EXPECT_EQ(r.status(), 200);
        other.complete(w, ok_record(w));
        done = true;
      }
    }
    EXPECT_TRUE(done) << "the other worker never got /b";
    co_await other.close();
    co_await session.close();
  };
  auto stall = [&]() -> Task<void> {
    while (!seen.slow_started) co_await corun::sleep(5ms);
    // /slow is on the wire, /b waits for the slot: the stall.
    std::thread other([&] { corun::run(heir()); });
    other.join();
  };
  fetch::Summary summary = corun::run([&]() -> Task<fetch::Summary> {
    fetch::Fetcher fetcher(o);
    corun::TaskHandle<void> stalling = corun::create_task(stall());
    Task<fetch::Summary> running = fetcher.run(frontier);
    fetch::Summary sum = co_await running;
    co_await stalling;
    co_return sum;
  }());
  EXPECT_EQ(summary.done, 1U) << "this worker recorded /slow only";
  EXPECT_EQ(frontier.counters().dropped, 1U);
  {
    std::lock_guard lock(seen.m);
    EXPECT_EQ(seen.requests["/slow"], 1);
    EXPECT_EQ(seen.requests["/b"], 1) << "fetched again by the stalled worker";
  }
  auto st = corun::run(fetch::status(a));
  EXPECT_TRUE(st.finished);
  EXPECT_EQ(st.done, 2U);
  server_thread
      .submit([](corun::net::Server* srv) -> Task<void> {
        srv->close();
        co_return;
      }(&server))
      .get();
  server_thread.stop();
}

TEST_F(Queue, DeferredUrlsComeBackWithTheirAttempts) {
  auto a = address();
  corun::run(add_lines(a, {"http://a.test/flaky"}, "in", quick()));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier w(a);
    co_await w.open();
    std::vector<fetch::Work> got;
    Task<bool> t = w.take(got, 4);
    co_await t;
    EXPECT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0].attempts, 0);
    fetch::Record failed = ok_record(got[0]);
    failed.status = 503;
    failed.error = "HTTP 503";
    failed.attempts = 2;
    failed.elapsed = 0.25;
    w.defer(got[0], failed, 50ms);
    std::vector<fetch::Work> again;
    Task<bool> t2 = w.take(again, 4);
    co_await t2;
    EXPECT_EQ(again.size(), 1U);
    EXPECT_EQ(again[0].url, "http://a.test/flaky");
    EXPECT_EQ(again[0].attempts, 2);
    // The time spent so far, the wait for the retry included (as a plain run counts it).
    EXPECT_NEAR(again[0].elapsed, 0.30, 1e-9);
    w.complete(again[0], ok_record(again[0]));
    std::vector<fetch::Work> none;
    Task<bool> t3 = w.take(none, 4);
    bool more = co_await t3;
    EXPECT_FALSE(more);
    co_await w.close();
  }());
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.retried, 1U);
  EXPECT_EQ(st.done, 1U);
}

// --per-host holds across workers: with limit_per_host 1, one URL of a host is out
// at a time, whoever asks; the next one goes out once it is recorded.
TEST_F(Queue, PerHostSlotsHoldAcrossWorkers) {
  auto a = address();
  fetch::QueueSettings s;
  s.limit_per_host = 1;
  std::vector<std::string> lines = urls(3, "one.test");
  lines.push_back("http://two.test/x");
  corun::run(add_lines(a, lines, "in", quick(s)));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier w1(a), w2(a);
    co_await w1.open();
    co_await w2.open();
    std::vector<fetch::Work> got1;
    Task<bool> t1 = w1.take(got1, 10);
    co_await t1;
    // Of one.test's three URLs, one is out; the others wait in the delay set.
    int one_test_out = 0;
    for (auto& w : got1) one_test_out += w.url.find("one.test") != std::string::npos ? 1 : 0;
    EXPECT_EQ(one_test_out, 1);
    int completed = 0;
    std::vector<fetch::Work> mine = got1;
    fetch::RedisFrontier* holder = &w1;
    while (completed < 4) {
      // One worker at a time holds a one.test URL: the one that took it
      // completes it, then the other takes.
      for (auto& w : mine) {
        holder->complete(w, ok_record(w));
        ++completed;
      }
      mine.clear();
      if (completed >= 4) break;
      holder = holder == &w1 ? &w2 : &w1;
      Task<bool> t = holder->take(mine, 10);
      co_await t;
      int out_now = 0;
      for (auto& w : mine) out_now += w.url.find("one.test") != std::string::npos ? 1 : 0;
      EXPECT_LE(out_now, 1);
    }
    co_await w1.close();
    co_await w2.close();
  }());
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.done, 4U);
  EXPECT_TRUE(st.finished);
}

TEST_F(Queue, NamesAreUniquePerUrl) {
  auto a = address();
  corun::run(add_lines(a, urls(1), "in", quick()));
  EXPECT_EQ(corun::run(fetch::read_queue_settings(a)).name_template, fetch::kQueueNameTemplate);
  fetch::QueueSettings s;
  s.name_template = "{host}/{name}";  // two URLs ending in the same name would share a file
  try {
    corun::run(add_lines(fetch::parse_queue_url(a.redis_url + "/other"), urls(1), "in", quick(s)));
    ADD_FAILURE() << "accepted";
  } catch (const fetch::OptionsError& e) {
    EXPECT_EQ(e.field(), "name_template");
  }
}

TEST_F(Queue, WrongKeyTypeIsNamed) {
  auto a = address();
  corun::run(cmd(a, {"SET", a.prefix() + "work", "not a stream"}));
  try {
    corun::run(fetch::read_queue_settings(a));
    ADD_FAILURE() << "no error";
  } catch (const fetch::QueueError& e) {
    EXPECT_NE(std::string(e.what()).find("holds a string, not a stream"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(corun::run(add_lines(a, urls(1), "in", quick())), fetch::QueueError);
}

TEST_F(Queue, NoCrawlAndUnreachableServerAreQueueErrors) {
  auto a = address();
  try {
    corun::run(fetch::read_queue_settings(a));
    ADD_FAILURE() << "no error";
  } catch (const fetch::QueueError& e) {
    EXPECT_NE(std::string(e.what()).find("no crawl of that name"), std::string::npos) << e.what();
  }
  auto nowhere = fetch::parse_queue_url(
      "redis://127.0.0.1:" + std::to_string(corun::testing::free_port()) + "/x");
  try {
    corun::run(fetch::status(nowhere));
    ADD_FAILURE() << "no error";
  } catch (const fetch::QueueError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

// Redis killed while a worker has outcomes to deliver: they stay in the
// worker, are delivered once Redis is back (AOF), and each URL still has one
// record.
TEST(QueueRestart, OutcomesWaitForRedisAndAreDeliveredOnce) {
  corun::testing::RedisOptions ro;
  ro.appendonly = true;
  ro.extra_args = {"--appendfsync", "always"};
  corun::testing::RedisServer server(ro);
  auto a = fetch::parse_queue_url(server.url() + "/restart");
  corun::run(add_lines(a, urls(20), "in", quick()));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontier w(a, {"w", 100ms, 2000ms});
    co_await w.open();
    std::vector<fetch::Work> got;
    Task<bool> t = w.take(got, 20);
    co_await t;
    EXPECT_EQ(got.size(), 20U);
    server.kill();
    for (auto& x : got) w.complete(x, ok_record(x));
    // Let delivery fail at least once while the server is down.
    for (int i = 0; i < 500 && w.counters().redis_errors == 0; ++i) co_await corun::sleep(10ms);
    EXPECT_GT(w.counters().redis_errors, 0U);
    EXPECT_EQ(w.undelivered(), 20U);
    server.start();
    co_await w.close();
    EXPECT_EQ(w.undelivered(), 0U);
    EXPECT_EQ(w.counters().recorded, 20U);
  }());
  auto st = corun::run(fetch::status(a));
  EXPECT_EQ(st.done, 20U);
  EXPECT_EQ(st.uncollected, 20U);
  EXPECT_TRUE(st.finished);
}

// Redis killed and not coming back while a worker closes: close() tries for
// close_timeout, then gives up on the outcomes (counted; never acked, so their
// URLs are fetched again once their leases expire) instead of waiting forever.
TEST(QueueRestart, CloseGivesUpWhenRedisStaysDown) {
  corun::testing::RedisServer server;
  auto a = fetch::parse_queue_url(server.url() + "/gone");
  corun::run(add_lines(a, urls(6), "in", quick()));
  corun::run([&]() -> Task<void> {
    fetch::RedisFrontierOptions o;
    o.worker = "w";
    o.command_timeout = 500ms;
    o.close_timeout = 1000ms;
    std::vector<std::string> said;  // the frontier reports; it prints nothing itself
    o.on_warning = [&said](const std::string& m) { said.push_back(m); };
    fetch::RedisFrontier w(a, o);
    co_await w.open();
    std::vector<fetch::Work> got;
    Task<bool> t = w.take(got, 6);
    co_await t;
    EXPECT_EQ(got.size(), 6U);
    server.kill();
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (i < 4) w.complete(got[i], ok_record(got[i]));  // the rest: still held, released at close
    }
    // A hang guard only (the close gives up after 1 s): without a bound it
    // would wait for Redis forever.
    Task<void> closing = corun::wait_for(w.close(), 120s);
    co_await closing;
    // 4 records not delivered; 2 hand-backs that did not happen (not counted as
    // handed back: their leases expire).
    EXPECT_EQ(w.counters().not_delivered, 4U);
    EXPECT_EQ(w.counters().not_released, 2U);
    EXPECT_EQ(w.counters().released, 0U);
    EXPECT_EQ(w.undelivered(), 0U);
    EXPECT_GE(said.size(), 2U);
    if (said.size() < 2) co_return;
    EXPECT_NE(said.front().find("retrying; results are kept until delivered"), std::string::npos)
        << said.front();
    EXPECT_NE(said.back().find("4 outcomes not delivered"), std::string::npos) << said.back();
    EXPECT_NE(said.back().find("2 URLs never started not handed back"), std::string::npos)
        << said.back();
  }());
}

}  // namespace
