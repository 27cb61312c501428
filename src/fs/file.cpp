// corun::fs files (see include/corun/fs/file.hpp).
#include "corun/fs/file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "corun/core/threads.hpp"

namespace corun::fs {

namespace {

[[noreturn]] void fail(std::string_view what, const std::filesystem::path& path, int err) {
  throw FileError(fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)), path,
                  std::error_code(err, std::generic_category()));
}

// Closes a descriptor on scope exit unless released.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  // close(2) can report a delayed write error (NFS, some full-disk cases).
  int close() {
    int rc = ::close(fd);
    fd = -1;
    return rc;
  }
};

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", path, errno);
    }
    if (n == 0) fail("write", path, ENOSPC);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_pieces(int fd, std::string_view head, std::string_view body, const WriteOptions& options,
                  const std::filesystem::path& path) {
  // Both pieces in one system call when the kernel takes them whole (the usual case).
  while (!head.empty()) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    ssize_t n = ::writev(fd, iov, body.empty() ? 1 : 2);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", path, errno);
    }
    if (n == 0) fail("write", path, ENOSPC);
    auto done = static_cast<std::size_t>(n);
    if (done >= head.size()) {
      body.remove_prefix(done - head.size());
      head = {};
    } else {
      head.remove_prefix(done);
    }
  }
  write_all(fd, body, path);
  if (options.fsync && ::fdatasync(fd) != 0) fail("write", path, errno);
}

std::filesystem::path folder_of(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

void sync_folder(const std::filesystem::path& dir, const std::filesystem::path& path) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0 || ::fsync(d.fd) != 0) fail("write", path, errno);
}

// ".NAME.1a2b3c4d5e6f.corun-tmp" next to path.
std::filesystem::path temp_name(const std::filesystem::path& path) {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<std::uint64_t>(::getpid()) << 32));
  std::string name = path.filename().string();
  if (name.size() > 200) name.resize(200);
  return folder_of(path) /
         fmt::format(".{}.{:012x}{}", name, rng() & 0xFFFFFFFFFFFFull, kTempSuffix);
}

