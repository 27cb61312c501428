// corun::fetch::Fetcher in process, against corun's demo server and a small
// test server on loopback: outputs, report records, retries (Retry-After),
// bad input as records, per-host limits, name templates, resume, stop().
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "corun/corun.hpp"
#include "corun/fetch/demo.hpp"
#include "corun/fetch/fetch.hpp"
#include "corun/fs/file.hpp"
#include "corun/net.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/utf8.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::fetch {
namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

// ---- a loopback test server: the path says what to answer ----
//   /page/N          200 text/html, no charset, <meta charset=gb2312>, GB18030 bytes
//   /utf8            200 text/html; charset=utf-8
//   /latin1          200 text/plain; charset=iso-8859-1
//   /bin             200 application/octet-stream
//   /status/CODE     that status
//   /flaky/K/ID      503 with Retry-After: 0 for the first K requests of ID, then 200
//   /slow/MS         200 after MS milliseconds
//   /truncated       a body cut short (Content-Length 100, 10 bytes, close)
//   /hangup          closes the connection without an answer
//   /echo            200, the request's User-Agent and X-Test headers
//   /set-cookie      200 with Set-Cookie: sid=lane
//   /cookie/N        200 "cookie=" and the Cookie header it got
struct ServerState {
  std::map<std::string, int> hits;
  int in_flight = 0;
  int max_in_flight = 0;
  int requests = 0;
};
ServerState* g_state = nullptr;

std::string response(int status, std::string_view content_type, std::string_view body,
                     std::string_view extra = {}) {
  return fmt::format("HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n{}", status,
                     content_type, body.size(), extra, body);
}

Task<void> handle(net::StreamReader reader, net::StreamWriter writer) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      auto sp1 = head.find(' ');
      auto sp2 = head.find(' ', sp1 + 1);
      std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      ++g_state->requests;
      ++g_state->hits[target];
      std::string out;
      if (target.starts_with("/page/")) {
        out = response(200, "text/html", demo_page(std::stoul(target.substr(6))));
      } else if (target == "/utf8") {
        out = response(200, "text/html; charset=utf-8", "<p>héllo 楼</p>");
      } else if (target == "/latin1") {
        out = response(200, "text/plain; charset=iso-8859-1", "caf\xE9");
      } else if (target == "/bin") {
        out = response(200, "application/octet-stream", std::string("\x00\xFF\xFE", 3));
      } else if (target.starts_with("/status/")) {
        out = response(std::stoi(target.substr(8)), "text/plain", "status");
      } else if (target.starts_with("/flaky/")) {
        int k = std::stoi(target.substr(7));
        if (g_state->hits[target] <= k) {
          out = response(503, "text/plain", "busy", "Retry-After: 0\r\n");
        } else {
          out = response(200, "text/plain", "finally");
        }
      } else if (target == "/truncated") {
        writer.write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten b");
        co_await writer.drain();
        break;
      } else if (target == "/hangup") {
        break;  // closes without answering
      } else if (target == "/echo") {
        auto header = [&](std::string_view name) {
          auto at = head.find(fmt::format("\r\n{}: ", name));
          if (at == std::string::npos) return std::string();
          at += name.size() + 4;
          return head.substr(at, head.find("\r\n", at) - at);
        };
        out = response(200, "text/plain",
                       fmt::format("ua={};x={}", header("User-Agent"), header("X-Test")));
      } else if (target == "/set-cookie") {
        out = response(200, "text/plain", "set", "Set-Cookie: sid=lane; Path=/\r\n");
      } else if (target.starts_with("/cookie/")) {  // the Cookie header it got
        auto at = head.find("\r\nCookie: ");
        std::string cookie = at == std::string::npos
                                 ? ""
                                 : head.substr(at + 10, head.find("\r\n", at + 10) - at - 10);
        out = response(200, "text/plain", "cookie=" + cookie);
      } else if (target.starts_with("/slow/")) {
        ++g_state->in_flight;
        g_state->max_in_flight = std::max(g_state->max_in_flight, g_state->in_flight);
        co_await sleep(std::chrono::milliseconds(std::stoi(target.substr(6))));
        --g_state->in_flight;
        out = response(200, "text/plain", "slow");
      } else {
        out = response(404, "text/plain", "not found");
      }
      writer.write(out);
      co_await writer.drain();
    }
  } catch (const std::exception&) {
  }
  writer.close();
}

struct Outcome {
  Summary summary;
  std::vector<nlohmann::json> records;
};

