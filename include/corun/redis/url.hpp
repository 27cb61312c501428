// Redis URLs: redis://[[user]:password@]host[:port][/db], the form redis-py's
// from_url() and most clients accept. user and password may be
// percent-encoded; an IPv6 host goes in brackets (redis://[::1]:6379/0).
// Anything else (another scheme, rediss:// (hiredis 0.14 has no TLS), a bad
// port or db, a query string, a user without a password) is InvalidURL with a
// message that shows the expected form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corun::redis {

struct Url {
  std::string host;
  int port = 6379;
  std::string username;                 // empty: the default user
  std::optional<std::string> password;  // AUTH [username] password when set
  int db = 0;                           // SELECT db when not 0

  // redis://user:***@host:port/db: the password is never shown.
  std::string to_string() const;
  // "host:port" ("[::1]:6379" for IPv6), for messages.
  std::string address() const;
};

// Parses url; throws redis::InvalidURL on anything malformed.
Url parse_url(std::string_view url);

}  // namespace corun::redis
