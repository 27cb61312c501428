// Many URLs at -c 256 against nginx, URLs streamed from stdin, under a descriptor limit
// of 1024: every page arrives (no "too many open files"), and memory does not grow with
// the number of URLs: the peak RSS of a run of N URLs stays within a small slope of a
// run of N/10. Built twice: N = 20,000 with the other integration tests, and N = 100,000
// as FetchSoak.* (labels fetch, soak; CORUN_FETCH_MANY_URLS=100000).
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "fetch/cli_support.hpp"
#include "support/nginx_fixture.hpp"

#ifndef CORUN_FETCH_MANY_URLS
#define CORUN_FETCH_MANY_URLS 20000
#endif

// Under AddressSanitizer freed memory sits in a quarantine of up to 256 MB, so peak RSS
// says nothing about what the program keeps; the memory checks are skipped there.
#if defined(__SANITIZE_ADDRESS__)
#define CORUN_FETCH_CHECK_RSS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORUN_FETCH_CHECK_RSS 0
#endif
#endif
#ifndef CORUN_FETCH_CHECK_RSS
#define CORUN_FETCH_CHECK_RSS 1
#endif

namespace corun::testing {
namespace {

using namespace cli;

constexpr int kUrls = CORUN_FETCH_MANY_URLS;
constexpr int kPageKinds = 1000;  // distinct files on the server; URLs differ by query

struct FetchRun {
  RunResult result;
  std::vector<nlohmann::json> records;
  std::size_t files = 0;
};

class FetchManyUrls : public ::testing::Test {
 protected:
  void SetUp() override {
    NginxOptions options;
    options.root = dir_.path() / "www";
    for (int i = 0; i < kPageKinds; ++i) {
      std::string body = "<html><head><meta charset=\"utf-8\"><title>" + std::to_string(i) +
                         "</title></head><body>" +
                         std::string(static_cast<std::size_t>(600 + i), 'x') + "</body></html>\n";
      write_file(options.root / "p" / (std::to_string(i) + ".html"), body);
    }
    nginx_ = std::make_unique<Nginx>(options);
  }

  FetchRun fetch(int n, const std::string& name) {
    fs::path run = dir_.path() / name;
    fs::create_directories(run);
    {
      std::ofstream urls(run / "urls.txt");
      for (int i = 0; i < n; ++i) {
        urls << nginx_->base_url() << "/p/" << (i % kPageKinds) << ".html?n=" << i << "\n";
      }
    }
    FetchRun out;
    out.result = run_corun({"fetch", "-c", "256", "--per-host", "256", "-i", "-", "--out", "out",
                            "--report", "report.jsonl"},
                           RunOptions()
                               .in(run)
                               .stdin_from(run / "urls.txt")
                               .max_open_files(1024)
                               .hang_guard(std::chrono::seconds(1200)));
    out.records = read_report(run / "report.jsonl");
    out.files = list_files(run / "out").size();
    fs::remove_all(run / "out");  // keep the disk use of the soak bounded too
    return out;
  }

  void every_page_arrives_with_bounded_descriptors_and_memory();

  TempDir dir_{"corun-fetch-many"};
  std::unique_ptr<Nginx> nginx_;
};

void FetchManyUrls::every_page_arrives_with_bounded_descriptors_and_memory() {
  FetchRun small = fetch(kUrls / 10, "small");
  ASSERT_EQ(small.result.exit_code, 0) << small.result;

  FetchRun big = fetch(kUrls, "big");
  ASSERT_EQ(big.result.exit_code, 0) << big.result;
  ASSERT_EQ(big.records.size(), static_cast<std::size_t>(kUrls));
  std::set<std::string> urls;
  int bad = 0;
  for (const auto& rec : big.records) {
    urls.insert(str(rec, "url"));
    if (!ok(rec) || num(rec, "status") != 200) {
      if (++bad <= 5) ADD_FAILURE() << rec.dump();
    }
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(urls.size(), static_cast<std::size_t>(kUrls)) << "one record per URL";
  EXPECT_EQ(big.files, static_cast<std::size_t>(kUrls)) << "one file per URL";

  // Memory: at most 512 bytes more per extra URL (a leak or a list of every URL would
  // show), with 16 MiB of slack for the allocator, and far below what holding the pages
  // would take.
  RecordProperty("peak_rss_kb_small", std::to_string(small.result.peak_rss_kb));
  RecordProperty("peak_rss_kb_big", std::to_string(big.result.peak_rss_kb));
  std::printf("peak RSS: %ld KB for %d URLs, %ld KB for %d URLs\n", small.result.peak_rss_kb,
              kUrls / 10, big.result.peak_rss_kb, kUrls);
  if (!CORUN_FETCH_CHECK_RSS) return;
  long slope_kb = static_cast<long>(kUrls - kUrls / 10) / 2;
  EXPECT_LE(big.result.peak_rss_kb, small.result.peak_rss_kb + std::max(16L * 1024, slope_kb))
      << "peak RSS " << big.result.peak_rss_kb << " KB for " << kUrls << " URLs vs "
      << small.result.peak_rss_kb << " KB for " << kUrls / 10;
  EXPECT_LE(big.result.peak_rss_kb, 256L * 1024);
}

#if CORUN_FETCH_MANY_URLS > 20000
class FetchSoak : public FetchManyUrls {};
TEST_F(FetchSoak, EveryPageArrivesWithBoundedDescriptorsAndMemory) {
  every_page_arrives_with_bounded_descriptors_and_memory();
}
#else
TEST_F(FetchManyUrls, EveryPageArrivesWithBoundedDescriptorsAndMemory) {
  every_page_arrives_with_bounded_descriptors_and_memory();
}
#endif

}  // namespace
}  // namespace corun::testing