class FetchEngine : public ::testing::Test {
 protected:
  void SetUp() override { g_state = &state_; }
  void TearDown() override { g_state = nullptr; }

  Options options() {
    Options o;
    o.out_dir = dir_.path() / "out";
    o.retry_delay = Seconds(0.001);
    o.concurrency = 8;
    return o;
  }

  // Runs a Fetcher over urls (with "{base}" replaced by the server's base URL).
  Outcome fetch(Options o, std::vector<std::string> urls,
                std::function<void(Fetcher&)> after_start = {}) {
    Outcome out;
    corun::run(co_invoke([&]() -> Task<> {
      // The same port every call: a resumed run must see the same URLs.
      net::Server server = co_await net::start_server(handle, "127.0.0.1", port_);
      port_ = server.port();
      base_ = fmt::format("http://127.0.0.1:{}", server.port());
      for (auto& u : urls) {
        if (auto at = u.find("{base}"); at != std::string::npos) u.replace(at, 6, base_);
      }
      ListSource source(urls);
      Fetcher fetcher(o);
      if (after_start) after_start(fetcher);
      out.summary = co_await fetcher.run(source);
      server.close();
    }));
    fsys::path report = o.report.empty() ? o.out_dir / "report.jsonl" : o.report;
    std::string text = fs::read_file_sync(report);
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      EXPECT_NE(nl, std::string::npos) << "report ends in a partial line";
      if (nl == std::string::npos) break;
      out.records.push_back(nlohmann::json::parse(text.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    return out;
  }

  static const nlohmann::json& record_for(const Outcome& o, std::string_view url_suffix) {
    for (const auto& r : o.records) {
      if (r["url"].get<std::string>().ends_with(url_suffix)) return r;
    }
    static nlohmann::json none;
    ADD_FAILURE() << "no record for " << url_suffix;
    return none;
  }

  corun::testing::TempDir dir_{"corun-fetch-engine"};
  ServerState state_;
  std::string base_;
  std::uint16_t port_ = 0;
};

TEST_F(FetchEngine, FetchesDecodesAndWritesUtf8WithBom) {
  std::vector<std::string> urls;
  for (int i = 0; i < 40; ++i) urls.push_back(fmt::format("{{base}}/page/{}", i));
  Outcome o = fetch(options(), urls);
  EXPECT_EQ(o.summary.done, 40u);
  EXPECT_EQ(o.summary.failed, 0u);
  EXPECT_EQ(o.summary.exit_code(), 0);
  ASSERT_EQ(o.records.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    const auto& r = record_for(o, fmt::format("/page/{}", i));
    std::string page = demo_page(i);
    EXPECT_EQ(r["status"], 200);
    EXPECT_EQ(r["bytes"], page.size());
    EXPECT_EQ(r["encoding"], "GBK");  // <meta charset=gb2312> -> GBK (the gb18030 decoder)
    EXPECT_EQ(r["encoding_source"], "meta");
    EXPECT_EQ(r["attempts"], 1);
    EXPECT_TRUE(r["error"].is_null());
    fsys::path path = r["path"].get<std::string>();
    EXPECT_EQ(path, options().out_dir / std::to_string(i));
    std::string written = fs::read_file_sync(path);
    EXPECT_EQ(written, text::with_bom(text::decode(page, text::Encoding::gb18030)));
    EXPECT_NE(written.find(fmt::format("<title>楼盘 {}</title>", i)), std::string::npos);
  }
}

TEST_F(FetchEngine, BomRawLabelAndBinaryBodies) {
  Options o = options();
  o.bom = false;
  Outcome a = fetch(o, {"{base}/utf8", "{base}/latin1", "{base}/bin"});
  EXPECT_EQ(fs::read_file_sync(options().out_dir / "utf8"), "<p>héllo 楼</p>");
  EXPECT_EQ(fs::read_file_sync(options().out_dir / "latin1"), "café");
  EXPECT_EQ(record_for(a, "/latin1")["encoding"], "windows-1252");
  EXPECT_EQ(record_for(a, "/latin1")["encoding_source"], "http");
  EXPECT_EQ(fs::read_file_sync(options().out_dir / "bin"), std::string("\x00\xFF\xFE", 3));
  EXPECT_TRUE(record_for(a, "/bin")["encoding"].is_null());

  Options raw = options();
  raw.raw = true;
  raw.out_dir = dir_.path() / "raw";
  fetch(raw, {"{base}/latin1"});
  EXPECT_EQ(fs::read_file_sync(raw.out_dir / "latin1"), "caf\xE9");

  Options forced = options();
  forced.encoding = "koi8-r";
  forced.out_dir = dir_.path() / "forced";
  Outcome f = fetch(forced, {"{base}/latin1"});
  EXPECT_EQ(record_for(f, "/latin1")["encoding"], "KOI8-R");
  EXPECT_EQ(record_for(f, "/latin1")["encoding_source"], "override");
  EXPECT_EQ(fs::read_file_sync(forced.out_dir / "latin1"),
            text::with_bom(text::decode("caf\xE9", "koi8-r")));
}

TEST_F(FetchEngine, BadInputEndsAsRecordsNotCrashes) {
  int dead = corun::testing::free_port();
  Options o = options();
  o.retries = 1;
  Outcome out = fetch(o, {"not a url at all", "ftp://example.com/x", "{base}/utf8 no-such-label",
                          fmt::format("http://127.0.0.1:{}/dead", dead), "{base}/status/404",
                          "{base}/page/1", "", "# a comment", "{base}/utf8 latin1"});
  EXPECT_EQ(out.summary.done, 2u);
  EXPECT_EQ(out.summary.failed, 5u);
  EXPECT_EQ(out.summary.seen, 7u);
  EXPECT_EQ(out.summary.exit_code(), 1);
  ASSERT_EQ(out.records.size(), 7u);
  EXPECT_NE(record_for(out, "not").dump().find("no http:// or https://"), std::string::npos);
  EXPECT_EQ(record_for(out, "ftp://example.com/x")["attempts"], 0);
  int label_errors = 0, overridden = 0;
  for (const auto& r : out.records) {
    label_errors += r["error"] == "unknown encoding label 'no-such-label'";
    overridden += r["encoding_source"] == "override";
  }
  EXPECT_EQ(label_errors, 1);
  EXPECT_EQ(overridden, 1);
  const auto& dead_r = record_for(out, "/dead");
  EXPECT_EQ(dead_r["attempts"], 2);  // connect errors are retried
  EXPECT_TRUE(dead_r["status"].is_null());
  EXPECT_NE(dead_r["error"].get<std::string>().find("cannot connect"), std::string::npos) << dead_r;
  const auto& nf = record_for(out, "/status/404");
  EXPECT_EQ(nf["status"], 404);
  EXPECT_EQ(nf["attempts"], 1);  // 404 is not retried
  EXPECT_TRUE(nf["path"].is_null());
  EXPECT_EQ(nf["error"], "HTTP 404 X");
  EXPECT_FALSE(fsys::exists(o.out_dir / "404"));
}

TEST_F(FetchEngine, UnknownPerLineLabelIsARecordWithoutARequest) {
  Outcome out = fetch(options(), {"{base}/utf8 no-such-label"});
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0]["error"], "unknown encoding label 'no-such-label'");
  EXPECT_EQ(out.records[0]["attempts"], 0);
  EXPECT_EQ(state_.requests, 0);
}

