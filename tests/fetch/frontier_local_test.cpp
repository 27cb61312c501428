// corun::fetch local frontier (include/corun/fetch/frontier_local.hpp),
// through the Frontier interface: take, complete, defer, release, stop, the
// resume scan and the bound on deferred URLs.
#include "corun/fetch/frontier_local.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "corun/corun.hpp"
#include "corun/fs/file.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::fetch {
namespace {

// ASSERT_* for coroutine bodies (gtest's return; a coroutine must co_return).
#define CO_ASSERT(cond)                  \
  do {                                   \
    if (!(cond)) {                       \
      ADD_FAILURE() << "failed: " #cond; \
      co_return;                         \
    }                                    \
  } while (false)

namespace fsys = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

std::vector<Record> report_of(const fsys::path& p) {
  std::vector<Record> out;
  std::istringstream in(fs::read_file_sync(p));
  for (std::string line; std::getline(in, line);) {
    Record r;
    EXPECT_TRUE(parse_json_line(line, r)) << line;
    out.push_back(r);
  }
  return out;
}

Record record_for(const Work& w, std::string error = {}) {
  Record r;
  r.url = w.url;
  r.index = w.index;
  r.attempts = w.attempts + 1;
  r.error = std::move(error);
  if (r.error.empty()) r.status = 200;
  return r;
}

Task<void> settle() {
  for (int i = 0; i < 10; ++i) co_await sleep(seconds(0));
}

class FetchLocalFrontier : public ::testing::Test {
 protected:
  LocalFrontier::Config config(bool resume = false) {
    return LocalFrontier::Config{dir_.path() / "report.jsonl", dir_.path(), resume, "", 4096};
  }
  fsys::path report() const { return dir_.path() / "report.jsonl"; }
  corun::testing::TempDir dir_{"corun-fetch-frontier"};
};

TEST_F(FetchLocalFrontier, TakesUrlLinesAndWritesEachRecordOnce) {
  ListSource source({"# comment", "", "http://a/1", "  http://a/2 latin1 ", "rel"});
  auto c = config();
  c.base_url = "http://b/";
  LocalFrontier f(source, c);
  std::vector<Record> observed;
  f.set_record_observer([&](const Record& r) { observed.push_back(r); });
  Summary s;
  corun::run(co_invoke([&]() -> Task<> {
    Frontier& fr = f;
    co_await fr.open();
    std::vector<Work> works;
    EXPECT_TRUE(co_await fr.take(works, 2));  // at most max
    EXPECT_EQ(works.size(), 2u);
    EXPECT_TRUE(co_await fr.take(works, 10));  // appended
    CO_ASSERT((works.size()) == (3u));
    EXPECT_EQ(works[0].url, "http://a/1");
    EXPECT_EQ(works[1].label, "latin1");
    EXPECT_EQ(works[2].url, "http://b/rel");
    for (std::uint64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(works[i].index, i);
      EXPECT_EQ(works[i].attempts, 0);
    }
    fr.complete(works[0], record_for(works[0]));
    fr.complete(works[1], record_for(works[1], "HTTP 404 X"));
    // One URL is still out: take() waits for it, then says the crawl is over.
    std::vector<Work> none;
    auto last = create_task(fr.take(none, 1));
    co_await settle();
    EXPECT_FALSE(last.done());
    fr.complete(works[2], record_for(works[2]));
    EXPECT_FALSE(co_await last);
    EXPECT_TRUE(none.empty());
    co_await fr.close();
    fr.fill(s);
  }));
  EXPECT_EQ(observed.size(), 3u);
  EXPECT_EQ(s.seen, 3u);
  EXPECT_EQ(s.lines_read, 5u);
  EXPECT_TRUE(s.input_exhausted);
  EXPECT_TRUE(s.report_error.empty());
  auto records = report_of(report());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].error, "HTTP 404 X");
  EXPECT_EQ(f.own_path(), (dir_.path() / "report.jsonl").string());
}

TEST_F(FetchLocalFrontier, DeferredUrlsComeBackFirstWithTheirAttemptsAndName) {
  ListSource source({"http://a/1", "http://a/2"});
  LocalFrontier f(source, config());
  corun::run(co_invoke([&]() -> Task<> {
    co_await f.open();
    std::vector<Work> w;
    EXPECT_TRUE(co_await f.take(w, 1));
    CO_ASSERT((w.size()) == (1u));
    Work first = w[0];
    first.path = "out/1.html";
    Record r = record_for(first, "HTTP 503 X");
    r.elapsed = 1.5;
    f.defer(first, r, seconds(0));
    EXPECT_EQ(f.deferred(), 1u);
    w.clear();
    EXPECT_TRUE(co_await f.take(w, 1));  // due: before the next input line
    CO_ASSERT((w.size()) == (1u));
    EXPECT_EQ(w[0].url, "http://a/1");
    EXPECT_EQ(w[0].attempts, 1);
    EXPECT_EQ(w[0].path, "out/1.html");
    EXPECT_GE(w[0].elapsed, 1.5);
    EXPECT_EQ(f.deferred(), 0u);
    f.complete(w[0], record_for(w[0]));
    w.clear();
    EXPECT_TRUE(co_await f.take(w, 5));
    CO_ASSERT((w.size()) == (1u));
    EXPECT_EQ(w[0].url, "http://a/2");
    f.release(w[0]);  // never started: no record
    w.clear();
    EXPECT_FALSE(co_await f.take(w, 5));
    co_await f.close();
  }));
  auto records = report_of(report());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].attempts, 2);
  EXPECT_TRUE(records[0].ok());
}

