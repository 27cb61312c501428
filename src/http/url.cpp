// corun::http::URL (see include/corun/http/url.hpp) over libcurl's URL API.
#include "corun/http/url.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <new>
#include <utility>

#include "corun/http/errors.hpp"
#include "corun/text/ascii.hpp"

namespace corun::http {

namespace {

// What corun accepts before curl parses it; the messages say what is wrong.
void check_scheme_and_spaces(std::string_view url) {
  if (text::istarts_with(url, "http://") || text::istarts_with(url, "https://")) {
    if (url.find_first_of(" \t\r\n") != std::string_view::npos) {
      throw InvalidURL(fmt::format("invalid URL (whitespace): {}", url), std::string(url));
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
  if (rc != CURLUE_OK) {
    throw InvalidURL(fmt::format("invalid URL ({}): {}", curl_url_strerror(rc), text), url.text_);
  }
  // The scheme is the checked prefix's (curl's, lower-cased, is the same):
  // one curl_url_get (a copy and a free) less per URL.
  url.scheme_ = text::istarts_with(url.text_, "https://") ? "https" : "http";
  url.host_ = text::to_ascii_lower(url.part(CURLUPART_HOST));
  if (url.host_.empty()) {
    throw InvalidURL(fmt::format("invalid URL (no host): {}", text), url.text_);
  }
  std::string port = url.part(CURLUPART_PORT);
  url.port_ = 0;
  for (char c : port) url.port_ = url.port_ * 10 + (c - '0');  // curl checked: 1..65535
  return url;
}

URL::URL(const URL& other)
    : text_(other.text_), scheme_(other.scheme_), host_(other.host_), port_(other.port_) {
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
      port_(other.port_) {}

URL& URL::operator=(URL&& other) noexcept {
  if (this != &other) {
    curl_url_cleanup(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    text_ = std::move(other.text_);
    scheme_ = std::move(other.scheme_);
    host_ = std::move(other.host_);
    port_ = other.port_;
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

}  // namespace corun::http
