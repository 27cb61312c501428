// Streaming Decoder: whatever the chunk boundaries, feed()+finish() produce
// exactly what one-shot decode() produces, in replacement and in strict mode
// (same output, or the same DecodeError offset).
#include <gtest/gtest.h>

#include <optional>
#include <random>

#include "corun/text/decode.hpp"
#include "corun/text/utf8.hpp"
#include "text_test_util.hpp"

namespace corun::text {
namespace {

using test::cps;
using test::hex;
using test::kFFFD;

struct Outcome {
  std::string text;
  std::optional<std::size_t> error_offset;
  bool operator==(const Outcome&) const = default;
};

Outcome one_shot(std::string_view in, Encoding e, Errors errors) {
  Outcome o;
  try {
    o.text = decode(in, e, errors);
  } catch (const DecodeError& err) {
    o.error_offset = err.offset();
  }
  return o;
}

// Feeds in at the given cut points (sorted offsets into in).
Outcome chunked(std::string_view in, Encoding e, Errors errors,
                const std::vector<std::size_t>& cuts) {
  Outcome o;
  Decoder d(e, errors);
  try {
    std::size_t prev = 0;
    for (std::size_t cut : cuts) {
      d.feed(in.substr(prev, cut - prev), o.text);
      prev = cut;
    }
    d.feed(in.substr(prev), o.text);
    EXPECT_EQ(d.bytes_fed(), in.size());
    d.finish(o.text);
  } catch (const DecodeError& err) {
    o.error_offset = err.offset();
    o.text.clear();  // the text before an error is not part of the contract
  }
  return o;
}

std::string describe(const std::vector<std::size_t>& cuts) {
  std::string s = "cuts:";
  for (auto c : cuts) s += " " + std::to_string(c);
  return s;
}

// Inputs full of sequences cut in every way: errors, restored bytes, BOMs,
// four-byte sequences, escapes.
struct Tricky {
  Encoding encoding;
  std::string input;
};

std::vector<Tricky> tricky_inputs() {
  using std::string;
  return {
      {Encoding::utf_8,
       "\xEF\xBB\xBF"
       "a\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80\xE0\x80\xED\xA0\x80\xF0\x9F\x98\xC3\xA9\xF4\x90"},
      {Encoding::utf_8, "\xEF\xBB"},
      {Encoding::utf_8, "\xEF\xBB\xBF\xEF\xBB\xBF\xF0\x9F"},
      {Encoding::utf_16le, string("\xFF\xFE"
                                  "A\0\x3D\xD8\x00\xDE\x00\xD8"
                                  "B\0\x00\xDC\x00\xD8\x00",
                                  17)},
      {Encoding::utf_16be, string("\xFE\xFF\0A\xD8\x3D\xDE\x00\xD8\x00\0B\xDC\x00\xD8", 15)},
      {Encoding::utf_16le, string("\xFF", 1)},
      {Encoding::gb18030,
       "a\xC4\xE3\x81\x30\x81\x30\x81\x30\x41\x81\x30\x81\x41\x80\xFF\x81\x7F\x84\x31\xA5\x30\x81"
       "\x35\xF4\x37\x81\x30\x81"},
      {Encoding::gbk, "\x90\x30\x81\x30\xA6\xD9\x81\x30"},
      {Encoding::big5, "\x88\x62\x87\x45\x81\x40\xA1\x80\xA4\x40\xA1\x7F\xA4"},
      {Encoding::euc_jp,
       "\xA4\xA2\x8E\xA1\x8F\xA2\xAF\x8E\xE0\x8F\x41\x8F\xA1\xA1\x8F\xA2\x41\x8F\xA2"},
      {Encoding::iso_2022_jp,
       "a\x1B$B\x24\x22\x1B$B\x1B(B\x1B(J\x5C\x1B(I\x21\x1BX\x1B(X\x1B$B\x24\x1B(Bz\x1B$"
       "B\x24\x0A\x24\x1B("},
      {Encoding::iso_2022_jp, "\x1B$B\x24"},
      {Encoding::shift_jis, "\x82\xA0\x80\xA1\xF0\x40\x81\x7F\x85\x40\xA0\x81"},
      {Encoding::euc_kr, "\xB0\xA1\x81\x40\xC9\xA1\x80\x81"},
      {Encoding::windows_1253, "a\xC1\xAA\xD2\xFF"},
      {Encoding::replacement, "abc"},
      {Encoding::x_user_defined, "a\x80\xFF"},
  };
}

TEST(Decoder, EveryTwoAndThreeChunkSplitEqualsOneShot) {
  for (Errors errors : {Errors::replace, Errors::strict}) {
    for (const auto& t : tricky_inputs()) {
      SCOPED_TRACE(std::string(name(t.encoding)) + " " + hex(t.input) +
                   (errors == Errors::strict ? " strict" : " replace"));
      Outcome expected = one_shot(t.input, t.encoding, errors);
      if (errors == Errors::strict && expected.error_offset) expected.text.clear();
      std::size_t n = t.input.size();
      for (std::size_t a = 0; a <= n; ++a) {
        ASSERT_EQ(chunked(t.input, t.encoding, errors, {a}), expected) << describe({a});
        for (std::size_t b = a; b <= n; ++b) {
          ASSERT_EQ(chunked(t.input, t.encoding, errors, {a, b}), expected) << describe({a, b});
        }
      }
    }
  }
}

TEST(Decoder, ByteAtATimeAndRandomChunkings) {
  std::mt19937 rng(12345);
  for (const auto& t : tricky_inputs()) {
    // Repeat the input so chunks straddle many sequences, with empty chunks too.
    std::string in;
    for (int i = 0; i < 20; ++i) in += t.input;
    SCOPED_TRACE(std::string(name(t.encoding)) + " " + hex(t.input));
    Outcome expected = one_shot(in, t.encoding, Errors::replace);
    std::vector<std::size_t> every;
    for (std::size_t i = 0; i <= in.size(); ++i) every.push_back(i);
    ASSERT_EQ(chunked(in, t.encoding, Errors::replace, every), expected);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::size_t> cuts;
      std::size_t pos = 0;
      while (true) {
        pos += std::uniform_int_distribution<std::size_t>(0, 9)(rng);
        if (pos > in.size()) break;
        cuts.push_back(pos);
      }
      ASSERT_EQ(chunked(in, t.encoding, Errors::replace, cuts), expected) << describe(cuts);
    }
  }
}

TEST(Decoder, LargeChunksAcrossBlocks) {
  // Sequences straddling the decoder's internal blocks and the chunk edges.
  std::string unit = "x\xC4\xE3\x81\x30\x81\x30\xFF\x81";
  std::string in;
  for (int i = 0; i < 30000; ++i) in += unit;
  Outcome expected = one_shot(in, Encoding::gb18030, Errors::replace);
  for (std::size_t chunk : {1000u, 4093u, 16384u, 65537u}) {
    std::vector<std::size_t> cuts;
    for (std::size_t p = chunk; p < in.size(); p += chunk) cuts.push_back(p);
    ASSERT_EQ(chunked(in, Encoding::gb18030, Errors::replace, cuts), expected) << chunk;
  }
}

TEST(Decoder, StrictOffsetIsAbsoluteAcrossChunks) {
  Decoder d(Encoding::utf_8, Errors::strict);
  std::string out;
  d.feed("abc", out);
  d.feed("\xE4\xB8", out);  // pending: no error yet
  EXPECT_EQ(out, "abc");
  try {
    d.feed("x", out);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.offset(), 3u);
  }
  // A truncated sequence is only an error at finish().
  Decoder t(Encoding::shift_jis, Errors::strict);
  EXPECT_EQ(t.feed("ab\x82"), "ab");
  try {
    t.finish();
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.offset(), 2u);
  }
}

