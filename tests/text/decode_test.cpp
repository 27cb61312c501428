// The standard's error cases, decoder by decoder: where U+FFFD goes, how many
// bytes a bad sequence consumes (which byte is "restored" and processed again),
// and what end of input inside a sequence becomes. Each case also gives the
// offset strict mode must report: the first byte of the first bad sequence.
#include "corun/text/decode.hpp"

#include <gtest/gtest.h>

#include "text_test_util.hpp"

namespace corun::text {
namespace {

using test::cps;
using test::hex;
using test::kFFFD;

constexpr std::size_t kValid = static_cast<std::size_t>(-1);

struct Case {
  Encoding encoding;
  std::string_view input;
  std::string expected;
  std::size_t strict_offset;  // kValid: strict mode succeeds with the same output
};

void check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(name(c.encoding)) + " input " + hex(c.input));
    EXPECT_EQ(hex(decode(c.input, c.encoding)), hex(c.expected));
    if (c.strict_offset == kValid) {
      EXPECT_EQ(hex(decode(c.input, c.encoding, Errors::strict)), hex(c.expected));
      continue;
    }
    try {
      decode(c.input, c.encoding, Errors::strict);
      ADD_FAILURE() << "strict mode did not throw";
    } catch (const DecodeError& e) {
      EXPECT_EQ(e.offset(), c.strict_offset);
      EXPECT_EQ(e.encoding(), c.encoding);
    }
  }
}

TEST(DecodeUtf8, MaximalSubpartReplacement) {
  const auto E = Encoding::utf_8;
  check({
      {E, "", "", kValid},
      {E, "abc", "abc", kValid},
      {E, "\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80", cps({0xE9, 0x4E00, 0x1F600}), kValid},
      // A continuation byte or C0/C1/F5..FF is never a lead: one error each.
      {E, "a\x80z", cps({'a', kFFFD, 'z'}), 1},
      {E, "\xC0\x80", cps({kFFFD, kFFFD}), 0},
      {E, "\xF5\x80", cps({kFFFD, kFFFD}), 0},
      {E, "\xFF", cps({kFFFD}), 0},
      // E0 needs A0..BF next: 80 is out of range, so E0 alone is an error and 80
      // is processed again (another error): overlongs give one U+FFFD per byte.
      {E, "\xE0\x80\x80", cps({kFFFD, kFFFD, kFFFD}), 0},
      // ED needs 80..9F next: a surrogate (ED A0 80) is three errors.
      {E, "\xED\xA0\x80", cps({kFFFD, kFFFD, kFFFD}), 0},
      // F4 needs 80..8F next: above U+10FFFF is four errors.
      {E, "\xF4\x90\x80\x80", cps({kFFFD, kFFFD, kFFFD, kFFFD}), 0},
      // A valid prefix cut by an out-of-range byte is one error (the maximal
      // subpart), and the byte that broke it is decoded on its own.
      {E, "\xE2\x82\x41", cps({kFFFD, 'A'}), 0},
      {E, "\xF0\x9F\x98\xC3\xA9", cps({kFFFD, 0xE9}), 0},
      {E, "x\xF0\x9F\xF0\x9F\x98\x80", cps({'x', kFFFD, 0x1F600}), 1},
      // End of input inside a sequence: one error for the whole tail.
      {E, "\xE0\xA0", cps({kFFFD}), 0},
      {E, "ab\xF0\x90\x80", cps({'a', 'b', kFFFD}), 2},
      {E, "\xC3", cps({kFFFD}), 0},
      // The BOM is removed only at the very start.
      {E, "\xEF\xBB\xBFz", "z", kValid},
      {E, "\xEF\xBB\xBF\xEF\xBB\xBF", cps({0xFEFF}), kValid},
      {E, "z\xEF\xBB\xBF", cps({'z', 0xFEFF}), kValid},
      // A broken BOM is an ordinary error (EF BB then end: one error).
      {E, "\xEF\xBB", cps({kFFFD}), 0},
  });
}

