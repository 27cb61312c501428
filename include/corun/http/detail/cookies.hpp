// corun::http internals: reading and clearing the cookies a libcurl share holds
// (a session's own jar or a CookieJar), and one line of curl's cookie list.
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string_view>
#include <vector>

#include "corun/http/cookie_jar.hpp"

namespace corun::http::detail {

// Every cookie in share's jar (none when share is null).
std::vector<Cookie> read_cookies(CURLSH* share);
// Empties share's jar (nothing when share is null).
void clear_cookies(CURLSH* share);
// Puts c in share's jar (CookieJar::add; nothing when share is null).
void add_cookie(CURLSH* share, const Cookie& c);
// One line of CURLINFO_COOKIELIST, Netscape format: domain (with "#HttpOnly_"
// before it for an HttpOnly cookie), include-subdomains, path, secure, expires,
// name, value, separated by tabs. nullopt for a line with fewer fields.
std::optional<Cookie> parse_cookie_line(std::string_view line);

}  // namespace corun::http::detail
