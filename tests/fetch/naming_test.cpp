// corun::fetch naming and report lines: URL parsing, sanitized names, templates,
// deterministic collision resolution (also across a resumed run), JSON lines.
#include "corun/fetch/naming.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "corun/fetch/fetch.hpp"
#include "corun/http/url.hpp"

namespace corun::fetch {
namespace {

UrlParts parse(std::string_view url) {
  UrlParts p;
  std::string error;
  EXPECT_TRUE(parse_url(url, p, error)) << error;
  return p;
}

std::string error_of(std::string_view url) {
  UrlParts p;
  std::string error;
  EXPECT_FALSE(parse_url(url, p, error)) << url;
  return error;
}

TEST(FetchNaming, ParsesTheUrlParts) {
  UrlParts p = parse("http://User@Example.COM:8080/a/b/c.html?x=1#frag");
  EXPECT_EQ(p.host, "Example.COM");
  EXPECT_EQ(p.port, "8080");
  EXPECT_EQ(p.path, "/a/b/c.html");
  EXPECT_EQ(p.query, "x=1");
  EXPECT_EQ(host_key(p), "http://example.com:8080");
  UrlParts v6 = parse("https://[::1]:443/");
  EXPECT_EQ(v6.host, "[::1]");
  EXPECT_EQ(v6.port, "443");
  EXPECT_EQ(parse("http://h").path, "");
}

TEST(FetchNaming, HostKeyTreatsTheDefaultPortAsNoPort) {
  // One host, so its URLs go to one lane and share its connections and limits.
  EXPECT_EQ(host_key(parse("http://a/x")), "http://a");
  EXPECT_EQ(host_key(parse("HTTP://A:80/y")), "http://a");
  EXPECT_EQ(host_key(parse("https://a:443/")), "https://a");
  EXPECT_EQ(host_key(parse("https://[::1]:443/")), "https://[::1]");
  // Another port, or the other scheme's default, is another host.
  EXPECT_EQ(host_key(parse("http://a:443/")), "http://a:443");
  EXPECT_EQ(host_key(parse("https://a:80/")), "https://a:80");
  EXPECT_EQ(host_key(parse("http://a:8080/")), "http://a:8080");
}

// The engine routes a URL to a lane by the session's key, http::URL::origin
// (found by origin_of before the lane parses it): the default port written or
// not, one host, one lane; its file names still come from the URL as written.
TEST(FetchNaming, RoutingKeyIsTheSessionsOrigin) {
  http::URL a = http::URL::parse("http://a/x");
  http::URL a80 = http::URL::parse("http://a:80/y");
  EXPECT_EQ(a.origin(), a80.origin());
  EXPECT_EQ(http::URL::origin_of("http://a/x"), a.origin());
  EXPECT_EQ(http::URL::origin_of("http://a:80/y"), a.origin());
  EXPECT_NE(a.origin(), http::URL::parse("http://a:8080/x").origin());
  EXPECT_EQ(url_parts(a80).port, "80");
  EXPECT_EQ(url_parts(a80).path, "/y");
  EXPECT_EQ(NameTemplate("{host}/{name}").expand(a.str(), url_parts(a), 0), "a/x");
  EXPECT_EQ(NameTemplate("{host}/{name}").expand(a80.str(), url_parts(a80), 0), "a_80/y");
  // The views are into the URL's own text.
  EXPECT_EQ(url_parts(a).host.data(), a.str().data() + 7);
}

TEST(FetchNaming, RejectsMalformedUrlsWithAReason) {
  EXPECT_NE(error_of("example.com/x").find("no http:// or https://"), std::string::npos);
  EXPECT_NE(error_of("ftp://example.com/x").find("unsupported URL scheme 'ftp'"),
            std::string::npos);
  EXPECT_NE(error_of("http:///x").find("no host"), std::string::npos);
  EXPECT_NE(error_of("http://h:80x/").find("bad port"), std::string::npos);
  EXPECT_NE(error_of("http://h/a b").find("space"), std::string::npos);
}

TEST(FetchNaming, NameIsTheLastSegmentPlusQuery) {
  EXPECT_EQ(name_from_url(parse("http://h/p/17.html")), "17.html");
  EXPECT_EQ(name_from_url(parse("http://h/")), "index.html");
  EXPECT_EQ(name_from_url(parse("http://h")), "index.html");
  EXPECT_EQ(name_from_url(parse("http://h/dir/")), "index.html");
  EXPECT_EQ(name_from_url(parse("http://h/page.php?id=3&x=y")), "page_id=3&x=y.php");
  EXPECT_EQ(name_from_url(parse("http://h/%E6%A5%BC.html")), "楼.html");
  // Decoding that would give a '/' or invalid UTF-8 is not done.
  EXPECT_EQ(name_from_url(parse("http://h/a%2Fb")), "a%2Fb");
  EXPECT_EQ(name_from_url(parse("http://h/%FF.html")), "%FF.html");
}

TEST(FetchNaming, SanitizeMakesSafeNames) {
  EXPECT_EQ(sanitize_name("a/b\\c:d*e?f\"g<h>i|j"), "a_b_c_d_e_f_g_h_i_j");
  EXPECT_EQ(sanitize_name(".."), "_.");
  EXPECT_EQ(sanitize_name(".hidden"), "_hidden");
  EXPECT_EQ(sanitize_name(""), "_");
  EXPECT_EQ(sanitize_name(std::string("a\0b\x01\x7f", 5)), "a_b__");
  EXPECT_EQ(sanitize_name("\xFF\xFEok"), "__ok");
  EXPECT_EQ(sanitize_name("日本語.txt"), "日本語.txt");
  std::string longname(400, 'x');
  std::string s = sanitize_name(longname + ".html");
  EXPECT_EQ(s.size(), kMaxNameBytes);
  EXPECT_TRUE(s.ends_with(".html"));
  // Truncation never splits a UTF-8 character.
  std::string cjk;
  for (int i = 0; i < 100; ++i) cjk += "楼";
  std::string t = sanitize_name(cjk + ".html");
  EXPECT_LE(t.size(), kMaxNameBytes);
  EXPECT_TRUE(t.ends_with(".html"));
  EXPECT_EQ((t.size() - 5) % 3, 0u);
}

TEST(FetchNaming, TemplatesExpandPlaceholders) {
  UrlParts p = parse("http://Example.com:81/p/a/17.html");
  EXPECT_EQ(NameTemplate("{index}.html").expand("u", p, 42), "42.html");
  EXPECT_EQ(NameTemplate("{host}/{name}").expand("u", p, 0), "example.com_81/17.html");
  EXPECT_EQ(NameTemplate("{path}").expand("u", p, 0), "p_a_17.html");
  EXPECT_EQ(NameTemplate("{hash}.bin").expand("http://x/", p, 0),
            fmt::format("{:016x}.bin", stable_hash("http://x/")));
  EXPECT_THROW(NameTemplate("{nope}"), TemplateError);
  EXPECT_THROW(NameTemplate("{index"), TemplateError);
  EXPECT_THROW(NameTemplate("/abs/{index}"), TemplateError);
  EXPECT_THROW(NameTemplate("../{index}"), TemplateError);
  EXPECT_THROW(NameTemplate("a//{index}"), TemplateError);
}

TEST(FetchNaming, CollisionsResolveInInputOrder) {
  NameRegistry r;
  EXPECT_EQ(r.claim("a.html"), "a.html");
  EXPECT_EQ(r.claim("a.html"), "a-1.html");
  EXPECT_EQ(r.claim("a.html"), "a-2.html");
  EXPECT_EQ(r.claim("a-1.html"), "a-1-1.html");
  EXPECT_EQ(r.claim("d/x"), "d/x");
  EXPECT_EQ(r.claim("d/x"), "d/x-1");
  r.reserve("report.jsonl");
  EXPECT_EQ(r.claim("report.jsonl"), "report-1.jsonl");
}

// Claims are the lowest free variant, whatever came before: compared with a
// plain set on random claims and reserves of a few clashing names.
TEST(FetchNaming, ClaimIsTheLowestFreeVariant) {
  std::uint64_t seed = 15;
  std::mt19937_64 rng(seed);
  const std::vector<std::string> pool = {"a.html", "a-1.html", "a-2.html", "a-1-1.html",
                                         "b",      "b-1",      "d/a.html", "d/a-3.html"};
  for (int round = 0; round < 50; ++round) {
    NameRegistry r;
    std::set<std::string> taken;
    for (int step = 0; step < 60; ++step) {
      const std::string& want = pool[rng() % pool.size()];
      if (rng() % 5 == 0) {
        r.reserve(want);
        taken.insert(want);
        continue;
      }
      std::string expect = want;
      if (taken.count(want) > 0) {
        auto slash = want.rfind('/');
        std::string folder = slash == std::string::npos ? "" : want.substr(0, slash + 1);
        std::string last = want.substr(folder.size());
        auto dot = last.rfind('.');
        std::string stem = dot == std::string::npos ? last : last.substr(0, dot);
        std::string ext = dot == std::string::npos ? "" : last.substr(dot);
        for (int n = 1;; ++n) {
          expect = fmt::format("{}{}-{}{}", folder, stem, n, ext);
          if (taken.count(expect) == 0) break;
        }
      }
      taken.insert(expect);
      ASSERT_EQ(r.claim(want), expect) << "seed " << seed << " round " << round << " step " << step;
    }
  }
}

// 100,000 copies of one URL: each claim starts after the variants taken so far
// (it tried every one from -1 up, N^2 / 2 tries: minutes, issue 15).
TEST(FetchNaming, ManyCopiesOfOneNameAreLinear) {
  NameRegistry r;
  EXPECT_EQ(r.claim("same.html"), "same.html");
  for (int i = 1; i < 100000; ++i) {
    std::string got = r.claim("same.html");
    if (got != fmt::format("same-{}.html", i)) {
      ADD_FAILURE() << i << ": " << got;
      break;
    }
  }
  EXPECT_EQ(r.claim("same.html"), "same-100000.html");
  EXPECT_EQ(r.claim("same-99999.html"), "same-99999-1.html");
}

// A resumed run reserves the names of the URLs already done, then claims in
// input order: every URL gets the name the uninterrupted run gave it.
TEST(FetchNaming, ResumedRunGivesTheSameNames) {
  std::vector<std::string> wanted = {"a.html", "b.html", "a.html", "a-1.html",
                                     "a.html", "b.html", "c.html"};
  NameRegistry full;
  std::vector<std::string> names;
  for (auto& w : wanted) names.push_back(full.claim(w));
  for (unsigned mask = 0; mask < (1u << wanted.size()); ++mask) {
    NameRegistry resumed;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      if (mask & (1u << i)) resumed.reserve(names[i]);
    }
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      if (mask & (1u << i)) continue;
      EXPECT_EQ(resumed.claim(wanted[i]), names[i]) << "mask " << mask << " url " << i;
    }
  }
}