TEST(DecodeUtf16, SurrogatesAndOddBytes) {
  const auto LE = Encoding::utf_16le;
  const auto BE = Encoding::utf_16be;
  check({
      {LE, std::string_view("A\0B\0", 4), "AB", kValid},
      {BE, std::string_view("\0A\0B", 4), "AB", kValid},
      {LE, std::string_view("\x3D\xD8\x00\xDE", 4), cps({0x1F600}), kValid},
      {BE, std::string_view("\xD8\x3D\xDE\x00", 4), cps({0x1F600}), kValid},
      // An odd byte at the end is one error.
      {LE, std::string_view("A\0B", 3), cps({'A', kFFFD}), 2},
      // A lone trail surrogate is an error.
      {LE,
       std::string_view("\x00\xDC"
                        "A\0",
                        4),
       cps({kFFFD, 'A'}), 0},
      // A lead surrogate followed by a non-trail unit: error for the lead; the
      // unit is restored and decoded.
      {LE,
       std::string_view("\x00\xD8"
                        "A\0",
                        4),
       cps({kFFFD, 'A'}), 0},
      {LE, std::string_view("\x00\xD8\x00\xD8\x00\xDC", 6), cps({kFFFD, 0x10000}), 0},
      {BE, std::string_view("\xD8\x00\x00\x41", 4), cps({kFFFD, 'A'}), 0},
      // A lead surrogate at the end, alone or with one more byte: one error.
      {LE, std::string_view("\x00\xD8", 2), cps({kFFFD}), 0},
      {LE, std::string_view("A\0\x00\xD8\x41", 5), cps({'A', kFFFD}), 2},
      // BOMs: removed when they agree with the encoding, else kept as a character.
      {LE,
       std::string_view("\xFF\xFE"
                        "A\0",
                        4),
       "A", kValid},
      {BE, std::string_view("\xFE\xFF\0A", 4), "A", kValid},
      {LE, std::string_view("\xFE\xFF", 2), cps({0xFFFE}), kValid},
      {BE, std::string_view("\xFF\xFE", 2), cps({0xFFFE}), kValid},
  });
}

TEST(DecodeSingleByte, NullEntriesAreErrors) {
  check({
      {Encoding::windows_1252, "\x80\x81\xFF", cps({0x20AC, 0x81, 0xFF}), kValid},
      // windows-1253 has no 0xAA, 0xD2, 0xFF (null in the index).
      {Encoding::windows_1253, "\xC1\xAA\xC2", cps({0x391, kFFFD, 0x392}), 1},
      {Encoding::windows_1253, "ab\xD2\xFF", cps({'a', 'b', kFFFD, kFFFD}), 2},
      {Encoding::iso_8859_8_i, "\xE0", cps({0x5D0}), kValid},
      {Encoding::koi8_r, "\xC1", cps({0x430}), kValid},
      {Encoding::windows_1251, "\xCF\xF0\xE8\xE2\xE5\xF2",
       cps({0x41F, 0x440, 0x438, 0x432, 0x435, 0x442}), kValid},
      // Not UTF-8: a UTF-8 BOM is three windows-1252 characters.
      {Encoding::windows_1252, "\xEF\xBB\xBF", cps({0xEF, 0xBB, 0xBF}), kValid},
      {Encoding::x_user_defined, "a\x80\xFF", cps({'a', 0xF780, 0xF7FF}), kValid},
  });
}

TEST(DecodeReplacement, OneErrorForAnyNonEmptyInput) {
  check({
      {Encoding::replacement, "", "", kValid},
      {Encoding::replacement, "abc", cps({kFFFD}), 0},
      {Encoding::replacement, "\xFF\xFE\x00", cps({kFFFD}), 0},
  });
  // The label hz-gb-2312 (among others) is the replacement encoding.
  EXPECT_EQ(decode("hello", "hz-gb-2312"), cps({kFFFD}));
}

