// Exhaustive index tests: every entry of every index file of the Encoding
// Standard decodes to its code point through the decoder(s) that use it, and
// every two-byte sequence the index does not list is an error exactly as the
// standard's decoders say. The index files are read here, at test time, so these
// tests do not trust the table generator.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "corun/text/decode.hpp"
#include "corun/text/encoding.hpp"
#include "text_test_util.hpp"

namespace corun::text {
namespace {

using test::cps;
using test::hex;
using test::kFFFD;
using test::read_index;
using test::utf8;

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s += static_cast<char>(b);
  return s;
}

// Expected output of a failed two-byte sequence: one error, and the trail byte
// processed again when it is ASCII (the standard's "restore byte").
std::string failed_pair(unsigned trail) {
  return trail < 0x80 ? cps({kFFFD, trail}) : cps({kFFFD});
}

TEST(Index, SingleByteEncodingsEveryByte) {
  std::ifstream f(test::whatwg_path("encodings.json"));
  auto json = nlohmann::json::parse(f);
  int checked = 0;
  for (const auto& group : json) {
    if (group["heading"] != "Legacy single-byte encodings") continue;
    for (const auto& enc : group["encodings"]) {
      std::string enc_name = enc["name"];
      Encoding e = encoding_for_label(enc_name);
      std::string file = enc_name == "ISO-8859-8-I" ? "iso-8859-8" : enc_name;
      for (char& c : file) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto index = read_index(file);
      for (unsigned b = 0; b < 256; ++b) {
        std::string expected;
        if (b < 0x80) {
          expected = utf8(b);
        } else {
          auto it = index.find(b - 0x80);
          expected = it == index.end() ? utf8(kFFFD) : utf8(it->second);
        }
        ASSERT_EQ(decode(bytes({b}), e), expected) << enc_name << " byte " << b;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 28);
}

TEST(Index, XUserDefinedEveryByte) {
  for (unsigned b = 0; b < 256; ++b) {
    // The standard: ASCII is itself, other bytes map to U+F780 + (byte - 0x80).
    ASSERT_EQ(decode(bytes({b}), Encoding::x_user_defined), utf8(b < 0x80 ? b : 0xF780 + b - 0x80))
        << b;
  }
}

TEST(Index, Gb18030TwoByteEveryPair) {
  auto index = read_index("gb18030");
  ASSERT_EQ(index.size(), 23940u);
  for (unsigned lead = 0x81; lead <= 0xFE; ++lead) {
    for (unsigned trail = 0; trail < 256; ++trail) {
      if (trail >= 0x30 && trail <= 0x39) continue;  // four-byte sequences, below
      std::string in = bytes({lead, trail});
      std::string expected;
      if ((trail >= 0x40 && trail <= 0x7E) || (trail >= 0x80 && trail <= 0xFE)) {
        unsigned pointer = (lead - 0x81) * 190 + trail - (trail < 0x7F ? 0x40 : 0x41);
        auto it = index.find(pointer);
        expected = it == index.end() ? failed_pair(trail) : utf8(it->second);
      } else {
        expected = failed_pair(trail);
      }
      ASSERT_EQ(decode(in, Encoding::gb18030), expected) << hex(in);
      // The standard's GBK decoder is the gb18030 decoder.
      ASSERT_EQ(decode(in, Encoding::gbk), expected) << hex(in);
    }
  }
}

// The standard's "index gb18030 ranges code point", from the ranges file.
char32_t ranges_code_point(const std::map<std::uint32_t, char32_t>& ranges, std::uint32_t pointer) {
  if ((pointer > 39419 && pointer < 189000) || pointer > 1237575) return 0;
  if (pointer == 7457) return 0xE7C7;
  auto it = ranges.upper_bound(pointer);
  --it;
  return it->second + (pointer - it->first);
}

std::string four_bytes(std::uint32_t pointer) {
  unsigned b1 = pointer / 12600;
  unsigned b2 = pointer / 1260 % 10;
  unsigned b3 = pointer / 10 % 126;
  unsigned b4 = pointer % 10;
  return bytes({b1 + 0x81, b2 + 0x30, b3 + 0x81, b4 + 0x30});
}

TEST(Index, Gb18030FourByteEveryPointer) {
  auto ranges = read_index("gb18030-ranges");
  ASSERT_EQ(ranges.size(), 207u);
  // Every pointer the four-byte form can express (lead 0x81..0xFE), in runs that
  // are decoded in one call each; a mismatch is then pinned to its pointer.
  const std::uint32_t kMaxPointer = 126u * 10 * 126 * 10 - 1;
  const std::uint32_t kRun = 65536;
  for (std::uint32_t start = 0; start <= kMaxPointer; start += kRun) {
    std::uint32_t stop = std::min(kMaxPointer + 1, start + kRun);
    std::string in;
    std::string expected;
    for (std::uint32_t p = start; p < stop; ++p) {
      in += four_bytes(p);
      char32_t cp = ranges_code_point(ranges, p);
      expected += utf8(cp == 0 ? kFFFD : cp);
    }
    std::string got = decode(in, Encoding::gb18030);
    if (got != expected) {
      for (std::uint32_t p = start; p < stop; ++p) {
        char32_t cp = ranges_code_point(ranges, p);
        ASSERT_EQ(decode(four_bytes(p), Encoding::gb18030), utf8(cp == 0 ? kFFFD : cp))
            << "pointer " << p;
      }
      FAIL() << "run at " << start << " differs only when decoded in one piece";
    }
  }
  // Landmarks, written out: first, last BMP, U+E7C7 special case, first and last
  // supplementary, and the first pointers past each end.
  EXPECT_EQ(decode("\x81\x30\x81\x30", Encoding::gb18030), cps({0x80}));
  EXPECT_EQ(decode("\x84\x31\xA4\x39", Encoding::gb18030), cps({0xFFFF}));
  EXPECT_EQ(decode("\x84\x31\xA5\x30", Encoding::gb18030), cps({kFFFD}));
  EXPECT_EQ(decode("\x81\x35\xF4\x37", Encoding::gb18030), cps({0xE7C7}));
  EXPECT_EQ(decode("\x90\x30\x81\x30", Encoding::gb18030), cps({0x10000}));
  EXPECT_EQ(decode("\xE3\x32\x9A\x35", Encoding::gb18030), cps({0x10FFFF}));
  EXPECT_EQ(decode("\xE3\x32\x9A\x36", Encoding::gb18030), cps({kFFFD}));
  EXPECT_EQ(decode("\x8F\x39\xFE\x39", Encoding::gb18030), cps({kFFFD}));
}

TEST(Index, Big5EveryPair) {
  auto index = read_index("big5");
  int special = 0;
  for (unsigned lead = 0x81; lead <= 0xFE; ++lead) {
    for (unsigned trail = 0; trail < 256; ++trail) {
      std::string in = bytes({lead, trail});
      std::string expected;
      if ((trail >= 0x40 && trail <= 0x7E) || (trail >= 0xA1 && trail <= 0xFE)) {
        unsigned pointer = (lead - 0x81) * 157 + trail - (trail < 0x7F ? 0x40 : 0x62);
        auto it = index.find(pointer);
        if (pointer == 1133 || pointer == 1135 || pointer == 1164 || pointer == 1166) {
          ++special;
          continue;  // two code points each: decode_test
        }
        expected = it == index.end() ? failed_pair(trail) : utf8(it->second);
      } else {
        expected = failed_pair(trail);
      }
      ASSERT_EQ(decode(in, Encoding::big5), expected) << hex(in);
    }
  }
  EXPECT_EQ(special, 4);
}

TEST(Index, Jis0208ThroughEucJpIso2022JpAndShiftJis) {
  auto index = read_index("jis0208");
  for (const auto& [pointer, cp] : index) {
    if (pointer < 94 * 94) {
      std::string euc = bytes({pointer / 94 + 0xA1, pointer % 94 + 0xA1});
      ASSERT_EQ(decode(euc, Encoding::euc_jp), utf8(cp)) << "EUC-JP " << hex(euc);
      std::string jis = "\x1B$B" + bytes({pointer / 94 + 0x21, pointer % 94 + 0x21});
      ASSERT_EQ(decode(jis, Encoding::iso_2022_jp), utf8(cp)) << "ISO-2022-JP " << hex(jis);
    }
    if (pointer >= 8836 && pointer <= 10715) continue;  // Shift_JIS maps these to PUA
    unsigned lead = pointer / 188;
    unsigned trail = pointer % 188;
    std::string sjis = bytes(
        {lead < 0x1F ? lead + 0x81 : lead + 0xC1, trail < 0x3F ? trail + 0x40 : trail + 0x41});
    ASSERT_EQ(decode(sjis, Encoding::shift_jis), utf8(cp)) << "Shift_JIS " << hex(sjis);
  }
}

TEST(Index, ShiftJisEveryPair) {
  auto index = read_index("jis0208");
  for (unsigned lead = 0x81; lead <= 0xFC; ++lead) {
    if (lead >= 0xA0 && lead <= 0xDF) continue;
    for (unsigned trail = 0; trail < 256; ++trail) {
      std::string in = bytes({lead, trail});
      std::string expected;
      if ((trail >= 0x40 && trail <= 0x7E) || (trail >= 0x80 && trail <= 0xFC)) {
        unsigned pointer =
            (lead - (lead < 0xA0 ? 0x81 : 0xC1)) * 188 + trail - (trail < 0x7F ? 0x40 : 0x41);
        if (pointer >= 8836 && pointer <= 10715) {
          expected = utf8(0xE000 - 8836 + pointer);
        } else {
          auto it = index.find(pointer);
          expected = it == index.end() ? failed_pair(trail) : utf8(it->second);
        }
      } else {
        expected = failed_pair(trail);
      }
      ASSERT_EQ(decode(in, Encoding::shift_jis), expected) << hex(in);
    }
  }
}

TEST(Index, EucJpEveryPairAndJis0212) {
  auto jis0208 = read_index("jis0208");
  for (unsigned lead = 0xA1; lead <= 0xFE; ++lead) {
    for (unsigned trail = 0; trail < 256; ++trail) {
      std::string in = bytes({lead, trail});
      std::string expected = failed_pair(trail);
      if (trail >= 0xA1 && trail <= 0xFE) {
        auto it = jis0208.find((lead - 0xA1) * 94 + trail - 0xA1);
        if (it != jis0208.end()) expected = utf8(it->second);
      }
      ASSERT_EQ(decode(in, Encoding::euc_jp), expected) << hex(in);
    }
  }
  auto jis0212 = read_index("jis0212");
  for (unsigned b2 = 0xA1; b2 <= 0xFE; ++b2) {
    for (unsigned b3 = 0xA1; b3 <= 0xFE; ++b3) {
      std::string in = bytes({0x8F, b2, b3});
      auto it = jis0212.find((b2 - 0xA1) * 94 + b3 - 0xA1);
      // A failed 0x8F sequence consumes all three bytes (b3 is not ASCII).
      std::string expected = it == jis0212.end() ? cps({kFFFD}) : utf8(it->second);
      ASSERT_EQ(decode(in, Encoding::euc_jp), expected) << hex(in);
    }
  }
}

TEST(Index, EucKrEveryPair) {
  auto index = read_index("euc-kr");
  for (unsigned lead = 0x81; lead <= 0xFE; ++lead) {
    for (unsigned trail = 0; trail < 256; ++trail) {
      std::string in = bytes({lead, trail});
      std::string expected = failed_pair(trail);
      if (trail >= 0x41 && trail <= 0xFE) {
        auto it = index.find((lead - 0x81) * 190 + trail - 0x41);
        if (it != index.end()) expected = utf8(it->second);
      }
      ASSERT_EQ(decode(in, Encoding::euc_kr), expected) << hex(in);
    }
  }
}

TEST(Index, Iso2022JpKatakanaModeIsTheFormula) {
  // The decoder's katakana mode is U+FF61 + (byte - 0x21) for 0x21..0x5F. The
  // katakana index (used by the standard's encoder) has one pointer per half-width
  // katakana U+FF61 + pointer, so it covers exactly that range.
  auto index = read_index("iso-2022-jp-katakana");
  EXPECT_EQ(index.size(), 0x5Fu - 0x21u + 1);
  for (unsigned b = 0x21; b <= 0x5F; ++b) {
    ASSERT_EQ(decode("\x1B(I" + bytes({b}), Encoding::iso_2022_jp), utf8(0xFF61 + b - 0x21)) << b;
  }
}

}  // namespace
}  // namespace corun::text
