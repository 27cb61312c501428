// Tests for corun::text::sniff: each step of the HTML encoding sniffing algorithm, their
// order of precedence, the <meta> prescan's parsing rules, and Content-Type charsets.
#include "corun/text/sniff.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "corun/text/decode.hpp"
#include "corun/text/encoding.hpp"

namespace corun::text {
namespace {

using namespace std::string_literals;

// Sample pages, bytes produced by Python's codecs (no <meta>, no BOM).
const std::string kGb18030Page =
    "<html><body><p>\xC2\xA5\xC5\xCC\xCF\xEA\xC7\xE9\xB7\xBF\xBC\xDB\xD7\xDF\xCA\xC6\xBB\xA7"
    "\xD0\xCD\xCD\xBC\xD6\xDC\xB1\xDF\xC5\xE4\xCC\xD7\xBD\xBB\xCD\xA8\xCE\xEF\xD2\xB5\xBF\xAA"
    "\xB7\xA2\xC9\xCC\xC2\xCC\xBB\xAF\xC2\xCA\xC8\xDD\xBB\xFD\xC2\xCA\xB3\xB5\xCE\xBB\xD7\xB0"
    "\xD0\xDE\xB1\xEA\xD7\xBC\xBE\xF9\xBC\xDB\xCD\xF2\xD4\xAA\xC6\xBD\xB7\xBD\xC3\xD7\xB1\xB1"
    "\xBE\xA9\xC9\xCF\xBA\xA3\xB9\xE3\xD6\xDD\xC9\xEE\xDB\xDA\xB3\xAF\xD1\xF4\xC7\xF8\xBA\xA3"
    "\xB5\xED\xC7\xF8\xA1\xA3\xD5\xE2\xCA\xC7\xD2\xBB\xB8\xF6\xB9\xD8\xD3\xDA\xB7\xBF\xB5\xD8"
    "\xB2\xFA\xCA\xD0\xB3\xA1\xB5\xC4\xCF\xEA\xCF\xB8\xB1\xA8\xB8\xE6\xA3\xAC\xB0\xFC\xC0\xA8"
    "\xBC\xDB\xB8\xF1\xA1\xA2\xC3\xE6\xBB\xFD\xBA\xCD\xCE\xBB\xD6\xC3\xD0\xC5\xCF\xA2\xA1\xA3<"
    "/p></body></html>";

const std::string kShiftJisPage =
    "<html><body><p>\x93\xFA\x96{\x8C\xEA\x82\xCC\x83"
    "e\x83L\x83X\x83g\x82\xC5\x82\xB7\x81"
    "B\x93\x8C\x8B\x9E\x93s\x82\xCC\x93V\x8B"
    "C\x82\xCD\x90\xB0\x82\xEA\x81"
    "A\x96\xBE\x93\xFA\x82\xCD\x89J\x82\xAA\x8D~\x82\xE9\x82\xC5\x82\xB5\x82\xE5\x82\xA4\x81"
    "B\x8E\x84\x82\xBD\x82\xBF\x82\xCD\x90V\x82\xB5\x82\xA2\x83v\x83\x8D\x83W\x83"
    "F\x83N\x83g\x82\xC9\x82\xC2\x82\xA2\x82\xC4\x98"
    "b\x82\xB5\x8D\x87\x82\xA2\x82\xDC\x82\xB5\x82\xBD\x81"
    "B</p></body></html>";

const std::string kWindows1251Page =
    "<html><body><p>\xCF\xF0\xE8\xE2\xE5\xF2, \xEC\xE8\xF0! \xDD\xF2\xEE \xEF\xF0\xE8\xEC\xE5"
    "\xF0 \xF0\xF3\xF1\xF1\xEA\xEE\xE3\xEE \xF2\xE5\xEA\xF1\xF2\xE0 \xE4\xEB\xFF \xEF\xF0\xEE"
    "\xE2\xE5\xF0\xEA\xE8 \xEE\xEF\xF0\xE5\xE4\xE5\xEB\xE5\xED\xE8\xFF \xEA\xEE\xE4\xE8\xF0"
    "\xEE\xE2\xEA\xE8. \xCC\xEE\xF1\xEA\xE2\xE0 \xFF\xE2\xEB\xFF\xE5\xF2\xF1\xFF \xF1\xF2\xEE"
    "\xEB\xE8\xF6\xE5\xE9 \xD0\xEE\xF1\xF1\xE8\xE8.</p></body></html>";

const std::string kEucKrPage =
    "<html><body><p>\xBE\xC8\xB3\xE7\xC7\xCF\xBC\xBC\xBF\xE4. \xC0\xCC\xB0\xCD\xC0\xBA \xC7"
    "\xD1\xB1\xB9\xBE\xEE \xC5\xD8\xBD\xBA\xC6\xAE\xC0\xD4\xB4\xCF\xB4\xD9. \xBC\xAD\xBF\xEF"
    "\xC0\xC7 \xB3\xAF\xBE\xBE\xB4\xC2 \xB8\xBC\xB0\xED \xB3\xBB\xC0\xCF\xC0\xBA \xBA\xF1\xB0"
    "\xA1 \xBF\xC3 \xB0\xCD\xC0\xD4\xB4\xCF\xB4\xD9. \xBF\xEC\xB8\xAE\xB4\xC2 \xBB\xF5\xB7\xCE"
    "\xBF\xEE \xC7\xC1\xB7\xCE\xC1\xA7\xC6\xAE\xBF\xA1 \xB4\xEB\xC7\xD8 \xC0\xCC\xBE\xDF\xB1"
    "\xE2\xC7\xDF\xBD\xC0\xB4\xCF\xB4\xD9.</p></body></html>";

const std::string kBig5Page =
    "<html><body><p>\xB3o\xACO\xA4@\xAD\xD3\xC1"
    "c\xC5\xE9\xA4\xA4\xA4\xE5\xAA\xBA\xBD"
    "d\xA8\xD2\xA4\xE5\xA6r\xA1"
    "C\xBBO\xA5_\xA5\xAB\xAA\xBA\xA4\xD1\xAE\xF0\xB4\xB8\xAE\xD4\xA1"
    "A\xA9\xFA\xA4\xD1\xA5i\xAF\xE0\xB7|\xA4U\xAB"
    "B\xA1"
    "C\xA7\xDA\xAD\xCC\xB0Q\xBD\xD7\xA4"
    "F\xB7s\xAA\xBA\xB1M\xAE\xD7\xADp\xB5"
    "e\xBBP\xAE\xC9\xB5{\xA6w\xB1\xC6\xA1"
    "C</p></body></html>";

// "中文" in UTF-8.
const std::string kUtf8Text = "<p>\xE4\xB8\xAD\xE6\x96\x87</p>";

// The page shape of the motivating scraper (and of make_corpus.py).
const std::string kCorpusHead =
    R"(<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">)";

std::optional<Encoding> prescan(const std::string& bytes) {
  return prescan_meta(bytes);
}

// ---------------------------------------------------------------------------------------
// Source names (the report field).

TEST(SniffSource, NamesMatchTheReportField) {
  EXPECT_EQ(to_string(Source::bom), "bom");
  EXPECT_EQ(to_string(Source::override), "override");
  EXPECT_EQ(to_string(Source::http), "http");
  EXPECT_EQ(to_string(Source::meta), "meta");
  EXPECT_EQ(to_string(Source::utf8), "utf8");
  EXPECT_EQ(to_string(Source::detected), "detected");
  EXPECT_EQ(to_string(Source::default_), "default");
}

// ---------------------------------------------------------------------------------------
// Step 1: BOM.

TEST(SniffBom, Utf8BomWinsOverEverything) {
  const std::string page = "\xEF\xBB\xBF"s + kCorpusHead;
  const SniffResult r = sniff(page, "text/html; charset=big5", "shift_jis");
  EXPECT_EQ(r.encoding, Encoding::utf_8);
  EXPECT_EQ(r.source, Source::bom);
}

TEST(SniffBom, Utf16BomsAreRecognised) {
  EXPECT_EQ(sniff("\xFE\xFF\x00<"s).encoding, Encoding::utf_16be);
  EXPECT_EQ(sniff("\xFE\xFF\x00<"s).source, Source::bom);
  EXPECT_EQ(sniff("\xFF\xFE<\x00"s).encoding, Encoding::utf_16le);
  EXPECT_EQ(sniff("\xFF\xFE<\x00"s, "text/html; charset=utf-8").source, Source::bom);
}

TEST(SniffBom, PartialBomIsNotABom) {
  // EF BB alone is not a BOM; the bytes are not valid UTF-8 either.
  EXPECT_NE(sniff("\xEF\xBBxyz"s).source, Source::bom);
  EXPECT_NE(sniff("\xFE"s).source, Source::bom);
}

// ---------------------------------------------------------------------------------------
// Step 2: user override.

TEST(SniffOverride, BeatsHttpAndMeta) {
  const SniffResult r = sniff(kCorpusHead, "text/html; charset=big5", "Shift_JIS");
  EXPECT_EQ(r.encoding, Encoding::shift_jis);
  EXPECT_EQ(r.source, Source::override);
}

TEST(SniffOverride, LabelIsResolvedLikeAnyLabel) {
  EXPECT_EQ(sniff("abc", {}, "  GB2312 ").encoding, Encoding::gbk);
  EXPECT_EQ(sniff("abc", {}, "latin1").encoding, Encoding::windows_1252);
}

TEST(SniffOverride, UnknownOverrideThrowsLookupErrorNamingIt) {
  try {
    sniff(kCorpusHead, {}, "klingon-8");
    FAIL() << "no LookupError";
  } catch (const LookupError& e) {
    EXPECT_EQ(e.label(), "klingon-8");
    EXPECT_NE(std::string(e.what()).find("klingon-8"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// Step 3: transport (HTTP Content-Type).

TEST(SniffHttp, CharsetBeatsMeta) {
  const SniffResult r = sniff(kCorpusHead, "text/html; charset=big5");
  EXPECT_EQ(r.encoding, Encoding::big5);
  EXPECT_EQ(r.source, Source::http);
}

TEST(SniffHttp, Gb2312LabelMeansGbk) {
  const SniffResult r = sniff("<p>x</p>", "text/html;charset=GB2312");
  EXPECT_EQ(r.encoding, Encoding::gbk);
  EXPECT_EQ(r.source, Source::http);
}

TEST(SniffHttp, UnknownCharsetIsSkipped) {
  const SniffResult r = sniff(kCorpusHead, "text/html; charset=no-such-thing");
  EXPECT_EQ(r.encoding, Encoding::gbk);
  EXPECT_EQ(r.source, Source::meta);
}

TEST(SniffHttp, NoCharsetParameterFallsThrough) {
  EXPECT_EQ(sniff(kCorpusHead, "text/html").source, Source::meta);
  EXPECT_EQ(sniff(kCorpusHead, "garbage").source, Source::meta);
}

// Choice written down in sniff.cpp: the transport's encoding is used as is; the
// UTF-16 -> UTF-8 rewrite belongs to <meta> only (HTML's step 4 has no such rewrite).
TEST(SniffHttp, Utf16FromHttpIsHonoured) {
  EXPECT_EQ(sniff("<\x00p\x00"s, "text/html; charset=utf-16").encoding, Encoding::utf_16le);
  EXPECT_EQ(sniff("\x00<\x00p"s, "text/html; charset=UTF-16BE").encoding, Encoding::utf_16be);
  EXPECT_EQ(sniff("x", "text/html; charset=utf-16").source, Source::http);
}

TEST(SniffHttp, ReplacementLabelFromHttpIsHonoured) {
  // hz-gb-2312 is a "replacement" label: the whole document decodes to one U+FFFD.
  EXPECT_EQ(sniff("~{", "text/html; charset=hz-gb-2312").encoding, Encoding::replacement);
}

// ---------------------------------------------------------------------------------------
// charset_from_content_type: MIME Sniffing's "parse a MIME type" and Fetch's "extract a
// MIME type".

TEST(CharsetFromContentType, PlainAndQuotedValues) {
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk"), "gbk");
  EXPECT_EQ(charset_from_content_type("text/html;charset=gbk"), "gbk");
  EXPECT_EQ(charset_from_content_type(R"(text/html; charset="gbk")"), "gbk");
  EXPECT_EQ(charset_from_content_type(R"(text/html; charset="gbk"; q=1)"), "gbk");
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk   "), "gbk");
  EXPECT_EQ(charset_from_content_type("  text/html ;  charset=gbk"), "gbk");
}

TEST(CharsetFromContentType, ParameterNameIsCaseInsensitive) {
  EXPECT_EQ(charset_from_content_type("Text/HTML; CharSet=Big5"), "Big5");
  EXPECT_EQ(charset_from_content_type("text/html; CHARSET=\"Big5\""), "Big5");
}

TEST(CharsetFromContentType, QuotedStringsHideSemicolonsAndEscapes) {
  EXPECT_EQ(charset_from_content_type(R"(text/html; foo="a;charset=x"; charset=gbk)"), "gbk");
  EXPECT_EQ(charset_from_content_type(R"(text/html; charset="gb\k")"), "gbk");
  EXPECT_EQ(charset_from_content_type(R"(text/html; charset="gbk)"), "gbk");  // unterminated
  EXPECT_EQ(charset_from_content_type(R"(text/html; charset="gbk" trailing)"), "gbk");
}

TEST(CharsetFromContentType, AnUnescapedValueIsOwnedByTheCaller) {
  // Unescaping makes a new string; a later call must not change an earlier result.
  const auto first = charset_from_content_type(R"(text/html; charset="gb\k")");
  const auto second = charset_from_content_type(R"(text/html; charset="big\5")");
  EXPECT_EQ(first, "gbk");
  EXPECT_EQ(second, "big5");
}

TEST(CharsetFromContentType, FirstCharsetParameterWins) {
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk; charset=big5"), "gbk");
}

TEST(CharsetFromContentType, MalformedInputGivesNothing) {
  EXPECT_EQ(charset_from_content_type(""), "");
  EXPECT_EQ(charset_from_content_type("charset=gbk"), "");         // no type/subtype
  EXPECT_EQ(charset_from_content_type("text/; charset=gbk"), "");  // empty subtype
  EXPECT_EQ(charset_from_content_type("te xt/html; charset=gbk"), "");
  EXPECT_EQ(charset_from_content_type("text/html; charset="), "");
  EXPECT_EQ(charset_from_content_type("text/html; charset"), "");
  // "charset " (with a space) is not the parameter name "charset".
  EXPECT_EQ(charset_from_content_type("text/html; charset =gbk"), "");
}

TEST(CharsetFromContentType, CombinedHeaderValuesFollowFetch) {
  // A later value with another essence resets the charset.
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk, text/plain"), "");
  // The same essence without a charset keeps the earlier one.
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk, text/html"), "gbk");
  // */* is skipped.
  EXPECT_EQ(charset_from_content_type("text/html; charset=gbk, */*"), "gbk");
  // A comma inside a quoted string does not split.
  EXPECT_EQ(charset_from_content_type(R"(text/html; x="a,b"; charset=big5)"), "big5");
}

// ---------------------------------------------------------------------------------------
// Step 4: the <meta> prescan.

TEST(SniffMeta, CorpusPageShapeMeansGbk) {
  const SniffResult r = sniff(kCorpusHead + "<title>x</title></head><body>\xC2\xA5</body>");
  EXPECT_EQ(r.encoding, Encoding::gbk);
  EXPECT_EQ(r.source, Source::meta);
}

TEST(SniffMeta, MetaCharsetInOddQuoting) {
  EXPECT_EQ(prescan(R"(<meta charset="gbk">)"), Encoding::gbk);
  EXPECT_EQ(prescan("<meta charset='big5'>"), Encoding::big5);
  EXPECT_EQ(prescan("<meta charset=shift_jis>"), Encoding::shift_jis);
  EXPECT_EQ(prescan("<META CHARSET=EUC-KR>"), Encoding::euc_kr);
  EXPECT_EQ(prescan("<meta   charset  =  \"koi8-r\"  >"), Encoding::koi8_r);
  EXPECT_EQ(prescan("<meta\tcharset\n=\n'koi8-u'>"), Encoding::koi8_u);
  EXPECT_EQ(prescan("<meta/charset=utf-8>"), Encoding::utf_8);
  EXPECT_EQ(prescan(R"(<meta charset="gbk"/>)"), Encoding::gbk);
  EXPECT_EQ(prescan("<meta foo bar=baz charset=gbk>"), Encoding::gbk);
  // Label whitespace is trimmed by "get an encoding".
  EXPECT_EQ(prescan(R"(<meta charset=" gbk ">)"), Encoding::gbk);
}

TEST(SniffMeta, UnquotedValueRunsToSpaceOrGreaterThan) {
  // The unquoted value is "gbk/", which is no label: this <meta> gives nothing.
  EXPECT_EQ(prescan("<meta charset=gbk/>"), std::nullopt);
  EXPECT_EQ(prescan("<meta charset=gbk />"), Encoding::gbk);
}

TEST(SniffMeta, HttpEquivAndContentInEitherOrder) {
  EXPECT_EQ(prescan(R"(<meta http-equiv="Content-Type" content="text/html; charset=gb2312">)"),
            Encoding::gbk);
  EXPECT_EQ(prescan(R"(<meta content="text/html; charset=big5" http-equiv="content-type">)"),
            Encoding::big5);
  EXPECT_EQ(prescan("<meta http-equiv=content-type content=text/html;charset=euc-jp>"),
            Encoding::euc_jp);
}

TEST(SniffMeta, ContentWithoutPragmaIsIgnored) {
  EXPECT_EQ(prescan(R"(<meta content="text/html; charset=big5">)"), std::nullopt);
  EXPECT_EQ(prescan(R"(<meta http-equiv="refresh" content="0; charset=big5">)"), std::nullopt);
  // A later, complete <meta> is still found.
  EXPECT_EQ(prescan(R"(<meta content="text/html; charset=big5"><meta charset="gbk">)"),
            Encoding::gbk);
}

TEST(SniffMeta, CharsetInContentWithQuotes) {
  const auto meta = [](const std::string& content) {
    return prescan(R"(<meta http-equiv="content-type" content=")" + content + "\">");
  };
  EXPECT_EQ(meta("text/html; charset='shift_jis'"), Encoding::shift_jis);
  EXPECT_EQ(prescan(R"(<meta http-equiv='content-type' content='text/html; charset="euc-kr"'>)"),
            Encoding::euc_kr);
  EXPECT_EQ(meta("text/html; charset = koi8-r"), Encoding::koi8_r);
  EXPECT_EQ(meta("text/html;charset=big5;foo"), Encoding::big5);
  EXPECT_EQ(meta("text/html; charset=big5 foo"), Encoding::big5);
  // "charset" not followed by '=': the search goes on from there.
  EXPECT_EQ(meta("charsetcharset=big5"), Encoding::big5);
  EXPECT_EQ(meta("xcharset=gbk"), Encoding::gbk);  // no word boundary is needed
  // An unmatched quote gives nothing.
  EXPECT_EQ(meta("text/html; charset='big5"), std::nullopt);
  EXPECT_EQ(meta("text/html; charset="), std::nullopt);
  EXPECT_EQ(meta("text/html"), std::nullopt);
}

TEST(SniffMeta, DuplicateAttributesKeepTheFirst) {
  EXPECT_EQ(prescan(R"(<meta charset="big5" charset="gbk">)"), Encoding::big5);
  EXPECT_EQ(prescan(R"(<meta http-equiv="x" http-equiv="content-type" )"
                    R"(content="text/html;charset=gbk">)"),
            std::nullopt);
}

TEST(SniffMeta, CharsetAttributeOverridesContent) {
  EXPECT_EQ(prescan(R"(<meta http-equiv="content-type" content="text/html;charset=gbk" )"
                    R"(charset="big5">)"),
            Encoding::big5);
  // A failed charset attribute makes the whole <meta> give nothing, even with a content.
  EXPECT_EQ(prescan(R"(<meta charset="bogus" http-equiv="content-type" )"
                    R"(content="text/html;charset=gbk"><meta charset="koi8-r">)"),
            Encoding::koi8_r);
}

TEST(SniffMeta, Utf16LabelsMeanUtf8AndXUserDefinedMeansWindows1252) {
  EXPECT_EQ(prescan(R"(<meta charset="utf-16">)"), Encoding::utf_8);
  EXPECT_EQ(prescan(R"(<meta charset="UTF-16BE">)"), Encoding::utf_8);
  EXPECT_EQ(prescan(R"(<meta http-equiv="content-type" content="text/html; charset=utf-16le">)"),
            Encoding::utf_8);
  EXPECT_EQ(prescan(R"(<meta charset="x-user-defined">)"), Encoding::windows_1252);
  const SniffResult r = sniff(R"(<meta charset="utf-16"><p>x</p>)");
  EXPECT_EQ(r.encoding, Encoding::utf_8);
  EXPECT_EQ(r.source, Source::meta);
}

TEST(SniffMeta, ReplacementLabelIsKept) {
  // The prescan rewrites only UTF-16 and x-user-defined; a replacement label stands.
  EXPECT_EQ(prescan(R"(<meta charset="iso-2022-kr">)"), Encoding::replacement);
}

TEST(SniffMeta, UnknownLabelIsSkippedAndTheScanGoesOn) {
  EXPECT_EQ(prescan(R"(<meta charset="klingon"><meta charset="windows-1251">)"),
            Encoding::windows_1251);
}

TEST(SniffMeta, CommentsHideMeta) {
  EXPECT_EQ(prescan(R"(<!-- <meta charset="big5"> --><meta charset="euc-jp">)"), Encoding::euc_jp);
  // The dashes of "<!--" may close it: "<!-->" is a whole comment.
  EXPECT_EQ(prescan(R"(<!--><meta charset="big5">)"), Encoding::big5);
  EXPECT_EQ(prescan(R"(<!---><meta charset="big5">-->)"), Encoding::big5);
  // An unterminated comment hides everything after it.
  EXPECT_EQ(prescan(R"(<!-- <meta charset="big5">)"), std::nullopt);
  // "--" then ">" only when adjacent.
  EXPECT_EQ(prescan(R"(<!-- -- > <meta charset="big5"> --><meta charset="gbk">)"), Encoding::gbk);
}

TEST(SniffMeta, MetaAfterCommentsAndDoctype) {
  const std::string page =
      "<!DOCTYPE html>\n<!-- generated -->\n<?php x ?>\n<html lang=\"zh\">"
      "<head><title>t</title>\n<meta charset=\"gb18030\">";
  EXPECT_EQ(prescan(page), Encoding::gb18030);
}

TEST(SniffMeta, MetaInsideAnotherTagsAttributeIsSkipped) {
  EXPECT_EQ(prescan(R"(<div title="<meta charset=big5>"><meta charset=koi8-r>)"), Encoding::koi8_r);
  EXPECT_EQ(prescan(R"(<a href='<meta charset=big5>'>)"), std::nullopt);
}

TEST(SniffMeta, EndTagSwallowsWhatLooksLikeAttributes) {
  // html5lib-python issue 436: "</xxx<meta ..." is one end tag whose "attributes" hide it.
  EXPECT_EQ(prescan("</xxx<meta charset=iso-8859-2>"), std::nullopt);
  EXPECT_EQ(prescan("</p><meta charset=iso-8859-2>"), Encoding::iso_8859_2);
}

TEST(SniffMeta, BogusMarkupIsSkippedToGreaterThan) {
  EXPECT_EQ(prescan(R"(<! <meta charset=big5>)"), std::nullopt);  // ends at the first '>'
  EXPECT_EQ(prescan(R"(<? x ><meta charset=big5>)"), Encoding::big5);
  EXPECT_EQ(prescan(R"(</ ><meta charset=big5>)"), Encoding::big5);
  EXPECT_EQ(prescan(R"(<1<meta charset=big5>)"), Encoding::big5);  // '<' + digit: text
}

TEST(SniffMeta, MetaNeedsSpaceOrSlashAfterTheName) {
  EXPECT_EQ(prescan("<metacharset=big5>"), std::nullopt);
  EXPECT_EQ(prescan("<metadata charset=big5>"), std::nullopt);
  EXPECT_EQ(prescan("<meta>"), std::nullopt);
}

TEST(SniffMeta, OnlyTheFirst1024BytesCount) {
  const std::string meta = R"(<meta charset="big5">)";
  // Ends exactly at byte 1024: found.
  const std::string fits = std::string(1024 - meta.size(), ' ') + meta;
  ASSERT_EQ(fits.size(), 1024u);
  EXPECT_EQ(prescan(fits + "<p>more</p>"), Encoding::big5);
  // One byte later, its '>' is byte 1025: not found.
  const std::string late = std::string(1025 - meta.size(), ' ') + meta;
  EXPECT_EQ(prescan(late), std::nullopt);
  EXPECT_EQ(sniff(late).source, Source::default_);
  // A long comment pushes the <meta> out of range.
  const std::string commented = "<!--" + std::string(1100, 'x') + "-->" + meta;
  EXPECT_EQ(prescan(commented), std::nullopt);
}

TEST(SniffMeta, TruncatedMetaGivesNothing) {
  EXPECT_EQ(prescan(R"(<meta charset="gbk")"), std::nullopt);
  EXPECT_EQ(prescan("<meta charset=gbk"), std::nullopt);
  EXPECT_EQ(prescan(R"(<meta charset="gbk)"), std::nullopt);
  EXPECT_EQ(prescan("<meta"), std::nullopt);
}

TEST(SniffMeta, XmlDeclarationIsUsedWhenNoMeta) {
  EXPECT_EQ(prescan(R"(<?xml version="1.0" encoding="windows-1251"?><html>)"),
            Encoding::windows_1251);
  EXPECT_EQ(prescan(R"(<?xml version="1.0" encoding = 'Shift_JIS' ?>)"), Encoding::shift_jis);
  EXPECT_EQ(prescan(R"(<?xml version="1.0" encoding="utf-16"?>)"), Encoding::utf_8);
  // <meta> comes first.
  EXPECT_EQ(prescan(R"(<?xml version="1.0" encoding="windows-1251"?><meta charset="gbk">)"),
            Encoding::gbk);
  // Not at the very start, or with whitespace inside the label: nothing.
  EXPECT_EQ(prescan(R"( <?xml version="1.0" encoding="windows-1251"?>)"), std::nullopt);
  EXPECT_EQ(prescan(R"(<?xml version="1.0" encoding="windows 1251"?>)"), std::nullopt);
  EXPECT_EQ(prescan(R"(<?xml version="1.0"?><x encoding="big5">)"), std::nullopt);
}

TEST(SniffMeta, Utf16XmlDeclarationsAreRecognised) {
  EXPECT_EQ(prescan("<\x00?\x00x\x00m\x00l\x00"s), Encoding::utf_16le);
  EXPECT_EQ(prescan("\x00<\x00?\x00x\x00m\x00l"s), Encoding::utf_16be);
  EXPECT_EQ(sniff("<\x00?\x00x\x00m\x00l\x00"s).source, Source::meta);
}

// ---------------------------------------------------------------------------------------
// Step 5: valid UTF-8.

TEST(SniffUtf8, ValidUtf8WithoutDeclarations) {
  const SniffResult r = sniff(kUtf8Text);
  EXPECT_EQ(r.encoding, Encoding::utf_8);
  EXPECT_EQ(r.source, Source::utf8);
}

TEST(SniffUtf8, TruncatedFinalSequenceIsAllowed) {
  for (std::size_t cut = 1; cut <= 2; ++cut) {
    const std::string truncated = kUtf8Text.substr(0, 9 - cut);  // inside "文"
    EXPECT_EQ(sniff(truncated).source, Source::utf8) << cut;
  }
  // A four-byte sequence cut after three bytes.
  EXPECT_EQ(sniff("ok \xF0\x9F\x98"s).source, Source::utf8);
}

// A lone lead byte at the end is Latin-1 as often as a cut UTF-8 sequence: it
// counts as UTF-8 only after UTF-8 text.
TEST(SniffUtf8, ALoneFinalLeadByteNeedsUtf8BeforeIt) {
  const SniffResult latin = sniff("caf\xE9"s);
  EXPECT_NE(latin.source, Source::utf8);
  EXPECT_EQ(corun::text::decode("caf\xE9"s, latin.encoding, corun::text::Errors::strict),
            "caf\xC3\xA9");  // café
  EXPECT_NE(sniff(std::string(2000, 'x') + "caf\xE9").source, Source::utf8);
  EXPECT_EQ(sniff("\xE4\xB8\xAD \xE6"s).source, Source::utf8);  // after "中"
}

TEST(SniffUtf8, InvalidOrNonPrefixTailIsNotUtf8) {
  EXPECT_NE(sniff("\xE4\xB8\xAD \xE6 x"s).source, Source::utf8);  // truncated mid-text
  EXPECT_NE(sniff("ok \xED\xA0"s).source, Source::utf8);          // surrogate prefix
  EXPECT_NE(sniff("ok \xF4\x90"s).source, Source::utf8);          // beyond U+10FFFF
  EXPECT_NE(sniff("ok \xC0"s).source, Source::utf8);              // overlong lead
  EXPECT_NE(sniff("ok \x80"s).source, Source::utf8);              // lone continuation
}

TEST(SniffUtf8, PureAsciiIsTheDefaultNotUtf8) {
  const SniffResult r = sniff("<html><body>plain ASCII</body></html>");
  EXPECT_EQ(r.encoding, Encoding::windows_1252);
  EXPECT_EQ(r.source, Source::default_);
  EXPECT_EQ(sniff("").source, Source::default_);
}

TEST(SniffUtf8, MetaBeatsValidUtf8) {
  const SniffResult r = sniff(R"(<meta charset="windows-1251">)" + kUtf8Text);
  EXPECT_EQ(r.encoding, Encoding::windows_1251);
  EXPECT_EQ(r.source, Source::meta);
}

// ---------------------------------------------------------------------------------------
// Step 6: uchardet.

TEST(SniffDetected, UchardetGuessesThroughWhatwgLabels) {
  struct Case {
    const std::string* page;
    Encoding expected;
  };
  const Case cases[] = {
      {&kGb18030Page, Encoding::gb18030},
      {&kShiftJisPage, Encoding::shift_jis},
      {&kWindows1251Page, Encoding::windows_1251},
      {&kBig5Page, Encoding::big5},
      // uchardet says "UHC" (windows-949), which is WHATWG's euc-kr.
      {&kEucKrPage, Encoding::euc_kr},
  };
  for (const Case& c : cases) {
    const SniffResult r = sniff(*c.page);
    EXPECT_EQ(r.source, Source::detected) << name(c.expected);
    EXPECT_EQ(r.encoding, c.expected) << name(c.expected) << " got " << name(r.encoding);
  }
}

TEST(SniffDetected, DeclarationsBeatDetection) {
  const SniffResult r = sniff(R"(<meta charset="big5">)" + kGb18030Page);
  EXPECT_EQ(r.encoding, Encoding::big5);
  EXPECT_EQ(r.source, Source::meta);
  EXPECT_EQ(sniff(kGb18030Page, "text/html; charset=gbk").source, Source::http);
}

// ---------------------------------------------------------------------------------------
// Step 7: default.

TEST(SniffDefault, UndetectableBytesGiveWindows1252) {
  // Not UTF-8, and uchardet has no answer for three C1 bytes.
  const SniffResult r = sniff("\x80\x81\x82"s);
  EXPECT_EQ(r.encoding, Encoding::windows_1252);
  EXPECT_EQ(r.source, Source::default_);
}

TEST(SniffDetected, Latin1GuessMeansWindows1252) {
  // uchardet says "ISO-8859-1", a WHATWG label of windows-1252.
  const SniffResult r = sniff(
      "caf\xE9 cr\xE8me br\xFBl\xE9"
      "e"s);
  EXPECT_EQ(r.encoding, Encoding::windows_1252);
  EXPECT_EQ(r.source, Source::detected);
}

// ---------------------------------------------------------------------------------------
// Real pages (tests/text/data/pages): each declares its encoding in a <meta>, except the
// UTF-16 ones.

TEST(SniffPages, RealPagesSniffToTheirDeclaredEncoding) {
  const char* source = std::getenv("CORUN_SOURCE_DIR");
  const std::filesystem::path root =
      source ? std::filesystem::path(source)
             : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const std::filesystem::path dir = root / "tests" / "text" / "data" / "pages";
  std::ifstream manifest(dir / "MANIFEST");
  ASSERT_TRUE(manifest.good()) << dir;
  std::string file, label, codec;
  int checked = 0;
  while (manifest >> file >> label >> codec) {
    std::ifstream f(dir / file, std::ios::binary);
    std::stringstream bytes;
    bytes << f.rdbuf();
    const SniffResult r = sniff(bytes.str());
    if (label.rfind("utf-16", 0) == 0) {
      EXPECT_NE(r.source, Source::meta) << file;
      // With the transport's word for it, it is UTF-16.
      EXPECT_EQ(sniff(bytes.str(), "text/html; charset=" + label).encoding,
                encoding_for_label(label))
          << file;
      continue;
    }
    EXPECT_EQ(r.source, Source::meta) << file;
    EXPECT_EQ(r.encoding, encoding_for_label(label)) << file;
    ++checked;
  }
  EXPECT_EQ(checked, 18);
}

}  // namespace
}  // namespace corun::text
