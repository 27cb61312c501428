// CookieJar on its own: curl's cookie list lines parsed, cookies set through
// the jar's share read back and cleared, and the jar used from several threads
// at once (its locks; run under TSan in CI).
#include "corun/http/cookie_jar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "corun/http/detail/cookies.hpp"

namespace {

using corun::http::Cookie;
using corun::http::CookieJar;
using corun::http::detail::parse_cookie_line;

TEST(CookieJarTest, ParsesCurlsCookieListLines) {
  auto c = parse_cookie_line("#HttpOnly_.example.com\tTRUE\t/app\tTRUE\t1893456000\tsid\ta=b c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->domain, ".example.com");
  EXPECT_TRUE(c->http_only);
  EXPECT_EQ(c->path, "/app");
  EXPECT_TRUE(c->secure);
  EXPECT_EQ(c->expires, 1893456000);
  EXPECT_EQ(c->name, "sid");
  EXPECT_EQ(c->value, "a=b c");

  auto plain = parse_cookie_line("example.com\tFALSE\t/\tFALSE\t0\tk\t");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->http_only);
  EXPECT_FALSE(plain->secure);
  EXPECT_EQ(plain->expires, 0);
  EXPECT_EQ(plain->value, "");

  EXPECT_FALSE(parse_cookie_line("example.com\tFALSE\t/\tFALSE\t0").has_value());
  EXPECT_FALSE(parse_cookie_line("").has_value());
}

// Adds a cookie to the jar the way a response would (curl's Set-Cookie parser).
void set_cookie(CookieJar& jar, const std::string& set_cookie) {
  CURL* h = curl_easy_init();
  ASSERT_NE(h, nullptr);
  curl_easy_setopt(h, CURLOPT_SHARE, static_cast<CURLSH*>(jar.native()));
  curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
  std::string line = "Set-Cookie: " + set_cookie;
  curl_easy_setopt(h, CURLOPT_COOKIELIST, line.c_str());
  curl_easy_cleanup(h);
}

TEST(CookieJarTest, HoldsWhatIsSetAndClears) {
  CookieJar jar;
  EXPECT_TRUE(jar.cookies().empty());
  set_cookie(jar, "a=1; domain=example.com; path=/; HttpOnly");
  set_cookie(jar, "b=2; domain=example.com; path=/x; Secure");
  std::vector<Cookie> cookies = jar.cookies();
  ASSERT_EQ(cookies.size(), 2U);
  bool saw_a = false;
  bool saw_b = false;
  for (const Cookie& c : cookies) {
    if (c.name == "a") {
      saw_a = true;
      EXPECT_EQ(c.value, "1");
      EXPECT_TRUE(c.http_only);
    } else if (c.name == "b") {
      saw_b = true;
      EXPECT_EQ(c.path, "/x");
      EXPECT_TRUE(c.secure);
    }
  }
  EXPECT_TRUE(saw_a && saw_b);
  jar.clear();
  EXPECT_TRUE(jar.cookies().empty());
}

TEST(CookieJarTest, ManyThreadsShareOneJar) {
  CookieJar jar;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&jar, t] {
      for (int i = 0; i < 25; ++i) {
        set_cookie(jar, "t" + std::to_string(t) + "_" + std::to_string(i) +
                            "=v; domain=example.com; path=/");
        if (i % 5 == 0) (void)jar.cookies();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(jar.cookies().size(), 100U);
}

}  // namespace
