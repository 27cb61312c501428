// Streaming Decoder timing: after every feed() the output is exactly what the
// standard's decoder has emitted once it has read those bytes (as
// TextDecoder.decode(chunk, {stream: true}) returns it), and a strict-mode error
// is thrown by the very feed() that gave the byte making the input invalid.
//
// The rule, stated with the one-shot decoder: for the bytes P fed so far, the
// output is decode(P minus T), where T is the sequence the standard's decoder is
// in the middle of after reading P (its "incomplete trailing sequence"):
// pending_tail() below restates, per encoding, when the standard's decoder
// returns "continue" (holds a byte) instead of emitting. Restored ("prepended")
// bytes are followed exactly, so T always starts where the decoder last started
// a sequence from its initial state. End of input inside T gives one error, and
// so does the byte that breaks it later: decode(P minus T) emits the same text.
//
// Checked exhaustively for short inputs: every sequence of one to three bytes from
// a per-encoding set of interesting bytes and of four from a subset of it, fed in
// every way it can be split (every composition), in replacement and in strict mode.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "corun/text/decode.hpp"
#include "text_test_util.hpp"

namespace corun::text {
namespace {

using test::cps;
using test::hex;
using test::kFFFD;

inline bool in_range(unsigned b, unsigned lo, unsigned hi) {
  return b >= lo && b <= hi;
}

unsigned at(std::string_view in, std::size_t i) {
  return static_cast<unsigned char>(in[i]);
}

// --- The standard's decoders, reduced to when they hold bytes -------------------
// Each returns how many trailing bytes of `in` the decoder holds (0: none) after
// reading all of `in` with more input to come. Index lookups never decide whether
// a byte is held or consumed-and-emitted, so no tables are needed. `i` is the next
// byte to read; "prepend" steps it back.

// UTF-8 decoder: bytes needed / seen, lower and upper boundary.
std::size_t utf8_tail(std::string_view in) {
  std::size_t i = 0, start = 0;
  int needed = 0, seen = 0;
  unsigned lower = 0x80, upper = 0xBF;
  while (i < in.size()) {
    unsigned b = at(in, i);
    if (needed == 0) {
      start = i++;
      if (in_range(b, 0xC2, 0xDF)) {
        needed = 1;
      } else if (in_range(b, 0xE0, 0xEF)) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;
        needed = 2;
      } else if (in_range(b, 0xF0, 0xF4)) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;
        needed = 3;
      }
      continue;
    }
    if (!in_range(b, lower, upper)) {  // error; the byte is prepended
      needed = seen = 0;
      lower = 0x80;
      upper = 0xBF;
      continue;
    }
    ++i;
    lower = 0x80;
    upper = 0xBF;
    if (++seen == needed) needed = seen = 0;
  }
  return needed != 0 ? in.size() - start : 0;
}

// The shared UTF-16 decoder: lead byte, lead surrogate; a unit after a lead
// surrogate that is not a trail surrogate is prepended (both its bytes).
std::size_t utf16_tail(std::string_view in, bool big_endian) {
  std::size_t i = 0, start = 0;
  std::optional<unsigned> lead_byte;
  bool lead_surrogate = false;
  while (i < in.size()) {
    unsigned b = at(in, i);
    if (!lead_byte && !lead_surrogate) start = i;
    ++i;
    if (!lead_byte) {
      lead_byte = b;
      continue;
    }
    unsigned unit = big_endian ? (*lead_byte << 8) | b : (b << 8) | *lead_byte;
    lead_byte.reset();
    if (lead_surrogate) {
      lead_surrogate = false;
      if (!in_range(unit, 0xDC00, 0xDFFF)) i -= 2;
      continue;
    }
    lead_surrogate = in_range(unit, 0xD800, 0xDBFF);
  }
  return lead_byte || lead_surrogate ? in.size() - start : 0;
}

