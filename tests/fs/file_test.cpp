// corun::fs::write_file / read_file: round trips, atomic replacement, no
// temporary files left behind, errors that name the path (missing folder,
// not a folder, full disk via a tiny tmpfs and via RLIMIT_FSIZE).
#include "corun/fs/file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "corun/corun.hpp"
#include "support/nginx_fixture.hpp"

namespace fs = std::filesystem;
using corun::Task;

namespace {

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

std::string big_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST(FsFile, WriteThenReadRoundTrips) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "a.bin";
  std::string bytes = big_bytes(300000);
  bytes[7] = '\0';
  std::string back = corun::run(corun::co_invoke([&]() -> Task<std::string> {
    co_await corun::fs::write_file(p, bytes);
    co_return co_await corun::fs::read_file(p);
  }));
  EXPECT_EQ(back, bytes);
  EXPECT_EQ(entries_in(dir.path()), 1u);  // no temporary file left
}

TEST(FsFile, AtomicWriteReplacesExistingFileAndLeavesNoTemp) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "page.html";
  corun::run(corun::co_invoke([&]() -> Task<> {
    co_await corun::fs::write_file(p, "old contents, longer than the new ones");
    co_await corun::fs::write_file(p, "new");
  }));
  EXPECT_EQ(corun::fs::read_file_sync(p), "new");
  EXPECT_EQ(entries_in(dir.path()), 1u);
}

TEST(FsFile, NonAtomicAndFsyncOptionsWrite) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "x.txt";
  corun::run(corun::co_invoke([&]() -> Task<> {
    co_await corun::fs::write_file(p, "one", {.atomic = false, .fsync = true});
    co_await corun::fs::write_file(p, "two!", {.atomic = true, .fsync = true});
  }));
  EXPECT_EQ(corun::fs::read_file_sync(p), "two!");
}

// Both ways an unnamed file gets its name: by its descriptor (AT_EMPTY_PATH, where
// the kernel allows it) and through /proc/self/fd/N (older kernels).
TEST(FsFile, AtomicWritesLinkByDescriptorAndThroughProc) {
  for (bool proc_only : {false, true}) {
    SCOPED_TRACE(proc_only ? "through /proc" : "by descriptor where allowed");
    corun::fs::detail::link_through_proc_only(proc_only);
    corun::testing::TempDir dir("corun-fs");
    fs::path p = dir.path() / "page.html";
    corun::fs::write_file_sync(p, "\xEF\xBB\xBF", "first");
    EXPECT_EQ(corun::fs::read_file_sync(p), std::string("\xEF\xBB\xBF") + "first");
    corun::fs::write_file_sync(p, "second, replacing");
    EXPECT_EQ(corun::fs::read_file_sync(p), "second, replacing");
    EXPECT_EQ(entries_in(dir.path()), 1u);
    // A missing folder: an error naming the path, or made with create_dirs.
    fs::path deep = dir.path() / "a" / "b" / "c.html";
    try {
      corun::fs::write_file_sync(deep, "x");
      ADD_FAILURE() << "no error for a missing folder";
    } catch (const corun::fs::FileError& e) {
      EXPECT_EQ(e.code().value(), ENOENT);
      EXPECT_NE(std::string(e.what()).find("c.html"), std::string::npos) << e.what();
    }
    corun::fs::write_file_sync(deep, "made", {.create_dirs = true});
    EXPECT_EQ(corun::fs::read_file_sync(deep), "made");
    EXPECT_EQ(entries_in(dir.path() / "a" / "b"), 1u);
  }
  corun::fs::detail::link_through_proc_only(false);
}

TEST(FsFile, HeadAndBodyPiecesMakeOneFile) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "bom.txt";
  corun::fs::write_file_sync(p, "\xEF\xBB\xBF", "text");
  EXPECT_EQ(corun::fs::read_file_sync(p), "\xEF\xBB\xBFtext");
}

TEST(FsFile, CreateDirsMakesMissingFolders) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "a" / "b" / "c.txt";
  corun::fs::write_file_sync(p, "x", {.create_dirs = true});
  EXPECT_EQ(corun::fs::read_file_sync(p), "x");
}

TEST(FsFile, MissingFolderIsAnErrorNamingThePath) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "nope" / "a.txt";
  try {
    corun::run(corun::fs::write_file(p, "x"));
    FAIL() << "no error";
  } catch (const corun::fs::FileError& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_EQ(e.path(), p);
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(FsFile, FileInPlaceOfFolderIsAnError) {
  corun::testing::TempDir dir("corun-fs");
  corun::fs::write_file_sync(dir.path() / "f", "x");
  EXPECT_THROW(corun::fs::write_file_sync(dir.path() / "f" / "g", "y"), corun::fs::FileError);
  EXPECT_THROW(corun::run(corun::fs::read_file(dir.path() / "missing")), corun::fs::FileError);
  EXPECT_THROW(corun::fs::read_file_sync(dir.path()), corun::fs::FileError);
}

TEST(FsFile, FullDiskOnTinyTmpfsRaisesNoSpaceAndLeavesNoHalfFile) {
  corun::testing::TempDir dir("corun-fs");
  fs::path mnt = dir.path() / "mnt";
  fs::create_directory(mnt);
  corun::testing::SmallTmpfs tmpfs(mnt, "64k");
  // Needs the right to mount (root, as CI runs): without it, a failure, never a skip.
  ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error() << " (run the suite as root)";
  corun::fs::write_file_sync(mnt / "small.txt", "fits");
  std::string big = big_bytes(512 * 1024);
  try {
    corun::run(corun::fs::write_file(mnt / "big.txt", big));
    FAIL() << "no error";
  } catch (const corun::fs::FileError& e) {
    EXPECT_EQ(e.code().value(), ENOSPC);
    EXPECT_NE(std::string(e.what()).find("big.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(mnt / "big.txt"));
  EXPECT_EQ(entries_in(mnt), 1u);  // the small file only: no temporary left
  EXPECT_EQ(corun::fs::read_file_sync(mnt / "small.txt"), "fits");
  // Space freed by the failed write is usable again.
  corun::fs::write_file_sync(mnt / "again.txt", big_bytes(16 * 1024));
}

TEST(FsFile, FileSizeLimitRaisesAndLeavesNoHalfFile) {
  corun::testing::TempDir dir("corun-fs");
  fs::path p = dir.path() / "limited.txt";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{16 * 1024, 16 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    try {
      corun::fs::write_file_sync(p, big_bytes(64 * 1024));
      ::_exit(10);
    } catch (const corun::fs::FileError& e) {
      bool named = std::string(e.what()).find("limited.txt") != std::string::npos;
      ::_exit(e.code().value() == EFBIG && named ? 0 : 11);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_EQ(entries_in(dir.path()), 0u);
}

TEST(FsFile, ManyConcurrentWritesAllLand) {
  corun::testing::TempDir dir("corun-fs");
  corun::run(corun::co_invoke([&]() -> Task<> {
    std::vector<Task<void>> writes;
    for (int i = 0; i < 200; ++i) {
      writes.push_back(
          corun::fs::write_file(dir.path() / fmt::format("{}.txt", i), fmt::format("page {}", i)));
    }
    co_await corun::gather(std::move(writes));
  }));
  EXPECT_EQ(entries_in(dir.path()), 200u);
  EXPECT_EQ(corun::fs::read_file_sync(dir.path() / "137.txt"), "page 137");
}

}  // namespace