TEST(Decoder, OutputAppearsAsSoonAsDecidable) {
  Decoder d(Encoding::gb18030);
  EXPECT_EQ(d.feed("a\xC4"), "a");
  EXPECT_EQ(d.feed("\xE3"), cps({0x4F60}));
  EXPECT_EQ(d.feed("\x81\x30\x81"), "");
  EXPECT_EQ(d.feed("\x30"), cps({0x80}));
  EXPECT_EQ(d.finish(), "");
  EXPECT_EQ(d.bytes_fed(), 7u);
  // The UTF-8 BOM waits until it is known whether it is one.
  Decoder u(Encoding::utf_8);
  EXPECT_EQ(u.feed("\xEF"), "");
  EXPECT_EQ(u.feed("\xBB"), "");
  EXPECT_EQ(u.feed("\xBF"
                   "a"),
            "a");
  Decoder v(Encoding::utf_8);
  EXPECT_EQ(v.feed("\xEF"), "");
  EXPECT_EQ(v.finish(), cps({kFFFD}));
}

TEST(Decoder, IsMovable) {
  Decoder a(Encoding::iso_2022_jp);
  EXPECT_EQ(a.feed("\x1B$B\x24"), "");
  Decoder b = std::move(a);
  EXPECT_EQ(b.feed("\x22"), cps({0x3042}));
  EXPECT_EQ(b.encoding(), Encoding::iso_2022_jp);
  Decoder c(Encoding::utf_8);
  c = std::move(b);
  EXPECT_EQ(c.feed("\x24\x22"), cps({0x3042}));  // still in two-byte mode
  EXPECT_EQ(c.finish(), "");
}

}  // namespace
}  // namespace corun::text

