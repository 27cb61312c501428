// corun::http::Response (see include/corun/http/response.hpp).
#include "corun/http/response.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "corun/http/errors.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/mime.hpp"

namespace corun::http {

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

// Fetch's "extract a MIME type"; a missing or unparseable header is
// application/octet-stream, as aiohttp reports a missing one.
std::string Response::content_type() const {
  auto ct = headers_.get("Content-Type");
  std::optional<text::MimeType> mime = ct ? text::extract_mime_type(*ct) : std::nullopt;
  return mime ? std::move(mime->essence) : std::string("application/octet-stream");
}

std::optional<std::string> Response::charset() const {
  auto ct = headers_.get("Content-Type");
  std::optional<text::MimeType> mime = ct ? text::extract_mime_type(*ct) : std::nullopt;
  if (!mime || !mime->charset || mime->charset->empty()) return std::nullopt;
  return text::to_ascii_lower(text::trim_http_tab_or_space(*mime->charset));
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
                                       this->content_type(), real_url()),
                           real_url(), status_, reason_);
  }
  return nlohmann::json::parse(body_);
}

void Response::raise_for_status() const {
  if (status_ < 400) return;
  throw ClientResponseError(fmt::format("{}, message='{}', url='{}'", status_, reason_, real_url()),
                            real_url(), status_, reason_);
}

const std::vector<Response>& TooManyRedirects::history() const noexcept {
  static const std::vector<Response> kNone;
  return history_ ? *history_ : kNone;
}

}  // namespace corun::http
