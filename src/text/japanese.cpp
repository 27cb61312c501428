// The standard's EUC-JP, ISO-2022-JP and Shift_JIS decoders (index jis0208 and
// index jis0212), and EUC-KR's (index EUC-KR), which has the same shape.
#include "decoder_kernels.hpp"
#include "text_tables.hpp"

namespace corun::text::detail {

namespace {

inline bool in_range(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) {
  return b >= lo && b <= hi;
}

inline std::uint32_t jis0208(std::uint32_t pointer) {
  return pointer < kJis0208Size ? kJis0208[pointer] : 0;
}
inline std::uint32_t jis0212(std::uint32_t pointer) {
  return pointer < kJis0212Size ? kJis0212[pointer] : 0;
}
inline std::uint32_t euc_kr(std::uint32_t pointer) {
  return pointer < kEucKrSize ? kEucKr[pointer] : 0;
}

// After a failed two- or three-byte sequence the standard restores the last byte
// read if it is ASCII: the sequence then consumed one byte fewer.
inline std::size_t consumed(std::size_t length, std::uint8_t last_byte) {
  return last_byte < 0x80 ? length - 1 : length;
}

const PairTable& euc_jp_pairs() {
  static PairTable table;
  static const bool built =
      (build_pair_table(table, 0x8E, 0xFE,
                        [](std::uint32_t lead, std::uint32_t trail) -> std::uint32_t {
                          if (lead == 0x8E)
                            return trail >= 0xA1 && trail <= 0xDF ? 0xFF61 - 0xA1 + trail : 0;
                          if (lead < 0xA1 || trail < 0xA1 || trail > 0xFE)
                            return 0;  // 0x8F: three bytes, general path
                          return jis0208((lead - 0xA1) * 94 + trail - 0xA1);
                        }),
       true);
  (void)built;
  return table;
}

const PairTable& shift_jis_pairs() {
  static PairTable table;
  static const bool built =
      (build_pair_table(
           table, 0x81, 0xFC,
           [](std::uint32_t lead, std::uint32_t trail) -> std::uint32_t {
             if (lead >= 0xA0 && lead <= 0xDF) return 0;  // single bytes
             if (!((trail >= 0x40 && trail <= 0x7E) || (trail >= 0x80 && trail <= 0xFC))) return 0;
             std::uint32_t pointer =
                 (lead - (lead < 0xA0 ? 0x81 : 0xC1)) * 188 + trail - (trail < 0x7F ? 0x40 : 0x41);
             return (pointer >= 8836 && pointer <= 10715) ? 0xE000 - 8836 + pointer
                                                          : jis0208(pointer);
           }),
       true);
  (void)built;
  return table;
}

const PairTable& euc_kr_pairs() {
  static PairTable table;
  static const bool built =
      (build_pair_table(table, 0x81, 0xFE,
                        [](std::uint32_t lead, std::uint32_t trail) -> std::uint32_t {
                          return trail >= 0x41 && trail <= 0xFE
                                     ? euc_kr((lead - 0x81) * 190 + trail - 0x41)
                                     : 0;
                        }),
       true);
  (void)built;
  return table;
}

}  // namespace

// EUC-JP steps, by first byte at i: ASCII -> itself; 0x8E + 0xA1..0xDF ->
// half-width katakana U+FF61 + (b2 - 0xA1); 0x8F + 0xA1..0xFE + b3 -> index
// jis0212 for (b2, b3); 0xA1..0xFE + b2 -> index jis0208. A failed lookup is an
// error with the last byte read restored if ASCII; other first bytes are errors;
// end of input inside a sequence is one error.
std::size_t decode_euc_jp(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_multi_byte(
      euc_jp_pairs(), in, n, sink, [&](std::size_t i, char*& w) -> std::size_t {
        std::uint8_t b = in[i];
        if (b != 0x8E && b != 0x8F && !in_range(b, 0xA1, 0xFE)) {
          w = sink.error(w, i);
          return i + 1;
        }
        if (i + 1 >= n) return kIncomplete;
        std::uint8_t b2 = in[i + 1];
        if (b == 0x8E) {
          if (in_range(b2, 0xA1, 0xDF)) {
            w = put_code_point(w, 0xFF61u - 0xA1u + b2);
            return i + 2;
          }
          w = sink.error(w, i);
          return i + consumed(2, b2);
        }
        if (b == 0x8F) {
          if (!in_range(b2, 0xA1, 0xFE)) {
            w = sink.error(w, i);
            return i + consumed(2, b2);
          }
          if (i + 2 >= n) return kIncomplete;
          std::uint8_t b3 = in[i + 2];
          std::uint32_t cp =
              in_range(b3, 0xA1, 0xFE) ? jis0212((b2 - 0xA1u) * 94u + b3 - 0xA1u) : 0;
          if (cp != 0) {
            w = put_code_point(w, cp);
            return i + 3;
          }
          w = sink.error(w, i);
          return i + consumed(3, b3);
        }
        std::uint32_t cp = in_range(b2, 0xA1, 0xFE) ? jis0208((b - 0xA1u) * 94u + b2 - 0xA1u) : 0;
        if (cp != 0) {
          w = put_code_point(w, cp);
          return i + 2;
        }
        w = sink.error(w, i);
        return i + consumed(2, b2);
      });
}

// Shift_JIS steps: ASCII and 0x80 -> themselves; 0xA1..0xDF -> U+FF61 + (b - 0xA1);
// lead 0x81..0x9F or 0xE0..0xFC + trail 0x40..0x7E or 0x80..0xFC -> pointer;
// pointers 8836..10715 -> private use U+E000 + (pointer - 8836), others index
// jis0208. A failed lookup (or a bad trail) is an error with the trail restored
// if ASCII. Other bytes are errors; a lead at end of input is one error.
std::size_t decode_shift_jis(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_multi_byte(
      shift_jis_pairs(), in, n, sink, [&](std::size_t i, char*& w) -> std::size_t {
        std::uint8_t b = in[i];
        if (b == 0x80) {
          w = put_code_point(w, 0x80);
          return i + 1;
        }
        if (in_range(b, 0xA1, 0xDF)) {
          w = put_code_point(w, 0xFF61u - 0xA1u + b);
          return i + 1;
        }
        if (!in_range(b, 0x81, 0x9F) && !in_range(b, 0xE0, 0xFC)) {
          w = sink.error(w, i);
          return i + 1;
        }
        if (i + 1 >= n) return kIncomplete;
        std::uint8_t b2 = in[i + 1];
        std::uint32_t cp = 0;
        if (in_range(b2, 0x40, 0x7E) || in_range(b2, 0x80, 0xFC)) {
          std::uint32_t offset = b2 < 0x7F ? 0x40 : 0x41;
          std::uint32_t lead_offset = b < 0xA0 ? 0x81 : 0xC1;
          std::uint32_t pointer = (b - lead_offset) * 188u + b2 - offset;
          cp = (pointer >= 8836 && pointer <= 10715) ? 0xE000u - 8836u + pointer : jis0208(pointer);
        }
        if (cp != 0) {
          w = put_code_point(w, cp);
          return i + 2;
        }
        w = sink.error(w, i);
        return i + consumed(2, b2);
      });
}

// ISO-2022-JP. The standard's decoder state between sequences always equals its
// output state (the Trail byte, Escape start and Escape states only live inside
// one sequence here), so a step is, by first byte at i:
//  ESC (0x1B): b2 0x24 or 0x28 and b3 naming a mode (ESC ( B ascii, ESC ( J
//   roman, ESC ( I katakana, ESC $ @ / ESC $ B lead byte) switches mode; it is an
//   error when the previous step was also a mode switch (output flag). Any other
//   b2/b3 (or end of input) is an error consuming only the ESC (b2, b3 restored).
//  otherwise by mode: ascii: 0x00..0x7F but 0x0E/0x0F; roman: the same with 0x5C
//   -> U+00A5 and 0x7E -> U+203E; katakana: 0x21..0x5F -> U+FF61 + (b - 0x21);
//   lead byte: 0x21..0x7E + b2: b2 0x21..0x7E -> index jis0208 (null: error, both
//   consumed); b2 ESC -> error for the lead alone (the ESC is then an escape);
//   other b2 -> error consuming both; end of input -> error. Anything else in a
//   mode is an error consuming one byte.
std::size_t decode_iso_2022_jp(const std::uint8_t* in, std::size_t n, Sink& sink) {
  Iso2022JpState& st = *sink.jp;
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      std::uint8_t b = in[i];
      if (b == 0x1B) {
        if (i + 1 >= n) goto incomplete;
        std::uint8_t b2 = in[i + 1];
        if (b2 != 0x24 && b2 != 0x28) {
          st.output_flag = false;
          w = sink.error(w, i);
          ++i;
          continue;
        }
        if (i + 2 >= n) {
          if (!sink.last) goto incomplete;
          // ESC + lead at end of input: the lead is restored and processed again.
          st.output_flag = false;
          w = sink.error(w, i);
          ++i;
          continue;
        }
        std::uint8_t b3 = in[i + 2];
        bool known = true;
        JpMode mode = st.mode;
        if (b2 == 0x28 && b3 == 0x42) {
          mode = JpMode::ascii;
        } else if (b2 == 0x28 && b3 == 0x4A) {
          mode = JpMode::roman;
        } else if (b2 == 0x28 && b3 == 0x49) {
          mode = JpMode::katakana;
        } else if (b2 == 0x24 && (b3 == 0x40 || b3 == 0x42)) {
          mode = JpMode::lead_byte;
        } else {
          known = false;
        }
        if (!known) {
          st.output_flag = false;
          w = sink.error(w, i);
          ++i;
          continue;
        }
        st.mode = mode;
        if (st.output_flag) w = sink.error(w, i);
        st.output_flag = true;
        i += 3;
        continue;
      }
      switch (st.mode) {
        case JpMode::ascii:
          st.output_flag = false;
          w = (b <= 0x7F && b != 0x0E && b != 0x0F) ? put_code_point(w, b) : sink.error(w, i);
          ++i;
          continue;
        case JpMode::roman:
          st.output_flag = false;
          if (b == 0x5C) {
            w = put_code_point(w, 0xA5);
          } else if (b == 0x7E) {
            w = put_code_point(w, 0x203E);
          } else if (b <= 0x7F && b != 0x0E && b != 0x0F) {
            w = put_code_point(w, b);
          } else {
            w = sink.error(w, i);
          }
          ++i;
          continue;
        case JpMode::katakana:
          st.output_flag = false;
          w = in_range(b, 0x21, 0x5F) ? put_code_point(w, 0xFF61u - 0x21u + b) : sink.error(w, i);
          ++i;
          continue;
        case JpMode::lead_byte:
          break;
      }
      if (!in_range(b, 0x21, 0x7E)) {
        st.output_flag = false;
        w = sink.error(w, i);
        ++i;
        continue;
      }
      if (i + 1 >= n) goto incomplete;
      {
        st.output_flag = false;
        std::uint8_t b2 = in[i + 1];
        if (b2 == 0x1B) {
          w = sink.error(w, i);
          ++i;
          continue;
        }
        std::uint32_t cp = in_range(b2, 0x21, 0x7E) ? jis0208((b - 0x21u) * 94u + b2 - 0x21u) : 0;
        w = cp != 0 ? put_code_point(w, cp) : sink.error(w, i);
        i += 2;
        continue;
      }
    incomplete:
      if (!sink.last) {
        out.commit(w);
        return i;
      }
      // ESC alone, or a lead byte, at end of input: one error.
      st.output_flag = false;
      w = sink.error(w, i);
      i = n;
    }
  }
  out.commit(w);
  return i;
}

// EUC-KR steps: ASCII -> itself; lead 0x81..0xFE + b2 0x41..0xFE -> index EUC-KR
// (null or bad trail: error, trail restored if ASCII); other bytes -> error; a
// lead at end of input -> one error.
std::size_t decode_euc_kr(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_multi_byte(
      euc_kr_pairs(), in, n, sink, [&](std::size_t i, char*& w) -> std::size_t {
        std::uint8_t b = in[i];
        if (b == 0x80 || b == 0xFF) {
          w = sink.error(w, i);
          return i + 1;
        }
        if (i + 1 >= n) return kIncomplete;
        std::uint8_t b2 = in[i + 1];
        std::uint32_t cp = in_range(b2, 0x41, 0xFE) ? euc_kr((b - 0x81u) * 190u + b2 - 0x41u) : 0;
        if (cp != 0) {
          w = put_code_point(w, cp);
          return i + 2;
        }
        w = sink.error(w, i);
        return i + consumed(2, b2);
      });
}

}  // namespace corun::text::detail
