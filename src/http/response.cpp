// corun::http::Response (see include/corun/http/response.hpp).
#include "corun/http/response.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "corun/http/errors.hpp"

namespace corun::http {

namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

}  // namespace

std::string_view Response::version() const noexcept {
  switch (version_) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return "1.1";
  }
}

std::string Response::content_type() const {
  auto ct = headers_.get("Content-Type");
  if (!ct || ct->empty()) return "application/octet-stream";
  std::string_view v = *ct;
  return lower_trimmed(v.substr(0, v.find(';')));
}

std::optional<std::string> Response::charset() const {
  auto ct = headers_.get("Content-Type");
  if (!ct) return std::nullopt;
  std::string cs = text::charset_from_content_type(*ct);
  if (cs.empty()) return std::nullopt;
  return lower_trimmed(cs);
}

text::SniffResult Response::sniff_encoding() const {
  return text::sniff(body_, headers_.get_or("Content-Type", ""));
}

std::string Response::text(std::string_view encoding, text::Errors errors) const {
  if (encoding.empty()) return text::decode(body_, sniff_encoding().encoding, errors);
  return text::decode(body_, encoding, errors);
}

nlohmann::json Response::json(std::string_view content_type) const {
  if (!content_type.empty() && this->content_type() != content_type) {
    throw ContentTypeError(fmt::format("Attempt to decode JSON with unexpected mimetype: {} ({})",
                                       this->content_type(), url_),
                           url_, status_, reason_);
  }
  return nlohmann::json::parse(body_);
}

void Response::raise_for_status() const {
  if (status_ < 400) return;
  throw ClientResponseError(fmt::format("{}, message='{}', url='{}'", status_, reason_, url_), url_,
                            status_, reason_);
}

}  // namespace corun::http