TEST_F(FetchEngine, RetriesHonourRetryAfterAndCountAttempts) {
  Options o = options();
  o.retries = 3;
  Outcome out =
      fetch(o, {"{base}/flaky/2/a", "{base}/flaky/9/b", "{base}/status/500", "{base}/status/429"});
  const auto& a = record_for(out, "/flaky/2/a");
  EXPECT_EQ(a["attempts"], 3);
  EXPECT_EQ(a["status"], 200);
  EXPECT_TRUE(a["error"].is_null());
  const auto& b = record_for(out, "/flaky/9/b");
  EXPECT_EQ(b["attempts"], 4);
  EXPECT_EQ(b["status"], 503);
  EXPECT_EQ(b["error"], "HTTP 503 X");
  EXPECT_EQ(record_for(out, "/status/500")["attempts"], 4);
  EXPECT_EQ(record_for(out, "/status/429")["attempts"], 4);
  EXPECT_EQ(state_.hits["/flaky/9/b"], 4);

  Options none = options();
  none.retries = 0;
  none.out_dir = dir_.path() / "none";
  Outcome n = fetch(none, {"{base}/status/503"});
  EXPECT_EQ(n.records[0]["attempts"], 1);
}

TEST_F(FetchEngine, DroppedConnectionsAreRetriedTruncatedBodiesAreNot) {
  Options o = options();
  o.retries = 2;
  Outcome out = fetch(o, {"{base}/truncated", "{base}/hangup"});
  const auto& cut = record_for(out, "/truncated");
  EXPECT_EQ(cut["attempts"], 1);
  EXPECT_NE(cut["error"].get<std::string>().find("payload"), std::string::npos) << cut;
  EXPECT_TRUE(cut["path"].is_null());
  EXPECT_FALSE(fsys::exists(o.out_dir / "truncated"));
  const auto& hung = record_for(out, "/hangup");
  EXPECT_EQ(hung["attempts"], 3);
  EXPECT_NE(hung["error"].get<std::string>().find("disconnected"), std::string::npos) << hung;
}

