// The standard's single-byte decoders (one index of 128 code points each),
// x-user-defined, replacement, and UTF-16BE/LE.
#include "decoder_kernels.hpp"
#include "text_tables.hpp"

namespace corun::text::detail {

namespace {

// Code point -> UTF-8 for every byte 0x80..0xFF of every single-byte index,
// packed as the bytes (low first) and the length in the top byte; 0 = null.
// Built once from the generated code-point tables.
struct SingleByteUtf8 {
  std::uint32_t packed[kSingleByteCount][128];
  SingleByteUtf8() {
    for (std::size_t e = 0; e < kSingleByteCount; ++e) {
      for (std::size_t b = 0; b < 128; ++b) {
        std::uint32_t cp = kSingleByte[e][b];
        std::uint32_t v = 0;
        if (cp != 0) {
          char buf[4];
          char* end = put_code_point(buf, cp);
          auto len = static_cast<std::uint32_t>(end - buf);
          for (std::uint32_t k = 0; k < len; ++k) {
            v |= static_cast<std::uint32_t>(static_cast<unsigned char>(buf[k])) << (8 * k);
          }
          v |= len << 24;
        }
        packed[e][b] = v;
      }
    }
  }
};

const SingleByteUtf8& single_byte_utf8() {
  static const SingleByteUtf8 table;
  return table;
}

}  // namespace

std::size_t decode_single_byte(const std::uint8_t* in, std::size_t n, Sink& sink) {
  auto row = static_cast<std::size_t>(sink.encoding) - static_cast<std::size_t>(kFirstSingleByte);
  const std::uint32_t* table = single_byte_utf8().packed[row];
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      i = copy_ascii(in, i, end, w);
      while (i < end && in[i] >= 0x80) {
        std::uint32_t v = table[in[i] - 0x80];
        if (v == 0) [[unlikely]] {
          w = sink.error(w, i);
        } else {
          // Store all three bytes (headroom allows it), advance by the length.
          w[0] = static_cast<char>(v);
          w[1] = static_cast<char>(v >> 8);
          w[2] = static_cast<char>(v >> 16);
          w += v >> 24;
        }
        ++i;
      }
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
    return kBigEndian ? (std::uint32_t{in[i]} << 8) | in[i + 1] : (std::uint32_t{in[i + 1]} << 8) | in[i];
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
