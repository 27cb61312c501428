// Faults a real server produces, each ending as one report record with the right error
// and attempt count, in a run that ends on its own with exit code 1: 5xx and 429 retried
// (Retry-After honoured, or refused when longer than --retry-max-delay), 404 not retried,
// a redirect loop, a dead port, a body over --max-size, a body too slow for --timeout, a
// malformed input line and an unknown per-line encoding label; next to them a redirect and
// a plain page succeed. nginx makes these faults; the faults that need a misbehaving
// server (truncated bodies, resets, bad chunking, huge headers) belong to the project's
// fault-injecting server in tests/support.
#include <gtest/gtest.h>

#include "fetch/cli_support.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing {
namespace {

using namespace cli;

TEST(FetchFaults, EveryFaultIsARecordWithTheRightErrorAndAttempts) {
  TempDir dir("corun-fetch-faults");
  NginxOptions options;
  options.root = dir.path() / "www";
  options.extra_server_conf =
      "location = /e500 { return 500; }\n"
      "location = /busy { add_header Retry-After 0 always; return 503; }\n"
      "location = /slow-down { add_header Retry-After 1 always; return 429; }\n"
      "location = /come-back-tomorrow { add_header Retry-After 86400 always; return 429; }\n"
      "location = /loop { return 302 /loop; }\n"
      "location = /moved { return 301 /ok.html; }\n"
      "location = /drip.html { limit_rate 1k; }\n";
  write_file(options.root / "ok.html", "<html><body>fine</body></html>\n");
  write_file(options.root / "big.html", std::string(64 * 1024, 'x'));
  write_file(options.root / "drip.html", std::string(16 * 1024, 'd'));
  Nginx nginx(options);
  const std::string b = nginx.base_url();
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_port()) + "/nobody-listens";

  // name -> URL line, expected attempts, words the error must contain ("" = success)
  struct Case {
    std::string line, url;
    long attempts;
    std::string error;
  };
  const std::vector<Case> cases{
      {b + "/ok.html", b + "/ok.html", 1, ""},
      {b + "/moved", b + "/moved", 1, ""},
      {b + "/missing.html", b + "/missing.html", 1, "404"},
      {b + "/e500", b + "/e500", 3, "500"},
      {b + "/busy", b + "/busy", 3, "503"},
      {b + "/slow-down", b + "/slow-down", 3, "429"},
      {b + "/come-back-tomorrow", b + "/come-back-tomorrow", 1, "retry-after"},
      {b + "/loop", b + "/loop", 1, "redirect"},
      {dead, dead, 3, ""},  // a connection error: any clear message
      {b + "/big.html", b + "/big.html", 1, "max-size"},
      {b + "/drip.html", b + "/drip.html", 3, "time"},
      {"not-a-url at all", "not-a-url", 0, "invalid url"},
      {b + "/ok.html?label x-no-such-encoding", b + "/ok.html?label", 0, "unknown encoding label"},
  };
  std::string input;
  for (const auto& c : cases) input += c.line + "\n";
  write_file(dir.path() / "urls.txt", input);

  RunResult r =
      run_corun({"fetch", "-c", "8", "-i", "urls.txt", "--out", "out", "--report", "report.jsonl",
                 "--retries", "2", "--retry-delay", "0.01", "--max-size", "20K", "--timeout", "1"},
                RunOptions().in(dir.path()).hang_guard(std::chrono::seconds(120)));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_FALSE(r.hung);

  auto records = read_report(dir.path() / "report.jsonl");
  EXPECT_EQ(records.size(), cases.size()) << "one record per input line";
  auto last = by_url(records);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto it = last.find(c.url);
    if (it == last.end()) {
      // A malformed line is reported as written (or as its first word).
      it = last.find(c.line);
    }
    ASSERT_NE(it, last.end()) << "no record for " << c.url;
    const auto& rec = it->second;
    EXPECT_EQ(num(rec, "attempts"), c.attempts) << rec.dump();
    if (c.error.empty() && c.url != dead) {
      EXPECT_TRUE(ok(rec)) << rec.dump();
      EXPECT_EQ(num(rec, "status"), 200) << rec.dump();
      EXPECT_TRUE(fs::exists(output_path(rec, dir.path()))) << rec.dump();
    } else {
      EXPECT_FALSE(ok(rec)) << rec.dump();
      EXPECT_NE(error_words(rec).find(c.error), std::string::npos) << rec.dump();
      EXPECT_TRUE(str(rec, "path").empty()) << "a failure writes no file: " << rec.dump();
    }
  }
  EXPECT_EQ(str(last[b + "/moved"], "final_url"), b + "/ok.html");
  // A redirect loop: the last response's status and URL, as curl -L past --max-redirs.
  EXPECT_EQ(num(last[b + "/loop"], "status"), 302) << last[b + "/loop"].dump();
  EXPECT_EQ(str(last[b + "/loop"], "final_url"), b + "/loop") << last[b + "/loop"].dump();
  // Only the two successes left files (no partial body of big.html or drip.html).
  EXPECT_EQ(list_files(dir.path() / "out").size(), 2u);
}

}  // namespace
}  // namespace corun::testing
