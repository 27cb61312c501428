// corun::fetch naming (see include/corun/fetch/naming.hpp).
#include "corun/fetch/naming.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "corun/http/errors.hpp"
#include "corun/http/url.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/utf8.hpp"

namespace corun::fetch {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoded when the result is UTF-8 without NUL or '/'; else as is.
std::string percent_decoded(std::string_view s) {
  if (s.find('%') == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  if (!text::is_valid_utf8(out) || out.find('\0') != std::string::npos ||
      out.find('/') != std::string::npos) {
    return std::string(s);
  }
  return out;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  return text::is_valid_utf8(s.substr(i, n)) ? n : 0;
}

// Cuts s to at most max bytes at a UTF-8 boundary.
void truncate_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

// "name.ext" -> ("name", ".ext"); no extension when the dot leads or the tail is long.
std::pair<std::string_view, std::string_view> split_extension(std::string_view name) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || name.size() - dot > 16) return {name, {}};
  return {name.substr(0, dot), name.substr(dot)};
}

}  // namespace

UrlParts url_parts(const http::URL& url) noexcept {
  UrlParts parts;
  parts.scheme = std::string_view(url.str()).substr(0, url.scheme().size());
  parts.host = url.written_host();
  parts.port = url.written_port();
  parts.path = url.written_path();
  parts.query = url.written_query();
  return parts;
}

bool parse_url(std::string_view url, UrlParts& parts, std::string& error) {
  try {
    http::URL parsed = http::URL::parse(url);
    // The same offsets in url, which is the parsed text.
    auto at = [&](std::string_view part) {
      return url.substr(static_cast<std::size_t>(part.data() - parsed.str().data()), part.size());
    };
    UrlParts in_parsed = url_parts(parsed);
    parts.scheme = at(in_parsed.scheme);
    parts.host = at(in_parsed.host);
    parts.port = at(in_parsed.port);
    parts.path = at(in_parsed.path);
    parts.query = at(in_parsed.query);
    return true;
  } catch (const http::InvalidURL& e) {
    error = e.what();
    return false;
  }
}

std::string host_key(const UrlParts& parts) {
  std::string key;
  key.reserve(parts.scheme.size() + parts.host.size() + parts.port.size() + 4);
  key.append(parts.scheme).append("://").append(parts.host);
  // The scheme's default port is the same host as no port (http://a, http://a:80).
  bool default_port = (text::iequals(parts.scheme, "http") && parts.port == "80") ||
                      (text::iequals(parts.scheme, "https") && parts.port == "443");
  if (!parts.port.empty() && !default_port) key.append(":").append(parts.port);
  for (char& c : key) c = text::ascii_lower(c);
  return key;
}

std::string sanitize_name(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    auto c = static_cast<unsigned char>(raw[i]);
    if (c >= 0x80) {
      std::size_t n = utf8_length(raw, i);
      if (n == 0) {
        out.push_back('_');
        ++i;
      } else {
        out.append(raw.substr(i, n));
        i += n;
      }
      continue;
    }
    bool bad = c < 0x20 || c == 0x7F ||
               std::string_view("/\\:*?\"<>|").find(static_cast<char>(c)) != std::string_view::npos;
    out.push_back(bad ? '_' : static_cast<char>(c));
    ++i;
  }
  if (!out.empty() && out.front() == '.') out.front() = '_';
  if (out.empty()) out.push_back('_');
  if (out.size() > kMaxNameBytes) {
    auto [stem, ext] = split_extension(out);
    std::string s(stem);
    truncate_utf8(s, kMaxNameBytes - ext.size());
    s.append(ext);
    out = std::move(s);
  }
  return out;
}

std::string name_from_url(const UrlParts& parts) {
  std::string_view path = parts.path;
  std::string_view last =
      path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  std::string name = last.empty() ? std::string("index.html") : percent_decoded(last);
  if (!parts.query.empty()) {
    auto [stem, ext] = split_extension(name);
    std::string q = percent_decoded(parts.query);
    name = fmt::format("{}_{}{}", stem, q, ext);
  }
  return sanitize_name(name);
}

