// corun::http::CookieJar and SharedCache (see include/corun/http/cookie_jar.hpp),
// and reading a share's cookies (include/corun/http/detail/cookies.hpp).
#include "corun/http/cookie_jar.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "corun/http/detail/cookies.hpp"

namespace corun::http {

namespace detail {

namespace {

// Runs f on an easy handle attached to the jar alone (reading or clearing it).
template <class F>
void with_jar(CURLSH* share, F f) {
  if (share == nullptr) return;
  CURL* h = curl_easy_init();
  if (h == nullptr) throw std::bad_alloc();
  curl_easy_setopt(h, CURLOPT_SHARE, share);
  try {
    f(h);
  } catch (...) {
    curl_easy_cleanup(h);
    throw;
  }
  curl_easy_cleanup(h);
}

}  // namespace

std::optional<Cookie> parse_cookie_line(std::string_view line) {
  std::string_view f[6];
  for (auto& field : f) {
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) return std::nullopt;
    field = line.substr(0, tab);
    line.remove_prefix(tab + 1);
  }
  Cookie c;
  std::string_view domain = f[0];
  constexpr std::string_view kHttpOnly = "#HttpOnly_";
  if (domain.starts_with(kHttpOnly)) {
    c.http_only = true;
    domain.remove_prefix(kHttpOnly.size());
  }
  c.domain = std::string(domain);
  c.path = std::string(f[2]);
  c.secure = f[3] == "TRUE";
  c.expires = std::strtoll(std::string(f[4]).c_str(), nullptr, 10);
  c.name = std::string(f[5]);
  c.value = std::string(line);
  return c;
}

std::vector<Cookie> read_cookies(CURLSH* share) {
  std::vector<Cookie> out;
  with_jar(share, [&](CURL* h) {
    curl_slist* list = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_COOKIELIST, &list) != CURLE_OK) return;
    try {
      for (curl_slist* l = list; l != nullptr; l = l->next) {
        if (auto c = parse_cookie_line(l->data)) out.push_back(std::move(*c));
      }
    } catch (...) {
      curl_slist_free_all(list);
      throw;
    }
    curl_slist_free_all(list);
  });
  return out;
}

void clear_cookies(CURLSH* share) {
  with_jar(share, [](CURL* h) { curl_easy_setopt(h, CURLOPT_COOKIELIST, "ALL"); });
}

namespace {

void check_cookie_part(std::string_view what, std::string_view text, std::string_view refused) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || refused.find(c) != std::string_view::npos) {
      throw std::invalid_argument(fmt::format("a cookie's {} cannot hold {} (in {:?})", what,
                                              u < 0x20 || u == 0x7f
                                                  ? fmt::format("the control character 0x{:02x}", u)
                                                  : fmt::format("'{}'", c),
                                              std::string(text.substr(0, 64))));
    }
  }
}

}  // namespace

void add_cookie(CURLSH* share, const Cookie& c) {
  if (c.name.empty()) throw std::invalid_argument("a cookie needs a name");
  check_cookie_part("name", c.name, ";=\t ");
  check_cookie_part("value", c.value, ";\t");
  check_cookie_part("domain", c.domain, ";\t ");
  check_cookie_part("path", c.path, ";\t");
  if (c.domain.empty() || c.domain == ".") {
    // libcurl 7.88 drops a cookie without a domain (a Set-Cookie line without
    // one given to CURLOPT_COOKIELIST is not kept).
    throw std::invalid_argument("a cookie for the jar needs a domain");
  }
  // A Netscape line: the one form that says "this host alone" as well as "and
  // its subdomains".
  bool subdomains = c.domain.starts_with('.');
  std::string line =
      fmt::format("{}{}\t{}\t{}\t{}\t{}\t{}\t{}", c.http_only ? "#HttpOnly_" : "", c.domain,
                  subdomains ? "TRUE" : "FALSE", c.path.empty() ? std::string_view("/") : c.path,
                  c.secure ? "TRUE" : "FALSE", c.expires, c.name, c.value);
  with_jar(share, [&line](CURL* h) { curl_easy_setopt(h, CURLOPT_COOKIELIST, line.c_str()); });
}

}  // namespace detail

namespace {

// A libcurl share usable from several threads: one lock per kind of data it
// shares (libcurl locks the share itself too).
struct LockedShare {
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];

  explicit LockedShare(bool cookies) {
    share = curl_share_init();
    if (share == nullptr) throw std::bad_alloc();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &LockedShare::lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &LockedShare::unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    if (cookies) curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    // Not CURL_LOCK_DATA_CONNECT: libcurl documents sharing connections between
    // concurrent threads as unsafe; a host's connections live in one lane instead.
  }
  ~LockedShare() { curl_share_cleanup(share); }
  LockedShare(const LockedShare&) = delete;
  LockedShare& operator=(const LockedShare&) = delete;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<LockedShare*>(user)->locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<LockedShare*>(user)->locks[data].unlock();
  }
};

}  // namespace

struct CookieJar::Impl : LockedShare {
  Impl() : LockedShare(true) {}
};

struct SharedCache::Impl : LockedShare {
  Impl() : LockedShare(false) {}
};

CookieJar::CookieJar() : impl_(std::make_unique<Impl>()) {}

CookieJar::~CookieJar() = default;

std::vector<Cookie> CookieJar::cookies() const {
  return detail::read_cookies(impl_->share);
}

void CookieJar::clear() {
  detail::clear_cookies(impl_->share);
}

void CookieJar::add(const Cookie& cookie) {
  detail::add_cookie(impl_->share, cookie);
}

void* CookieJar::native() const noexcept {
  return impl_->share;
}

SharedCache::SharedCache() : impl_(std::make_unique<Impl>()) {}

SharedCache::~SharedCache() = default;

void* SharedCache::native() const noexcept {
  return impl_->share;
}

}  // namespace corun::http
