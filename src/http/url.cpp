// corun::http::URL (see include/corun/http/url.hpp) over libcurl's URL API.
#include "corun/http/url.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <idn2.h>

#include <algorithm>
#include <new>
#include <optional>
#include <utility>

#include "corun/http/errors.hpp"
#include "corun/text/ascii.hpp"

namespace corun::http {

namespace {

// What corun accepts before curl parses it; the messages say what is wrong.
void check_scheme_and_spaces(std::string_view url) {
  if (text::istarts_with(url, "http://") || text::istarts_with(url, "https://")) {
    // One pass (find_first_of calls memchr once per character).
    for (char c : url) {
      if (text::is_http_whitespace(static_cast<unsigned char>(c))) {
        throw InvalidURL(fmt::format("invalid URL (whitespace): {}", url), std::string(url));
      }
      if (c == '\0') {
        // curl would read the URL only up to it: another URL than the one given.
        std::string shown(url.substr(0, url.find('\0')));
        throw InvalidURL(fmt::format("invalid URL (a NUL byte after '{}')", shown),
                         std::string(url));
      }
    }
    return;
  }
  auto colon = url.find("://");
  if (colon != std::string_view::npos && colon > 0) {
    throw InvalidURL(fmt::format("unsupported URL scheme '{}' (only http and https): {}",
                                 url.substr(0, colon), url),
                     std::string(url));
  }
  throw InvalidURL(fmt::format("invalid URL (no http:// or https:// scheme): {}", url),
                   std::string(url));
}

// Where the host and the port are in s's authority [begin, end): a split on
// the text as written, no checks (curl's parse checks).
struct Authority {
  std::size_t host_begin, host_end, port_begin;  // port: [port_begin, end), maybe empty
};

Authority split_authority(std::string_view s, std::size_t begin, std::size_t end) {
  Authority a{begin, end, end};
  if (auto at = s.substr(begin, end - begin).rfind('@'); at != std::string_view::npos) {
    a.host_begin = begin + at + 1;
  }
  if (a.host_begin < end && s[a.host_begin] == '[') {
    std::size_t close = s.find(']', a.host_begin);
    if (close != std::string_view::npos && close < end) a.host_end = close + 1;
  } else if (a.host_begin < end) {
    auto colon = s.rfind(':', end - 1);
    if (colon != std::string_view::npos && colon >= a.host_begin) a.host_end = colon;
  }
  if (a.host_end < end) a.port_begin = a.host_end + 1;
  return a;
}

// The end of the authority that starts at begin (before '/', '?' or '#').
std::size_t authority_end(std::string_view s, std::size_t begin) {
  for (std::size_t i = begin; i < s.size(); ++i) {
    if (s[i] == '/' || s[i] == '?' || s[i] == '#') return i;
  }
  return s.size();
}

// True when curl's parse leaves the host as written (but for case): ASCII
// letters, digits, '-' and '.', and not a number curl rewrites as an IPv4
// address ("127.1", "0x7f.1", "010.0.0.1"), except a dotted quad already in
// the form curl writes ("127.0.0.1"). Anything else (IPv6, percent-encoding,
// non-ASCII) is taken from curl.
bool plain_host(std::string_view h) {
  if (h.empty()) return false;
  bool letter = false;  // a letter curl's IPv4 numbers cannot hold
  for (char c : h) {
    bool alpha = text::is_ascii_alpha(static_cast<unsigned char>(c));
    if (!(alpha || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    char lower = text::ascii_lower(c);
    if (c == '-' || (alpha && !((lower >= 'a' && lower <= 'f') || lower == 'x'))) letter = true;
  }
  if (letter) return true;
  // Only digits, dots and hex letters: plain only as a canonical dotted quad.
  int labels = 0;
  std::size_t start = 0;
  while (start <= h.size()) {
    std::size_t dot = std::min(h.find('.', start), h.size());
    std::string_view label = h.substr(start, dot - start);
    if (label.empty() || label.size() > 3 || (label.size() > 1 && label[0] == '0')) return false;
    int value = 0;
    for (char c : label) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    ++labels;
    start = dot + 1;
  }
  return labels == 4;
}

// A port written as curl reads it (decimal digits, 1 to 65535); nullopt for
// anything else (no port written, or one curl rewrote).
std::optional<int> plain_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return value;
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// An international host name (UTF-8, as written) in the ASCII form DNS and TLS
// use: IDNA 2008 with UTS #46 (non-transitional, as browsers and curl; curl's
// own conversion needs a UTF-8 locale, which a program rarely sets), NFC first.
std::string ascii_host(const std::string& host, std::string_view text) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(host.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc == IDN2_DISALLOWED) {  // curl retries so too: names valid under IDNA 2003 only
    rc = idn2_to_ascii_8z(host.c_str(), &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  }
  if (rc != IDN2_OK) {
    throw InvalidURL(fmt::format("invalid URL (the host name '{}' is not a valid international "
                                 "domain name: {}): {}",
                                 host, idn2_strerror(rc), text),
                     std::string(text));
  }
  std::string ascii(out);
  idn2_free(out);
  return ascii;
}

}  // namespace

URL URL::parse(std::string_view text) {
  check_scheme_and_spaces(text);
  URL url;
  url.text_ = std::string(text);
  url.handle_ = curl_url();
  if (url.handle_ == nullptr) throw std::bad_alloc();
  // The flags curl's own transfer setup parses CURLOPT_URL with, so the URL curl
  // connects to is the one parsed here (the scheme was checked above).
  CURLUcode rc =
      curl_url_set(url.handle_, CURLUPART_URL, url.text_.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc == CURLUE_BAD_PORT_NUMBER) {
    throw InvalidURL(fmt::format("invalid URL (bad port): {}", text), url.text_);
  }
  if (rc != CURLUE_OK) {
    throw InvalidURL(fmt::format("invalid URL ({}): {}", curl_url_strerror(rc), text), url.text_);
  }
  // The scheme is the checked prefix's (curl's, lower-cased, is the same):
  // one curl_url_get (a copy and a free) less per URL.
  url.scheme_ = text::istarts_with(url.text_, "https://") ? "https" : "http";
  url.split_written();
  // Host and port as curl holds them; read from the text as written where
  // curl's parse leaves them as written (two curl_url_get, each a copy and a
  // free, less per URL).
  std::string_view host = url.written(url.host_w_);
  if (has_non_ascii(host)) {
    // curl connects to what it holds: the ASCII form, set here.
    std::string ascii = ascii_host(url.part(CURLUPART_HOST), text);
    if (curl_url_set(url.handle_, CURLUPART_HOST, ascii.c_str(), 0) != CURLUE_OK) {
      throw InvalidURL(fmt::format("invalid URL (host name): {}", text), url.text_);
    }
    url.host_ = text::to_ascii_lower(ascii);
  } else {
    url.host_ = plain_host(host) ? text::to_ascii_lower(host)
                                 : text::to_ascii_lower(url.part(CURLUPART_HOST));
  }
  if (url.host_.empty() || url.host_w_.len == 0) {
    throw InvalidURL(fmt::format("invalid URL (no host): {}", text), url.text_);
  }
  std::string_view written_port = url.written(url.port_w_);
  std::optional<int> port = plain_port(written_port);
  if (!port && written_port.empty()) port = url.scheme_ == "https" ? 443 : 80;
  if (!port) {
    std::string curls = url.part(CURLUPART_PORT);
    port = 0;
    for (char c : curls) *port = *port * 10 + (c - '0');  // curl checked: 1..65535
  }
  url.port_ = *port;
  return url;
}

// The parts as curl accepted them, split on the text as written (curl checked
// it: only where the parts are is found here).
void URL::split_written() {
  std::string_view s = text_;
  auto span = [](std::size_t from, std::size_t to) {
    return Span{static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to - from)};
  };
  std::size_t begin = s.find("://") + 3;  // checked: http:// or https://
  std::size_t end = std::min(s.find('#', begin), s.size());
  std::size_t auth_end = authority_end(s, begin);
  Authority a = split_authority(s, begin, auth_end);
  host_w_ = span(a.host_begin, a.host_end);
  port_w_ = span(a.port_begin, auth_end);
  std::size_t q = std::min(s.find('?', auth_end), end);
  path_w_ = span(auth_end, q);
  query_w_ = q < end ? span(q + 1, end) : Span{};
}

std::string URL::origin_of(std::string_view text) {
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return text::to_ascii_lower(text);
  std::size_t begin = sep + 3, end = authority_end(text, begin);
  Authority a = split_authority(text, begin, end);
  std::string_view port = text.substr(a.port_begin, end - a.port_begin);
  int number = 0;
  for (char c : port)
    number = c >= '0' && c <= '9' && number < 100000 ? number * 10 + (c - '0') : -1;
  if (port.empty()) number = text::iequals(text.substr(0, sep), "https") ? 443 : 80;
  std::string key;
  key.reserve(a.host_end - a.host_begin + sep + 10);
  key.append(text.substr(0, sep))
      .append("://")
      .append(text.substr(a.host_begin, a.host_end - a.host_begin));
  for (char& c : key) c = text::ascii_lower(c);
  key.push_back(':');
  if (number >= 0) {
    key.append(std::to_string(number));
  } else {
    key.append(port);
  }
  return key;
}

URL::URL(const URL& other)
    : text_(other.text_),
      scheme_(other.scheme_),
      host_(other.host_),
      port_(other.port_),
      host_w_(other.host_w_),
      port_w_(other.port_w_),
      path_w_(other.path_w_),
      query_w_(other.query_w_) {
  if (other.handle_ != nullptr) {
    handle_ = curl_url_dup(other.handle_);
    if (handle_ == nullptr) throw std::bad_alloc();
  }
}

URL& URL::operator=(const URL& other) {
  if (this != &other) *this = URL(other);
  return *this;
}

URL::URL(URL&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      text_(std::move(other.text_)),
      scheme_(std::move(other.scheme_)),
      host_(std::move(other.host_)),
      port_(other.port_),
      host_w_(other.host_w_),
      port_w_(other.port_w_),
      path_w_(other.path_w_),
      query_w_(other.query_w_) {}

URL& URL::operator=(URL&& other) noexcept {
  if (this != &other) {
    curl_url_cleanup(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    text_ = std::move(other.text_);
    scheme_ = std::move(other.scheme_);
    host_ = std::move(other.host_);
    port_ = other.port_;
    host_w_ = other.host_w_;
    port_w_ = other.port_w_;
    path_w_ = other.path_w_;
    query_w_ = other.query_w_;
  }
  return *this;
}

URL::~URL() {
  curl_url_cleanup(handle_);
}

std::string URL::part(int which) const {
  if (handle_ == nullptr) return {};
  char* out = nullptr;
  unsigned flags = which == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0U;
  if (curl_url_get(handle_, static_cast<CURLUPart>(which), &out, flags) != CURLUE_OK ||
      out == nullptr) {
    return {};
  }
  std::string s(out);
  curl_free(out);
  return s;
}

std::string URL::origin() const {
  return fmt::format("{}://{}:{}", scheme_, host_, port_);
}

std::string URL::path() const {
  std::string p = part(CURLUPART_PATH);
  return p.empty() ? std::string("/") : p;
}

std::string URL::query() const {
  return part(CURLUPART_QUERY);
}

std::string URL::user() const {
  return part(CURLUPART_USER);
}

std::string URL::password() const {
  return part(CURLUPART_PASSWORD);
}

URL parse_url(std::string_view text) {
  return URL::parse(text);
}

std::string without_userinfo(std::string_view text) {
  std::size_t start = text.find("://");
  if (start == std::string_view::npos) return std::string(text);
  start += 3;
  std::size_t end = text.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = text.size();
  std::size_t at = text.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  std::string out(text.substr(0, start));
  out.append(text.substr(start + at + 1));
  return out;
}

}  // namespace corun::http
