// corun::http::URL: parts, the explicit default port, the origin that keys
// per-host limits, and a clear InvalidURL for bad input.
#include "corun/http/url.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "corun/http/errors.hpp"

namespace {

using corun::http::InvalidURL;
using corun::http::parse_url;
using corun::http::URL;
using corun::http::without_userinfo;

std::string error_of(const std::string& text) {
  try {
    parse_url(text);
  } catch (const InvalidURL& e) {
    EXPECT_EQ(e.url(), text);
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(UrlTest, PartsOfAFullUrl) {
  URL u = parse_url("https://user:secret@Example.COM:8443/a/b%20c?x=1&y=2#frag");
  EXPECT_EQ(u.str(), "https://user:secret@Example.COM:8443/a/b%20c?x=1&y=2#frag");
  EXPECT_EQ(u.scheme(), "https");
  EXPECT_EQ(u.host(), "example.com");
  EXPECT_EQ(u.port(), 8443);
  EXPECT_EQ(u.path(), "/a/b%20c");
  EXPECT_EQ(u.query(), "x=1&y=2");
  EXPECT_EQ(u.user(), "user");
  EXPECT_EQ(u.password(), "secret");
  EXPECT_EQ(u.origin(), "https://example.com:8443");  // no userinfo in the key
}

// What error messages show of a URL: its credentials left out, nothing else.
TEST(UrlTest, WithoutUserinfoDropsOnlyTheCredentials) {
  EXPECT_EQ(without_userinfo("http://alice:s3cret@h:8080/p?q=1#f"), "http://h:8080/p?q=1#f");
  EXPECT_EQ(without_userinfo("https://alice@h/"), "https://h/");
  EXPECT_EQ(without_userinfo("http://a:b@c@h"), "http://h");
  EXPECT_EQ(without_userinfo("http://h/p@q"), "http://h/p@q");  // an '@' in the path
  EXPECT_EQ(without_userinfo("http://h/?u=a:b@c"), "http://h/?u=a:b@c");
  EXPECT_EQ(without_userinfo("not a url"), "not a url");
  EXPECT_EQ(without_userinfo(""), "");
}

TEST(UrlTest, TheDefaultPortIsExplicitSoOneHostHasOneOrigin) {
  EXPECT_EQ(parse_url("http://a").port(), 80);
  EXPECT_EQ(parse_url("https://a").port(), 443);
  EXPECT_EQ(parse_url("http://a").origin(), "http://a:80");
  EXPECT_EQ(parse_url("http://a").origin(), parse_url("http://A:80/x?y").origin());
  EXPECT_EQ(parse_url("HTTPS://a/").origin(), parse_url("https://a:443").origin());
  EXPECT_NE(parse_url("http://a").origin(), parse_url("http://a:8080").origin());
  EXPECT_NE(parse_url("http://a").origin(), parse_url("https://a").origin());
  EXPECT_EQ(parse_url("http://a").path(), "/");
  EXPECT_EQ(parse_url("http://a").query(), "");
  EXPECT_EQ(parse_url("http://a").user(), "");
}

// The parts as written, kept by the one parse: no case folding, no default
// port, no normalising (curl's path drops "..": the written one keeps it).
TEST(UrlTest, PartsAsWrittenAreKept) {
  URL u = parse_url("HTTP://us:pw@Example.COM:080/a/../b%20c?x=1#f/g?h");
  EXPECT_EQ(u.written_host(), "Example.COM");
  EXPECT_EQ(u.written_port(), "080");
  EXPECT_EQ(u.written_path(), "/a/../b%20c");
  EXPECT_EQ(u.written_query(), "x=1");
  EXPECT_EQ(u.path(), "/b%20c");
  URL bare = parse_url("http://h");
  EXPECT_EQ(bare.written_host(), "h");
  EXPECT_EQ(bare.written_port(), "");
  EXPECT_EQ(bare.written_path(), "");
  EXPECT_EQ(bare.written_query(), "");
  EXPECT_EQ(parse_url("http://h?q").written_query(), "q");
  EXPECT_EQ(parse_url("http://h?q").written_path(), "");
  EXPECT_EQ(parse_url("http://h#f").written_path(), "");
  URL v6 = parse_url("https://[::1]:8443/x");
  EXPECT_EQ(v6.written_host(), "[::1]");
  EXPECT_EQ(v6.written_port(), "8443");
  EXPECT_EQ(parse_url("https://[::1]/").written_port(), "");
  // Copies and moves keep them (views into their own text).
  URL c = u;
  URL m = std::move(u);
  EXPECT_EQ(c.written_host(), "Example.COM");
  EXPECT_EQ(m.written_path(), "/a/../b%20c");
  EXPECT_EQ(c.written_query().data(), c.str().data() + c.str().find("x=1"));
}

// origin_of: the key parse(text).origin() gives, found without parsing.
TEST(UrlTest, OriginOfIsTheParsedOrigin) {
  for (const char* text :
       {"http://a", "http://a/x", "http://A:80/y?z", "HTTPS://u:p@Example.COM/", "https://a:443#f",
        "http://a:8080/", "https://a:80/", "http://[::1]/", "https://[2001:DB8::1]:8443/x",
        "http://a:080/", "http://h?q", "http://u@h:81#x"}) {
    EXPECT_EQ(URL::origin_of(text), parse_url(text).origin()) << text;
  }
  EXPECT_EQ(URL::origin_of("http://a/x"), URL::origin_of("http://a:80/y"));
  EXPECT_NE(URL::origin_of("http://a/x"), URL::origin_of("https://a/x"));
  EXPECT_FALSE(URL::origin_of("not a url").empty());  // any text has a key
  EXPECT_EQ(URL::origin_of("http://h:x/"), "http://h:x");
}

// The host and port curl's own parse gives (lower-cased host; the port with
// the scheme's default), read with libcurl's URL API directly.
std::pair<std::string, int> curls_host_and_port(const std::string& text) {
  CURLU* h = curl_url();
  EXPECT_EQ(curl_url_set(h, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME), CURLUE_OK)
      << text;
  char* host = nullptr;
  char* port = nullptr;
  curl_url_get(h, CURLUPART_HOST, &host, 0);
  curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
  std::string lower = host != nullptr ? host : "";
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  int number = port != nullptr ? std::stoi(port) : -1;
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(h);
  return {lower, number};
}

// URL reads a plain host and port from the text as written (no curl_url_get);
// every spelling curl rewrites (IPv4 shorthands, octal and hex numbers,
// percent-encoding, IPv6) still comes out as curl has it.
TEST(UrlTest, HostAndPortAreCurlsForEverySpelling) {
  for (const char* text : {"http://example.com/",
                           "HTTP://Example.COM:8080/x",
                           "https://a-b.c/",
                           "http://a:080/",
                           "http://example.com.:81/",
                           "http://127.0.0.1/",
                           "http://127.1/",
                           "http://0x7f.1/",
                           "http://0x7F000001:9/",
                           "http://010.0.0.1/",
                           "http://2130706433/",
                           "http://1.2.3/",
                           "http://255.255.255.255/",
                           "http://abc.def/",
                           "http://ABC.DEF/",
                           "http://0xa.0xb.0xc.0xd/",
                           "http://1.2.3.04/",
                           "http://a%2Db.c/",
                           "http://[::1]:8443/",
                           "https://[2001:DB8::1]/",
                           "http://u:p@h.example:1234/?q#f",
                           "http://x_y.example/",
                           "http://192.168.0.1:65535/",
                           "http://a:/",
                           "https://h",
                           "http://1e2.com/"}) {
    URL u = parse_url(text);
    auto [host, port] = curls_host_and_port(text);
    EXPECT_EQ(u.host(), host) << text;
    EXPECT_EQ(u.port(), port) << text;
  }
}

TEST(UrlTest, NoHostAsWrittenIsInvalid) {
  // curl reads "http:///x" as host x; no host is written, so none is guessed.
  EXPECT_NE(error_of("http:///x").find("no host"), std::string::npos);
  EXPECT_NE(error_of("http://h:80x/").find("bad port"), std::string::npos);
}

TEST(UrlTest, Ipv6LiteralsKeepTheirBrackets) {
  URL u = parse_url("http://[::1]:8080/x");
  EXPECT_EQ(u.host(), "[::1]");
  EXPECT_EQ(u.port(), 8080);
  EXPECT_EQ(u.origin(), "http://[::1]:8080");
  EXPECT_EQ(parse_url("https://[2001:DB8::1]/").origin(), "https://[2001:db8::1]:443");
}

TEST(UrlTest, CopiesAndMovesKeepTheirParts) {
  URL a = parse_url("http://h:81/p?q");
  URL b = a;
  URL c = std::move(a);
  EXPECT_EQ(b.origin(), "http://h:81");
  EXPECT_EQ(b.query(), "q");
  EXPECT_EQ(c.path(), "/p");
  EXPECT_NE(b.native(), c.native());
  b = c;
  EXPECT_EQ(b.path(), "/p");
}

TEST(UrlTest, BadInputRaisesInvalidUrlNamingIt) {
  EXPECT_NE(error_of("not a url").find("no http:// or https:// scheme"), std::string::npos);
  EXPECT_NE(error_of("example.com/x").find("scheme"), std::string::npos);
  EXPECT_NE(error_of("ftp://example.com/x").find("unsupported URL scheme 'ftp'"),
            std::string::npos);
  EXPECT_NE(error_of("http://exa mple.com/").find("whitespace"), std::string::npos);
  EXPECT_NE(error_of("http://a:99999/").find("http://a:99999/"), std::string::npos);
  EXPECT_NE(error_of("http://a:8x/").find("invalid URL"), std::string::npos);
  EXPECT_NE(error_of("http://:80/path").find("invalid URL"), std::string::npos);
  EXPECT_NE(error_of("http://user@/").find("invalid URL"), std::string::npos);
  EXPECT_NE(error_of("http://[::1/").find("invalid URL"), std::string::npos);
  EXPECT_NE(error_of("").find("invalid URL"), std::string::npos);
}

// An international host name goes to curl (DNS, TLS, Host) in its ASCII form,
// whatever the program's locale (curl's own conversion needs a UTF-8 one).
TEST(UrlTest, AnInternationalHostNameIsConnectedToInItsAsciiForm) {
  URL u = parse_url(
      "http://B\xC3\xBC"
      "cher.example:8080/p?q=1");
  EXPECT_EQ(u.host(), "xn--bcher-kva.example");
  EXPECT_EQ(u.origin(), "http://xn--bcher-kva.example:8080");
  EXPECT_EQ(u.str(),
            "http://B\xC3\xBC"
            "cher.example:8080/p?q=1");  // as given
  char* full = nullptr;
  ASSERT_EQ(curl_url_get(static_cast<CURLU*>(u.native()), CURLUPART_URL, &full, 0), CURLUE_OK);
  EXPECT_STREQ(full, "http://xn--bcher-kva.example:8080/p?q=1");
  curl_free(full);
  URL cjk = parse_url("https://\xE4\xB8\xAD\xE5\x9B\xBD.example/");  // 中国
  EXPECT_EQ(cjk.host(), "xn--fiqs8s.example");
  // Not a name IDNA takes (a label of a lone combining mark): one clear error.
  std::string err = error_of("http://\xCC\x81x.example/");
  EXPECT_NE(err.find("is not a valid international domain name"), std::string::npos) << err;
}

TEST(UrlTest, ANulByteIsRefusedNotCutAt) {
  // curl would parse the text up to the NUL: a request for another URL.
  using namespace std::string_literals;
  std::string err = error_of("http://h/nul\0byte"s);
  EXPECT_NE(err.find("a NUL byte after 'http://h/nul'"), std::string::npos) << err;
}

}  // namespace