// As curl --retry and wget: a name that does not resolve fails at once, a
// refused connection is retried.
TEST_F(FetchEngine, HostNamesThatDoNotResolveAreNotRetried) {
  Options o = options();
  o.retries = 3;
  o.retry_delay = Seconds(0.01);
  std::string refused = "http://127.0.0.1:" + std::to_string(corun::testing::free_port()) + "/r";
  Outcome out = fetch(o, {"http://no-such-host.invalid/x", refused});
  const auto& dns = record_for(out, "no-such-host.invalid/x");
  EXPECT_EQ(dns["attempts"], 1);
  EXPECT_NE(dns["error"].get<std::string>().find("cannot resolve host"), std::string::npos) << dns;
  EXPECT_EQ(record_for(out, refused)["attempts"], 4);
}

TEST_F(FetchEngine, MaxSizeFailsLargeBodiesWithoutRetry) {
  Options o = options();
  o.max_body_size = 100;
  Outcome out = fetch(o, {"{base}/page/3", "{base}/utf8"});
  const auto& big = record_for(out, "/page/3");
  EXPECT_NE(big["error"].get<std::string>().find("--max-size"), std::string::npos) << big;
  EXPECT_EQ(big["status"], 200) << big;  // the response came; its body was too large
  EXPECT_EQ(big["attempts"], 1);
  EXPECT_FALSE(fsys::exists(o.out_dir / "3"));
  EXPECT_TRUE(record_for(out, "/utf8")["error"].is_null());
}

TEST_F(FetchEngine, PerHostLimitsRequestsInFlight) {
  Options o = options();
  o.concurrency = 16;
  o.limit_per_host = 2;
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back("{base}/slow/30?" + std::to_string(i));
  Outcome out = fetch(o, urls);
  EXPECT_EQ(out.summary.done, 12u);
  EXPECT_LE(state_.max_in_flight, 2);
  EXPECT_GE(state_.max_in_flight, 1);
}

// --per-host is what one host gets when -c allows it, whatever --threads: a
// host runs in one lane, and the lanes are fewer when a lane's share of -c
// would be below the limit (with 4 lanes of 2 slots, --per-host 6 gave 2).
TEST_F(FetchEngine, PerHostIsReachedWhateverTheThreads) {
  Options o = options();
  o.concurrency = 8;
  o.threads = 4;
  o.limit_per_host = 6;
  std::vector<std::string> urls;
  for (int i = 0; i < 18; ++i) urls.push_back("{base}/slow/200?" + std::to_string(i));
  Outcome out = fetch(o, urls);
  EXPECT_EQ(out.summary.done, 18u);
  EXPECT_EQ(state_.max_in_flight, 6);
}

// A host's backlog waits for --per-host in the session's gate, outside the
// request's timeout (RequestOptions::total_timeout_from_admission): the last
// of 12 requests of 100 ms each behind --per-host 1 waits over a second, past
// --timeout 1, and still succeeds with one attempt (a wait counted in the
// timeout would fail or retry it).
TEST_F(FetchEngine, BacklogBehindPerHostIsNotTimedOut) {
  Options o = options();
  o.concurrency = 16;
  o.limit_per_host = 1;
  o.timeout = Seconds(1);
  o.retries = 0;
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back("{base}/slow/100?" + std::to_string(i));
  Outcome out = fetch(o, urls);
  EXPECT_EQ(out.summary.done, 12u);
  for (const auto& r : out.records) {
    EXPECT_TRUE(r["error"].is_null()) << r;
    EXPECT_EQ(r["attempts"], 1) << r;
  }
  EXPECT_EQ(state_.max_in_flight, 1);
}

TEST_F(FetchEngine, HeadersAndUserAgentAreSent) {
  Options o = options();
  o.user_agent = "tester/1";
  o.headers = {"X-Test: yes please"};
  o.bom = false;
  fetch(o, {"{base}/echo"});
  EXPECT_EQ(fs::read_file_sync(o.out_dir / "echo"), "ua=tester/1;x=yes please");
}

