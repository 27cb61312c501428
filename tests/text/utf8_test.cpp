// UTF-8 helpers: is_valid_utf8 against a naive reference (decode each sequence
// by the definition, then reject overlongs, surrogates and > U+10FFFF), and
// with_bom (Python's "utf-8-sig" output).
#include "corun/text/utf8.hpp"

#include <gtest/gtest.h>

#include <random>

#include "corun/text/decode.hpp"
#include "text_test_util.hpp"

namespace corun::text {
namespace {

bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 2) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(Utf8, EveryOneAndTwoByteString) {
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(one), reference_valid(one)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b);
      ASSERT_EQ(is_valid_utf8(two), reference_valid(two)) << a << " " << b;
    }
  }
}

TEST(Utf8, EveryThreeByteStringWithAMultiByteLead) {
  for (int a = 0xC0; a < 0x100; ++a) {
    for (int b = 0x70; b < 0xD0; ++b) {  // around the continuation range
      for (int c = 0x70; c < 0xD0; ++c) {
        char s[3] = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        std::string_view v(s, 3);
        ASSERT_EQ(is_valid_utf8(v), reference_valid(v)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8, ShortStringsInsideLongTextAtChunkEdges) {
  // The vector path works on 64-byte chunks: put every two-byte string and the
  // three-byte strings with a multi-byte lead across a chunk edge, after valid
  // multi-byte text (so the chunk is not skipped as ASCII).
  std::string prefix;
  for (int i = 0; i < 19; ++i) prefix += "\xE4\xB8\x80";  // 57 bytes
  for (std::size_t pad = 0; pad < 8; ++pad) {
    std::string head = prefix + std::string(pad, 'a');
    for (int a = 0x80; a < 0x100; ++a) {
      for (int b = 0; b < 0x100; b += (pad < 4 ? 1 : 7)) {
        std::string s = head + static_cast<char>(a) + static_cast<char>(b) + std::string(70, 'z');
        ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << pad << " " << a << " " << b;
      }
    }
  }
  std::string head = prefix + "aaaa";  // the string starts at byte 61
  for (int a = 0xC0; a < 0x100; ++a) {
    for (int b = 0x70; b < 0xD0; ++b) {
      for (int c = 0x70; c < 0xD0; c += 3) {
        std::string s = head + static_cast<char>(a) + static_cast<char>(b) + static_cast<char>(c) + "\xC3\xA9";
        s += std::string(64, 'q');
        ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8, FourByteBoundaries) {
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));   // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));   // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));       // surrogate
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));        // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));        // U+E000
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));       // truncated
  EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8, ErrorAtEveryPositionOfLongText) {
  // Long valid text (ASCII runs and multi-byte characters) with one bad byte
  // moved through every position: the fast paths must notice it anywhere.
  std::string base;
  for (int i = 0; i < 40; ++i) base += "abcdefghijklmnopq\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80";
  ASSERT_TRUE(is_valid_utf8(base));
  for (std::size_t pos = 0; pos < base.size(); ++pos) {
    for (char bad : {'\x80', '\xFF', '\xC0'}) {
      std::string s = base;
      s[pos] = bad;
      ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << pos;
    }
    // Truncating anywhere is invalid exactly when a sequence is cut.
    std::string_view cut(base.data(), pos);
    ASSERT_EQ(is_valid_utf8(cut), reference_valid(cut)) << pos;
  }
}

TEST(Utf8, RandomStringsAgreeWithReferenceAndStrictDecode) {
  std::mt19937 rng(7);
  const char* pieces[] = {"a", "\x80", "\xC3", "\xA9", "\xE4\xB8\x80", "\xF0\x9F\x98\x80", "\xED\xA0\x80",
                          "0123456789abcdef", "\xEF\xBF\xBD", "\xF4\x90"};
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    int count = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int k = 0; k < count; ++k) s += pieces[std::uniform_int_distribution<int>(0, 9)(rng)];
    bool valid = reference_valid(s);
    ASSERT_EQ(is_valid_utf8(s), valid) << test::hex(s);
    // Valid UTF-8 decodes to itself (no BOM in these pieces), and strict decoding
    // accepts exactly the valid strings.
    if (valid) {
      ASSERT_EQ(decode(s, Encoding::utf_8, Errors::strict), s);
    } else {
      ASSERT_THROW(decode(s, Encoding::utf_8, Errors::strict), DecodeError) << test::hex(s);
      ASSERT_TRUE(is_valid_utf8(decode(s, Encoding::utf_8)));
    }
  }
}

TEST(Utf8, WithBomIsUtf8Sig) {
  EXPECT_EQ(with_bom("abc"), "\xEF\xBB\xBF" "abc");
  EXPECT_EQ(with_bom(""), "\xEF\xBB\xBF");
  EXPECT_EQ(utf8_bom, "\xEF\xBB\xBF");
  // Decoding utf-8-sig output as UTF-8 gives back the text.
  EXPECT_EQ(decode(with_bom("\xE4\xBD\xA0"), Encoding::utf_8), "\xE4\xBD\xA0");
}

}  // namespace
}  // namespace corun::text
