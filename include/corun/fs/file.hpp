// corun::fs files: whole-file read and write as awaitable jobs on libuv's
// thread pool (what aiofiles or `await asyncio.to_thread(path.write_bytes, b)`
// gives Python code). One pool job per call; the loop thread never blocks on
// the disk.
//
//   co_await corun::fs::write_file("out/page.html", bytes);          // atomic
//   std::string b = co_await corun::fs::read_file("out/page.html");
//
// Atomic writes (the default): the bytes go to an unnamed temporary file in the
// target's folder (O_TMPFILE; a named ".NAME.XXXXXX.corun-tmp" file where the
// filesystem lacks it), which then takes the target's name in one step
// (linkat / rename). Readers see the old file or the new one, never part of
// one; a crash or kill -9 leaves no half file (and, with O_TMPFILE, no
// temporary file either). fsync = true also flushes the file and its folder
// to the disk before returning (durable across a power cut, slower).
//
// Errors: FileError (a corun::Error) naming the path and the cause, e.g.
// "cannot write out/a.html: No space left on device"; code() is the errno.
// Cancellation: cancelling the awaiting task stops the wait at once; the job
// itself runs to its end (a thread cannot be interrupted), so the file is
// either complete or absent.
//
// The *_sync functions do the same work on the calling thread, for code that is
// already on a worker thread (e.g. a decode-and-write job).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "corun/core/error.hpp"
#include "corun/core/task.hpp"

namespace corun::fs {

struct WriteOptions {
  bool atomic = true;        // temporary file + rename: never a half file
  bool fsync = false;        // flush data and folder entry to disk before returning
  bool create_dirs = false;  // create missing parent folders
};

class FileError : public Error {
 public:
  FileError(std::string message, std::filesystem::path path, std::error_code code)
      : Error(std::move(message)), path_(std::move(path)), code_(code) {}
  const std::filesystem::path& path() const noexcept { return path_; }
  std::error_code code() const noexcept { return code_; }

 private:
  std::filesystem::path path_;
  std::error_code code_;
};

// Writes bytes to path (created or replaced). Runs on libuv's thread pool.
// (Overloads instead of a defaulted argument: g++ 12 mishandles defaulted
// class-type arguments of coroutines inside co_await expressions.)
Task<void> write_file(std::filesystem::path path, std::string bytes);
Task<void> write_file(std::filesystem::path path, std::string bytes, WriteOptions options);
// The whole file. Runs on libuv's thread pool.
Task<std::string> read_file(std::filesystem::path path);

// Blocking twins, for worker threads.
void write_file_sync(const std::filesystem::path& path, std::string_view bytes,
                     WriteOptions options = {});
// Writes the pieces one after another as one file (no concatenation copy).
void write_file_sync(const std::filesystem::path& path, std::string_view head,
                     std::string_view body, WriteOptions options = {});
std::string read_file_sync(const std::filesystem::path& path);

namespace detail {
// For tests: true makes atomic writes link their unnamed file through
// /proc/self/fd/N (the way before Linux 6.10); false learns the way again.
void link_through_proc_only(bool on);
}  // namespace detail

// The suffix of named temporary files (where O_TMPFILE is missing); such files
// left by a crash can be removed by whoever owns the folder.
inline constexpr std::string_view kTempSuffix = ".corun-tmp";

}  // namespace corun::fs
