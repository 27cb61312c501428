// The heavy end of cli_random_test.cpp (issue 15): 100,000 copies of one URL
// (each a record, each its own file name: the name registry once spent minutes
// on N^2 / 2 tries), and more random input files (with lines over 64 KiB, a run each).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "cli_random_support.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using namespace corun::testing::cli;

TEST(FetchCliRandomHeavy, HundredThousandIdenticalUrls) {
  corun::testing::TempDir dir("corun-cli-random");
  int dead = corun::testing::free_port();
  std::string url = fmt::format("http://127.0.0.1:{}/same.html", dead);
  std::string text;
  for (int i = 0; i < 100000; ++i) text += url + "\n";
  write_file(dir.path() / "input.txt", text);
  fs::path out = dir.path() / "out";
  RunResult r = run_corun({"fetch", "-q", "--retries", "0", "-c", "64", "-o", out.string(), "-i",
                           (dir.path() / "input.txt").string()},
                          RunOptions().in(dir.path()).hang_guard(std::chrono::seconds(900)));
  check_run(r, out / "report.jsonl", CaseExpectations{100000}, "100,000 identical URLs");
  EXPECT_EQ(r.exit_code, 1) << r;  // nothing listens: every URL fails, as a record
}

// The same names a working server would get: 100,000 files, one per copy.
TEST(FetchCliRandomHeavy, IdenticalUrlsGetDistinctFiles) {
  corun::testing::TempDir dir("corun-cli-random");
  corun::testing::NginxOptions no;
  no.root = dir.path() / "site";
  write_file(no.root / "same.html", "<p>same</p>");
  corun::testing::Nginx nginx(no);
  std::string text;
  for (int i = 0; i < 5000; ++i) text += nginx.base_url() + "/same.html\n";
  write_file(dir.path() / "input.txt", text);
  fs::path out = dir.path() / "out";
  RunResult r =
      run_corun({"fetch", "-q", "-o", out.string(), "-i", (dir.path() / "input.txt").string()},
                RunOptions().in(dir.path()).hang_guard(std::chrono::seconds(600)));
  check_run(r, out / "report.jsonl", CaseExpectations{5000}, "5,000 identical URLs, served");
  EXPECT_EQ(r.exit_code, 0) << r;
  std::set<std::string> paths;
  for (const auto& rec : read_report(out / "report.jsonl")) paths.insert(str(rec, "path"));
  EXPECT_EQ(paths.size(), 5000u);
  EXPECT_TRUE(paths.count((out / "same-4999.html").string()) == 1) << *paths.rbegin();
}

TEST(FetchCliRandomHeavy, ManyInputFiles) {
  corun::testing::TempDir dir("corun-cli-random");
  std::uint64_t seed = fuzz_seed(1515);
  RandomCases gen(seed, corun::testing::free_port());
  for (int i = 0; i < 60; ++i) {
    fs::path run = dir.path() / fmt::format("case{}", i);
    std::string text = gen.input();
    write_file(run / "input.txt", text);
    RunResult r = run_corun({"fetch", "-q", "--retries", "0", "-o", (run / "out").string(), "-i",
                             (run / "input.txt").string()},
                            RunOptions().in(run).hang_guard(std::chrono::seconds(120)));
    check_run(r, run / "out" / "report.jsonl", CaseExpectations{url_lines(text)},
              fmt::format("seed {} case {}", seed, i));
    if (HasFatalFailure()) return;
    fs::remove_all(run);
  }
}

}  // namespace