TEST_F(FetchEngine, TimeoutsAreRetriedThenRecorded) {
  Options o = options();
  o.timeout = Seconds(0.2);
  o.retries = 1;
  Outcome out = fetch(o, {"{base}/slow/3000"});
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0]["attempts"], 2);
  EXPECT_TRUE(out.records[0]["status"].is_null());
  EXPECT_NE(out.records[0]["error"].get<std::string>().find("timeout"), std::string::npos)
      << out.records[0];
}

// A lower bound only (a rate limit can never make a run faster): 5 requests
// to one host at 20 per second cannot all start within 4/20 s.
TEST_F(FetchEngine, RateSpacesRequestsToAHost) {
  Options o = options();
  o.rate = 20;
  Outcome out = fetch(o, {"{base}/slow/1?1", "{base}/slow/1?2", "{base}/slow/1?3",
                          "{base}/slow/1?4", "{base}/slow/1?5"});
  EXPECT_EQ(out.summary.done, 5u);
  EXPECT_GE(out.summary.elapsed, 0.19);
}

TEST_F(FetchEngine, CollisionsAndTemplates) {
  Outcome out =
      fetch(options(), {"{base}/utf8", "{base}/utf8", "{base}/page/1?x", "{base}/page/1?x"});
  EXPECT_EQ(out.summary.done, 4u);
  std::set<std::string> paths;
  for (auto& r : out.records)
    paths.insert(fsys::path(r["path"].get<std::string>()).filename().string());
  EXPECT_EQ(paths, (std::set<std::string>{"utf8", "utf8-1", "1_x", "1_x-1"}));

  Options t = options();
  t.out_dir = dir_.path() / "tpl";
  t.name_template = "{host}/{index}.html";
  Outcome tpl = fetch(t, {"{base}/utf8", "# skipped", "{base}/page/2"});
  std::string host = fmt::format("127.0.0.1_{}", base_.substr(base_.rfind(':') + 1));
  EXPECT_TRUE(fsys::exists(t.out_dir / host / "0.html"));
  EXPECT_TRUE(fsys::exists(t.out_dir / host / "1.html"));

  // {index} names are unique, but never the report's own name.
  Options r = options();
  r.out_dir = dir_.path() / "idx";
  r.name_template = "{index}.html";
  r.report = r.out_dir / "0.html";
  Outcome idx = fetch(r, {"{base}/utf8", "{base}/utf8"});
  EXPECT_EQ(idx.summary.done, 2u);
  std::set<std::string> names;
  for (auto& rec : idx.records)
    names.insert(fsys::path(rec["path"].get<std::string>()).filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"0-1.html", "1.html"}));
}

TEST_F(FetchEngine, ResumeSkipsWhatIsDoneAndRetriesTheRest) {
  Options o = options();
  o.retries = 0;
  std::vector<std::string> urls = {"{base}/page/1", "{base}/flaky/1/r", "{base}/page/2"};
  Outcome first = fetch(o, urls);
  EXPECT_EQ(first.summary.done, 2u);
  EXPECT_EQ(first.summary.failed, 1u);
  o.resume = true;
  Outcome second = fetch(o, urls);
  EXPECT_EQ(second.summary.skipped, 2u);
  EXPECT_EQ(second.summary.done, 1u);
  EXPECT_EQ(second.summary.exit_code(), 0);
  ASSERT_EQ(second.records.size(), 4u);  // appended: the first run's three, then the retry
  EXPECT_TRUE(second.records[3]["error"].is_null());
  EXPECT_EQ(state_.hits["/page/1"], 1);
  Outcome third = fetch(o, urls);
  EXPECT_EQ(third.summary.skipped, 3u);
  EXPECT_EQ(third.records.size(), 4u);
}

TEST_F(FetchEngine, ResumeRemovesTemporaryFilesACrashLeft) {
  Options o = options();
  fetch(o, {"{base}/page/1"});
  fs::write_file_sync(o.out_dir / ".1.abc123.corun-tmp", "half");
  fs::write_file_sync(o.out_dir / "sub" / ".2.def456.corun-tmp", "half", {.create_dirs = true});
  fs::write_file_sync(o.out_dir / "keep.corun-tmp", "a page with an odd name");
  o.resume = true;
  fetch(o, {"{base}/page/1"});
  EXPECT_FALSE(fsys::exists(o.out_dir / ".1.abc123.corun-tmp"));
  EXPECT_FALSE(fsys::exists(o.out_dir / "sub" / ".2.def456.corun-tmp"));
  EXPECT_TRUE(fsys::exists(o.out_dir / "keep.corun-tmp"));
}

