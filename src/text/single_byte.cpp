// The standard's single-byte decoders (one index of 128 code points each),
// x-user-defined, replacement, and UTF-16BE/LE.
#include "decoder_kernels.hpp"
#include "text_tables.hpp"

namespace corun::text::detail {

namespace {

// UTF-8 for every byte 0x00..0xFF of every single-byte encoding (ASCII is
// itself), packed as the bytes (first in the low byte) and the length in the top
// byte; 0 = null in the index (an error). Built once from the generated tables.
struct SingleByteUtf8 {
  std::uint32_t packed[kSingleByteCount][256];
  SingleByteUtf8() {
    for (std::size_t e = 0; e < kSingleByteCount; ++e) {
      for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t cp = b < 0x80 ? b : kSingleByte[e][b - 0x80];
        std::uint32_t v = 0;
        if (b < 0x80 || cp != 0) v = pack_code_point(cp);  // all below U+10000
        packed[e][b] = v;
      }
    }
  }
};

const SingleByteUtf8& single_byte_utf8() {
  static const SingleByteUtf8 table;
  return table;
}

inline bool ascii16(const std::uint8_t* p) {
#if defined(__SSE2__)
  return _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) == 0;
#else
  std::uint64_t a, b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  return ((a | b) & 0x8080808080808080ULL) == 0;
#endif
}

}  // namespace

// 16 bytes at a time: an all-ASCII group is copied as is; any other group goes
// byte by byte through the table (so text that mixes letters and spaces, like
// Cyrillic or Greek, stays in one tight loop).
std::size_t decode_single_byte(const std::uint8_t* in, std::size_t n, Sink& sink) {
  auto row = static_cast<std::size_t>(sink.encoding) - static_cast<std::size_t>(kFirstSingleByte);
  const std::uint32_t* table = single_byte_utf8().packed[row];
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i + 16 <= end) {
      if (ascii16(in + i)) {
        std::memcpy(w, in + i, 16);
        i += 16;
        w += 16;
        continue;
      }
      for (std::size_t stop = i + 16; i < stop; ++i) {
        std::uint32_t v = table[in[i]];
        if (v == 0) [[unlikely]] {
          w = sink.error(w, i);
          continue;
        }
        w = put_packed(w, v);
      }
    }
    for (; i < end; ++i) {
      std::uint32_t v = table[in[i]];
      if (v == 0) {
        w = sink.error(w, i);
        continue;
      }
      w = put_packed(w, v);
    }
  }
  out.commit(w);
  return i;
}

std::size_t decode_x_user_defined(const std::uint8_t* in, std::size_t n, Sink& sink) {
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      i = copy_ascii(in, i, end, w);
      while (i < end && in[i] >= 0x80) {
        w = put_code_point(w, 0xF780u + in[i] - 0x80u);
        ++i;
      }
    }
  }
  out.commit(w);
  return i;
}

// One error for the whole (non-empty) stream, then nothing.
std::size_t decode_replacement(const std::uint8_t* /*in*/, std::size_t n, Sink& sink) {
  if (n > 0 && !*sink.replacement_done) {
    *sink.replacement_done = true;
    Output& out = sink.out;
    char* w = out.ensure(out.cursor(), kSlack);
    w = sink.error(w, 0);
    out.commit(w);
  }
  return n;
}

namespace {

// The standard's shared UTF-16 decoder. Per step: a code unit (two bytes); a
// lead surrogate needs the next unit: a trail surrogate completes the pair,
// anything else is an error for the lead alone and that unit is processed again
// ("restore bytes"). A lone trail surrogate is an error. End of input after an
// odd byte or a lead surrogate (plus at most one byte) is one error.
template <bool kBigEndian>
std::size_t decode_utf16(const std::uint8_t* in, std::size_t n, Sink& sink) {
  auto unit = [in](std::size_t i) -> std::uint32_t {
    return kBigEndian ? (std::uint32_t{in[i]} << 8) | in[i + 1]
                      : (std::uint32_t{in[i + 1]} << 8) | in[i];
  };
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      if (i + 2 > n) {
        if (!sink.last) {
          out.commit(w);
          return i;
        }
        w = sink.error(w, i);
        i = n;
        break;
      }
      std::uint32_t u = unit(i);
      if (u < 0xD800 || u > 0xDFFF) {
        w = put_code_point(w, u);
        i += 2;
      } else if (u >= 0xDC00) {
        w = sink.error(w, i);
        i += 2;
      } else if (i + 4 > n) {
        if (!sink.last) {
          out.commit(w);
          return i;
        }
        w = sink.error(w, i);
        i = n;
      } else {
        std::uint32_t u2 = unit(i + 2);
        if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
          w = put_code_point(w, 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00));
          i += 4;
        } else {
          w = sink.error(w, i);
          i += 2;
        }
      }
    }
  }
  out.commit(w);
  return i;
}

}  // namespace

std::size_t decode_utf16be(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_utf16<true>(in, n, sink);
}

std::size_t decode_utf16le(const std::uint8_t* in, std::size_t n, Sink& sink) {
  return decode_utf16<false>(in, n, sink);
}

}  // namespace corun::text::detail