TEST(DecodeGb18030, ErrorsAndRestoredBytes) {
  const auto G = Encoding::gb18030;
  check({
      {G, "\xC4\xE3\xBA\xC3", cps({0x4F60, 0x597D}), kValid},
      // 0x80 is U+20AC on its own; 0xFF is never valid.
      {G, "\x80", cps({0x20AC}), kValid},
      {G, "a\xFF", cps({'a', kFFFD}), 1},
      // Lead then a byte that is neither a trail nor a digit: error; the byte is
      // restored when it is ASCII (0x20, 0x7F), consumed when not (0xFF).
      {G, "\x81\x20", cps({kFFFD, ' '}), 0},
      {G, "\x81\x7F", cps({kFFFD, 0x7F}), 0},
      {G, "\x81\xFF", cps({kFFFD}), 0},
      // Lead, digit, then a byte outside 0x81..0xFE: error, and both the digit and
      // that byte are restored ("prepend second and byte").
      {G, "\x81\x30\x41", cps({kFFFD, '0', 'A'}), 0},
      // Lead, digit, 0x81, then a non-digit: error, and digit, 0x81 and the byte
      // are restored: "0", then 0x81 0x41 decodes as a two-byte pair (U+4E04).
      {G, "\x81\x30\x81\x41", cps({kFFFD, '0', 0x4E04}), 0},
      // End of input inside a sequence: one error however many bytes are pending.
      {G, "\x81", cps({kFFFD}), 0},
      {G, "ab\x81\x30", cps({'a', 'b', kFFFD}), 2},
      {G, "\x81\x30\x81", cps({kFFFD}), 0},
      // A well-formed four-byte sequence with no code point consumes all four.
      {G, "\x84\x31\xA5\x30z", cps({kFFFD, 'z'}), 0},
      {G, "\xFE\x39\xFE\x39z", cps({kFFFD, 'z'}), 0},
      // 2022 mappings: A6D9 is U+FE10 (was a private-use code point before 2022),
      // A8BC is U+1E3F, and 0x8135F437 keeps U+E7C7.
      {G, "\xA6\xD9", cps({0xFE10}), kValid},
      {G, "\xA8\xBC", cps({0x1E3F}), kValid},
      {G, "\x81\x35\xF4\x37", cps({0xE7C7}), kValid},
      // GBK (what "gb2312" means) decodes exactly like gb18030, four bytes too.
      {Encoding::gbk, "\x81\x30\x81\x30\x80", cps({0x80, 0x20AC}), kValid},
      {Encoding::gbk, "\x81\x30\x41", cps({kFFFD, '0', 'A'}), 0},
  });
  EXPECT_EQ(decode("\xC4\xE3", "gb2312"), cps({0x4F60}));
}

TEST(DecodeBig5, TwoCodePointPointersAndErrors) {
  const auto B = Encoding::big5;
  check({
      {B, "\xA4\x40", cps({0x4E00}), kValid},
      // Pointers 1133, 1135, 1164, 1166 decode to two code points each.
      {B, "\x88\x62", cps({0xCA, 0x304}), kValid},
      {B, "\x88\x64", cps({0xCA, 0x30C}), kValid},
      {B, "\x88\xA3", cps({0xEA, 0x304}), kValid},
      {B, "\x88\xA5", cps({0xEA, 0x30C}), kValid},
      // A plane-2 code point (HKSCS).
      {B, "\x87\x45", cps({0x27267}), kValid},
      {B, "\x80", cps({kFFFD}), 0},
      {B, "\xFF", cps({kFFFD}), 0},
      // Pointer 0 (0x81 0x40) is not in the index: error, ASCII trail restored.
      {B, "\x81\x40", cps({kFFFD, '@'}), 0},
      // 0x80 is not a trail and not ASCII: consumed with the lead.
      {B, "\xA1\x80", cps({kFFFD}), 0},
      {B, "\xA1\x7F", cps({kFFFD, 0x7F}), 0},
      {B, "ab\xA4", cps({'a', 'b', kFFFD}), 2},
  });
}

