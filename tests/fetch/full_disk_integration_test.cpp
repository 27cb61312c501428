// `corun fetch` writing into a full filesystem: every page that cannot be written is a
// record with a clear error (ENOSPC / EFBIG named), the run ends on its own with exit
// code 1, the report is whole (one JSON line per URL it took; a full disk stops the run
// at the first page it has no room for, and --resume fetches the rest), the pages that
// were written are complete and correct, and no temp or partial file is left in the
// output directory.
// Two ways to fill the disk: a 200 KB tmpfs mounted by the test (needs the right to
// mount: without it the test fails) and a file-size limit (RLIMIT_FSIZE), which always works.
// The report sits outside the full filesystem, or inside it among the pages (where it is
// by default): it keeps its own room there (space reserved past its end).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "fetch/cli_support.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing {
namespace {

using namespace cli;

// A GBK page of `units` x 楼盘 and the UTF-8 (with BOM) file it must become.
std::string gbk_page(int i, int units) {
  std::string s =
      "<html><head><meta charset=\"gbk\"><title>" + std::to_string(i) + "</title></head><body>";
  for (int k = 0; k < units; ++k) s += "\xC2\xA5\xC5\xCC";
  return s + "</body></html>\n";
}
std::string utf8_file(int i, int units) {
  std::string s = std::string(kBom) + "<html><head><meta charset=\"gbk\"><title>" +
                  std::to_string(i) + "</title></head><body>";
  for (int k = 0; k < units; ++k) s += "\xE6\xA5\xBC\xE7\x9B\x98";
  return s + "</body></html>\n";
}

// The page number a record's URL names (/p/N.html).
int page_of(const nlohmann::json& record) {
  std::string url = str(record, "url");
  return std::stoi(url.substr(url.rfind('/') + 1));
}

struct Page {
  int units;  // 楼盘 pairs: output is about 6 bytes per unit
};

class FetchFullDisk : public ::testing::Test {
 protected:
  // Serves pages[i] at /p/i.html and fetches them all into `out` with the given limits.
  RunResult fetch(const std::vector<Page>& pages, const fs::path& out, RunOptions options) {
    NginxOptions nginx_options;
    nginx_options.root = dir_.path() / "www";
    std::string urls;
    nginx_ = std::make_unique<Nginx>(nginx_options);
    for (std::size_t i = 0; i < pages.size(); ++i) {
      write_file(nginx_options.root / "p" / (std::to_string(i) + ".html"),
                 gbk_page(static_cast<int>(i), pages[i].units));
      urls += nginx_->base_url() + "/p/" + std::to_string(i) + ".html\n";
    }
    write_file(dir_.path() / "urls.txt", urls);
    return run_fetch(out, options);
  }
  // corun fetch over the URLs fetch() wrote (again, for a second run), with more arguments.
  RunResult run_fetch(const fs::path& out, RunOptions options,
                      const std::vector<std::string>& more = {}) {
    options.cwd = dir_.path();
    options.limit = std::chrono::seconds(120);
    std::vector<std::string> args{
        "fetch", "-c", "4", "-i", "urls.txt", "--out", out.string(), "--report", report_.string()};
    args.insert(args.end(), more.begin(), more.end());
    return run_corun(args, options);
  }

