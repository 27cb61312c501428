// corun::fetch naming: which file a URL is saved to. The default name is the
// URL's last path segment (percent-decoded when that gives UTF-8) plus its
// query, made safe for a file system: no '/', '\\', control characters or
// shell-hostile punctuation, no leading '.', at most kMaxNameBytes bytes with
// the extension kept ("/" and "/dir/" become index.html). A --name template
// builds names from placeholders instead:
//
//   {index}  the URL's position in the input, from 0 (blank lines and
//            #comments are not counted), as the original scraper numbers pages
//   {name}   the default name above        {host}  host (and _port)
//   {path}   the whole path, '/' -> '_'     {hash}  16 hex digits of the URL
//
// A template may contain '/' to make sub-folders ("{host}/{index}.html").
// Collisions are resolved deterministically, in input order: the first URL
// gets "a.html", later ones "a-1.html", "a-2.html", ... A resumed run gives
// every URL the name an uninterrupted run would have given it, because names
// already recorded as done are reserved first (see NameRegistry).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/error.hpp"
#include "corun/http/url.hpp"

namespace corun::fetch {

inline constexpr std::size_t kMaxNameBytes = 150;

// The parts of an absolute http(s) URL that naming needs, as written.
struct UrlParts {
  std::string_view scheme;  // "http" or "https" (as written)
  std::string_view host;    // without port, brackets kept for IPv6
  std::string_view port;    // may be empty
  std::string_view path;    // from the first '/' (may be empty)
  std::string_view query;   // after '?', without '#fragment'
};

// The parts http::URL kept as written: views into url.str(), which the URL
// owns (not moved while they are used). No parsing.
UrlParts url_parts(const http::URL& url) noexcept;

// http::URL::parse, for a caller with no URL to keep: fills parts (views into
// url) or returns its error message ("invalid URL (no http:// or https://
// scheme): ...").
bool parse_url(std::string_view url, UrlParts& parts, std::string& error);

// Lower-cased "scheme://host:port", without the scheme's default port (http://a
// and http://a:80 are one host): a queue's per-host slots are kept under it.
std::string host_key(const UrlParts& parts);

// A file-system-safe name from arbitrary bytes (one path segment).
std::string sanitize_name(std::string_view raw);

// The default file name for a URL (already sanitized).
std::string name_from_url(const UrlParts& parts);

// 64-bit FNV-1a: stable across runs and machines.
std::uint64_t stable_hash(std::string_view bytes) noexcept;

class TemplateError : public Error {
 public:
  using Error::Error;
};

// A parsed --name template. Throws TemplateError for an unknown placeholder,
// an unclosed brace, an absolute path or a "." / ".." segment.
class NameTemplate {
 public:
  NameTemplate() = default;  // empty: the default name
  explicit NameTemplate(std::string_view text);
  bool empty() const noexcept { return pieces_.empty(); }
  // True when {index} is in it: every URL's name is then different, so no
  // collision bookkeeping is needed (10 million URLs cost no memory for names).
  bool has_index() const noexcept;
  // The relative path for one URL.
  std::string expand(std::string_view url, const UrlParts& parts, std::uint64_t index) const;

 private:
  enum class Kind : std::uint8_t { literal, slash, index, name, host, path, hash };
  struct Piece {
    Kind kind;
    std::string text;
  };
  std::vector<Piece> pieces_;
};

// A set of 64-bit keys in one flat array (open addressing): 16 bytes or less
// per entry, so tens of millions of names fit where strings would not.
class FlatCounter {
 public:
  // Adds one to key's count; returns the count before.
  std::uint32_t add(std::uint64_t key);
  // Subtracts one if positive; true if it was positive.
  bool take(std::uint64_t key);
  bool contains(std::uint64_t key) const noexcept;
  std::size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0 = empty (key 0 is stored as 1)
    std::uint32_t count = 0;
  };
  std::size_t find(std::uint64_t key) const noexcept;
  void grow();
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

// Names handed out so far in a run (as hashes). reserve() marks a name as
// taken (the report's done records, the report file itself); claim() returns
// the first free variant of a name: "a.html", "a-1.html", "a-2.html", ...
class NameRegistry {
 public:
  void reserve(std::string_view relative);
  std::string claim(std::string_view relative);

 private:
  FlatCounter taken_;
};

}  // namespace corun::fetch
