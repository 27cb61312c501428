// UTF-8 helpers: is_valid_utf8 against a naive reference (decode each sequence
// by the definition, then reject overlongs, surrogates and > U+10FFFF), and
// with_bom (Python's "utf-8-sig" output).
#include "corun/text/utf8.hpp"

#include <gtest/gtest.h>

#include <random>

#include "corun/text/decode.hpp"
#include "decoder_kernels.hpp"
#include "text_test_util.hpp"

namespace corun::text {
namespace {

// Offset of the first sequence that is ill-formed or cut by the end (s.size()
// when all is well-formed).
std::size_t reference_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80         ? 1
                      : (b >> 5) == 6  ? 2
                      : (b >> 4) == 14 ? 3
                      : (b >> 3) == 30 ? 4
                                       : 0;
    if (len == 0 || i + len > s.size()) return i;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 2) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return i;
}

bool reference_valid(std::string_view s) {
  return reference_prefix(s) == s.size();
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
        std::string s =
            head + static_cast<char>(a) + static_cast<char>(b) + static_cast<char>(c) + "\xC3\xA9";
        s += std::string(64, 'q');
        ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8, FourByteBoundaries) {
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));       // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));       // U+E000
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));      // truncated
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
  const char* pieces[] = {"a",
                          "\x80",
                          "\xC3",
                          "\xA9",
                          "\xE4\xB8\x80",
                          "\xF0\x9F\x98\x80",
                          "\xED\xA0\x80",
                          "0123456789abcdef",
                          "\xEF\xBF\xBD",
                          "\xF4\x90"};
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

TEST(Utf8, EveryValidatorFindsTheSameValidPrefix) {
  // The scalar, SSSE3 and AVX2 paths (those this CPU has) on long texts with one
  // damaged spot moved across the 64-byte chunks, and on random mixes.
  using detail::Utf8Validator;
  std::vector<Utf8Validator> validators = {Utf8Validator::scalar};
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("ssse3")) validators.push_back(Utf8Validator::ssse3);
  if (__builtin_cpu_supports("avx2")) validators.push_back(Utf8Validator::avx2);
#endif
  auto check = [&](const std::string& s) {
    std::size_t expected = reference_prefix(s);
    for (auto v : validators) {
      ASSERT_EQ(detail::utf8_valid_prefix_using(v, reinterpret_cast<const std::uint8_t*>(s.data()),
                                                s.size()),
                expected)
          << "validator " << static_cast<int>(v) << " on " << test::hex(s);
    }
  };
  std::string base;
  for (int i = 0; i < 12; ++i) base += "abcdefgh\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80xyz";
  base += std::string(100, 'a');  // an ASCII run: the all-ASCII chunk path
  base += "\xE4\xB8\x80";
  for (const char* bad : {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE4\xB8",
                          "\xF0\x9F\x98", "\xC3"}) {
    for (std::size_t pos = 0; pos <= base.size(); ++pos) {
      check(base.substr(0, pos) + bad + base.substr(pos));
      check(base.substr(0, pos) + bad);  // damage at the very end
    }
  }
  // On well-formed text the vector paths must not raise false alarms (which
  // would be correct, thanks to the exact rescan, but slow).
  for (std::size_t cut = 0; cut < 64; ++cut) {
    std::string valid = base.substr(0, base.size() - cut);
    valid.resize(reference_prefix(valid));
    for (auto v : validators) {
      if (v == Utf8Validator::scalar) continue;
      std::size_t got = detail::utf8_vector_prefix(
          v, reinterpret_cast<const std::uint8_t*>(valid.data()), valid.size());
      ASSERT_LE(got, valid.size());
      ASSERT_GT(got + 64 + 3, valid.size())
          << "validator " << static_cast<int>(v) << " stopped early at " << got;
    }
  }
  std::mt19937 rng(99);
  const char* pieces[] = {"abcdefghijklmnopqrstuvwxyz", "\xE4\xB8\x80", "\xC3\xA9",
                          "\xF0\x9F\x98\x80",           "\x80",         "\xE4"};
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    int count = std::uniform_int_distribution<int>(0, 80)(rng);
    for (int k = 0; k < count; ++k) {
      int which = std::uniform_int_distribution<int>(0, 99)(rng);
      s += pieces[which < 30   ? 0
                  : which < 70 ? 1
                  : which < 85 ? 2
                  : which < 97 ? 3
                  : which < 99 ? 4
                               : 5];
    }
    check(s);
  }
}

TEST(Utf8, WithBomIsUtf8Sig) {
  EXPECT_EQ(with_bom("abc"),
            "\xEF\xBB\xBF"
            "abc");
  EXPECT_EQ(with_bom(""), "\xEF\xBB\xBF");
  EXPECT_EQ(utf8_bom, "\xEF\xBB\xBF");
  // Decoding utf-8-sig output as UTF-8 gives back the text.
  EXPECT_EQ(decode(with_bom("\xE4\xBD\xA0"), Encoding::utf_8), "\xE4\xBD\xA0");
}

}  // namespace
}  // namespace corun::text
