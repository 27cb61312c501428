// CookieJar on its own: curl's cookie list lines parsed, cookies set through
// the jar's share read back and cleared, and the jar used from several threads
// at once (its locks; run under TSan in CI).
#include "corun/http/cookie_jar.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
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

Cookie find(const CookieJar& jar, const std::string& name) {
  for (Cookie& c : jar.cookies()) {
    if (c.name == name) return c;
  }
  return Cookie{};
}

TEST(CookieJarTest, AddsCookiesForOneHostOrItsSubdomains) {
  CookieJar jar;
  Cookie host_only;
  host_only.name = "h";
  host_only.value = "1";
  host_only.domain = "example.com";
  host_only.path = "/app";
  host_only.secure = true;
  host_only.http_only = true;
  host_only.expires = 1893456000;
  jar.add(host_only);
  Cookie subdomains;
  subdomains.name = "s";
  subdomains.value = "two words";
  subdomains.domain = ".example.org";
  jar.add(subdomains);
  ASSERT_EQ(jar.cookies().size(), 2U);

  Cookie h = find(jar, "h");
  EXPECT_EQ(h.domain, "example.com");
  EXPECT_EQ(h.path, "/app");
  EXPECT_TRUE(h.secure);
  EXPECT_TRUE(h.http_only);
  EXPECT_EQ(h.expires, 1893456000);
  Cookie sub = find(jar, "s");
  EXPECT_EQ(sub.domain, ".example.org");
  EXPECT_EQ(sub.value, "two words");
  EXPECT_EQ(sub.path, "/");

  // The same name, domain and path: replaced, not added.
  host_only.value = "2";
  jar.add(host_only);
  EXPECT_EQ(jar.cookies().size(), 2U);
  EXPECT_EQ(find(jar, "h").value, "2");
}

TEST(CookieJarTest, RefusesWhatACookieLineCannotCarry) {
  CookieJar jar;
  Cookie c;
  EXPECT_THROW(jar.add(c), std::invalid_argument);  // no name
  c.name = "a";
  EXPECT_THROW(jar.add(c), std::invalid_argument);  // no domain: libcurl would drop it
  c.domain = "example.com";
  c.name = "a;b";
  EXPECT_THROW(jar.add(c), std::invalid_argument);
  c.name = "a";
  c.value = "x\ty";
  EXPECT_THROW(jar.add(c), std::invalid_argument);
  c.value = "x\nSet-Cookie: injected=1";
  try {
    jar.add(c);
    ADD_FAILURE() << "a line break in a value was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("value cannot hold the control character 0x0a"),
              std::string::npos)
        << e.what();
  }
  c.value = "ok";
  c.domain = "example.com\t";
  EXPECT_THROW(jar.add(c), std::invalid_argument);
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