// gb18030 decoder: first, second, third.
std::size_t gb18030_tail(std::string_view in) {
  std::size_t i = 0, start = 0;
  unsigned first = 0, second = 0, third = 0;
  while (i < in.size()) {
    unsigned b = at(in, i);
    if (third != 0) {
      first = second = third = 0;
      if (in_range(b, 0x30, 0x39)) {
        ++i;
      } else {
        i -= 2;  // prepend second, third and byte
      }
      continue;
    }
    if (second != 0) {
      if (in_range(b, 0x81, 0xFE)) {
        third = b;
        ++i;
      } else {
        first = second = 0;
        i -= 1;  // prepend second and byte
      }
      continue;
    }
    if (first != 0) {
      if (in_range(b, 0x30, 0x39)) {
        second = b;
      } else {
        first = 0;  // a code point or an error; an ASCII byte is prepended and
      }             // then emitted at once, so holding nothing either way
      ++i;
      continue;
    }
    start = i++;
    if (in_range(b, 0x81, 0xFE)) first = b;
  }
  return first != 0 ? in.size() - start : 0;
}

// Big5, EUC-KR, Shift_JIS: a lead byte, then any byte ends the sequence (an
// ASCII byte that is prepended is emitted at once).
template <typename IsLead>
std::size_t lead_trail_tail(std::string_view in, IsLead is_lead) {
  std::size_t i = 0, start = 0;
  bool lead = false;
  while (i < in.size()) {
    unsigned b = at(in, i);
    if (lead) {
      lead = false;
      ++i;
      continue;
    }
    start = i++;
    lead = is_lead(b);
  }
  return lead ? in.size() - start : 0;
}

// EUC-JP: lead 0x8E, 0x8F or 0xA1..0xFE; after 0x8F a byte 0xA1..0xFE becomes the
// lead of a JIS X 0212 pair (still held); anything else ends the sequence.
std::size_t euc_jp_tail(std::string_view in) {
  std::size_t i = 0, start = 0;
  unsigned lead = 0;
  while (i < in.size()) {
    unsigned b = at(in, i);
    if (lead != 0) {
      lead = lead == 0x8F && in_range(b, 0xA1, 0xFE) ? b : 0;
      ++i;
      continue;
    }
    start = i++;
    if (b == 0x8E || b == 0x8F || in_range(b, 0xA1, 0xFE)) lead = b;
  }
  return lead != 0 ? in.size() - start : 0;
}

// ISO-2022-JP: decoder state vs output state. Held: ESC (escape start), ESC and
// 0x24/0x28 (escape), a lead byte in the lead byte state (trail byte).
std::size_t iso_2022_jp_tail(std::string_view in) {
  enum class State : std::uint8_t { output, trail, escape_start, escape };
  State state = State::output;
  bool lead_mode = false;  // the output state is "lead byte"
  unsigned escape_lead = 0;
  std::size_t i = 0, start = 0;
  while (i < in.size()) {
    unsigned b = at(in, i);
    switch (state) {
      case State::output:
        if (b == 0x1B) {
          state = State::escape_start;
          start = i;
        } else if (lead_mode && in_range(b, 0x21, 0x7E)) {
          state = State::trail;
          start = i;
        }
        ++i;
        break;
      case State::trail:
        // ESC: an error for the lead, and the ESC starts an escape.
        state = b == 0x1B ? State::escape_start : State::output;
        start = i++;
        break;
      case State::escape_start:
        if (b == 0x24 || b == 0x28) {
          escape_lead = b;
          state = State::escape;
          ++i;
        } else {
          state = State::output;  // the byte is prepended
        }
        break;
      case State::escape:
        state = State::output;
        if ((escape_lead == 0x28 && (b == 0x42 || b == 0x4A || b == 0x49)) ||
            (escape_lead == 0x24 && (b == 0x40 || b == 0x42))) {
          lead_mode = escape_lead == 0x24;
          ++i;
        } else {
          --i;  // prepend the escape's lead (the previous byte) and this byte
        }
        break;
    }
  }
  return state != State::output ? in.size() - start : 0;
}

