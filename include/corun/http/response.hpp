// corun::http::Response: aiohttp's ClientResponse. A request's task completes
// once the whole body has arrived (or was streamed to a file or callback, see
// RequestOptions), so read(), text() and json() are plain calls here, the
// equivalent of aiohttp's `await resp.read()` having already run.
//
// A Response is a value: no connection or loop is attached to it, so it can be
// moved to other threads and kept after the session is closed.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corun/http/headers.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/sniff.hpp"

namespace corun::http {

class Response {
 public:
  Response() = default;

  int status() const noexcept { return status_; }
  // The status line's reason phrase ("Not Found"); for HTTP/2, which has none,
  // the standard phrase of the status code.
  const std::string& reason() const noexcept { return reason_; }
  bool ok() const noexcept { return status_ < 400; }  // aiohttp's resp.ok
  const std::string& method() const noexcept { return method_; }
  // The final URL, after redirects, without a #fragment (aiohttp's resp.url).
  const std::string& url() const noexcept { return url_; }
  // The same with the fragment the request's URL had, if any (aiohttp's
  // resp.real_url); equal to url() when there is none.
  const std::string& real_url() const noexcept { return real_url_.empty() ? url_ : real_url_; }
  // "1.0", "1.1", "2" or "3".
  std::string_view version() const noexcept;
  const Headers& headers() const noexcept { return headers_; }
  // The redirect responses that led here, oldest first (their bodies are not kept).
  const std::vector<Response>& history() const noexcept { return history_; }

  // Content-Type's media type, lower-cased, without parameters ("text/html");
  // "application/octet-stream" when absent (as aiohttp).
  std::string content_type() const;
  // Content-Type's charset parameter, lower-cased, or nullopt.
  std::optional<std::string> charset() const;

  // The body bytes (empty when it was streamed elsewhere).
  const std::string& read() const noexcept { return body_; }
  // Moves the body out (the response keeps an empty one).
  std::string take_body() noexcept { return std::move(body_); }
  // Bytes of body received, whether buffered or streamed.
  std::size_t body_size() const noexcept { return body_size_; }

  // Which encoding a browser would decode the body with, and why (BOM, HTTP
  // charset, <meta>, UTF-8, detection, default).
  text::SniffResult sniff_encoding() const;
  // The body decoded to UTF-8. encoding empty: sniffed as browsers do (the
  // Content-Type charset, then <meta>, ...); otherwise that label (an unknown
  // label throws corun::text::LookupError).
  std::string text(std::string_view encoding = {},
                   text::Errors errors = text::Errors::replace) const;
  // The body parsed as JSON. Throws ContentTypeError when the media type is not
  // content_type (pass an empty string to accept any), nlohmann::json::parse_error
  // on bad JSON. This header declares nlohmann::json only: include
  // <nlohmann/json.hpp> where the value is used.
  nlohmann::json json(std::string_view content_type = "application/json") const;

  // Throws ClientResponseError (status, reason, url) when status >= 400.
  void raise_for_status() const;

 private:
  friend struct ResponseBuilder;
  int status_ = 0;
  int version_ = 0;  // curl's CURL_HTTP_VERSION_* value
  std::string reason_;
  std::string method_;
  std::string url_;
  std::string real_url_;  // empty: no fragment, real_url() is url_
  Headers headers_;
  std::string body_;
  std::size_t body_size_ = 0;
  std::vector<Response> history_;
};

}  // namespace corun::http