TEST_F(FetchEngine, ResumeAfterACutReportLine) {
  Options o = options();
  Outcome first = fetch(o, {"{base}/page/1", "{base}/page/2"});
  ASSERT_EQ(first.records.size(), 2u);
  // A crash cut the last line in half: that URL is not done.
  fsys::path report = o.out_dir / "report.jsonl";
  std::string text = fs::read_file_sync(report);
  text.resize(text.size() - 20);
  fs::write_file_sync(report, text);
  o.resume = true;
  Outcome second = fetch(o, {"{base}/page/1", "{base}/page/2"});
  EXPECT_EQ(second.summary.skipped, 1u);
  EXPECT_EQ(second.summary.done, 1u);
  // The torn line is gone; the report is whole lines again.
  std::string after = fs::read_file_sync(report);
  EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 2);
  EXPECT_EQ(second.records.size(), 2u);
}

// Lanes (Options::threads): however many loops the requests run on, the files and
// records are the same as with one.
TEST_F(FetchEngine, LanesWriteWhatOneLaneWrites) {
  std::vector<std::string> urls;
  for (int i = 0; i < 60; ++i) urls.push_back(fmt::format("{{base}}/page/{}", i));
  for (const char* u : {"{base}/utf8", "{base}/latin1", "{base}/bin", "{base}/status/404",
                        "{base}/flaky/1/x", "{base}/truncated", "not a url"}) {
    urls.push_back(u);
  }
  auto run_with = [&](std::size_t threads, const char* dir) {
    Options o = options();
    o.threads = threads;
    o.out_dir = dir_.path() / dir;
    Outcome out = fetch(o, urls);
    // url -> the record (its file's name, no elapsed), then the file's bytes
    std::map<std::string, std::string> by_url;
    for (auto r : out.records) {
      std::string path = r["path"].is_null() ? "" : r["path"].get<std::string>();
      r["path"] = path.empty() ? "" : fsys::path(path).filename().string();
      r.erase("elapsed");
      by_url[r["url"].get<std::string>()] =
          r.dump() + "\n" + (path.empty() ? "" : fs::read_file_sync(path));
    }
    return std::make_pair(out.summary, by_url);
  };
  auto [one, one_records] = run_with(1, "one");
  state_.hits.clear();  // /flaky/1/x fails once again
  auto [three, three_records] = run_with(3, "three");
  EXPECT_EQ(one.done, 64u);
  EXPECT_EQ(one.failed, 3u);
  EXPECT_EQ(three.done, one.done);
  EXPECT_EQ(three.failed, one.failed);
  EXPECT_EQ(three.seen, one.seen);
  ASSERT_EQ(one_records.size(), urls.size());
  EXPECT_EQ(three_records, one_records);
}

// Every lane's session uses the run's one cookie jar. Two lanes of one request
// each, one host (so the engine keeps the host on lane 0 until its backlog there
// passes two per slot, then moves some of it to lane 1: see pick_lane): lane 0
// gets /set-cookie first, then two /slow; the third /slow spills to lane 1, and
// the /cookie requests after it are spread over both lanes, each started after a
// /slow, when /set-cookie has long been answered. Those run on lane 1 send the
// cookie only if lane 0's response stored it in a jar lane 1's session reads.
TEST_F(FetchEngine, LanesShareOneCookieJar) {
  Options o = options();
  o.threads = 2;
  o.concurrency = 2;
  std::vector<std::string> urls = {"{base}/set-cookie", "{base}/slow/1000?a", "{base}/slow/1000?b",
                                   "{base}/slow/1000?c"};
  for (int i = 0; i < 10; ++i) urls.push_back(fmt::format("{{base}}/cookie/{}", i));
  Outcome out = fetch(o, urls);
  EXPECT_EQ(out.summary.done, 14u);
  for (int i = 0; i < 10; ++i) {
    const auto& r = record_for(out, fmt::format("/cookie/{}", i));
    EXPECT_EQ(fs::read_file_sync(r["path"].get<std::string>()), text::with_bom("cookie=sid=lane"))
        << r;
  }
  // cookies = false (--no-cookies): no jar at all.
  o.cookies = false;
  o.out_dir = dir_.path() / "no-cookies";
  Outcome without = fetch(o, urls);
  EXPECT_EQ(without.summary.done, 14u);
  for (int i = 0; i < 10; ++i) {
    const auto& r = record_for(without, fmt::format("/cookie/{}", i));
    EXPECT_EQ(fs::read_file_sync(r["path"].get<std::string>()), text::with_bom("cookie=")) << r;
  }
}

