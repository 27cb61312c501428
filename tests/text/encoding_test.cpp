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

}  // namespace
}  // namespace corun::text
