// Labels: every label of encodings.json resolves to its encoding, ASCII
// case-insensitively and with ASCII whitespace trimmed; unknown labels fail with
// a message naming the label.
#include "corun/text/encoding.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace corun::text {
namespace {

nlohmann::json load_encodings_json() {
  std::ifstream f(std::string(CORUN_WHATWG_DIR) + "/encodings.json");
  EXPECT_TRUE(f.good()) << "cannot open encodings.json in " << CORUN_WHATWG_DIR;
  return nlohmann::json::parse(f);
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

TEST(EncodingLabels, EveryLabelOfTheStandardResolvesToItsEncoding) {
  auto json = load_encodings_json();
  int count = 0;
  int index = 0;
  for (const auto& group : json) {
    for (const auto& enc : group["encodings"]) {
      auto expected = static_cast<Encoding>(index++);
      std::string canonical = enc["name"];
      EXPECT_EQ(name(expected), canonical);
      for (const auto& l : enc["labels"]) {
        std::string label = l;
        ++count;
        EXPECT_EQ(lookup(label), expected) << label;
        EXPECT_EQ(lookup(upper(label)), expected) << upper(label);
        EXPECT_EQ(lookup(" \t\n\f\r" + label + "\r\n\t\f "), expected) << label;
        EXPECT_EQ(encoding_for_label(label), expected) << label;
      }
    }
  }
  EXPECT_EQ(index, 40);
  EXPECT_GT(count, 200);
}

TEST(EncodingLabels, WellKnownAliases) {
  EXPECT_EQ(encoding_for_label("gb2312"), Encoding::gbk);
  EXPECT_EQ(encoding_for_label("GB2312"), Encoding::gbk);
  EXPECT_EQ(encoding_for_label("latin1"), Encoding::windows_1252);
  EXPECT_EQ(encoding_for_label("iso-8859-1"), Encoding::windows_1252);
  EXPECT_EQ(encoding_for_label("ascii"), Encoding::windows_1252);
  EXPECT_EQ(encoding_for_label("hz-gb-2312"), Encoding::replacement);
  EXPECT_EQ(encoding_for_label("utf-16"), Encoding::utf_16le);
  EXPECT_EQ(encoding_for_label("x-sjis"), Encoding::shift_jis);
  EXPECT_EQ(encoding_for_label("  Shift_JIS\n"), Encoding::shift_jis);
  EXPECT_EQ(name(Encoding::gbk), "GBK");
  EXPECT_EQ(name(Encoding::gb18030), "gb18030");
  EXPECT_EQ(name(Encoding::x_user_defined), "x-user-defined");
}

TEST(EncodingLabels, NonAsciiWhitespaceAndCaseFoldingDoNotApply) {
  // Only ASCII whitespace is trimmed: a vertical tab or NBSP is part of the label.
  EXPECT_EQ(lookup("\vutf-8"), std::nullopt);
  EXPECT_EQ(lookup("\xC2\xA0utf-8"), std::nullopt);
  // Inner whitespace is not removed.
  EXPECT_EQ(lookup("utf -8"), std::nullopt);
  EXPECT_EQ(lookup(""), std::nullopt);
  EXPECT_EQ(lookup("   "), std::nullopt);
  // Longer than any label.
  EXPECT_EQ(lookup(std::string(100, 'a')), std::nullopt);
  // "utf8" is a label, "utf_8" is not (the standard has no fuzzy matching).
  EXPECT_EQ(lookup("utf_8"), std::nullopt);
}

TEST(EncodingLabels, UnknownLabelErrorNamesTheLabel) {
  try {
    encoding_for_label("foo");
    FAIL() << "no LookupError";
  } catch (const LookupError& e) {
    EXPECT_STREQ(e.what(), "unknown encoding label: \"foo\"");
    EXPECT_EQ(e.label(), "foo");
  }
  EXPECT_THROW(encoding_for_label("utf-7"), LookupError);
  // LookupError is an invalid_argument (what a caller passing bad input expects).
  EXPECT_THROW(encoding_for_label("x-unknown"), std::invalid_argument);
}

// The error shows a label's invisible bytes escaped (a vertical tab, a NUL), and
// at most 64 bytes of a long one; a UTF-8 label as it is.
TEST(EncodingLabels, UnknownLabelErrorShowsTheLabelEscaped) {
  auto message = [](std::string_view label) {
    try {
      encoding_for_label(label);
    } catch (const LookupError& e) {
      EXPECT_EQ(e.label(), label);
      return std::string(e.what());
    }
    ADD_FAILURE() << "no LookupError for " << label;
    return std::string();
  };
  EXPECT_EQ(message("\vutf-8"),
            "unknown encoding label: \"\\x0butf-8\" (did you mean \"utf-8\", UTF-8?)");
  EXPECT_EQ(message(std::string_view("utf-8\0", 6)),
            "unknown encoding label: \"utf-8\\x00\" (did you mean \"utf-8\", UTF-8?)");
  EXPECT_EQ(message("a\"b\\c"), "unknown encoding label: \"a\\x22b\\x5cc\"");
  EXPECT_EQ(message("\xff\xfe"), "unknown encoding label: \"\\xff\\xfe\"");
  EXPECT_EQ(message("\xc3\xbctf-8"), "unknown encoding label: \"\xc3\xbctf-8\"");
  std::string long_label(10000, 'x');
  EXPECT_EQ(message(long_label), "unknown encoding label: \"" + std::string(64, 'x') + "...\"");
  // Cut before a UTF-8 sequence it would split.
  std::string wide = std::string(63, 'x') + "\xc3\xbc" + "yy";
  EXPECT_EQ(shown_label(wide), std::string(63, 'x') + "...");
}

// A label that is Python's spelling, not the standard's, gets the standard's
// label in its error: what to write instead.
TEST(EncodingLabels, UnknownLabelErrorSuggestsTheStandardsSpelling) {
  try {
    encoding_for_label("latin-1");
    FAIL() << "no LookupError";
  } catch (const LookupError& e) {
    EXPECT_STREQ(e.what(),
                 "unknown encoding label: \"latin-1\" (did you mean \"latin1\", "
                 "windows-1252?)");
    EXPECT_EQ(e.label(), "latin-1");
  }
  // Same letters and digits as a label.
  EXPECT_EQ(label_hint("euc_jp"), " (did you mean \"euc-jp\", EUC-JP?)");
  EXPECT_EQ(label_hint("Shift.JIS"), " (did you mean \"shift-jis\", Shift_JIS?)");
  EXPECT_EQ(label_hint("utf_8"), " (did you mean \"utf-8\", UTF-8?)");
  // Python's names for encodings the standard names otherwise.
  EXPECT_EQ(label_hint("cp874"), " (did you mean \"windows-874\"?)");
  EXPECT_EQ(label_hint("CP936"), " (did you mean \"gbk\", GBK?)");
  // Nothing close, or nothing wrong: no hint.
  EXPECT_EQ(label_hint("foo"), "");
  EXPECT_EQ(label_hint("utf-7"), "");
  EXPECT_EQ(label_hint("--"), "");
  EXPECT_EQ(label_hint("gb18030"), "");
  EXPECT_EQ(label_hint("cp1252"), "");  // a label of windows-1252
  // Every hint names a label lookup() knows.
  for (const char* l :
       {"latin-1", "euc_jp", "cp874", "cp932", "cp936", "cp949", "cp950", "u8", "utf"}) {
    std::string h = label_hint(l);
    ASSERT_GT(h.size(), 17u) << l;
    std::string suggested = h.substr(16, h.find('"', 16) - 16);
    EXPECT_TRUE(lookup(suggested).has_value()) << l << " -> " << suggested;
  }
}

}  // namespace
}  // namespace corun::text