  // The checks common to both ways of filling the disk. Returns the failed page numbers.
  // stops: the run stops at the first page the disk has no room for (a full disk; a
  // file-size limit fails only the pages over it), so fewer records than URLs.
  std::set<int> check(const std::vector<Page>& pages, const fs::path& out, const RunResult& r,
                      const std::string& error_words, bool stops) {
    EXPECT_EQ(r.signal, 0) << r;
    EXPECT_FALSE(r.hung) << r;
    EXPECT_EQ(r.exit_code, 1) << "some pages failed, so exit code 1: " << r;
    auto records = read_report(dir_.path() / report_);
    if (stops) {
      EXPECT_LT(records.size(), pages.size()) << "the run stopped before the end of its input";
      EXPECT_NE(r.err.find("stopped: the disk is full (cannot write "), std::string::npos) << r;
      EXPECT_NE(r.err.find("run again with --resume"), std::string::npos) << r;
      // One cause for a full disk, not one per file.
      EXPECT_NE(r.err.find("  cannot write the file: " + std::string(std::strerror(ENOSPC))),
                std::string::npos)
          << r;
    } else {
      EXPECT_EQ(records.size(), pages.size()) << "one record per URL";
    }
    std::set<std::string> written;
    std::set<int> failed;
    for (const auto& rec : records) {
      int i = page_of(rec);
      if (ok(rec)) {
        fs::path p = output_path(rec, dir_.path());
        EXPECT_TRUE(read_file(p) == utf8_file(i, pages[static_cast<std::size_t>(i)].units)) << p;
        written.insert(fs::relative(p, out).string());
      } else {
        failed.insert(i);
        EXPECT_NE(lower(str(rec, "error")).find(error_words), std::string::npos)
            << "the error should say what happened: " << rec.dump();
      }
    }
    auto files = list_files(out);
    std::set<std::string> left(files.begin(), files.end());
    if (report_.is_absolute()) left.erase(fs::relative(report_, out).string());
    EXPECT_EQ(left, written) << "only the complete pages are left in the output directory";
    return failed;
  }

