// text/mime.hpp and text/ascii.hpp: MIME Sniffing's "parse a MIME type", Fetch's
// "extract a MIME type", and the ASCII helpers every layer shares. (The charset
// extraction cases live in sniff_test.cpp, through charset_from_content_type.)
#include "corun/text/mime.hpp"

#include <gtest/gtest.h>

#include "corun/text/ascii.hpp"

namespace {

using corun::text::extract_mime_type;
using corun::text::MimeType;
using corun::text::parse_mime_type;

TEST(Mime, ParseGivesLowerCaseEssenceAndTheFirstValidCharset) {
  auto m = parse_mime_type(" Text/HTML ; foo=bar; Charset=\"GB\\\\K\"; charset=utf-8 ");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->essence, "text/html");
  EXPECT_EQ(m->charset, "GB\\K");
  EXPECT_EQ(parse_mime_type("application/json")->charset, std::nullopt);
  // An empty value and an invalid one are skipped; the next valid charset counts.
  EXPECT_EQ(parse_mime_type("text/plain; charset=; charset=\x01; charset=koi8-r")->charset,
            "koi8-r");
  // A quoted value ends at its closing quote; what follows up to ';' is ignored.
  EXPECT_EQ(parse_mime_type("text/plain; charset=\"big5\"junk")->charset, "big5");
}

TEST(Mime, ParseFailsWhereTheStandardDoes) {
  for (const char* bad :
       {"", "text", "/html", "text/", "te xt/html", "text/ht ml", "text/html@", "\"text\"/html"}) {
    EXPECT_FALSE(parse_mime_type(bad).has_value()) << bad;
  }
}

TEST(Mime, ExtractTakesTheLastValidValueAndCarriesTheCharsetOfTheSameEssence) {
  EXPECT_EQ(extract_mime_type("text/plain;charset=gbk, text/plain"),
            (MimeType{"text/plain", "gbk"}));
  EXPECT_EQ(extract_mime_type("text/plain;charset=gbk, text/html"),
            (MimeType{"text/html", std::nullopt}));
  EXPECT_EQ(extract_mime_type("text/html, */*"), (MimeType{"text/html", std::nullopt}));
  EXPECT_EQ(extract_mime_type("text/html;charset=\"a,b\", bogus"), (MimeType{"text/html", "a,b"}));
  EXPECT_FALSE(extract_mime_type("").has_value());
  EXPECT_FALSE(extract_mime_type("nonsense").has_value());
}

TEST(Mime, TextTypesAreTheOnesABrowserDecodes) {
  for (const char* t :
       {"text/html", "TEXT/plain", "application/json", "application/xml", "image/svg+xml",
        "application/ld+json", "application/javascript", "application/xhtml+xml"}) {
    EXPECT_TRUE(corun::text::is_text_mime_type(t)) << t;
  }
  for (const char* t : {"image/png", "application/octet-stream", "application/pdf", "xml"}) {
    EXPECT_FALSE(corun::text::is_text_mime_type(t)) << t;
  }
}

TEST(Ascii, CaseAndTrimIgnoreTheLocaleAndNonAsciiBytes) {
  using namespace corun::text;
  EXPECT_EQ(to_ascii_lower("GB18030-\xC3\x89"), "gb18030-\xC3\x89");
  EXPECT_EQ(to_ascii_upper("hmset-\xC3\xA9z"), "HMSET-\xC3\xA9Z");
  EXPECT_EQ(ascii_upper('{'), '{');
  EXPECT_EQ(ascii_upper('`'), '`');
  EXPECT_TRUE(iequals("Content-TYPE", "content-type"));
  EXPECT_FALSE(iequals("\xC3\x89", "\xC3\xA9"));
  EXPECT_TRUE(istarts_with("HTTPS://x", "https:"));
  EXPECT_FALSE(istarts_with("http", "https"));
  EXPECT_TRUE(iends_with("image/SVG+XML", "+xml"));
  EXPECT_EQ(trim_http_whitespace("\r\n\t a b \t\n"), "a b");
  EXPECT_EQ(trim_http_tab_or_space("\n a \r"), "\n a \r");
  EXPECT_EQ(trim_ascii_whitespace("\f x \f"), "x");
  EXPECT_EQ(trim_http_whitespace("\f x \f"), "\f x \f");
}

}  // namespace