TEST(DecodeEucJp, KatakanaJis0212AndErrors) {
  const auto J = Encoding::euc_jp;
  check({
      {J, "\xA4\xA2", cps({0x3042}), kValid},
      {J, "\x8E\xA1\x8E\xDF", cps({0xFF61, 0xFF9F}), kValid},
      {J, "\x8F\xA2\xAF", cps({0x2D8}), kValid},
      // 0x8E needs 0xA1..0xDF: 0xE0 fails and is consumed (not ASCII), 'A' is restored.
      {J, "\x8E\xE0", cps({kFFFD}), 0},
      {J, "\x8E\x41", cps({kFFFD, 'A'}), 0},
      // 0x8F then a non-lead: error, ASCII restored.
      {J, "\x8F\x41", cps({kFFFD, 'A'}), 0},
      // 0x8F, lead, then a byte with no jis0212 entry: all three consumed, or
      // the third restored when ASCII.
      {J, "\x8F\xA1\xA1", cps({kFFFD}), 0},
      {J, "\x8F\xA2\x41", cps({kFFFD, 'A'}), 0},
      {J, "\x80\xA0\xFF", cps({kFFFD, kFFFD, kFFFD}), 0},
      // End of input after a lead (one or two bytes of a sequence): one error.
      {J, "a\xA4", cps({'a', kFFFD}), 1},
      {J, "\x8F\xA2", cps({kFFFD}), 0},
  });
}

TEST(DecodeIso2022Jp, ModesEscapesAndTheOutputFlag) {
  const auto I = Encoding::iso_2022_jp;
  check({
      {I, "abc", "abc", kValid},
      {I, "\x1B$B\x24\x22\x1B(B!", cps({0x3042, '!'}), kValid},
      {I, "\x1B$@\x24\x22", cps({0x3042}), kValid},
      {I,
       "\x1B(J\x5C\x7E"
       "a",
       cps({0xA5, 0x203E, 'a'}), kValid},
      {I, "\x1B(I\x21\x5F", cps({0xFF61, 0xFF9F}), kValid},
      // SO, SI and non-ASCII bytes are errors in ASCII mode.
      {I, "a\x0E\x0F\x80", cps({'a', kFFFD, kFFFD, kFFFD}), 1},
      // Two escape sequences with nothing between them: the second is an error
      // (the output flag), but it still switches mode.
      {I, "\x1B$B\x1B(Ba", cps({kFFFD, 'a'}), 3},
      // An escape then output then an escape is fine.
      {I, "\x1B(Ba\x1B(Bb", "ab", kValid},
      // An unknown escape: error consuming only ESC; the rest is decoded again in
      // the current mode.
      {I, "\x1BX", cps({kFFFD, 'X'}), 0},
      {I, "\x1B(X", cps({kFFFD, '(', 'X'}), 0},
      {I, "\x1B$A", cps({kFFFD, '$', 'A'}), 0},
      // ESC at the end: error; ESC + "(" at the end: error, "(" decoded.
      {I, "a\x1B", cps({'a', kFFFD}), 1},
      {I, "\x1B(", cps({kFFFD, '('}), 0},
      // In two-byte mode: a lead then ESC is an error for the lead, and the ESC
      // starts an escape sequence (no output flag: the lead cleared it).
      {I, "\x1B$B\x24\x1B(Ba", cps({kFFFD, 'a'}), 3},
      // A lead then a byte outside 0x21..0x7E: one error, both consumed.
      // ... and "a" is then a lead byte at the end of input: a second error.
      {I,
       "\x1B$B\x24\x0A"
       "a",
       cps({kFFFD, kFFFD}), 3},
      {I, "\x1B$B\x24\x0A\x1B(Ba", cps({kFFFD, 'a'}), 3},
      // A byte that cannot be a lead is an error in two-byte mode.
      {I, "\x1B$B\x0A", cps({kFFFD}), 3},
      // A lead at the end: error.
      {I, "\x1B$B\x24", cps({kFFFD}), 3},
      // A pair with no jis0208 entry (row 9 is empty): error, both consumed.
      {I, "\x1B$B\x29\x21", cps({kFFFD}), 3},
      // Katakana mode rejects bytes outside 0x21..0x5F.
      {I, "\x1B(I\x60", cps({kFFFD}), 3},
      // SO and SI are errors, other controls pass.
      {I, "\x0D\x0E\x0F\x10", cps({0x0D, kFFFD, kFFFD, 0x10}), 1},
      // Roman, then ESC ESC: the first ESC is an error (the second is restored and
      // starts a katakana escape, which is no error since the error cleared the
      // output flag).
      {I, "\x1B(J\x1B\x1B(I\x50", cps({kFFFD, 0xFF90}), 3},
      // Katakana then straight into two-byte mode: the second escape is an error.
      {I, "\x1B(I\x1B$@\x50\x50", cps({kFFFD, 0x4F69}), 3},
      // A bad escape in katakana mode: "$" and "P" are decoded as katakana.
      {I, "\x1B(I\x1B$P", cps({kFFFD, 0xFF64, 0xFF90}), 3},
  });
}