  TempDir dir_{"corun-fetch-disk"};
  fs::path report_ = "report.jsonl";  // relative: in the test's folder
  std::unique_ptr<Nginx> nginx_;
};

TEST_F(FetchFullDisk, SmallTmpfsFillsUp) {
  fs::path out = dir_.path() / "small-fs";
  fs::create_directories(out);
  corun::testing::SmallTmpfs tmpfs(out, "200k");
  // Needs the right to mount (root, as CI runs): without it, a failure, never a skip.
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  // 30 pages of ~24 KB of output each: about 8 fit in 200 KB; the first that does not
  // stops the run (those in flight, -c 4, end with their records).
  std::vector<Page> pages(30, Page{4000});
  RunResult r = fetch(pages, out, {});
  auto failed = check(pages, out, r, lower(std::strerror(ENOSPC)), true);
  // Those in flight (-c 4) and those a lane took before the stop reached it: a
  // handful, not the 20 left.
  EXPECT_GE(failed.size(), 1u);
  EXPECT_LE(failed.size(), 8u) << "URLs went on being started after the disk was full";
}

TEST_F(FetchFullDisk, ReportAmongThePagesStaysWhole) {
  fs::path out = dir_.path() / "small-fs";
  fs::create_directories(out);
  corun::testing::SmallTmpfs tmpfs(out, "200k");
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  // The default layout: the report in the output folder, on the filesystem the pages
  // fill. Before its room was reserved, the pages took it all and the report was
  // left empty: no record of what failed, or of what was written.
  report_ = out / "report.jsonl";
  std::vector<Page> pages(40, Page{4000});
  RunResult r = fetch(pages, out, {});
  auto failed = check(pages, out, r, lower(std::strerror(ENOSPC)), true);
  EXPECT_GE(failed.size(), 1u);
  EXPECT_LE(failed.size(), 8u);
  // The room is given back at the end: the report takes what its records need.
  struct stat st {};
  ASSERT_EQ(::stat(report_.c_str(), &st), 0);
  EXPECT_LE(st.st_blocks * 512, st.st_size + 4096) << "reserved blocks left past the end";
}

TEST_F(FetchFullDisk, StopsWhileTheReportFitsAndResumeFinishes) {
  fs::path out = dir_.path() / "small-fs";
  fs::create_directories(out);
  corun::testing::SmallTmpfs tmpfs(out, "4m");
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  // 600 pages of ~24 KB: about 160 fit. The records of those that do not would soon
  // outgrow the report's room: the run stops taking URLs first (not fetching the rest
  // just to fail writing them, and keeping every record it makes).
  report_ = out / "report.jsonl";
  std::vector<Page> pages(600, Page{4000});
  RunResult r = fetch(pages, out, {});
  EXPECT_EQ(r.signal, 0) << r;
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("stopped: the disk is "), std::string::npos) << r;  // full, or nearly
  EXPECT_NE(r.err.find("make room, then run again with --resume"), std::string::npos) << r;
  auto records = read_report(dir_.path() / report_);
  EXPECT_LT(records.size(), pages.size()) << "the run stopped before the end of its input";
  std::size_t done = 0;
  for (const auto& rec : records) {
    if (ok(rec)) {
      ++done;
      EXPECT_TRUE(read_file(output_path(rec, dir_.path())) == utf8_file(page_of(rec), 4000))
          << rec.dump();
    } else {
      EXPECT_NE(lower(str(rec, "error")).find(lower(std::strerror(ENOSPC))), std::string::npos)
          << rec.dump();
    }
  }
  EXPECT_GT(done, 0u);
  EXPECT_EQ(list_files(out).size(), done + 1) << "the pages written and the report, nothing else";
  // Room again: --resume fetches the rest, and every page ends up written once.
  ASSERT_EQ(::mount(nullptr, out.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0)
      << std::strerror(errno);
  RunResult again = run_fetch(out, {}, {"--resume"});
  EXPECT_EQ(again.exit_code, 0) << again;
  std::set<int> written;
  for (const auto& rec : read_report(dir_.path() / report_)) {
    if (!ok(rec)) continue;
    int i = page_of(rec);
    EXPECT_TRUE(written.insert(i).second) << "done twice: " << rec.dump();
    EXPECT_TRUE(read_file(output_path(rec, dir_.path())) == utf8_file(i, 4000)) << rec.dump();
  }
  EXPECT_EQ(written.size(), pages.size());
}

TEST_F(FetchFullDisk, FileSizeLimit) {
  fs::path out = dir_.path() / "out";
  // Small pages (~12 KB out) fit under a 64 KB limit on file size, large ones (~120 KB) do
  // not; the report stays far below the limit.
  std::vector<Page> pages;
  for (int i = 0; i < 24; ++i) pages.push_back(Page{i % 3 == 0 ? 20000 : 2000});
  RunResult r = fetch(pages, out, RunOptions().max_file_size(64 * 1024));
  auto failed = check(pages, out, r, lower(std::strerror(EFBIG)), false);
  std::set<int> big;
  for (int i = 0; i < 24; i += 3) big.insert(i);
  EXPECT_EQ(failed, big) << "exactly the pages too big for the limit fail";
}

TEST_F(FetchFullDisk, AReportThatCannotBeWrittenStopsTheRun) {
  fs::path out = dir_.path() / "out";
  // Every page fits under a 64 KB limit on file size; the report does not: once it
  // cannot be written, fetching on would lose what is fetched. The run stops, says
  // why, and the report holds whole records only.
  std::vector<Page> pages(600, Page{200});
  RunResult r = fetch(pages, out, RunOptions().max_file_size(64 * 1024));
  EXPECT_EQ(r.signal, 0) << r;
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(lower(r.err).find("stopped: cannot write"), std::string::npos) << r;
  EXPECT_NE(lower(r.err).find(lower(std::strerror(EFBIG))), std::string::npos) << r;
  // The records it could not write are counted, and what to do about them said.
  EXPECT_NE(r.err.find(" not in the report: --resume fetches "), std::string::npos) << r;
  std::string text = read_file(dir_.path() / report_);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "whole records only";
  auto records = read_report(dir_.path() / report_);
  EXPECT_LT(records.size(), pages.size());
  for (const auto& rec : records) EXPECT_TRUE(ok(rec)) << rec.dump();
  EXPECT_LT(list_files(out).size(), pages.size()) << "the run stopped taking URLs";
}

}  // namespace
}  // namespace corun::testing