// More lanes than requests in flight: never more lanes than -c.
TEST_F(FetchEngine, MoreThreadsThanConcurrencyStillFetchesEverything) {
  Options o = options();
  o.threads = 4;
  o.concurrency = 1;
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back(fmt::format("{{base}}/slow/5?{}", i));
  Outcome out = fetch(o, urls);
  EXPECT_EQ(out.summary.done, 12u);
  EXPECT_EQ(state_.max_in_flight, 1);
}

TEST_F(FetchEngine, StopFinishesWhatIsInFlightAndStartsNothingNew) {
  Options o = options();
  o.concurrency = 2;
  std::vector<std::string> urls;
  for (int i = 0; i < 50; ++i) urls.push_back("{base}/slow/20?" + std::to_string(i));
  Fetcher* seen = nullptr;
  o.on_record = [&](const Record&) {
    if (seen) seen->stop();
  };
  Outcome out = fetch(o, urls, [&](Fetcher& f) { seen = &f; });
  EXPECT_TRUE(out.summary.interrupted);
  EXPECT_EQ(out.summary.exit_code(), 130);
  EXPECT_GE(out.summary.done, 1u);
  // In flight when stop() came: at most -c requests, plus at most -c pages whose
  // requests had finished and which were waiting to be written.
  EXPECT_LE(out.summary.done, 4u);
  EXPECT_GT(out.summary.not_started, 0u);
  EXPECT_EQ(out.records.size(), out.summary.done);
  for (auto& r : out.records) EXPECT_TRUE(fsys::exists(r["path"].get<std::string>()));
}

