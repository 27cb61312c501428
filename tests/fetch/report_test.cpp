// corun::fetch report file (src/fetch/report.hpp): the resume scan, torn-tail
// repair, whole lines after a failed write, stale temporary files.
#include "report.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <sstream>

#include "corun/fs/file.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::fetch {
namespace {

namespace fsys = std::filesystem;

Record done(std::string url, std::string path) {
  Record r;
  r.url = std::move(url);
  r.status = 200;
  r.path = std::move(path);
  r.attempts = 1;
  return r;
}

Record failed(std::string url) {
  Record r;
  r.url = std::move(url);
  r.error = "HTTP 500 X";
  r.attempts = 4;
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(FetchReport, ResumeScanCountsDoneRecordsAndReservesTheirFiles) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path report = dir.path() / "report.jsonl";
  std::string text = to_json_line(done("http://h/a", "out/a.html")) + "\n" +
                     to_json_line(failed("http://h/b")) + "\n" + "not json\n" +
                     to_json_line(done("http://h/a", "out/a-1.html")) + "\n";
  fs::write_file_sync(report, text);
  ReportScan scan = scan_report(report);
  EXPECT_EQ(scan.records, 3u);
  EXPECT_EQ(scan.whole_lines, static_cast<off_t>(text.size()));
  EXPECT_TRUE(scan.done.take(stable_hash("http://h/a")));  // done twice: skipped twice
  EXPECT_TRUE(scan.done.take(stable_hash("http://h/a")));
  EXPECT_FALSE(scan.done.take(stable_hash("http://h/a")));
  EXPECT_FALSE(scan.done.contains(stable_hash("http://h/b")));  // failed: fetched again
  EXPECT_EQ(scan.names.claim("out/a.html"), "out/a-2.html");    // both reserved
  EXPECT_EQ(scan.names.claim("out/b.html"), "out/b.html");

  ReportScan none = scan_report(dir.path() / "missing.jsonl");
  EXPECT_EQ(none.whole_lines, -1);
  EXPECT_EQ(none.records, 0u);
}

TEST(FetchReport, TornTailIsCutOffAndAppendingContinuesWholeLines) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path report = dir.path() / "report.jsonl";
  std::string whole = to_json_line(done("http://h/a", "a.html")) + "\n";
  fs::write_file_sync(report, whole + R"({"url":"http://h/b","final_ur)");
  ReportScan scan = scan_report(report);
  EXPECT_EQ(scan.records, 1u);  // the torn line is not a record
  EXPECT_EQ(scan.whole_lines, static_cast<off_t>(whole.size()));
  {
    ReportWriter w;
    w.open(report, true, scan.whole_lines);
    EXPECT_EQ(fs::read_file_sync(report), whole);
    w.add(failed("http://h/b"));
    w.flush();
    EXPECT_TRUE(w.error().empty());
  }
  auto lines = lines_of(fs::read_file_sync(report));
  ASSERT_EQ(lines.size(), 2u);
  Record r;
  ASSERT_TRUE(parse_json_line(lines[1], r));
  EXPECT_EQ(r.url, "http://h/b");

  // Without append: a fresh report.
  ReportWriter fresh;
  fresh.open(report, false);
  EXPECT_EQ(fs::read_file_sync(report), "");
}

TEST(FetchReport, WritesInLargePieces) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path report = dir.path() / "report.jsonl";
  ReportWriter w;
  w.open(report, false);
  w.add(done("http://h/a", "a.html"));
  EXPECT_EQ(fs::read_file_sync(report), "");  // buffered
  EXPECT_GT(w.buffered(), 0u);
  std::size_t n = 1;
  while (w.buffered() > 0) {  // the buffer goes out once it holds kFlushBytes
    w.add(done("http://h/" + std::to_string(n), "x.html"));
    ++n;
    ASSERT_LT(n, 100000u);
  }
  EXPECT_EQ(lines_of(fs::read_file_sync(report)).size(), n);
}