std::size_t pending_tail(Encoding e, std::string_view in) {
  switch (e) {
    case Encoding::utf_8:
      return utf8_tail(in);
    case Encoding::utf_16be:
      return utf16_tail(in, true);
    case Encoding::utf_16le:
      return utf16_tail(in, false);
    case Encoding::gbk:
    case Encoding::gb18030:
      return gb18030_tail(in);
    case Encoding::big5:
    case Encoding::euc_kr:
      return lead_trail_tail(in, [](unsigned b) { return in_range(b, 0x81, 0xFE); });
    case Encoding::shift_jis:
      return lead_trail_tail(
          in, [](unsigned b) { return in_range(b, 0x81, 0x9F) || in_range(b, 0xE0, 0xFC); });
    case Encoding::euc_jp:
      return euc_jp_tail(in);
    case Encoding::iso_2022_jp:
      return iso_2022_jp_tail(in);
    default:
      return 0;  // single-byte, x-user-defined, replacement: nothing is ever held
  }
}

// --- Expected outputs of one input, from the one-shot decoder --------------------

constexpr std::size_t kNever = static_cast<std::size_t>(-1);

struct Expected {
  // text[L]: replacement-mode output once the first L bytes are fed.
  std::vector<std::string> text;
  std::string final_text;  // after finish()
  // Strict mode: the smallest L whose decode(P minus T) fails (the feed that gives
  // byte L - 1 throws), size + 1 when only finish() fails, kNever when none does;
  // the DecodeError offset.
  std::size_t strict_at = kNever;
  std::size_t strict_offset = 0;
};

std::optional<std::size_t> strict_error(std::string_view in, Encoding e) {
  try {
    (void)decode(in, e, Errors::strict);
  } catch (const DecodeError& err) {
    return err.offset();
  }
  return std::nullopt;
}

// Fills x for input `in`; returns a description of an inconsistency in the
// expectation itself (which would make the streaming checks meaningless).
std::string expect(std::string_view in, Encoding e, Expected& x) {
  x.text.assign(in.size() + 1, {});
  x.strict_at = kNever;
  for (std::size_t len = 0; len <= in.size(); ++len) {
    std::string_view prefix = in.substr(0, len);
    std::string_view settled = prefix.substr(0, len - pending_tail(e, prefix));
    x.text[len] = decode(settled, e);
    if (len > 0 && x.text[len].compare(0, x.text[len - 1].size(), x.text[len - 1]) != 0) {
      return "output at length " + std::to_string(len) + " does not extend the previous";
    }
    // Once invalid, a longer input stays invalid at the same offset (the feeds that
    // follow the one that throws are not made).
    if (x.strict_at != kNever) continue;
    if (std::optional<std::size_t> off = strict_error(settled, e)) {
      x.strict_at = len;
      x.strict_offset = *off;
    }
  }
  x.final_text = decode(in, e);
  if (x.final_text.compare(0, x.text.back().size(), x.text.back()) != 0) {
    return "final output does not extend the last";
  }
  // Only the end can still make it invalid (an incomplete sequence): finish() throws.
  if (x.strict_at == kNever) {
    if (std::optional<std::size_t> off = strict_error(in, e)) {
      x.strict_at = in.size() + 1;
      x.strict_offset = *off;
    }
  }
  return {};
}

// --- Feeding one split of one input ----------------------------------------------

