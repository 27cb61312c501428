// `corun fetch` against the project's fault-injecting server (tests/support/fault_server.hpp),
// which runs on a LoopThread in this process while the CLI runs as a child: every fault
// ends as one report record with the error and the attempt count the retry rules give
// (connection failures and timeouts retried, broken bodies and redirect loops not, a
// Retry-After longer than --retry-max-delay not waited for), the run ends on its own with
// exit code 1, and only the pages that arrived whole leave files.
#include <gtest/gtest.h>

#include "corun/core/threads.hpp"
#include "fetch/cli_support.hpp"
#include "support/fault_server.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing {
namespace {

using namespace cli;

Task<void> close_server(FaultServer* server) {
  co_await server->close();
}

struct Expect {
  std::string path;
  long attempts;
  std::string error;  // words the error must contain, lower case; "" = success
};

TEST(FetchFaultServer, EveryFaultIsOneRecordWithTheRightErrorAndAttempts) {
  // The server writes to connections the client has reset. corun::net ignores SIGPIPE
  // itself (d1ee6d4); ignoring it here too keeps this test about corun fetch.
  ::signal(SIGPIPE, SIG_IGN);
  LoopThread loop;
  FaultServer server = loop.submit(FaultServer::start()).get();
  TempDir dir("corun-fetch-fault-server");

  // --retries 2: a retried fault shows 3 attempts. --timeout 2 ends /stall, --max-size ends
  // /endless, --retry-max-delay 5 refuses /429's Retry-After: 7.
  const std::vector<Expect> cases{
      {"/ok", 1, ""},
      {"/drip", 1, ""},
      {"/keepalive-close", 1, ""},
      {"/204", 1, ""},
      {"/stall", 3, "time"},
      {"/nothing", 3, "disconnected"},
      {"/reset", 3, "disconnected"},
      {"/truncated", 1, "payload"},
      {"/bad-chunk", 1, "payload"},
      {"/reset-mid", 1, ""},
      {"/huge-headers", 1, "bad http response"},
      {"/redirect-loop", 1, "redirect"},
      {"/429", 1, "retry-after 7"},
      {"/endless", 1, "max-size"},
      {"/missing", 1, "404"},
  };
  std::string urls;
  for (const auto& c : cases) urls += server.url(c.path) + "\n";
  write_file(dir.path() / "urls.txt", urls);

  RunResult r = run_corun({"fetch", "-c", "16", "-i", "urls.txt", "--out", "out", "--report",
                           "report.jsonl", "--retries", "2", "--retry-delay", "0.01", "--timeout",
                           "2", "--max-size", "64K", "--retry-max-delay", "5"},
                          RunOptions().in(dir.path()).hang_guard(std::chrono::seconds(120)));
  loop.submit(close_server(&server)).get();
  EXPECT_EQ(r.exit_code, 1) << r;

  auto records = read_report(dir.path() / "report.jsonl");
  EXPECT_EQ(records.size(), cases.size()) << "one record per URL";
  auto last = by_url(records);
  std::size_t successes = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto it = last.find(server.url(c.path));
    ASSERT_NE(it, last.end());
    const auto& rec = it->second;
    EXPECT_EQ(num(rec, "attempts"), c.attempts) << rec.dump();
    if (c.path == "/reset-mid") {
      // Headers and half a body, then RST: a failure, not retried (the body was broken
      // mid-way, as with /truncated), and no file.
      EXPECT_FALSE(ok(rec)) << rec.dump();
      EXPECT_TRUE(str(rec, "path").empty()) << rec.dump();
    } else if (c.error.empty()) {
      ++successes;
      EXPECT_TRUE(ok(rec)) << rec.dump();
      EXPECT_TRUE(fs::exists(output_path(rec, dir.path()))) << rec.dump();
    } else {
      EXPECT_FALSE(ok(rec)) << rec.dump();
      EXPECT_NE(error_words(rec).find(c.error), std::string::npos) << rec.dump();
      EXPECT_TRUE(str(rec, "path").empty()) << "a failure writes no file: " << rec.dump();
    }
  }
  EXPECT_EQ(list_files(dir.path() / "out").size(), successes)
      << "files only for the pages that arrived whole";
}

// The summary groups failures by cause also when the error names the URL a
// redirect led to, not the one given (each target was a cause of its own:
// "1  cannot connect (http://...:N/x1)", "1  cannot connect (.../x2)").
TEST(FetchFaultServer, FailuresAfterARedirectAreOneCauseInTheSummary) {
  ::signal(SIGPIPE, SIG_IGN);
  LoopThread loop;
  FaultServer server = loop.submit(FaultServer::start()).get();
  TempDir dir("corun-fetch-fault-server");
  std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
  std::string urls;
  for (int i = 0; i < 3; ++i)
    urls += server.url("/redirect-to?" + dead + "/x" + std::to_string(i)) + "\n";
  write_file(dir.path() / "urls.txt", urls);
  RunResult r = run_corun({"fetch", "-i", "urls.txt", "--out", "out", "--retries", "0"},
                          RunOptions().in(dir.path()).hang_guard(std::chrono::seconds(60)));
  loop.submit(close_server(&server)).get();
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("     3  cannot connect\n"), std::string::npos) << r;
  // The example keeps the URL the error named.
  EXPECT_NE(r.err.find("e.g. " + server.url("/redirect-to?" + dead + "/x0") + ": " + dead + "/x0"),
            std::string::npos)
      << r;
}

}  // namespace
}  // namespace corun::testing
