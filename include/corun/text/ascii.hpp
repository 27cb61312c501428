// corun::text ASCII helpers: the Infra standard's ASCII case and whitespace rules, used
// wherever a protocol is case-insensitive in ASCII only (labels, header names, MIME
// types, URL schemes). Unlike <cctype> they ignore the locale and never touch bytes
// >= 0x80. Pure functions; corun::text depends on nothing, so every layer may use them.
#pragma once

#include <string>
#include <string_view>

namespace corun::text {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline std::string to_ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - ('a' - 'A')) : c;
}

inline std::string to_ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

// "ASCII case-insensitive match".
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

constexpr bool iends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

constexpr bool is_ascii_alpha(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The predicates take unsigned char so that bytes from either kind of buffer convert
// without an implementation-defined narrowing; a byte >= 0x80 is never ASCII.

// Infra's "ASCII whitespace": TAB, LF, FF, CR, SPACE.
constexpr bool is_ascii_whitespace(unsigned char c) noexcept {
  return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

// Fetch's "HTTP whitespace": TAB, LF, CR, SPACE.
constexpr bool is_http_whitespace(unsigned char c) noexcept {
  return c == '\t' || c == '\n' || c == '\r' || c == ' ';
}

// Fetch's "HTTP tab or space".
constexpr bool is_http_tab_or_space(unsigned char c) noexcept {
  return c == '\t' || c == ' ';
}

// s without the leading and trailing characters for which is_space is true.
template <class Pred>
constexpr std::string_view trim(std::string_view s, Pred is_space) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr std::string_view trim_ascii_whitespace(std::string_view s) noexcept {
  return trim(s, is_ascii_whitespace);
}

constexpr std::string_view trim_http_whitespace(std::string_view s) noexcept {
  return trim(s, is_http_whitespace);
}

constexpr std::string_view trim_http_tab_or_space(std::string_view s) noexcept {
  return trim(s, is_http_tab_or_space);
}

}  // namespace corun::text