// Feeds all[0, context) as one chunk, then the rest cut after each byte whose bit is
// set in `cuts`; checks every feed. Returns a description of the first violation.
std::string feed_split(Encoding e, Errors errors, std::string_view all, std::size_t context,
                       unsigned cuts, const Expected& x) {
  std::array<std::size_t, 8> ends{};
  std::size_t count = 0;
  if (context > 0) ends[count++] = context;
  for (std::size_t k = 0; context + k + 1 < all.size(); ++k) {
    if ((cuts >> k) & 1) ends[count++] = context + k + 1;
  }
  ends[count++] = all.size();

  Decoder d(e, errors);
  std::string out;
  std::size_t pos = 0;
  for (std::size_t j = 0; j < count; ++j) {
    std::size_t end = ends[j];
    auto where = [&] {
      return "feed of bytes [" + std::to_string(pos) + ", " + std::to_string(end) + ")";
    };
    bool must_throw = errors == Errors::strict && x.strict_at != kNever && x.strict_at > pos &&
                      x.strict_at <= end;
    try {
      d.feed(all.substr(pos, end - pos), out);
    } catch (const DecodeError& err) {
      if (!must_throw) return where() + " threw DecodeError at " + std::to_string(err.offset());
      if (err.offset() != x.strict_offset) {
        return where() + " threw at offset " + std::to_string(err.offset()) + ", expected " +
               std::to_string(x.strict_offset);
      }
      return {};
    }
    if (must_throw) {
      return where() + " did not throw (the DecodeError is due at offset " +
             std::to_string(x.strict_offset) + ")";
    }
    if (out != x.text[end]) {
      return where() + " output [" + hex(out) + "], expected [" + hex(x.text[end]) + "]";
    }
    if (!d.feed("").empty()) return where() + ": a following empty feed emitted text";
    pos = end;
  }
  bool must_throw = errors == Errors::strict && x.strict_at == all.size() + 1;
  try {
    d.finish(out);
  } catch (const DecodeError& err) {
    if (!must_throw) return "finish() threw DecodeError at " + std::to_string(err.offset());
    if (err.offset() != x.strict_offset) return "finish() threw at another offset";
    return {};
  }
  if (must_throw) return "finish() did not throw";
  if (out != x.final_text) {
    return "after finish() [" + hex(out) + "], expected [" + hex(x.final_text) + "]";
  }
  return {};
}

struct Case {
  Encoding encoding;
  std::string bytes;   // the interesting bytes: every sequence of 1..3 of them
  std::string bytes4;  // a subset: every sequence of 4 of them
  std::vector<std::string> contexts = {""};
};

std::string describe(Encoding e, Errors errors, std::string_view context, std::string_view in,
                     unsigned cuts) {
  std::string s = std::string(name(e)) + (errors == Errors::strict ? " strict" : " replace");
  if (!context.empty()) s += " after [" + hex(context) + "]";
  s += " [";
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (k > 0) s += (cuts >> (k - 1)) & 1 ? " | " : " ";
    s += hex(in.substr(k, 1));
  }
  return s + "]";
}

// Every sequence of 1..3 bytes from c.bytes and of 4 from c.bytes4, after each
// context, every split.
// Returns the number of splits checked; stops at the first few violations.
std::size_t check_exhaustively(const Case& c) {
  constexpr std::size_t kMaxLength = 4;
  constexpr int kMaxReports = 5;
  int reports = 0;
  std::size_t splits = 0;
  Expected x;
  std::string all;
  for (const std::string& context : c.contexts) {
    for (std::size_t len = 1; len <= kMaxLength; ++len) {
      const std::string& set = len < kMaxLength ? c.bytes : c.bytes4;
      std::vector<std::size_t> digit(len, 0);
      std::string seq(len, '\0');
      while (true) {
        for (std::size_t p = 0; p < len; ++p) seq[p] = set[digit[p]];
        all = context;
        all += seq;
        if (std::string bad = expect(all, c.encoding, x); !bad.empty()) {
          ADD_FAILURE() << name(c.encoding) << " [" << hex(all) << "]: expectation: " << bad;
          if (++reports >= kMaxReports) return splits;
        }
        for (Errors errors : {Errors::replace, Errors::strict}) {
          // In strict mode, cuts after the byte that makes the input invalid do not
          // matter (the feed holding it throws): skip splits that differ only there.
          unsigned relevant = (1u << (len - 1)) - 1;
          if (errors == Errors::strict && x.strict_at != kNever && x.strict_at > context.size() &&
              x.strict_at - context.size() - 1 < len - 1) {
            relevant = (1u << (x.strict_at - context.size() - 1)) - 1;
          }
          for (unsigned cuts = 0; cuts < (1u << (len - 1)); ++cuts) {
            if ((cuts & ~relevant) != 0) continue;
            ++splits;
            std::string bad = feed_split(c.encoding, errors, all, context.size(), cuts, x);
            if (bad.empty()) continue;
            ADD_FAILURE() << describe(c.encoding, errors, context, seq, cuts) << ": " << bad;
            if (++reports >= kMaxReports) return splits;
          }
        }
        // Next sequence (odometer over the byte set).
        std::size_t p = len;
        while (p > 0 && ++digit[p - 1] == set.size()) digit[--p] = 0;
        if (p == 0) break;
      }
    }
  }
  return splits;
}