TEST(DecodeShiftJis, SingleBytesPrivateUseAndErrors) {
  const auto S = Encoding::shift_jis;
  check({
      {S, "\x82\xA0", cps({0x3042}), kValid},
      {S, "\x80\xA1\xDF", cps({0x80, 0xFF61, 0xFF9F}), kValid},
      // Pointers 8836..10715 are the private-use area U+E000..U+E757.
      {S, "\xF0\x40\xF9\xFC", cps({0xE000, 0xE757}), kValid},
      {S, "\xA0", cps({kFFFD}), 0},
      {S, "\xFD\xFE\xFF", cps({kFFFD, kFFFD, kFFFD}), 0},
      {S, "\x81\x7F", cps({kFFFD, 0x7F}), 0},
      {S, "\x81\x20", cps({kFFFD, ' '}), 0},
      {S, "\x81\xFD", cps({kFFFD}), 0},
      // Pointer 752 (row 9) has no entry: error, ASCII trail restored.
      {S, "\x85\x40", cps({kFFFD, '@'}), 0},
      {S, "a\x81", cps({'a', kFFFD}), 1},
  });
}

TEST(DecodeEucKr, ErrorsAndRestoredBytes) {
  const auto K = Encoding::euc_kr;
  check({
      {K, "\xB0\xA1", cps({0xAC00}), kValid},
      {K, "\x81\x41", cps({0xAC02}), kValid},
      {K, "\x80", cps({kFFFD}), 0},
      {K, "\xFF", cps({kFFFD}), 0},
      {K, "\x81\x40", cps({kFFFD, '@'}), 0},
      // A pair in range with no index entry consumes both bytes.
      {K, "\xC9\xA1", cps({kFFFD}), 0},
      {K, "ab\x81", cps({'a', 'b', kFFFD}), 2},
  });
}

TEST(Decode, StrictOffsetsAreAbsoluteAcrossLongInput) {
  // The offset counts every byte before the bad sequence, far past any block.
  std::string in(100000, 'a');
  in += "\xC4\xE3\xFF";
  try {
    decode(in, Encoding::gb18030, Errors::strict);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.offset(), 100002u);
    EXPECT_NE(std::string(e.what()).find("100002"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gb18030"), std::string::npos) << e.what();
  }
  // A BOM counts as input: the offset is into the bytes given.
  try {
    decode(
        "\xEF\xBB\xBF"
        "ab\x80",
        Encoding::utf_8, Errors::strict);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.offset(), 5u);
  }
}

TEST(Decode, LongInputsWithEveryKindOfSequence) {
  // Across block boundaries the output is the concatenation of the parts.
  std::string unit = "ab\xC4\xE3\x81\x30\x81\x30\xFF";
  std::string expected_unit = cps({'a', 'b', 0x4F60, 0x80, kFFFD});
  std::string in;
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    in += unit;
    expected += expected_unit;
  }
  EXPECT_EQ(decode(in, Encoding::gb18030), expected);
}

TEST(Decode, ByLabel) {
  EXPECT_EQ(decode("\xE9", " Latin1 "), cps({0xE9}));
  EXPECT_THROW(decode("x", "no-such-encoding"), LookupError);
}

}  // namespace
}  // namespace corun::text
