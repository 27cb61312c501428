// redis::parse_url: the accepted forms and a clear InvalidURL for the rest.
#include "corun/redis/url.hpp"

#include <gtest/gtest.h>

#include <string>

#include "corun/redis/errors.hpp"

namespace {

using corun::redis::InvalidURL;
using corun::redis::parse_url;

TEST(RedisUrl, HostPortAndDefaults) {
  auto u = parse_url("redis://cache.example:6380");
  EXPECT_EQ(u.host, "cache.example");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 0);
  EXPECT_TRUE(u.username.empty());
  EXPECT_FALSE(u.password);
  auto d = parse_url("redis://localhost");
  EXPECT_EQ(d.host, "localhost");
  EXPECT_EQ(d.port, 6379);
  EXPECT_EQ(parse_url("REDIS://h/").db, 0);
}

TEST(RedisUrl, PasswordUserAndDb) {
  auto p = parse_url("redis://:s3cret@127.0.0.1:7000/5");
  EXPECT_EQ(p.host, "127.0.0.1");
  EXPECT_EQ(p.port, 7000);
  EXPECT_EQ(p.db, 5);
  EXPECT_TRUE(p.username.empty());
  ASSERT_TRUE(p.password);
  EXPECT_EQ(*p.password, "s3cret");
  auto a = parse_url("redis://alice:p%40ss%3Aw%2Fd@h:1/15");
  EXPECT_EQ(a.username, "alice");
  EXPECT_EQ(*a.password, "p@ss:w/d");
  EXPECT_EQ(a.db, 15);
  // An '@' inside the password, unescaped: the last '@' ends the userinfo.
  EXPECT_EQ(*parse_url("redis://:a@b@h").password, "a@b");
}

// redis://:@host has no password, as redis-py's from_url reads it (AUTH ""
// was sent, and refused by a server without one).
TEST(RedisUrl, AnEmptyPasswordIsNone) {
  EXPECT_FALSE(parse_url("redis://:@h:1").password);
  auto u = parse_url("redis://alice:@h:1");  // a user's empty password is still one
  EXPECT_EQ(u.username, "alice");
  ASSERT_TRUE(u.password);
  EXPECT_EQ(*u.password, "");
}

TEST(RedisUrl, Ipv6InBrackets) {
  auto u = parse_url("redis://[::1]:6390/2");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 6390);
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(u.address(), "[::1]:6390");
  EXPECT_EQ(parse_url("redis://[::1]").port, 6379);
}

TEST(RedisUrl, ToStringHidesThePassword) {
  auto u = parse_url("redis://bob:hunter2@h:1/3");
  EXPECT_EQ(u.to_string(), "redis://bob:***@h:1/3");
  EXPECT_EQ(u.to_string().find("hunter2"), std::string::npos);
  EXPECT_EQ(parse_url("redis://h").to_string(), "redis://h:6379/0");
}

std::string error_of(const char* url) {
  try {
    parse_url(url);
  } catch (const InvalidURL& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RedisUrl, BadUrlsAreClearErrors) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"127.0.0.1:6379", "no scheme"},
      {"http://h:1", "unsupported scheme 'http'"},
      {"rediss://h:1", "TLS"},
      {"unix:///tmp/r.sock", "unix sockets"},
      {"redis://", "no host"},
      {"redis://:pw@", "no host"},
      {"redis://h:", "empty port"},
      {"redis://h:0", "port '0'"},
      {"redis://h:65536", "port '65536'"},
      {"redis://h:12ab", "port '12ab'"},
      {"redis://h/x", "not a database number"},
      {"redis://h/1/queue", "not a database number"},
      {"redis://h/-1", "not a database number"},
      {"redis://h?db=1", "query strings"},
      {"redis://user@h", "without a password"},
      {"redis://::1:6379", "brackets"},
      {"redis://[::1", "unclosed"},
      {"redis://:%4@h", "%-escape"},
      {"redis://:%zz@h", "%-escape"},
  };
  for (const auto& c : cases) {
    std::string message = error_of(c.url);
    EXPECT_NE(message.find(c.says), std::string::npos) << c.url << " -> " << message;
    EXPECT_NE(message.find("expected redis://"), std::string::npos) << message;
  }
  // The password is never in the message (it may end up in a log).
  std::string with_password = error_of("redis://admin:hunter2@127.0.0.1:99999/x");
  EXPECT_EQ(with_password.find("hunter2"), std::string::npos) << with_password;
  EXPECT_NE(with_password.find("'redis://admin:***@127.0.0.1:99999/x'"), std::string::npos)
      << with_password;
  EXPECT_EQ(error_of("redis://:p@ss@h/x").find("p@ss"), std::string::npos);
}

}  // namespace