void PrintTo(const Case& c, std::ostream* os) {
  // No brackets: CTest keeps this text with the test's name, in a CMake list.
  *os << name(c.encoding) << " over " << hex(c.bytes) << ", four of " << hex(c.bytes4);
}

class StreamingTiming : public ::testing::TestWithParam<Case> {};

TEST_P(StreamingTiming, EveryShortInputEverySplitMatchesOneShot) {
  std::size_t splits = check_exhaustively(GetParam());
  EXPECT_GT(splits, 0u);
}

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s += static_cast<char>(b);
  return s;
}

// Interesting bytes per encoding: ASCII, every kind of lead, the boundaries of
// each trail range (first and last byte inside, first outside), bytes that are
// never valid, and the BOM's bytes; for four-byte inputs, the subset that makes
// the longest sequences and what follows a complete one. Sized so the run stays
// short under ASan (a strict-mode throw there costs a system call).
std::vector<Case> cases() {
  return {
      // Trail ranges: 80..BF; after E0 A0..BF, ED 80..9F, F0 90..BF, F4 80..8F.
      {Encoding::utf_8,
       bytes({0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBB, 0xBF, 0xC1, 0xC2, 0xE0, 0xED, 0xEF, 0xF0,
              0xF4, 0xF5}),
       bytes({0x41, 0x80, 0x8F, 0x90, 0xBB, 0xBF, 0xC1, 0xE0, 0xEF, 0xF0, 0xF4})},
      {Encoding::utf_16le, bytes({0x00, 0x41, 0xD8, 0xDB, 0xDC, 0xDF, 0xE0, 0xFE, 0xFF}),
       bytes({0x00, 0x41, 0xD8, 0xDB, 0xDC, 0xDF, 0xFE, 0xFF})},
      {Encoding::utf_16be, bytes({0x00, 0x41, 0xD8, 0xDB, 0xDC, 0xDF, 0xE0, 0xFE, 0xFF}),
       bytes({0x00, 0x41, 0xD8, 0xDB, 0xDC, 0xDF, 0xFE, 0xFF})},
      // Four-byte: 81 30 81 30 is U+0080; 84 31 A5 30 is past the last range (null).
      {Encoding::gb18030,
       bytes({0x30, 0x31, 0x39, 0x40, 0x41, 0x7F, 0x80, 0x81, 0x84, 0xA5, 0xFE, 0xFF}),
       bytes({0x30, 0x31, 0x39, 0x41, 0x81, 0x84, 0xA5, 0xFE, 0xFF})},
      {Encoding::gbk, bytes({0x30, 0x39, 0x41, 0x80, 0x81, 0xA1, 0xFE, 0xFF}),
       bytes({0x30, 0x41, 0x80, 0x81, 0xA1, 0xFE, 0xFF})},
      // 88 62 / 88 64: two code points each; 87 40: a plane-2 code point.
      {Encoding::big5,
       bytes({0x40, 0x41, 0x62, 0x64, 0x7F, 0x80, 0x81, 0x87, 0x88, 0xA1, 0xFE, 0xFF}),
       bytes({0x40, 0x41, 0x62, 0x7F, 0x80, 0x87, 0x88, 0xA1, 0xFE})},
      {Encoding::euc_kr, bytes({0x40, 0x41, 0x52, 0x80, 0x81, 0xA1, 0xB0, 0xC9, 0xFE, 0xFF}),
       bytes({0x41, 0x52, 0x80, 0x81, 0xA1, 0xB0, 0xFE, 0xFF})},
      {Encoding::shift_jis,
       bytes({0x40, 0x41, 0x7F, 0x80, 0x81, 0x9F, 0xA0, 0xA1, 0xDF, 0xE0, 0xF0, 0xFC, 0xFD}),
       bytes({0x40, 0x41, 0x7F, 0x80, 0x81, 0xA0, 0xA1, 0xE0, 0xFC, 0xFD})},
      // 8F A2 AF: JIS X 0212; 8E A1..DF: half-width katakana.
      {Encoding::euc_jp, bytes({0x41, 0x80, 0x8E, 0x8F, 0xA1, 0xA2, 0xAF, 0xDF, 0xE0, 0xFE, 0xFF}),
       bytes({0x41, 0x8E, 0x8F, 0xA1, 0xA2, 0xAF, 0xE0, 0xFE})},
      // Escapes and what follows them, from the ASCII and from the lead byte state
      // (the roman and katakana states hold bytes exactly as the ASCII state does).
      {Encoding::iso_2022_jp,
       bytes({0x0E, 0x1B, 0x21, 0x24, 0x28, 0x40, 0x42, 0x49, 0x4A, 0x5C, 0x7E, 0x80}),
       bytes({0x0E, 0x1B, 0x21, 0x24, 0x28, 0x40, 0x42, 0x4A, 0x80}),
       {"", "\x1B$B"}},
      {Encoding::iso_8859_8, bytes({0x41, 0x80, 0xA1, 0xAA, 0xE0, 0xFF}),
       bytes({0x41, 0x80, 0xA1, 0xAA, 0xE0, 0xFF})},
      {Encoding::windows_1252, bytes({0x41, 0x80, 0x81, 0xFF}), bytes({0x41, 0x80, 0x81, 0xFF})},
      {Encoding::x_user_defined, bytes({0x41, 0x80, 0xFF}), bytes({0x41, 0x80, 0xFF})},
      {Encoding::replacement, bytes({0x00, 0x41, 0x80}), bytes({0x00, 0x41, 0x80})},
  };
}

