// The request's own strings, checked before they go on the wire (see the header).
#include "corun/http/detail/request_checks.hpp"

#include <fmt/format.h>

#include "corun/core/error.hpp"

namespace corun::http::detail {

namespace {

// RFC 9110's tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

// What would end the line: CR, LF, and NUL (which libcurl's C strings stop at).
bool breaks_line(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

void check_method(std::string_view method) {
  if (!is_token(method)) {
    throw ValueError(
        fmt::format("invalid HTTP method {:?}: a method is a token (letters, digits "
                    "and !#$%&'*+-.^_`|~), e.g. GET or PROPFIND",
                    method));
  }
}

void check_headers(const Headers& headers) {
  for (auto f : headers) {
    if (!is_token(f.name)) {
      throw ValueError(
          fmt::format("invalid header name {:?}: a name is a token (letters, digits "
                      "and !#$%&'*+-.^_`|~), no spaces, colons or line breaks",
                      f.name));
    }
    if (breaks_line(f.value)) {
      throw ValueError(fmt::format(
          "invalid value for header {}: {:?} holds a CR, LF or NUL character", f.name, f.value));
    }
  }
}

void check_cookies(const std::vector<std::pair<std::string, std::string>>& cookies) {
  for (const auto& [name, value] : cookies) {
    if (name.empty() || breaks_line(name) || name.find_first_of("=; \t,") != std::string::npos) {
      throw ValueError(fmt::format("invalid cookie name {:?}", name));
    }
    if (breaks_line(value) || value.find(';') != std::string::npos) {
      throw ValueError(fmt::format(
          "invalid value for cookie {}: {:?} holds a CR, LF, NUL or ';' character", name, value));
    }
  }
}

}  // namespace corun::http::detail
