// The standard's gb18030 decoder (also GBK's: the standard decodes GBK with the
// gb18030 decoder) and Big5 decoder.
#include <algorithm>
#include <array>

#include "decoder_kernels.hpp"
#include "text_tables.hpp"

namespace corun::text::detail {

namespace {

// Trail byte -> (byte - offset) of the standard's pointer formula, or -1 where
// the formula gives no pointer. gb18030: 0x40..0x7E (offset 0x40) and
// 0x80..0xFE (offset 0x41). Big5: 0x40..0x7E (offset 0x40), 0xA1..0xFE (0x62).
constexpr std::array<std::int16_t, 256> make_trail(int low_end_offset, int high_first,
                                                   int high_offset) {
  std::array<std::int16_t, 256> t{};
  for (int b = 0; b < 256; ++b) {
    std::int16_t v = -1;
    if (b >= 0x40 && b <= 0x7E) v = static_cast<std::int16_t>(b - low_end_offset);
    if (b >= high_first && b <= 0xFE) v = static_cast<std::int16_t>(b - high_offset);
    t[static_cast<std::size_t>(b)] = v;
  }
  return t;
}

constexpr std::array<std::int16_t, 256> kGbTrail = make_trail(0x40, 0x80, 0x41);
constexpr std::array<std::int16_t, 256> kBig5Trail = make_trail(0x40, 0xA1, 0x62);

// The standard's "index gb18030 ranges code point"; 0 = null.
std::uint32_t gb18030_ranges_code_point(std::uint32_t pointer) {
  if ((pointer > 39419 && pointer < 189000) || pointer > 1237575) return 0;
  if (pointer == 7457) return 0xE7C7;
  const std::uint32_t* first = kGb18030RangePointers;
  const std::uint32_t* last = kGb18030RangePointers + kGb18030RangesSize;
  // Last range start <= pointer (the first range starts at 0).
  const std::uint32_t* it = std::upper_bound(first, last, pointer) - 1;
  auto k = static_cast<std::size_t>(it - first);
  return kGb18030RangeCodePoints[k] + pointer - *it;
}

inline bool in_range(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) {
  return b >= lo && b <= hi;
}

const PairTable& gb18030_pairs() {
  static PairTable table;
  static const bool built =
      (build_pair_table(
           table, 0x81, 0xFE,
           [](std::uint32_t lead, std::uint32_t trail) -> std::uint32_t {
             std::int16_t col = kGbTrail[trail];
             return col < 0 ? 0 : kGb18030[(lead - 0x81) * 190 + static_cast<std::uint32_t>(col)];
           }),
       true);
  (void)built;
  return table;
}

const PairTable& big5_pairs() {
  static PairTable table;
  static const bool built =
      (build_pair_table(
           table, 0x81, 0xFE,
           [](std::uint32_t lead, std::uint32_t trail) -> std::uint32_t {
             std::int16_t col = kBig5Trail[trail];
             if (col < 0) return 0;
             std::uint32_t pointer = (lead - 0x81) * 157 + static_cast<std::uint32_t>(col);
             // The two-code-point pointers and plane-2 code points take the general path.
             if (pointer == 1133 || pointer == 1135 || pointer == 1164 || pointer == 1166) return 0;
             if ((kBig5Plane2[pointer / 64] >> (pointer % 64)) & 1) return 0;
             return kBig5Low[pointer];
           }),
       true);
  (void)built;
  return table;
}

}  // namespace

// Steps of the standard's gb18030 decoder, by first byte at i:
//  ASCII -> itself; 0x80 -> U+20AC; 0xFF -> error.
//  lead 0x81..0xFE, then b2:
//   b2 a two-byte trail -> index gb18030 (null: error; b2 is restored if ASCII);
//   b2 0x30..0x39 -> four-byte, then b3 must be 0x81..0xFE, else error and b2, b3
//     are restored (only the lead is consumed); then b4 must be 0x30..0x39, else
//     error and b2, b3, b4 are restored; else index gb18030 ranges (null: error,
//     all four consumed);
//   otherwise error, b2 restored if ASCII.
//  End of input inside a sequence: one error for the whole tail.
std::size_t decode_gb18030(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_multi_byte(
      gb18030_pairs(), in, n, sink, [&](std::size_t i, char*& w) -> std::size_t {
        std::uint8_t b = in[i];
        if (b == 0x80) {
          w = put_code_point(w, 0x20AC);
          return i + 1;
        }
        if (b == 0xFF) {
          w = sink.error(w, i);
          return i + 1;
        }
        // A lead whose sequence the pair table did not finish: the general case.
        std::size_t avail = n - i;
        if (avail < 2) return kIncomplete;
        std::uint8_t b2 = in[i + 1];
        if (kGbTrail[b2] >= 0) {
          std::uint32_t cp =
              kGb18030[(b - 0x81u) * 190u + static_cast<std::uint32_t>(kGbTrail[b2])];
          if (cp != 0) {
            w = put_code_point(w, cp);
            return i + 2;
          }
          w = sink.error(w, i);
          return i + (b2 < 0x80 ? 1 : 2);
        }
        if (!in_range(b2, 0x30, 0x39)) {
          w = sink.error(w, i);
          return i + (b2 < 0x80 ? 1 : 2);
        }
        if (avail < 3) return kIncomplete;
        std::uint8_t b3 = in[i + 2];
        if (!in_range(b3, 0x81, 0xFE)) {
          w = sink.error(w, i);
          return i + 1;
        }
        if (avail < 4) return kIncomplete;
        std::uint8_t b4 = in[i + 3];
        if (!in_range(b4, 0x30, 0x39)) {
          w = sink.error(w, i);
          return i + 1;
        }
        std::uint32_t pointer =
            (((b - 0x81u) * 10u + (b2 - 0x30u)) * 126u + (b3 - 0x81u)) * 10u + (b4 - 0x30u);
        std::uint32_t cp = gb18030_ranges_code_point(pointer);
        w = cp != 0 ? put_code_point(w, cp) : sink.error(w, i);
        return i + 4;
      });
}

// Steps of the standard's Big5 decoder, by first byte at i:
//  ASCII -> itself; lead 0x81..0xFE, then b2: pointer from the trail formula;
//  pointers 1133, 1135, 1164, 1166 -> two code points each (the standard's
//  decoder says so; they are not in the index); else index Big5 (null, or no
//  pointer: error, b2 restored if ASCII). Other bytes -> error. End of input
//  after a lead -> error.
std::size_t decode_big5(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_multi_byte(big5_pairs(), in, n, sink, [&](std::size_t i, char*& w) -> std::size_t {
    std::uint8_t b = in[i];
    if (b == 0x80 || b == 0xFF) {
      w = sink.error(w, i);
      return i + 1;
    }
    if (i + 1 >= n) return kIncomplete;
    std::uint8_t b2 = in[i + 1];
    std::int16_t col = kBig5Trail[b2];
    if (col < 0) {
      w = sink.error(w, i);
      return i + (b2 < 0x80 ? 1 : 2);
    }
    std::uint32_t pointer = (b - 0x81u) * 157u + static_cast<std::uint32_t>(col);
    switch (pointer) {
      case 1133:
        w = put_code_point(put_code_point(w, 0x00CA), 0x0304);
        return i + 2;
      case 1135:
        w = put_code_point(put_code_point(w, 0x00CA), 0x030C);
        return i + 2;
      case 1164:
        w = put_code_point(put_code_point(w, 0x00EA), 0x0304);
        return i + 2;
      case 1166:
        w = put_code_point(put_code_point(w, 0x00EA), 0x030C);
        return i + 2;
      default:
        break;
    }
    std::uint32_t cp = kBig5Low[pointer];
    if (cp == 0) {
      w = sink.error(w, i);
      return i + (b2 < 0x80 ? 1 : 2);
    }
    if ((kBig5Plane2[pointer / 64] >> (pointer % 64)) & 1) cp += 0x20000;
    w = put_code_point(w, cp);
    return i + 2;
  });
}

}  // namespace corun::text::detail
