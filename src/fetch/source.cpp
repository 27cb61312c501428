// corun::fetch URL sources (see include/corun/fetch/source.hpp).
#include "corun/fetch/source.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "corun/core/threads.hpp"
#include "corun/fs/file.hpp"

namespace corun::fetch {

namespace {
constexpr std::size_t kBatch = 4096;
constexpr std::size_t kBlock = std::size_t{64} * 1024;
constexpr int kPollMs = 200;
constexpr std::size_t kMaxLine = std::size_t{64} * 1024;
}  // namespace

Task<bool> ListSource::next_batch(std::vector<std::string>& out) {
  std::size_t end = std::min(lines_.size(), next_ + kBatch);
  for (; next_ < end; ++next_) out.push_back(std::move(lines_[next_]));
  co_return next_ < lines_.size();
}

struct FileSource::State {
  std::filesystem::path path;
  int fd = -1;
  bool owned = false;
  bool regular = false;
  dev_t device = 0;  // a regular file's identity (file_path() for stdin)
  ino_t inode = 0;
  bool eof = false;
  bool at_start = true;             // before the first bytes read
  std::string partial;              // an unfinished line carried to the next block
  bool overlong = false;            // the current line passed kMaxLine: its bytes are dropped
  std::uint64_t overlong_hash = 0;  // FNV-1a of all of that line's bytes

  void hash_overlong(std::string_view bytes) {
    for (char c : bytes) {
      overlong_hash = (overlong_hash ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
    }
  }
  // A line of a file without newlines must not grow without bound: past
  // kMaxLine bytes it becomes a line no URL parser accepts (a report record).
  void append_partial(std::string_view piece) {
    if (overlong) {
      hash_overlong(piece);
      return;
    }
    if (partial.size() + piece.size() > kMaxLine) {
      overlong = true;
      overlong_hash = 0xCBF29CE484222325ull;
      hash_overlong(partial);
      hash_overlong(piece);
      partial.clear();
      partial.shrink_to_fit();
      return;
    }
    partial.append(piece);
  }
  // Its stand-in, told apart from another too-long line by the hash of its
  // bytes (a shared crawl's dedup would take two such lines for one URL).
  std::string overlong_line() const {
    return fmt::format("<line-longer-than-{}-bytes-fnv-{:016x}>", kMaxLine, overlong_hash);
  }

  ~State() {
    if (owned && fd >= 0) ::close(fd);
  }

  // One pool job: waits (briefly) for input, reads a block, splits lines.
  bool read_block(std::vector<std::string>& out) {
    if (eof) return false;
    if (!regular) {
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, kPollMs);
      if (rc == 0) return true;  // nothing yet: let the engine look around
      if (rc < 0 && errno == EINTR) return true;
    }
    char buf[kBlock];
    ssize_t n;
    do {
      n = ::read(fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      throw fs::FileError(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)),
                          path, std::error_code(errno, std::generic_category()));
    }
    if (n == 0) {
      eof = true;
      if (overlong)
        out.push_back(overlong_line());
      else if (!partial.empty())
        out.push_back(std::move(partial));
      overlong = false;
      partial.clear();
      return false;
    }
    std::string_view block(buf, static_cast<std::size_t>(n));
    // A UTF-8 byte order mark at the start (Notepad's lists, corun's own pages)
    // is not part of the first URL.
    if (at_start) {
      at_start = false;
      if (block.starts_with("\xEF\xBB\xBF")) block.remove_prefix(3);
    }
    for (;;) {
      auto nl = block.find('\n');
      if (nl == std::string_view::npos) {
        append_partial(block);
        break;
      }
      if (partial.empty() && !overlong) {
        out.emplace_back(block.substr(0, nl));
      } else {
        append_partial(block.substr(0, nl));
        out.push_back(overlong ? overlong_line() : std::move(partial));
        partial.clear();
        overlong = false;
      }
      block.remove_prefix(nl + 1);
    }
    return true;
  }
};

namespace {
// Not a coroutine: the lambda is built outside any coroutine frame (g++ 12
// miscompiles some captures inside coroutines).
Task<std::pair<bool, std::vector<std::string>>> read_block_job(
    std::shared_ptr<FileSource::State> st) {
  return to_thread([st = std::move(st)] {
    std::vector<std::string> v;
    bool more = st->read_block(v);
    return std::pair<bool, std::vector<std::string>>(more, std::move(v));
  });
}
}  // namespace

FileSource::FileSource(const std::filesystem::path& path) : state_(std::make_shared<State>()) {
  state_->path = path;
  if (path == "-") {
    state_->fd = STDIN_FILENO;
    state_->path = "<stdin>";
  } else {
    state_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (state_->fd < 0) {
      int err = errno;
      throw fs::FileError(fmt::format("cannot read {}: {}", path.string(), std::strerror(err)),
                          path, std::error_code(err, std::generic_category()));
    }
    state_->owned = true;
  }
  struct stat st {};
  state_->regular = ::fstat(state_->fd, &st) == 0 && S_ISREG(st.st_mode);
  // A folder opens (O_RDONLY) and fails only at the first read, after the
  // report was opened for writing: refused here, as a missing file is.
  if (!state_->regular && S_ISDIR(st.st_mode)) {
    throw fs::FileError(fmt::format("cannot read {}: {}", path.string(), std::strerror(EISDIR)),
                        path, std::error_code(EISDIR, std::generic_category()));
  }
  if (state_->regular) {
    state_->device = st.st_dev;
    state_->inode = st.st_ino;
  }
}

std::filesystem::path FileSource::file_path() const {
  if (!state_->regular) return {};
  // stdin redirected from a file: that file, found by its identity.
  if (!state_->owned) {
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", state_->fd);
    std::error_code ec;
    std::filesystem::path target = std::filesystem::read_symlink(link, ec);
    struct stat st {};
    if (ec || ::stat(target.c_str(), &st) != 0 || st.st_dev != state_->device ||
        st.st_ino != state_->inode) {
      return {};
    }
    return target;
  }
  return state_->path;
}

FileSource::~FileSource() = default;

Task<bool> FileSource::next_batch(std::vector<std::string>& out) {
  // The job owns a reference to the state: a cancelled wait leaves it safe.
  std::shared_ptr<State> st = state_;
  std::vector<std::string>* sink = &out;
  bool more = true;
  std::size_t got = 0;
  while (more && got < kBatch) {
    // The job returns its lines by value: a cancelled wait leaves nothing dangling.
    auto [m, lines] = co_await read_block_job(st);
    more = m;
    got += lines.size();
    for (auto& l : lines) sink->push_back(std::move(l));
    if (!st->regular) break;  // hand over what a pipe gave at once
  }
  co_return more;
}

long long FileSource::count_lines() const {
  if (!state_->regular) return -1;
  int fd = ::open(state_->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long long lines = 0;
  char buf[kBlock];
  bool last_newline = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    last_newline = buf[n - 1] == '\n';
  }
  ::close(fd);
  return lines + (last_newline ? 0 : 1);
}

}  // namespace corun::fetch
