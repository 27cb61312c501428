// corun::fetch report file (see report.hpp).
#include "report.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "corun/fs/file.hpp"

namespace corun::fetch {

ReportScan scan_report(const std::filesystem::path& path) {
  ReportScan scan;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return scan;
  auto take_line = [&](std::string_view line) {
    Record r;
    if (!parse_json_line(line, r)) return;
    ++scan.records;
    if (!r.ok()) return;
    scan.done.add(stable_hash(r.url));
    if (!r.path.empty()) scan.names.reserve(r.path);
  };
  std::string pending;  // a line split across blocks
  char buf[65536];
  off_t offset = 0;
  scan.whole_lines = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view block(buf, static_cast<std::size_t>(n));
    if (auto last = block.rfind('\n'); last != std::string_view::npos) {
      scan.whole_lines = offset + static_cast<off_t>(last) + 1;
    }
    offset += n;
    for (;;) {
      auto nl = block.find('\n');
      if (nl == std::string_view::npos) {
        pending.append(block);
        break;
      }
      if (pending.empty()) {
        take_line(block.substr(0, nl));
      } else {
        pending.append(block.substr(0, nl));
        take_line(pending);
        pending.clear();
      }
      block.remove_prefix(nl + 1);
    }
  }
  // A last line without its newline was cut by a crash: not a record (open()
  // drops it).
  ::close(fd);
  return scan;
}

ReportWriter::~ReportWriter() {
  if (fd_ < 0) return;
  release_reserve();
  ::close(fd_);
}

void ReportWriter::finish() noexcept {
  flush();
  reserving_ = false;
  release_reserve();
}

void ReportWriter::reserve() noexcept {
#ifdef FALLOC_FL_KEEP_SIZE
  if (fd_ < 0 || !reserving_ || reserved_end_ - size_ >= kReserveBytes / 2) return;
  // At most a sixteenth of the free space: a small filesystem keeps most of
  // its room for the pages.
  off_t want = kReserveBytes;
  off_t free_bytes = -1;
  struct statvfs fs {};
  if (::fstatvfs(fd_, &fs) == 0) {
    free_bytes = static_cast<off_t>(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize);
    want = std::min<off_t>(want, (free_bytes / 16) & ~off_t{4095});
  }
  bool no_space = free_bytes >= 0 && free_bytes < kLowRoom;
  if (want > 0 && size_ + want > reserved_end_) {
    // KEEP_SIZE: the blocks are the file's, its size does not change (readers
    // see whole records only).
    if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, size_, want) == 0) {
      reserved_end_ = size_ + want;
    } else if (errno == ENOSPC || errno == EDQUOT) {
      no_space = true;
    } else {  // this filesystem keeps no room: a failed write stops the run instead
      reserving_ = false;
      return;
    }
  }
  // A report with records in it (a new, empty one on a small filesystem is not
  // short), little room left and none to be had: the run must stop while what
  // it has in flight still fits.
  if (size_ > 0 && no_space && reserved_end_ - size_ < kLowRoom) {
    out_of_room_ = true;
    free_when_short_ = std::max<off_t>(free_bytes, 0) + (reserved_end_ - size_);
  }
#endif
}

void ReportWriter::release_reserve() noexcept {
#ifdef FALLOC_FL_PUNCH_HOLE
  if (fd_ < 0 || reserved_end_ <= size_) return;
  // Blocks past the end stay the file's until given back. tmpfs gives them
  // back for a hole punched there, not for a truncation to the same size;
  // ext4 the other way round (a hole past the end is a no-op there): both.
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, size_, reserved_end_ - size_);
  (void)::ftruncate(fd_, size_);
#endif
  reserved_end_ = size_;
}

bool lock_report(int fd) noexcept {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    // Held by another process; a filesystem without locks (ENOLCK, EINVAL)
    // is not a reason to refuse.
    return errno != EWOULDBLOCK;
  }
  return true;
}

void ReportWriter::open(const std::filesystem::path& path, bool append, off_t whole_lines) {
  path_ = path;
  if (path == "-") {
    path_ = "standard output";
    fd_ = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0) {
      throw SetupError(
          fmt::format("cannot write the report to standard output: {}", std::strerror(errno)));
    }
    reserving_ = false;  // a pipe or a terminal: no room to keep
    stream_ = true;
    return;
  }
  // Not O_TRUNC: a report another run is writing is refused before anything
  // of it is cut (lock_report).
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : 0);
  fd_ = ::open(path.c_str(), flags, 0666);
  if (fd_ < 0) {
    throw SetupError(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  try {
    // A regular file only: /dev/null, a FIFO (`--report >(gzip > r.gz)`) cannot be
    // cut and are no file two runs could share.
    struct stat st {};
    const bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && !lock_report(fd_)) {
      throw SetupError(fmt::format(
          "{} is the report of another run still going (two runs into one report would cut "
          "and mix each other's records): wait for it to end, or give this one another "
          "--report or --out",
          path.string()));
    }
    if (regular && !append && ::ftruncate(fd_, 0) != 0) {
      throw SetupError(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  size_ = ::lseek(fd_, 0, SEEK_END);
  if (whole_lines >= 0 && whole_lines < size_) {
    // Drop the torn tail a crash left, so the report stays whole JSON lines.
    if (::ftruncate(fd_, whole_lines) != 0) {
      throw SetupError(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
    }
    size_ = whole_lines;
  }
  reserved_end_ = size_;
  reserve();
}

void ReportWriter::add(const Record& record) {
  append_record(buffer_, record);  // no string per record
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushBytes) flush();
}

void ReportWriter::flush() noexcept {
  if (fd_ < 0 || buffer_.empty()) return;
  std::size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && stream_) {
      // Standard output (a pipe, or a file the shell opened, maybe with
      // content before ours): nothing is cut back. The next flush goes on from
      // the first byte not written, so a line cut here is completed then.
      int err = n < 0 ? errno : ENOSPC;
      size_ += static_cast<off_t>(written);
      buffer_.erase(0, written);
      error_ = fmt::format("cannot write {}: {}", path_.string(), std::strerror(err));
      return;
    }
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      // Never leave a half line: keep the whole records this flush wrote, cut
      // the file back to the last of them, and keep the rest for the next try.
      auto last = std::string_view(buffer_).substr(0, written).rfind('\n');
      std::size_t whole = last == std::string_view::npos ? 0 : last + 1;
      size_ += static_cast<off_t>(whole);
      buffer_.erase(0, whole);
      // (Without O_APPEND the offset must come back too, or the next write
      // would leave a hole of NULs where the cut bytes were.)
      if (::ftruncate(fd_, size_) != 0) { /* the next flush tries again */
      }
      ::lseek(fd_, size_, SEEK_SET);
      error_ = fmt::format("cannot write {}: {}", path_.string(), std::strerror(err));
      return;
    }
    written += static_cast<std::size_t>(n);
  }
  size_ += static_cast<off_t>(written);
  buffer_.clear();
  error_.clear();
  reserve();
}

void remove_stale_temp_files(const std::filesystem::path& dir) {
  std::error_code ec;
  auto it = std::filesystem::recursive_directory_iterator(
      dir, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::filesystem::path& p = it->path();
    std::string name = p.filename().string();
    if (name.size() > fs::kTempSuffix.size() && name.front() == '.' &&
        name.ends_with(fs::kTempSuffix)) {
      std::error_code ignored;
      std::filesystem::remove(p, ignored);
    }
  }
}

std::size_t ReportWriter::buffered_records() const noexcept {
  return static_cast<std::size_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
}

}  // namespace corun::fetch
