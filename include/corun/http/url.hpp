// corun::http::URL: an absolute http or https URL, parsed once by libcurl's URL
// API (the parser curl itself connects with), so what corun calls a host is
// where curl connects. The twin of aiohttp's yarl.URL for what the client needs:
// its parts, and the origin that keys connection limits. The default port is
// made explicit: `http://a`, `http://A:80` and `http://a:80/x` share one origin,
// `http://a:8080` and `https://a` do not.
//
//   corun::http::URL u = corun::http::parse_url("http://Example.com/a?b=1");
//   u.host();    // "example.com" (lower-cased; IPv6 literals keep their brackets)
//   u.port();    // 80
//   u.origin();  // "http://example.com:80"
//
// The parts as written are kept too (views into str(), no case folding, no
// default port, no normalising), for what is named after the text itself,
// such as `corun fetch`'s file names: parsing once gives both.
//
// Errors: a malformed URL, one with white space, one without a scheme, one
// with no host as written (curl would read `http:///x` as host x), or one
// whose scheme is not http or https raises InvalidURL naming the URL. A value
// type; no loop, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct Curl_URL;  // libcurl's CURLU

namespace corun::http {

class URL {
 public:
  // Throws InvalidURL (see above).
  static URL parse(std::string_view text);

  URL(const URL& other);
  URL& operator=(const URL& other);
  URL(URL&& other) noexcept;
  URL& operator=(URL&& other) noexcept;
  ~URL();

  // The text it was parsed from, unchanged.
  const std::string& str() const noexcept { return text_; }
  const std::string& scheme() const noexcept { return scheme_; }  // "http" or "https", lower case
  // The host name, lower case (ASCII: an international name in its punycode form,
  // "xn--bcher-kva.example" for "bücher.example"); an IPv6 literal with its
  // brackets, "[::1]".
  const std::string& host() const noexcept { return host_; }
  int port() const noexcept { return port_; }  // explicit, or the scheme's default (80, 443)
  // "scheme://host:port": the key of SessionOptions::limit_per_host (aiohttp's
  // connection key without its TLS context).
  std::string origin() const;
  std::string path() const;      // "/" when the URL has none; percent-encoding kept
  std::string query() const;     // without the '?'; empty when none
  std::string user() const;      // userinfo's name, empty when none
  std::string password() const;  // userinfo's password, empty when none

  // As written in str(): the host without port (brackets kept for IPv6, case
  // kept), the port (empty when none), the path from the first '/' (empty when
  // none) and the query after '?' (without a #fragment).
  std::string_view written_host() const noexcept { return written(host_w_); }
  std::string_view written_port() const noexcept { return written(port_w_); }
  std::string_view written_path() const noexcept { return written(path_w_); }
  std::string_view written_query() const noexcept { return written(query_w_); }

  // The origin() parse(text) would have, found without parsing or checking
  // (any text gives a key): for routing a URL before it is parsed. Scheme and
  // host as written, lower-cased, with the port or the scheme's default; a host
  // curl rewrites (an IPv4 shorthand, percent-encoding) keeps its spelling.
  static std::string origin_of(std::string_view text);

  // The parsed handle (a CURLU*), for CURLOPT_CURLU; owned by this URL.
  void* native() const noexcept { return handle_; }

 private:
  // Where a part is in text_ (offsets, so a moved text_ keeps them).
  struct Span {
    std::uint32_t pos = 0;
    std::uint32_t len = 0;
  };

  URL() = default;
  std::string part(int which) const;
  void split_written();
  std::string_view written(Span s) const noexcept {
    return std::string_view(text_).substr(s.pos, s.len);
  }

  Curl_URL* handle_ = nullptr;  // owned
  std::string text_;
  std::string scheme_;
  std::string host_;
  int port_ = 0;
  Span host_w_, port_w_, path_w_, query_w_;
};

// URL::parse.
URL parse_url(std::string_view text);

// text without the user:password@ of its authority ("http://u:p@h/x" ->
// "http://h/x"), as error messages show a URL (aiohttp's do the same): the
// credentials were sent, they stay out of logs. Anything else is unchanged.
std::string without_userinfo(std::string_view text);

}  // namespace corun::http