std::uint64_t stable_hash(std::string_view bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

NameTemplate::NameTemplate(std::string_view text) {
  if (text.empty()) throw TemplateError("--name: empty template");
  if (text.front() == '/')
    throw TemplateError(fmt::format("--name: must be a relative path: {}", text));
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) pieces_.push_back({Kind::literal, std::move(literal)});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{') {
      auto close = text.find('}', i);
      if (close == std::string_view::npos) {
        throw TemplateError(fmt::format("--name: unclosed '{{' in {}", text));
      }
      std::string_view key = text.substr(i + 1, close - i - 1);
      Kind kind;
      if (key == "index")
        kind = Kind::index;
      else if (key == "name")
        kind = Kind::name;
      else if (key == "host")
        kind = Kind::host;
      else if (key == "path")
        kind = Kind::path;
      else if (key == "hash")
        kind = Kind::hash;
      else {
        throw TemplateError(
            fmt::format("--name: unknown placeholder {{{}}} (known: {{index}} {{name}} {{host}} "
                        "{{path}} {{hash}})",
                        key));
      }
      flush();
      pieces_.push_back({kind, {}});
      i = close;
    } else if (c == '/') {
      flush();
      pieces_.push_back({Kind::slash, {}});
    } else {
      literal.push_back(c);
    }
  }
  flush();
  // Literal "." / ".." segments would leave the output folder.
  std::string segment;
  bool only_literals = true;
  auto check = [&] {
    if (only_literals && (segment == "." || segment == ".." || segment.empty())) {
      throw TemplateError(fmt::format("--name: empty, '.' or '..' folder in {}", text));
    }
  };
  for (const Piece& p : pieces_) {
    if (p.kind == Kind::slash) {
      check();
      segment.clear();
      only_literals = true;
    } else if (p.kind == Kind::literal) {
      segment += p.text;
    } else {
      only_literals = false;
    }
  }
  check();
}

bool NameTemplate::has_index() const noexcept {
  for (const Piece& p : pieces_) {
    if (p.kind == Kind::index) return true;
  }
  return false;
}

std::string NameTemplate::expand(std::string_view url, const UrlParts& parts,
                                 std::uint64_t index) const {
  std::string out, segment;
  auto end_segment = [&] {
    out += sanitize_name(segment);
    segment.clear();
  };
  for (const Piece& p : pieces_) {
    switch (p.kind) {
      case Kind::literal:
        segment += p.text;
        break;
      case Kind::slash:
        end_segment();
        out += '/';
        break;
      case Kind::index:
        segment += fmt::format("{}", index);
        break;
      case Kind::name:
        segment += name_from_url(parts);
        break;
      case Kind::host: {
        std::string h(parts.host);
        if (!parts.port.empty()) h.append("_").append(parts.port);
        for (char& ch : h) ch = text::ascii_lower(ch);
        segment += h;
        break;
      }
      case Kind::path: {
        std::string_view path = parts.path;
        while (!path.empty() && path.front() == '/') path.remove_prefix(1);
        std::string s = path.empty() ? std::string("index.html") : percent_decoded(path);
        std::replace(s.begin(), s.end(), '/', '_');
        segment += s;
        break;
      }
      case Kind::hash:
        segment += fmt::format("{:016x}", stable_hash(url));
        break;
    }
  }
  end_segment();
  return out;
}

std::size_t FlatCounter::find(std::uint64_t key) const noexcept {
  std::size_t mask = slots_.size() - 1;
  std::size_t i = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
  while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask;
  return i;
}

void FlatCounter::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  for (const Slot& s : old) {
    if (s.key != 0) slots_[find(s.key)] = s;
  }
}

std::uint32_t FlatCounter::add(std::uint64_t key) {
  if (key == 0) key = 1;
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  Slot& s = slots_[find(key)];
  if (s.key == 0) {
    s.key = key;
    ++size_;
  }
  return s.count++;
}

bool FlatCounter::take(std::uint64_t key) {
  if (key == 0) key = 1;
  if (slots_.empty()) return false;
  Slot& s = slots_[find(key)];
  if (s.key == 0 || s.count == 0) return false;
  --s.count;
  return true;
}

bool FlatCounter::contains(std::uint64_t key) const noexcept {
  if (key == 0) key = 1;
  if (slots_.empty()) return false;
  const Slot& s = slots_[find(key)];
  return s.key != 0 && s.count > 0;
}

void NameRegistry::reserve(std::string_view relative) {
  taken_.add(stable_hash(relative));
}

namespace {
constexpr std::uint64_t kCollisionSalt = 0x9E3779B97F4A7C15ull;
}  // namespace

std::string NameRegistry::claim(std::string_view relative) {
  if (taken_.add(stable_hash(relative)) == 0) return std::string(relative);
  // Taken: "a.html" -> "a-1.html", "a-2.html", ... (the extension of the last segment).
  auto slash = relative.rfind('/');
  std::string_view folder =
      slash == std::string_view::npos ? std::string_view{} : relative.substr(0, slash + 1);
  std::string_view last = slash == std::string_view::npos ? relative : relative.substr(slash + 1);
  auto [stem, ext] = split_extension(last);
  // Each earlier collision on this name took the lowest free variant, so -1 ..
  // -k (k of them) are all taken: start after them. Counting them keeps N
  // copies of one URL linear, not N^2 / 2 tries (the count lives under a
  // salted key, and only for names that collided).
  std::uint64_t collisions = taken_.add(stable_hash(relative) ^ kCollisionSalt);
  for (std::uint64_t n = collisions + 1;; ++n) {
    std::string candidate = fmt::format("{}{}-{}{}", folder, stem, n, ext);
    if (taken_.add(stable_hash(candidate)) == 0) return candidate;
  }
}

}  // namespace corun::fetch