// RLIMIT_FSIZE makes a write fail part-way (EFBIG), as a full disk does.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit l = old_;
    l.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &l);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(FetchReport, AFailedWriteLeavesWholeLinesAndKeepsTheRest) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path report = dir.path() / "report.jsonl";
  ReportWriter w;
  w.open(report, false);
  const int n = 40;
  for (int i = 0; i < n; ++i) w.add(done("http://h/" + std::to_string(i), "page.html"));
  std::size_t line = to_json_line(done("http://h/10", "page.html")).size() + 1;
  {
    FileSizeLimit limit(static_cast<rlim_t>(line * 5 + line / 2));  // 5.5 lines fit
    w.flush();
  }
  EXPECT_NE(w.error().find("cannot write"), std::string::npos) << w.error();
  std::string text = fs::read_file_sync(report);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');  // no half line
  auto lines = lines_of(text);
  EXPECT_GE(lines.size(), 4u);
  EXPECT_LE(lines.size(), 5u);
  for (const auto& l : lines) {
    Record r;
    EXPECT_TRUE(parse_json_line(l, r)) << l;
  }
  // Room again: the next flush writes the rest, each record once.
  w.flush();
  EXPECT_TRUE(w.error().empty()) << w.error();
  lines = lines_of(fs::read_file_sync(report));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Record r;
    ASSERT_TRUE(parse_json_line(lines[i], r));
    EXPECT_EQ(r.url, "http://h/" + std::to_string(i));
  }
}

// The report keeps room for its next records past its end (fallocate, the file's size
// unchanged), so a filesystem the pages fill still takes the records; finish() gives
// the room back. On a tmpfs the test mounts (root, as the other full-disk tests).
TEST(FetchReport, KeepsRoomForItsRecordsOnAFullFilesystem) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path mount = dir.path() / "fs";
  fsys::create_directories(mount);
  corun::testing::SmallTmpfs tmpfs(mount, "1m");
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  fsys::path report = mount / "report.jsonl";
  ReportWriter w;
  w.open(report, false);
  // A sixteenth of the free megabyte at most, in whole pages.
  EXPECT_GT(w.reserved(), 0);
  EXPECT_LE(w.reserved(), 65536);
  EXPECT_EQ(fsys::file_size(report), 0u);  // readers see whole records only
  // The pages fill the rest.
  {
    int fd = ::open((mount / "page.html").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    std::string block(4096, 'x');
    int err = 0;
    for (int i = 0; i < 1000 && err == 0; ++i) {
      if (::write(fd, block.data(), block.size()) < 0) err = errno;
    }
    ::close(fd);
    ASSERT_EQ(err, ENOSPC) << "the filesystem should be full";
  }
  const int n = 200;  // about 16 KB of records
  for (int i = 0; i < n; ++i) w.add(failed("http://h/" + std::to_string(i)));
  w.flush();
  EXPECT_TRUE(w.error().empty()) << w.error();
  EXPECT_EQ(lines_of(fs::read_file_sync(report)).size(), static_cast<std::size_t>(n));
  w.finish();
  EXPECT_EQ(w.reserved(), 0);
  struct stat st {};
  ASSERT_EQ(::stat(report.c_str(), &st), 0);
  EXPECT_LE(st.st_blocks * 512, st.st_size + 4096) << "the room past the end is given back";
}

// The same where the test's temporary directory is (ext4 on the development
// machines): there punching a hole past the end gives nothing back, and a report
// kept a mebibyte of disk after every run.
TEST(FetchReport, GivesItsRoomBackOnTheTemporaryDirectorysFilesystem) {
  corun::testing::TempDir dir("corun-fetch-report");
  fsys::path report = dir.path() / "report.jsonl";
  ReportWriter w;
  w.open(report, false);
  for (int i = 0; i < 3; ++i) w.add(failed("http://h/" + std::to_string(i)));
  w.finish();
  struct stat st {};
  ASSERT_EQ(::stat(report.c_str(), &st), 0);
  struct statfs fs {};
  ASSERT_EQ(::statfs(report.c_str(), &fs), 0);
  EXPECT_GT(st.st_size, 0);
  EXPECT_LE(st.st_blocks * 512, st.st_size + 4096)
      << "the room past the end is given back (filesystem type " << std::hex << fs.f_type << ")";
}

TEST(FetchReport, StaleTemporaryFilesAreRemoved) {
  corun::testing::TempDir dir("corun-fetch-report");
  std::string temp = "." + std::string("a.html") + std::string(fs::kTempSuffix);
  fs::write_file_sync(dir.path() / temp, "x");
  fs::write_file_sync(dir.path() / "sub" / temp, "x", fs::WriteOptions{.create_dirs = true});
  fs::write_file_sync(dir.path() / "a.html", "keep");
  fs::write_file_sync(dir.path() / std::string(fs::kTempSuffix), "keep: no name before it");
  remove_stale_temp_files(dir.path());
  EXPECT_FALSE(fsys::exists(dir.path() / temp));
  EXPECT_FALSE(fsys::exists(dir.path() / "sub" / temp));
  EXPECT_TRUE(fsys::exists(dir.path() / "a.html"));
  EXPECT_TRUE(fsys::exists(dir.path() / std::string(fs::kTempSuffix)));
}

}  // namespace
}  // namespace corun::fetch