namespace corun::text {
namespace {

// Random byte strings built from bytes each encoding treats specially.
std::string random_bytes(std::mt19937& rng, Encoding e) {
  static const std::string kInteresting =
      std::string("\x00\x1B$(@BJI\x0E\x0F\x30\x39\x40\x41\x5C\x7E\x7F", 18) +
      "\x80\x81\x8E\x8F\x9F\xA0\xA1\xA4\xDF\xE0\xED\xEF\xF0\xF4\xF5\xFC\xFE\xFF"
      "\xD8\xDC\xBB\xBF";
  std::string s;
  int len = std::uniform_int_distribution<int>(0, 24)(rng);
  for (int k = 0; k < len; ++k) {
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
      s += static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    } else {
      s +=
          kInteresting[std::uniform_int_distribution<std::size_t>(0, kInteresting.size() - 1)(rng)];
    }
  }
  (void)e;
  return s;
}

TEST(Decoder, RandomInputsEveryEncodingProperties) {
  // For random input in every encoding: the output is valid UTF-8; any chunking
  // gives the same output; strict mode fails exactly when replacement mode had
  // to replace something, at an offset before which everything decodes cleanly.
  std::mt19937 rng(2024);
  for (int e = 0; e < 40; ++e) {
    auto enc = static_cast<Encoding>(e);
    bool fffd_is_data =
        enc == Encoding::utf_8 || enc == Encoding::utf_16le || enc == Encoding::utf_16be;
    for (int round = 0; round < 300; ++round) {
      std::string in = random_bytes(rng, enc);
      SCOPED_TRACE(std::string(name(enc)) + " " + hex(in));
      std::string out = decode(in, enc);
      ASSERT_TRUE(is_valid_utf8(out));
      std::vector<std::size_t> cuts;
      for (std::size_t p = 0; p < in.size();
           p += std::uniform_int_distribution<std::size_t>(1, 5)(rng)) {
        cuts.push_back(p);
      }
      ASSERT_EQ(chunked(in, enc, Errors::replace, cuts).text, out);
      Outcome strict = one_shot(in, enc, Errors::strict);
      if (!fffd_is_data) {
        ASSERT_EQ(strict.error_offset.has_value(), out.find("\xEF\xBF\xBD") != std::string::npos);
      }
      if (strict.error_offset) {
        std::size_t off = *strict.error_offset;
        ASSERT_LT(off, in.size());
        std::string before = decode(in.substr(0, off), enc);
        if (!fffd_is_data) {
          ASSERT_EQ(before.find("\xEF\xBF\xBD"), std::string::npos) << "offset " << off;
        }
        ASSERT_NO_THROW(decode(in.substr(0, off), enc, Errors::strict)) << "offset " << off;
      } else {
        ASSERT_EQ(strict.text, out);
      }
    }
  }
}

}  // namespace
}  // namespace corun::text
