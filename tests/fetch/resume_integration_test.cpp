// `kill -9` of `corun fetch` in the middle of a run (bodies half received, files half
// written), then the same command with --resume: the final files equal those of a run
// that was never interrupted, no temp or partial file is left, the report holds one
// good record per URL, and what the first run had finished is not fetched again.
#include <gtest/gtest.h>

#include <set>

#include "fetch/cli_support.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing {
namespace {

using namespace cli;

constexpr int kPages = 120;

// A GBK page (as the motivating pages) of about 48 KB; page i differs from the others.
std::string gbk_page(int i) {
  std::string s =
      "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">"
      "<title>page " +
      std::to_string(i) + "</title></head><body><p>";
  for (int k = 0; k < 12000; ++k) s += (k % 7 == i % 7) ? "\xC2\xA5" : "\xC5\xCC";  // 楼 盘
  return s + "</p></body></html>\n";
}

TEST(FetchResume, KillNineThenResumeEqualsAnUninterruptedRun) {
  TempDir dir("corun-fetch-resume");
  NginxOptions options;
  options.root = dir.path() / "www";
  // Requests carrying X-Slow get their bodies at 8 KB/s after a first second's worth
  // (nginx's $limit_rate; a 24 KB page takes about 2 s), so the run to be killed is caught
  // with transfers and writes in flight; the others are fast.
  options.extra_server_conf = "if ($http_x_slow) { set $limit_rate 8k; }";
  for (int i = 0; i < kPages; ++i)
    write_file(options.root / "p" / (std::to_string(i) + ".html"), gbk_page(i));
  Nginx nginx(options);
  std::string urls;
  for (int i = 0; i < kPages; ++i) urls += nginx.base_url() + "/p/" + std::to_string(i) + ".html\n";
  write_file(dir.path() / "urls.txt", urls);
  const std::vector<std::string> common{"fetch", "-c",  "8",        "-i",          "../urls.txt",
                                        "--out", "out", "--report", "report.jsonl"};

  // The reference: one uninterrupted run.
  fs::path ref = dir.path() / "ref";
  fs::create_directories(ref);
  RunResult r0 = run_corun(common, RunOptions().in(ref).hang_guard(std::chrono::seconds(120)));
  ASSERT_EQ(r0.exit_code, 0) << r0;
  auto ref_files = list_files(ref / "out");
  ASSERT_EQ(ref_files.size(), static_cast<std::size_t>(kPages));

  // The same run, slowed down and killed once the report (flushed about every second)
  // records some pages as done, with other transfers and writes still in flight.
  fs::path run = dir.path() / "run";
  fs::create_directories(run);
  auto slow = common;
  slow.insert(slow.end(), {"--header", "X-Slow: 1"});
  RunResult r1 =
      run_corun(slow, RunOptions().in(run).hang_guard(std::chrono::seconds(120)).kill_once([&] {
        return count_lines(run / "report.jsonl") >= 10;
      }));
  ASSERT_TRUE(r1.killed_on_request) << "the run ended before it could be killed: " << r1;
  ASSERT_EQ(r1.signal, SIGKILL) << r1;
  std::size_t done_lines = count_lines(run / "report.jsonl");
  EXPECT_LT(done_lines, static_cast<std::size_t>(kPages));
  std::string report_before = read_file(run / "report.jsonl");

  // Resume, at full speed.
  auto resume = common;
  resume.push_back("--resume");
  RunResult r2 = run_corun(resume, RunOptions().in(run).hang_guard(std::chrono::seconds(120)));
  ASSERT_EQ(r2.exit_code, 0) << r2;

  // Same files, same bytes, nothing else (no temp files from the killed run).
  auto files = list_files(run / "out");
  EXPECT_EQ(files, ref_files);
  for (const auto& f : ref_files) {
    if (!fs::exists(run / "out" / f)) continue;
    EXPECT_TRUE(read_file(run / "out" / f) == read_file(ref / "out" / f)) << f;
  }
  auto leftovers = list_files(run);
  for (const auto& f : leftovers) {
    EXPECT_TRUE(f == "report.jsonl" || f.rfind("out/", 0) == 0) << "left behind: " << f;
  }

  // The report: readable JSON lines throughout, the last word on every URL a success.
  auto records = read_report(run / "report.jsonl");
  auto last = by_url(records);
  EXPECT_EQ(last.size(), static_cast<std::size_t>(kPages));
  for (const auto& [url, rec] : last) EXPECT_TRUE(ok(rec)) << rec.dump();

  // What the killed run had recorded as done is not fetched again.
  std::set<std::string> done_before;
  std::istringstream before(report_before);
  std::string line;
  while (std::getline(before, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && ok(j) && num(j, "status") == 200) done_before.insert(str(j, "url"));
  }
  EXPECT_FALSE(done_before.empty());
  std::map<std::string, int> fetched;
  for (const auto& rec : records) {
    if (ok(rec) && num(rec, "attempts") >= 1) ++fetched[str(rec, "url")];
  }
  for (const auto& url : done_before) EXPECT_EQ(fetched[url], 1) << url << " was fetched again";
}

// A URL whose query holds bytes that are not UTF-8 (a GBK link list's): the
// report writes them as U+FFFD, and --resume still knows the URL is done (it
// used to fetch it again on every resume, a new file and record each time).
TEST(FetchResume, AUrlThatIsNotUtf8IsDoneOnce) {
  TempDir dir("corun-fetch-resume");
  NginxOptions options;
  options.root = dir.path() / "www";
  write_file(options.root / "p.html", "<p>p</p>");
  Nginx nginx(options);
  write_file(dir.path() / "urls.txt", nginx.base_url() + "/p.html?q=\xC2\xA5\xFF\xFE\n" +
                                          nginx.base_url() + "/p.html?q=2\n");
  const std::vector<std::string> common{"fetch", "-i", "urls.txt", "--out", "out"};
  RunResult first = run_corun(common, RunOptions().in(dir.path()));
  ASSERT_EQ(first.exit_code, 0) << first;
  auto resume = common;
  resume.push_back("--resume");
  for (int i = 0; i < 2; ++i) {
    RunResult again = run_corun(resume, RunOptions().in(dir.path()));
    EXPECT_EQ(again.exit_code, 0) << again;
  }
  EXPECT_EQ(count_lines(dir.path() / "out" / "report.jsonl"), 2U);
  EXPECT_EQ(list_files(dir.path() / "out").size(), 3U);  // 2 pages and the report
}

}  // namespace
}  // namespace corun::testing