INSTANTIATE_TEST_SUITE_P(Encodings, StreamingTiming, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string s(name(info.param.encoding));
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

// The cases of the issue, spelled out.
TEST(StreamingTiming, Utf8EmitsAtOnce) {
  Decoder d(Encoding::utf_8);
  EXPECT_EQ(d.feed("AB"), "AB");
  EXPECT_EQ(d.feed("\xC1"), cps({kFFFD}));
  EXPECT_EQ(d.feed("\xE2"), "");
  EXPECT_EQ(d.feed("\x41"), cps({kFFFD, 'A'}));  // the 0x41 ends E2 and is read again
  EXPECT_EQ(d.feed("\xF0\x9F\x98"), "");
  EXPECT_EQ(d.feed("\x80"), cps({0x1F600}));
  EXPECT_EQ(d.finish(), "");

  Decoder first(Encoding::utf_8);
  EXPECT_EQ(first.feed("\xC1"), cps({kFFFD}));
  Decoder bom(Encoding::utf_8);
  EXPECT_EQ(bom.feed("\xEF\xBB"), "");  // still possibly a BOM, and an incomplete sequence
  EXPECT_EQ(bom.feed("\xBF"), "");
  EXPECT_EQ(bom.feed("A"), "A");
  Decoder not_bom(Encoding::utf_8);
  EXPECT_EQ(not_bom.feed("\xEF\xBB"), "");
  EXPECT_EQ(not_bom.feed("\xC0"), cps({kFFFD, kFFFD}));
}

TEST(StreamingTiming, StrictThrowsAtTheFeedOfTheBadByte) {
  Decoder d(Encoding::utf_8, Errors::strict);
  try {
    d.feed("\xC0");
    ADD_FAILURE() << "feed(\"\\xC0\") did not throw";
  } catch (const DecodeError& err) {
    EXPECT_EQ(err.offset(), 0u);
  }
  Decoder e(Encoding::utf_8, Errors::strict);
  EXPECT_EQ(e.feed("a"), "a");
  EXPECT_EQ(e.feed("\xF0\x9F"), "");
  try {
    e.feed("\x41");
    ADD_FAILURE() << "a bad continuation byte did not throw";
  } catch (const DecodeError& err) {
    EXPECT_EQ(err.offset(), 1u);
  }
  Decoder le(Encoding::utf_16le, Errors::strict);
  EXPECT_EQ(le.feed(std::string_view("\x3D\xD8", 2)), "");
  EXPECT_THROW(le.feed(std::string_view("A\0", 2)), DecodeError);
}

}  // namespace
}  // namespace corun::text
