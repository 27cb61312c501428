// corun::http::CookieJar (aiohttp's CookieJar) and SharedCache: libcurl's share
// interface behind locks, so several sessions, each on its own loop and thread,
// keep one set of cookies, or one cache of TLS sessions and resolved addresses.
// Give them to sessions through SessionOptions (shared_cookie_jar,
// shared_cache); they live as long as those sessions do. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace corun::http {

// One cookie of the session's jar.
struct Cookie {
  std::string domain;
  std::string path;
  std::string name;
  std::string value;
  bool secure = false;
  bool http_only = false;
  long long expires = 0;  // Unix time; 0: a session cookie
};

// A cookie jar several sessions can share, from any threads (each session on
// its own loop): libcurl's cookie engine behind a lock. Give it to sessions
// through SessionOptions::shared_cookie_jar; it lives as long as they do. The
// sessions sharing a jar also share TLS sessions and resolved addresses (see
// SharedCache): libcurl gives a transfer one share object.
class CookieJar {
 public:
  CookieJar();
  ~CookieJar();
  CookieJar(const CookieJar&) = delete;
  CookieJar& operator=(const CookieJar&) = delete;

  std::vector<Cookie> cookies() const;  // every cookie it holds
  void clear();
  // Puts a cookie in the jar (aiohttp's CookieJar.update_cookies), replacing
  // one of the same name, domain and path; an expiry in the past deletes it.
  // domain: "example.com" for that host alone, ".example.com" for it and its
  // subdomains (libcurl keeps no cookie without a domain); path: "" is "/".
  // Throws std::invalid_argument for no name or no domain, or a name, value,
  // domain or path a cookie line cannot carry (control characters, ';', '='
  // or a space in the name, a tab).
  void add(const Cookie& cookie);
  void* native() const noexcept;  // the CURLSH*

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// TLS sessions and resolved addresses several sessions share, from any threads
// (libcurl's share interface behind locks): a connection one session opens to a
// host it has not talked to resumes the TLS session another one negotiated, where
// the server offers resumption (tickets or a session cache). Give it to sessions
// through SessionOptions::shared_cache; it lives as long as they do. (libcurl
// 7.88 keeps the 8 most recent TLS sessions in a share.)
class SharedCache {
 public:
  SharedCache();
  ~SharedCache();
  SharedCache(const SharedCache&) = delete;
  SharedCache& operator=(const SharedCache&) = delete;
  void* native() const noexcept;  // the CURLSH*

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corun::http
