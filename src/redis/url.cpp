// Parsing redis:// URLs (see include/corun/redis/url.hpp).
#include "corun/redis/url.hpp"

#include <fmt/format.h>

#include <charconv>

#include "corun/redis/errors.hpp"
#include "corun/text/ascii.hpp"

namespace corun::redis {

namespace {

constexpr std::string_view kForm = "redis://[[user]:password@]host[:port][/db]";

// The URL with the password of its user part, if any, as ***: an error
// message may end up in a log.
std::string masked(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return std::string(url);
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? end : end - start);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  auto sep = authority.substr(0, at).find(':');
  if (sep == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, start + sep + 1));
  out += "***";
  out += url.substr(start + at);
  return out;
}

[[noreturn]] void bad(std::string_view url, std::string_view why) {
  throw InvalidURL(
      fmt::format("invalid Redis URL '{}': {} (expected {})", masked(url), why, kForm));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view url, std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) bad(url, "a truncated %-escape");
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) bad(url, "a bad %-escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

Url parse_url(std::string_view url) {
  auto colon = url.find("://");
  if (colon == std::string_view::npos) bad(url, "no scheme");
  std::string scheme = text::to_ascii_lower(url.substr(0, colon));
  if (scheme == "rediss") {
    bad(url, "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS");
  }
  if (scheme == "unix") bad(url, "unix sockets are not supported");
  if (scheme != "redis") bad(url, fmt::format("unsupported scheme '{}'", scheme));
  std::string_view rest = url.substr(colon + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    bad(url, "query strings and fragments are not supported");
  }
  std::string_view authority = rest;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash);
  }
  Url out;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto sep = userinfo.find(':');
    if (sep == std::string_view::npos) {
      bad(url, "a user without a password (write user:password@ or :password@)");
    }
    out.username = percent_decode(url, userinfo.substr(0, sep));
    out.password = percent_decode(url, userinfo.substr(sep + 1));
    // redis://:@host: no password, as redis-py's from_url reads it (AUTH ""
    // is refused by a server that has none).
    if (out.username.empty() && out.password->empty()) out.password.reset();
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) bad(url, "an unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad(url, "junk after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) bad(url, "an empty port");
    }
  } else {
    auto sep = authority.rfind(':');
    if (sep != std::string_view::npos) {
      out.host = std::string(authority.substr(0, sep));
      port_text = authority.substr(sep + 1);
      if (port_text.empty()) bad(url, "an empty port");
    } else {
      out.host = std::string(authority);
    }
    if (out.host.find(':') != std::string::npos) bad(url, "an IPv6 host must be in brackets");
  }
  if (out.host.empty()) bad(url, "no host");
  for (char c : out.host) {
    // ASCII whitespace and the vertical tab, as <cctype>'s isspace in the C locale.
    if (text::is_ascii_whitespace(static_cast<unsigned char>(c)) || c == '\v' || c == '/' ||
        c == '@') {
      bad(url, "a bad character in the host");
    }
  }
  if (!port_text.empty()) {
    if (!parse_int(port_text, out.port) || out.port < 1 || out.port > 65535) {
      bad(url, fmt::format("port '{}' is not a number from 1 to 65535", port_text));
    }
  }
  if (path.size() > 1) {
    std::string_view db = path.substr(1);
    if (!parse_int(db, out.db)) {
      bad(url, fmt::format("the path '{}' is not a database number", path));
    }
  }
  return out;
}

std::string Url::address() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string Url::to_string() const {
  std::string auth;
  if (password) auth = fmt::format("{}:***@", username);
  return fmt::format("redis://{}{}/{}", auth, address(), db);
}

}  // namespace corun::redis
