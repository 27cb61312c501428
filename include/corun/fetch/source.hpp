// corun::fetch URL sources: where `corun fetch` reads its URLs from, streamed
// in batches so a list of ten million lines is never held in memory (the
// local frontier, frontier_local.hpp, reads the next batch only when the
// engine has room for more URLs).
//
// A source yields raw lines; the engine trims them, skips blank lines and
// #comments, and reads "URL [ENCODING-LABEL]".
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/task.hpp"

namespace corun::fetch {

// One input line, "URL [ENCODING-LABEL]", as the engine reads it: spaces and
// tabs around it (and a trailing '\r') are dropped; an empty line or one that
// starts with '#' is not a URL line (false: no record, no {index}). Otherwise
// url is the first word, with base_url put in front unless it has "://", and
// label the rest of the line (inner blanks kept), may be empty. Whatever else
// the line holds (NULs, bytes that are not UTF-8) stays in url or label: the
// URL's record says what is wrong with it. A line longer than 64 KiB reaches
// the engine as one placeholder line that no URL parser accepts (FileSource).
struct InputLine {
  std::string url;
  std::string label;
};
bool parse_input_line(std::string_view raw, std::string_view base_url, InputLine& out);

class UrlSource {
 public:
  virtual ~UrlSource() = default;
  // Appends the next lines to out (possibly none, when input is slow: the
  // engine then checks whether it was asked to stop and calls again). Returns
  // false once the input is exhausted (out may still have received lines).
  virtual Task<bool> next_batch(std::vector<std::string>& out) = 0;
  // The number of lines, when cheap to know in advance (for an ETA), or -1.
  virtual long long size_hint() const { return -1; }
  // The regular file the lines come from, if any: no page and no report may be
  // written over it (LocalFrontier). Empty for other sources.
  virtual std::filesystem::path file_path() const { return {}; }
};

// Lines held by the caller (command-line arguments, a Python list).
class ListSource final : public UrlSource {
 public:
  explicit ListSource(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  Task<bool> next_batch(std::vector<std::string>& out) override;
  long long size_hint() const override { return static_cast<long long>(lines_.size()); }

 private:
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
};

// Lines of a file, or of standard input ("-"), read in 64 KiB blocks on
// libuv's thread pool. A pipe or terminal is polled with a short timeout so a
// slow producer never pins a pool thread for long. Throws fs::FileError when
// the file cannot be opened.
class FileSource final : public UrlSource {
 public:
  explicit FileSource(const std::filesystem::path& path);  // "-": stdin
  ~FileSource() override;
  Task<bool> next_batch(std::vector<std::string>& out) override;
  // Counts the lines of a regular file (blocking; call it off the loop).
  long long count_lines() const;
  long long size_hint() const override { return size_hint_; }
  void set_size_hint(long long n) { size_hint_ = n; }
  std::filesystem::path file_path() const override;

  struct State;

 private:
  std::shared_ptr<State> state_;
  long long size_hint_ = -1;
};

}  // namespace corun::fetch
