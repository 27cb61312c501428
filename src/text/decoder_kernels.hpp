// Internal to corun::text: the machinery every decoder shares.
//
// Each WHATWG decoder is written as a "kernel" over a byte buffer instead of the
// standard's one-byte-at-a-time handler. The standard's handlers never look back
// and only "restore" (prepend back) bytes they have just read, so every step of
// a decoder is equivalent to: at position i, look at the next few bytes, emit
// zero, one or two code points (or one error), and advance by the number of bytes
// the standard's handler really consumed (bytes it restores are not consumed).
// A kernel stops early only when the sequence at i is incomplete and more input
// may come (last == false); it never needs more than kMaxSequence bytes to decide,
// so a streaming Decoder only carries fewer than kMaxSequence bytes between
// chunks (plus ISO-2022-JP's mode), and one-shot decode() is the same code path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "corun/text/decode.hpp"

namespace corun::text::detail {

// Longest byte sequence any decoder needs to see before deciding (gb18030's
// four-byte sequences, UTF-8, a UTF-16 surrogate pair; ISO-2022-JP escapes are 3).
inline constexpr std::size_t kMaxSequence = 4;
// Every decoder writes at most this many UTF-8 bytes per input byte it consumes
// (one U+FFFD per byte in the worst case).
inline constexpr std::size_t kMaxExpansion = 3;
// Input is processed in blocks so the output headroom reserved per block is small.
inline constexpr std::size_t kBlock = 16384;
// Extra headroom per block: lookahead of a sequence straddling the block end,
// and the 16-byte unconditional stores of the ASCII fast path.
inline constexpr std::size_t kSlack = 64;

// Appends to a std::string through a raw cursor into a per-thread scratch
// buffer. ensure() makes room (flushing what the scratch holds into the string:
// one memcpy of the real output, where growing the string itself would
// zero-fill the worst case, 3x the input, first); commit() records the cursor;
// the destructor drops what was written after the last commit, also when a
// strict-mode error unwinds.
class Output {
 public:
  explicit Output(std::string& s) : s_(s), committed_size_(s.size()) {}
  ~Output() {
    if (s_.size() > committed_size_) s_.resize(committed_size_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  char* cursor() {
    flushed_ = scratch().data;
    return flushed_;
  }
  // Returns a cursor (at the same logical position as w) with at least need
  // writable bytes after it.
  char* ensure(char* w, std::size_t need) {
    Scratch& sc = scratch();
    if (static_cast<std::size_t>(sc.data + sc.size - w) >= need) return w;
    s_.append(flushed_, static_cast<std::size_t>(w - flushed_));
    sc.reserve(need);
    flushed_ = sc.data;
    return flushed_;
  }
  void commit(char* w) {
    s_.append(flushed_, static_cast<std::size_t>(w - flushed_));
    flushed_ = w;
    committed_size_ = s_.size();
  }

 private:
  struct Scratch {
    char* data = nullptr;
    std::size_t size = 0;
    ~Scratch() { delete[] data; }
    void reserve(std::size_t n) {
      if (n <= size) return;
      delete[] data;
      data = new char[n];  // default-initialised: no zero fill
      size = n;
    }
  };
  static Scratch& scratch() {
    static thread_local Scratch sc;
    if (!sc.data) sc.reserve(kMaxExpansion * kBlock + kSlack);
    return sc;
  }

  std::string& s_;
  std::size_t committed_size_;
  char* flushed_ = nullptr;
};

// ISO-2022-JP's persistent state: the standard's "output state" (the decoder
// state between sequences always equals it) and "output flag".
enum class JpMode : std::uint8_t { ascii, roman, katakana, lead_byte };
struct Iso2022JpState {
  JpMode mode = JpMode::ascii;
  bool output_flag = false;
};

// Everything a kernel needs besides its input.
struct Sink {
  Output& out;
  Encoding encoding;
  Errors errors;
  std::size_t base;  // absolute offset of the kernel's in[0]
  bool last;         // no input follows this buffer
  Iso2022JpState* jp;
  bool* replacement_done;

  // The standard's "error": U+FFFD in replacement mode; in strict (fatal) mode a
  // DecodeError at the absolute offset of the sequence's first byte.
  char* error(char* w, std::size_t i) {
    if (errors == Errors::strict) [[unlikely]] {
      fail(w, i);
    }
    w[0] = static_cast<char>(0xEF);
    w[1] = static_cast<char>(0xBF);
    w[2] = static_cast<char>(0xBD);
    return w + 3;
  }
  [[noreturn]] void fail(char* w, std::size_t i);
};

inline char* put_code_point(char* w, std::uint32_t cp) {
  if (cp < 0x80) {
    *w = static_cast<char>(cp);
    return w + 1;
  }
  if (cp < 0x800) {
    w[0] = static_cast<char>(0xC0 | (cp >> 6));
    w[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return w + 2;
  }
  if (cp < 0x10000) {
    w[0] = static_cast<char>(0xE0 | (cp >> 12));
    w[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    w[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return w + 3;
  }
  w[0] = static_cast<char>(0xF0 | (cp >> 18));
  w[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  w[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  w[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return w + 4;
}

// A code point below U+10000 as a packed table entry (see put_packed): its UTF-8
// bytes, first in the low byte, and their count in the top byte.
inline std::uint32_t pack_code_point(std::uint32_t cp) {
  char buf[4] = {};
  auto len = static_cast<std::uint32_t>(put_code_point(buf, cp) - buf);
  std::uint32_t v = len << 24;
  // At most 3 bytes; the fixed bound says so to GCC 12 too (its -Warray-bounds,
  // in an optimized sanitizer build, cannot see that len <= 3).
  for (std::uint32_t k = 0; k < 3; ++k) {
    if (k < len) v |= std::uint32_t{static_cast<unsigned char>(buf[k])} << (8 * k);
  }
  return v;
}

// Copies the ASCII bytes at in[i..end) to w, stopping at the first non-ASCII
// byte; returns the new i. May write up to 16 bytes past the copied ones
// (scratch within the block's headroom).
inline std::size_t copy_ascii(const std::uint8_t* in, std::size_t i, std::size_t end, char*& w) {
#if defined(__SSE2__)
  while (i + 16 <= end) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(v));
    if (mask != 0) {
      unsigned k = static_cast<unsigned>(__builtin_ctz(mask));
      w += k;
      return i + k;
    }
    i += 16;
    w += 16;
  }
#else
  while (i + 8 <= end) {
    std::uint64_t v;
    std::memcpy(&v, in + i, 8);
    std::memcpy(w, &v, 8);
    std::uint64_t high = v & 0x8080808080808080ULL;
    if (high != 0) {
      // Little- and big-endian agnostic: find the first byte with its top bit set.
      std::size_t k = 0;
      while (in[i + k] < 0x80) ++k;
      w += k;
      return i + k;
    }
    i += 8;
    w += 8;
  }
#endif
  while (i < end && in[i] < 0x80) {
    *w++ = static_cast<char>(in[i++]);
  }
  return i;
}

// Ready-made UTF-8 for the common case of double-byte encodings: every
// (lead, trail) pair that decodes to one code point of at most three UTF-8 bytes,
// indexed by (lead - first_lead) * 256 + trail. An entry holds the bytes (first
// in the low byte) and the length in the top byte; 0 sends the pair to the
// decoder's general path (errors, other lengths, longer sequences).
struct PairTable {
  std::uint32_t first_lead;
  std::uint32_t rows;
  std::uint32_t packed[128 * 256];
};

// Fills table from code_point(lead, trail) (0: not a one-code-point pair).
template <typename CodePoint>
void build_pair_table(PairTable& table, std::uint32_t first_lead, std::uint32_t last_lead,
                      CodePoint code_point) {
  table.first_lead = first_lead;
  table.rows = last_lead - first_lead + 1;
  for (std::uint32_t lead = first_lead; lead <= last_lead; ++lead) {
    for (std::uint32_t trail = 0; trail < 256; ++trail) {
      std::uint32_t cp = code_point(lead, trail);
      std::uint32_t v = 0;
      if (cp != 0 && cp < 0x10000) {
        v = pack_code_point(cp);
      }
      table.packed[(lead - first_lead) * 256 + trail] = v;
    }
  }
}

// Writes a packed table entry (UTF-8 bytes, first in the low byte; length in the
// top byte) and returns the cursor past the bytes. Writes 4 bytes: the caller's
// headroom covers the extra one, which the next write overwrites.
inline char* put_packed(char* w, std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(w, &v, 4);
  } else {
    w[0] = static_cast<char>(v);
    w[1] = static_cast<char>(v >> 8);
    w[2] = static_cast<char>(v >> 16);
  }
  return w + (v >> 24);
}

// Decodes the run of table pairs at in[i..): stops at the block end, at a byte
// that is not a table lead, or at a pair with no entry. The cursor, the index
// and the table's bounds are locals: the output's char stores may alias any
// memory, so through references or the table they would be reloaded per pair.
inline void decode_pairs(const PairTable& table, const std::uint8_t* in, std::size_t& i_io,
                         std::size_t n, std::size_t end, char*& w_io) {
  const std::uint32_t first = table.first_lead;
  const std::uint32_t rows = table.rows;
  const std::uint32_t* packed = table.packed;
  // A pair starts before the block's end and has its trail byte in the input.
  // n >= 1: the caller is at a byte of the input (i < n), so n - 1 cannot wrap.
  const std::size_t stop = end < n - 1 ? end : n - 1;
  std::size_t i = i_io;
  char* w = w_io;
  while (i < stop) {
    std::uint32_t row = in[i] - first;
    if (row >= rows) break;
    std::uint32_t v = packed[row * 256 + in[i + 1]];
    if (v == 0) break;
    w = put_packed(w, v);
    i += 2;
  }
  i_io = i;
  w_io = w;
}

// What a multi-byte step returns when the sequence at i is cut by the end of input.
inline constexpr std::size_t kIncomplete = static_cast<std::size_t>(-1);

// The loop the table-driven multi-byte decoders share: output reserved a block at a
// time, ASCII runs copied, two-byte runs through the pair table, and every other
// byte (>= 0x80) handed to step(i, w), which writes through w and returns the index
// after what it consumed, or kIncomplete. An incomplete sequence at the end waits
// for the next chunk (streaming) or, in the last chunk, is one error.
template <class Step>
std::size_t decode_multi_byte(const PairTable& pairs, const std::uint8_t* in, std::size_t n,
                              Sink& sink, Step step) {
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      if (in[i] < 0x80) {
        i = copy_ascii(in, i, end, w);
        continue;
      }
      decode_pairs(pairs, in, i, n, end, w);
      if (i >= end || in[i] < 0x80) continue;
      std::size_t next = step(i, w);
      if (next != kIncomplete) {
        i = next;
        continue;
      }
      if (!sink.last) {
        out.commit(w);
        return i;
      }
      w = sink.error(w, i);
      i = n;
    }
  }
  out.commit(w);
  return i;
}

// Length of the longest prefix of in[0..n) made of complete, well-formed UTF-8
// sequences (utf8.cpp), with the fastest implementation this CPU has.
std::size_t utf8_valid_prefix(const std::uint8_t* in, std::size_t n) noexcept;
// The implementations, selectable so tests can check each one (an unsupported
// choice must not be used on a CPU without it).
enum class Utf8Validator : std::uint8_t { scalar, ssse3, avx2 };
Utf8Validator best_utf8_validator() noexcept;
std::size_t utf8_valid_prefix_using(Utf8Validator how, const std::uint8_t* in,
                                    std::size_t n) noexcept;
// The vector part alone: a prefix it proved well-formed, ending on a sequence
// boundary (0 for scalar). On well-formed text it stops less than 64 bytes from
// the end: anything earlier would be a false alarm costing speed.
std::size_t utf8_vector_prefix(Utf8Validator how, const std::uint8_t* in, std::size_t n) noexcept;

// Kernels: decode in[0..n) into sink.out; return the number of bytes consumed
// (n unless the tail is an incomplete sequence and !sink.last).
using Kernel = std::size_t (*)(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_utf8(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_utf16be(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_utf16le(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_single_byte(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_x_user_defined(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_replacement(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_gb18030(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_big5(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_euc_jp(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_iso_2022_jp(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_shift_jis(const std::uint8_t* in, std::size_t n, Sink& sink);
std::size_t decode_euc_kr(const std::uint8_t* in, std::size_t n, Sink& sink);

}  // namespace corun::text::detail