TEST_F(FetchLocalFrontier, StopEndsDeferredAndReleasedRetriesWithTheirRecord) {
  ListSource source({"http://a/1", "http://a/2", "http://a/3"});
  LocalFrontier f(source, config());
  std::vector<Record> observed;
  f.set_record_observer([&](const Record& r) { observed.push_back(r); });
  corun::run(co_invoke([&]() -> Task<> {
    co_await f.open();
    std::vector<Work> w;
    EXPECT_TRUE(co_await f.take(w, 2));
    CO_ASSERT((w.size()) == (2u));
    f.defer(w[0], record_for(w[0], "HTTP 503 X"), hours(1));
    f.defer(w[1], record_for(w[1], "timed out"), seconds(0));
    std::vector<Work> again;
    EXPECT_TRUE(co_await f.take(again, 1));
    CO_ASSERT((again.size()) == (1u));
    EXPECT_EQ(again[0].url, "http://a/2");
    f.stop();  // a/1 is still waiting: it ends now
    std::vector<Work> none;
    EXPECT_FALSE(co_await f.take(none, 1));
    f.release(again[0]);  // a retry that never started ends with its earlier record
    co_await f.close();
  }));
  auto records = report_of(report());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].url, "http://a/1");
  EXPECT_EQ(records[0].error, "HTTP 503 X (not retried: interrupted)");
  EXPECT_EQ(records[0].attempts, 1);
  EXPECT_EQ(records[1].url, "http://a/2");
  EXPECT_EQ(records[1].error, "timed out (not retried: interrupted)");
  EXPECT_EQ(observed.size(), 2u);
}

TEST_F(FetchLocalFrontier, DeferredUrlsBoundTheInputWindow) {
  ListSource source({"http://a/1", "http://a/2"});
  auto c = config();
  c.max_deferred = 1;
  LocalFrontier f(source, c);
  corun::run(co_invoke([&]() -> Task<> {
    co_await f.open();
    std::vector<Work> w;
    EXPECT_TRUE(co_await f.take(w, 1));
    f.defer(w[0], record_for(w[0], "HTTP 429 X"), hours(1));
    // One URL waits for its retry, the most allowed: no new input is read.
    std::vector<Work> next;
    auto t = create_task(f.take(next, 1));
    co_await settle();
    EXPECT_FALSE(t.done());
    Summary s;
    f.fill(s);
    EXPECT_EQ(s.seen, 1u);
    f.stop();
    EXPECT_FALSE(co_await t);
    EXPECT_TRUE(next.empty());
    f.fill(s);
    EXPECT_FALSE(s.input_exhausted);
    co_await f.close();
  }));
  auto records = report_of(report());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].error, "HTTP 429 X (not retried: interrupted)");
}

TEST_F(FetchLocalFrontier, ResumeSkipsDoneUrlsReservesTheirNamesAndRepairsTheReport) {
  Record a;
  a.url = "http://a/1";
  a.status = 200;
  a.path = (dir_.path() / "1.html").string();
  Record b;
  b.url = "http://a/2";
  b.error = "HTTP 500 X";
  std::string whole = to_json_line(a) + "\n" + to_json_line(b) + "\n";
  fs::write_file_sync(report(), whole + "{\"url\":\"http://a/3\",\"sta");
  std::string stale = "." + std::string("x.html") + std::string(fs::kTempSuffix);
  fs::write_file_sync(dir_.path() / stale, "half");

  ListSource source({"http://a/1", "http://a/2", "http://a/1"});
  LocalFrontier f(source, config(true));
  NameRegistry names;
  std::vector<Work> w;
  Summary s;
  corun::run(co_invoke([&]() -> Task<> {
    co_await f.open();
    f.reserve_names(names);
    while (co_await f.take(w, 10)) {
      for (auto& x : w) {
        if (x.attempts == 0) f.complete(x, record_for(x));
        x.attempts = -1;  // (completed)
      }
    }
    co_await f.close();
    f.fill(s);
  }));
  EXPECT_FALSE(fsys::exists(dir_.path() / stale));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].url, "http://a/2");  // failed before: fetched again
  EXPECT_EQ(w[0].index, 1u);
  EXPECT_EQ(w[1].url, "http://a/1");  // listed twice, done once: fetched once more
  EXPECT_EQ(w[1].index, 2u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(s.seen, 3u);
  // The torn tail is gone; the new records follow the old whole lines.
  std::string text = fs::read_file_sync(report());
  EXPECT_EQ(text.substr(0, whole.size()), whole);
  EXPECT_EQ(report_of(report()).size(), 4u);
  // The done page's name and the report's are reserved.
  EXPECT_NE(names.claim(a.path), a.path);
  EXPECT_NE(names.claim(f.own_path()), f.own_path());
}

TEST_F(FetchLocalFrontier, AnUnwritableReportIsASetupError) {
  fs::write_file_sync(dir_.path() / "file", "x");
  ListSource source({"http://a/1"});
  auto c = config();
  c.report = dir_.path() / "file" / "report.jsonl";
  LocalFrontier f(source, c);
  EXPECT_THROW(corun::run(co_invoke([&]() -> Task<> { co_await f.open(); })), SetupError);
}

}  // namespace
}  // namespace corun::fetch