TEST(FetchNaming, FlatCounterCountsManyKeys) {
  FlatCounter c;
  for (std::uint64_t k = 0; k < 100000; ++k) c.add(k * 7919);
  EXPECT_EQ(c.size(), 100000u);
  EXPECT_TRUE(c.contains(0));
  EXPECT_TRUE(c.contains(7919 * 99999));
  EXPECT_FALSE(c.contains(3));
  c.add(14);
  EXPECT_TRUE(c.take(14));
  EXPECT_FALSE(c.take(14));
}

TEST(FetchReport, JsonLinesRoundTripAndParseWithNlohmann) {
  Record r;
  r.url = "http://h/\"q\"\\\n\x01楼";
  r.final_url = "http://h/final";
  r.status = 200;
  r.bytes = 12345;
  r.encoding = "GBK";
  r.encoding_source = "meta";
  r.path = "out/a.html";
  r.attempts = 2;
  r.elapsed = 0.25;
  std::string line = to_json_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["url"], r.url);
  EXPECT_EQ(j["status"], 200);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["attempts"], 2);
  Record back;
  ASSERT_TRUE(parse_json_line(line, back));
  EXPECT_EQ(back.url, r.url);
  EXPECT_EQ(back.path, r.path);
  EXPECT_EQ(back.bytes, r.bytes);
  EXPECT_TRUE(back.ok());

  Record failed;
  failed.url = "x";
  failed.error = "cannot connect";
  auto jf = nlohmann::json::parse(to_json_line(failed));
  EXPECT_TRUE(jf["status"].is_null());
  EXPECT_TRUE(jf["path"].is_null());
  EXPECT_EQ(jf["error"], "cannot connect");
  EXPECT_FALSE(parse_json_line("{\"url\": \"cut", back));
  EXPECT_FALSE(parse_json_line("[1]", back));
}

TEST(FetchReport, InvalidUtf8InAUrlStillMakesValidJson) {
  Record r;
  r.url = "http://h/\xFF\xFE";
  auto j = nlohmann::json::parse(to_json_line(r));
  EXPECT_EQ(j["url"], "http://h/\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace corun::fetch