// Named temporary file + rename (filesystems without O_TMPFILE, and replacing).
void write_named_temp(const std::filesystem::path& path, std::string_view head,
                      std::string_view body, const WriteOptions& options) {
  std::filesystem::path tmp;
  int fd = -1;
  for (int tries = 0; tries < 16; ++tries) {
    tmp = temp_name(path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) fail("write", path, errno);
  Fd file(fd);
  try {
    write_pieces(file.fd, head, body, options, path);
    if (file.close() != 0) fail("write", path, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("write", path, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

#ifdef O_TMPFILE
// How an unnamed file gets its name. By its descriptor (linkat with AT_EMPTY_PATH:
// Linux 6.10 and later let the process that opened the file do it; before, only
// with CAP_DAC_READ_SEARCH) or through /proc/self/fd/N. The first costs about 2 us
// less a file (no walk through /proc). Learned from the first link that works.
enum : int { kLinkUnknown, kLinkByDescriptor, kLinkThroughProc };
std::atomic<int> g_link_way{kLinkUnknown};

// 0 or an errno.
int link_unnamed(int fd, const char* proc, const std::filesystem::path& to) {
  int way = g_link_way.load(std::memory_order_relaxed);
  if (way != kLinkThroughProc) {
    if (::linkat(fd, "", AT_FDCWD, to.c_str(), AT_EMPTY_PATH) == 0) {
      if (way == kLinkUnknown) g_link_way.store(kLinkByDescriptor, std::memory_order_relaxed);
      return 0;
    }
    int err = errno;
    // ENOENT is also what a kernel that refuses AT_EMPTY_PATH says: /proc tells.
    if (err != ENOENT && err != EINVAL && err != EPERM) return err;
  }
  if (::linkat(AT_FDCWD, proc, AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW) != 0) return errno;
  if (way == kLinkUnknown) g_link_way.store(kLinkThroughProc, std::memory_order_relaxed);
  return 0;
}
#endif

// O_TMPFILE: an unnamed file in the folder, linked in when complete. False
// when the filesystem cannot make one (the caller falls back to a named file).
bool write_unnamed_temp(const std::filesystem::path& path, std::string_view head,
                        std::string_view body, const WriteOptions& options) {
#ifdef O_TMPFILE
  std::filesystem::path dir = folder_of(path);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) {
    int err = errno;
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) return false;
    fail("write", path, err);
  }
  Fd file(fd);
  write_pieces(file.fd, head, body, options, path);
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", file.fd);
  int err = link_unnamed(file.fd, proc, path);
  if (err == 0) return true;
  if (err == ENOENT && ::access("/proc/self/fd", F_OK) != 0) return false;  // no /proc
  if (err != EEXIST) fail("write", path, err);
  // The target exists: link under a temporary name, then rename over it.
  for (int tries = 0; tries < 16; ++tries) {
    std::filesystem::path tmp = temp_name(path);
    err = link_unnamed(file.fd, proc, tmp);
    if (err != 0) {
      if (err == EEXIST) continue;
      fail("write", path, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      err = errno;
      ::unlink(tmp.c_str());
      fail("write", path, err);
    }
    return true;
  }
  fail("write", path, EEXIST);
#else
  (void)path, (void)head, (void)body, (void)options;
  return false;
#endif
}

void write_direct(const std::filesystem::path& path, std::string_view head, std::string_view body,
                  const WriteOptions& options) {
  Fd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (file.fd < 0) fail("write", path, errno);
  write_pieces(file.fd, head, body, options, path);
  if (file.close() != 0) fail("write", path, errno);
}

void write_once(const std::filesystem::path& path, std::string_view head, std::string_view body,
                const WriteOptions& options) {
  if (!options.atomic) {
    write_direct(path, head, body, options);
  } else if (!write_unnamed_temp(path, head, body, options)) {
    write_named_temp(path, head, body, options);
  }
}

}  // namespace

namespace detail {
void link_through_proc_only(bool on) {
#ifdef O_TMPFILE
  g_link_way.store(on ? kLinkThroughProc : kLinkUnknown, std::memory_order_relaxed);
#else
  (void)on;
#endif
}
}  // namespace detail

void write_file_sync(const std::filesystem::path& path, std::string_view head,
                     std::string_view body, WriteOptions options) {
  if (path.empty() || !path.has_filename()) fail("write", path, EISDIR);
  try {
    write_once(path, head, body, options);
  } catch (const FileError& e) {
    if (!options.create_dirs || e.code().value() != ENOENT) throw;
    std::error_code ec;
    std::filesystem::create_directories(folder_of(path), ec);
    if (ec) fail("create folder for", path, ec.value());
    write_once(path, head, body, options);
  }
  if (options.fsync) sync_folder(folder_of(path), path);
}

void write_file_sync(const std::filesystem::path& path, std::string_view bytes,
                     WriteOptions options) {
  write_file_sync(path, std::string_view{}, bytes, options);
}

std::string read_file_sync(const std::filesystem::path& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) fail("read", path, errno);
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail("read", path, errno);
  if (S_ISDIR(st.st_mode)) fail("read", path, EISDIR);
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(file.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Plain functions returning to_thread's task: the lambdas are built here, not
// inside a coroutine (g++ 12 miscompiles init-captures of coroutine parameters).
Task<void> write_file(std::filesystem::path path, std::string bytes, WriteOptions options) {
  return to_thread(
      [p = std::move(path), b = std::move(bytes), options] { write_file_sync(p, b, options); });
}

Task<void> write_file(std::filesystem::path path, std::string bytes) {
  return write_file(std::move(path), std::move(bytes), WriteOptions{});
}

Task<std::string> read_file(std::filesystem::path path) {
  return to_thread([p = std::move(path)] { return read_file_sync(p); });
}

}  // namespace corun::fs