TEST_F(FetchEngine, CancellingTheRunFlushesTheReport) {
  Options o = options();
  o.concurrency = 4;
  std::vector<std::string> urls = {"{base}/utf8"};
  for (int i = 0; i < 8; ++i) urls.push_back("{base}/slow/5000?" + std::to_string(i));
  bool cancelled = false;
  corun::run(co_invoke([&]() -> Task<> {
    net::Server server = co_await net::start_server(handle, "127.0.0.1", 0);
    std::string base = fmt::format("http://127.0.0.1:{}", server.port());
    for (auto& u : urls) u.replace(0, 6, base);
    ListSource source(urls);
    Fetcher fetcher(o);
    auto task = create_task(fetcher.run(source));
    while (fetcher.progress().done == 0) co_await sleep(5ms);
    task.cancel();
    try {
      co_await task;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    server.close();
  }));
  EXPECT_TRUE(cancelled);
  std::string report = fs::read_file_sync(o.out_dir / "report.jsonl");
  EXPECT_NE(report.find("/utf8"), std::string::npos);
}

TEST_F(FetchEngine, BadOptionsAreOptionsErrors) {
  Options bad_label = options();
  bad_label.encoding = "klingon";
  EXPECT_THROW(Fetcher{bad_label}, OptionsError);
  Options bad_name = options();
  bad_name.name_template = "{what}";
  EXPECT_THROW(Fetcher{bad_name}, OptionsError);
  Options bad_header = options();
  bad_header.headers = {"no colon"};
  EXPECT_THROW(Fetcher{bad_header}, OptionsError);
}

TEST_F(FetchEngine, ALabelOfTheReplacementEncodingIsRefusedNotAppliedToEveryPage) {
  // iso-2022-kr (hz-gb-2312, iso-2022-cn...) decode any page to one U+FFFD: a
  // page may declare them (browsers then show nothing), a user cannot mean them.
  Options o = options();
  o.encoding = "iso-2022-kr";
  try {
    check_options(o);
    ADD_FAILURE() << "iso-2022-kr accepted";
  } catch (const OptionsError& e) {
    EXPECT_NE(std::string(e.what()).find("\"replacement\""), std::string::npos) << e.what();
  }
  o.raw = true;  // --raw decodes nothing: the label does no harm
  EXPECT_NO_THROW(check_options(o));
  Outcome out = fetch(options(), {"{base}/utf8 hz-gb-2312"});
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_NE(out.records[0]["error"].get<std::string>().find("encoding label 'hz-gb-2312' cannot"),
            std::string::npos)
      << out.records[0];
  EXPECT_EQ(out.records[0]["attempts"], 0);
  EXPECT_EQ(state_.requests, 0);
}

TEST_F(FetchEngine, UnwritableOutputFolderIsASetupError) {
  fs::write_file_sync(dir_.path() / "file", "x");
  Options o = options();
  o.out_dir = dir_.path() / "file" / "sub";
  EXPECT_THROW(corun::run(co_invoke([&]() -> Task<> {
                 ListSource source({"http://127.0.0.1:1/"});
                 Fetcher f(o);
                 co_await f.run(source);
               })),
               SetupError);
}

TEST_F(FetchEngine, AnOverlongLineIsARecordNotUnboundedMemory) {
  // Three overlong lines, two alike: each is a record, told apart by its bytes'
  // hash (a shared crawl's dedup took different ones for one URL).
  std::string list = "/page/1\n" + std::string(200 * 1024, 'x') + "\n/page/2\n" +
                     std::string(200 * 1024, 'y') + "\n" + std::string(200 * 1024, 'x');
  fs::write_file_sync(dir_.path() / "urls.txt", list);
  Options o = options();
  Outcome out;
  corun::run(co_invoke([&]() -> Task<> {
    net::Server server = co_await net::start_server(handle, "127.0.0.1", 0);
    o.base_url = fmt::format("http://127.0.0.1:{}", server.port());
    FileSource source(dir_.path() / "urls.txt");
    Fetcher fetcher(o);
    out.summary = co_await fetcher.run(source);
    server.close();
  }));
  EXPECT_EQ(out.summary.done, 2u);
  EXPECT_EQ(out.summary.failed, 3u);
  std::string report = fs::read_file_sync(o.out_dir / "report.jsonl");
  EXPECT_NE(report.find("line-longer-than-65536-bytes"), std::string::npos)
      << report.substr(0, 2000);
  std::vector<std::string> stand_ins;
  // (Each behind the base URL: "http://127.0.0.1:port/<line-...>".)
  std::size_t start = 0;
  while (start < report.size()) {
    std::size_t end = report.find('\n', start);
    if (end == std::string::npos) end = report.size();
    auto url = nlohmann::json::parse(report.substr(start, end - start))["url"].get<std::string>();
    if (url.find("/<line-longer-than-") != std::string::npos) stand_ins.push_back(url);
    start = end + 1;
  }
  ASSERT_EQ(stand_ins.size(), 3u) << report.substr(0, 2000);
  std::sort(stand_ins.begin(), stand_ins.end());
  EXPECT_EQ(std::unique(stand_ins.begin(), stand_ins.end()) - stand_ins.begin(), 2)
      << "two different lines, one twice";
}

TEST_F(FetchEngine, ReadsUrlsFromAFileInBatches) {
  std::string list;
  for (int i = 0; i < 30; ++i) list += fmt::format("/page/{}\r\n", i);
  fs::write_file_sync(dir_.path() / "urls.txt", list + "/page/30");  // no final newline
  Options o = options();
  Outcome out;
  corun::run(co_invoke([&]() -> Task<> {
    net::Server server = co_await net::start_server(handle, "127.0.0.1", 0);
    o.base_url = fmt::format("http://127.0.0.1:{}", server.port());
    FileSource source(dir_.path() / "urls.txt");
    EXPECT_EQ(source.count_lines(), 31);
    Fetcher fetcher(o);
    out.summary = co_await fetcher.run(source);
    server.close();
  }));
  EXPECT_EQ(out.summary.done, 31u);
  EXPECT_TRUE(fsys::exists(o.out_dir / "30"));
}

// Record::index: the URL's position among the URL lines (blank and comment
// lines not counted), so a caller can restore input order from records that
// arrive in completion order, also when base_url rewrites the URL text.
TEST_F(FetchEngine, RecordsCarryTheirInputIndex) {
  Options o = options();
  std::vector<std::pair<std::uint64_t, std::string>> seen;
  o.on_record = [&](const Record& r) { seen.emplace_back(r.index, r.url); };
  std::vector<std::string> urls = {"/slow/300", "",        "# a comment",
                                   "/slow/150", "/page/1", "/slow/150"};
  corun::run(co_invoke([&]() -> Task<> {
    net::Server server = co_await net::start_server(handle, "127.0.0.1", 0);
    o.base_url = fmt::format("http://127.0.0.1:{}", server.port());
    ListSource source(urls);
    Fetcher fetcher(o);
    co_await fetcher.run(source);
    server.close();
  }));
  ASSERT_EQ(seen.size(), 4u);
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> ordered;
  for (auto& [index, url] : seen) ordered.push_back(url.substr(o.base_url.size()));
  EXPECT_EQ(ordered, (std::vector<std::string>{"/slow/300", "/slow/150", "/page/1", "/slow/150"}));
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].first, i);
}

}  // namespace
}  // namespace corun::fetch
