// str_keeping_utf8: UTF-8 to a str of its canonical width (PEP 393: one byte a
// character up to U+00FF, two up to U+FFFF, four beyond), where CPython's
// PyUnicode_DecodeUTF8 starts narrow, widens and copies when it meets a wider
// character, over-allocates and shrinks at the end, and checks every byte.
//
// Here: one vector pass counts the characters (the bytes that are not
// continuation bytes, 10xxxxxx) and finds the largest byte, which bounds the
// widest character (a lead below C4 is at most U+00FF, below F0 at most U+FFFF);
// the str is allocated once at its final size and width, and filled by a loop
// that copies ASCII 16 bytes at a time and, with SSSE3, decodes four three-byte
// sequences (CJK text) per step. Every sequence is still checked (no overlong
// forms, no surrogates, continuation bytes where they belong): at the first one
// that is not well-formed, the str is dropped and CPython's decoder runs instead,
// so invalid input raises the UnicodeDecodeError it always did. Each character
// written consumes one byte the count counted, so the loop never writes past the
// str, whatever the input.
#include "utf8_str.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <tmmintrin.h>
#endif

namespace corun::python {

namespace {

struct Shape {
  std::size_t characters;  // bytes that are not continuation bytes
  std::uint8_t max_byte;
};

bool is_continuation(std::uint8_t b) {
  return (b & 0xC0) == 0x80;
}

Shape shape_of(const std::uint8_t* in, std::size_t n) {
  std::size_t continuation = 0;
  std::uint8_t max_byte = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  __m128i vmax = _mm_setzero_si128();
  __m128i sums = _mm_setzero_si128();  // two 64-bit counts
  // As signed bytes, 0x80..0xBF are -128..-65: the continuation bytes are those below -64.
  const __m128i below = _mm_set1_epi8(-64);
  const __m128i one = _mm_set1_epi8(1);
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    vmax = _mm_max_epu8(vmax, v);
    // 1 per continuation byte, summed into the two 64-bit lanes (no popcnt in
    // the x86-64 baseline: std::popcount would be a call per block).
    __m128i ones = _mm_and_si128(_mm_cmplt_epi8(v, below), one);
    sums = _mm_add_epi64(sums, _mm_sad_epu8(ones, zero));
  }
  alignas(16) std::uint8_t lanes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), vmax);
  for (std::uint8_t b : lanes) max_byte = b > max_byte ? b : max_byte;
  alignas(16) std::uint64_t counts[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(counts), sums);
  continuation = static_cast<std::size_t>(counts[0] + counts[1]);
#endif
  for (; i < n; ++i) {
    continuation += is_continuation(in[i]) ? 1 : 0;
    max_byte = in[i] > max_byte ? in[i] : max_byte;
  }
  return {n - continuation, max_byte};
}

// Text whose largest byte is C2 or C3: U+0080..U+00FF and ASCII, one byte each.
bool to_latin1(const std::uint8_t* in, std::size_t n, Py_UCS1* out) {
  std::size_t o = 0;
  std::size_t i = 0;
  while (i < n) {
    std::uint8_t b = in[i];
    if (b < 0x80) {
      out[o++] = b;
      i += 1;
    } else if ((b == 0xC2 || b == 0xC3) && i + 1 < n && is_continuation(in[i + 1])) {
      out[o++] = static_cast<Py_UCS1>(((b & 0x1Fu) << 6) | (in[i + 1] & 0x3Fu));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

#if defined(__SSE2__)
char byte(unsigned v) {
  return static_cast<char>(v);
}

// Four three-byte sequences (U+0800..U+FFFF, no surrogates) at a time while the
// next 16 bytes start with four of them; advances i and o past what it wrote.
__attribute__((target("ssse3"))) void three_byte_runs(const std::uint8_t* in, std::size_t n,
                                                      std::size_t& i_io, Py_UCS2* out,
                                                      std::size_t& o_io) {
  const __m128i pattern_mask = _mm_setr_epi8(
      byte(0xF0), byte(0xC0), byte(0xC0), byte(0xF0), byte(0xC0), byte(0xC0), byte(0xF0),
      byte(0xC0), byte(0xC0), byte(0xF0), byte(0xC0), byte(0xC0), 0, 0, 0, 0);
  const __m128i pattern = _mm_setr_epi8(byte(0xE0), byte(0x80), byte(0x80), byte(0xE0), byte(0x80),
                                        byte(0x80), byte(0xE0), byte(0x80), byte(0x80), byte(0xE0),
                                        byte(0x80), byte(0x80), 0, 0, 0, 0);
  // Character k in 16-bit lane k: (lead << 8) | second byte, and the third byte.
  const __m128i lead_second =
      _mm_setr_epi8(1, 0, 4, 3, 7, 6, 10, 9, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i third = _mm_setr_epi8(2, -1, 5, -1, 8, -1, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i low4_of_lead = _mm_set1_epi16(0x0F00);
  const __m128i low6 = _mm_set1_epi16(0x003F);
  const __m128i top5 = _mm_set1_epi16(static_cast<short>(0xF800));
  const __m128i surrogates = _mm_set1_epi16(static_cast<short>(0xD800));
  const __m128i zero = _mm_setzero_si128();
  std::size_t i = i_io;
  std::size_t o = o_io;
  while (i + 16 <= n) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, pattern_mask), pattern)) != 0xFFFF) break;
    __m128i ls = _mm_shuffle_epi8(v, lead_second);
    __m128i t = _mm_shuffle_epi8(v, third);
    __m128i cp = _mm_or_si128(_mm_or_si128(_mm_slli_epi16(_mm_and_si128(ls, low4_of_lead), 4),
                                           _mm_slli_epi16(_mm_and_si128(ls, low6), 6)),
                              _mm_and_si128(t, low6));
    // Overlong (below U+0800: top five bits clear) or a surrogate (D800..DFFF):
    // left to the scalar step, which refuses it. Lanes 0..3 are bytes 0..7.
    __m128i top = _mm_and_si128(cp, top5);
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi16(top, zero), _mm_cmpeq_epi16(top, surrogates));
    if ((_mm_movemask_epi8(bad) & 0xFF) != 0) break;
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + o), cp);
    i += 12;
    o += 4;
  }
  i_io = i;
  o_io = o;
}

bool has_ssse3() {
  static const bool yes = __builtin_cpu_supports("ssse3");
  return yes;
}
#endif

// Text whose largest byte is C4..EF: characters up to U+FFFF, two bytes each.
bool to_bmp(const std::uint8_t* in, std::size_t n, Py_UCS2* out) {
  std::size_t o = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  const bool ssse3 = has_ssse3();
  const __m128i zero = _mm_setzero_si128();
#endif
  while (i < n) {
#if defined(__SSE2__)
    if (i + 16 <= n) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      auto high = static_cast<unsigned>(_mm_movemask_epi8(v));
      if (high == 0) {  // 16 ASCII characters
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + o), _mm_unpacklo_epi8(v, zero));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + o + 8), _mm_unpackhi_epi8(v, zero));
        i += 16;
        o += 16;
        continue;
      }
      if (ssse3 && (in[i] & 0xF0) == 0xE0) {
        std::size_t before = i;
        three_byte_runs(in, n, i, out, o);
        if (i != before) continue;
      }
      for (auto k = std::countr_zero(high); k > 0; --k) out[o++] = in[i++];
    }
#endif
    std::uint8_t b = in[i];
    if (b < 0x80) {
      out[o++] = b;
      i += 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      if (i + 1 >= n || !is_continuation(in[i + 1])) return false;
      out[o++] = static_cast<Py_UCS2>(((b & 0x1Fu) << 6) | (in[i + 1] & 0x3Fu));
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (i + 2 >= n || !is_continuation(in[i + 1]) || !is_continuation(in[i + 2])) return false;
      std::uint32_t cp = ((b & 0x0Fu) << 12) | ((in[i + 1] & 0x3Fu) << 6) | (in[i + 2] & 0x3Fu);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      out[o++] = static_cast<Py_UCS2>(cp);
      i += 3;
    } else {
      return false;
    }
  }
  return true;
}

// CPython 3.11 to 3.13 (with the GIL): a compact non-ASCII str has its own
// utf8/utf8_length fields (an ASCII one's data is its UTF-8 already), filled on
// demand with memory from PyObject_Malloc and freed by the str's dealloc with
// PyObject_Free. A str only this code holds (a new one, not a cached single
// character) with no UTF-8 yet gets a copy of the bytes it came from.
void keep_utf8([[maybe_unused]] PyObject* s, [[maybe_unused]] std::string_view utf8) {
#if !defined(Py_LIMITED_API) && !defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030B0000 && \
    PY_VERSION_HEX < 0x030E0000
  if (PyUnicode_IS_COMPACT(s) && !PyUnicode_IS_ASCII(s) && Py_REFCNT(s) == 1) {
    auto* compact = reinterpret_cast<PyCompactUnicodeObject*>(s);
    if (compact->utf8 == nullptr) {
      auto* copy = static_cast<char*>(PyObject_Malloc(utf8.size() + 1));
      if (copy != nullptr) {  // no memory: the str is fine without its cache
        std::memcpy(copy, utf8.data(), utf8.size());
        copy[utf8.size()] = '\0';
        compact->utf8 = copy;
        compact->utf8_length = static_cast<Py_ssize_t>(utf8.size());
      }
    }
  }
#endif
}

// The str of the Latin-1-range or BMP text in[0..n), or null (no exception set)
// when it is not such text or not well-formed.
PyObject* narrow_str(const std::uint8_t* in, std::size_t n) {
  Shape shape = shape_of(in, n);
  if (shape.max_byte < 0x80 || shape.max_byte >= 0xF0) return nullptr;
  bool latin1 = shape.max_byte < 0xC4;
  // Well-formed, such text has a character of at least U+0080 (Latin-1) or U+0100
  // (a lead of C4 or more): the width asked for is the canonical one.
  PyObject* s = PyUnicode_New(static_cast<Py_ssize_t>(shape.characters), latin1 ? 0xFF : 0xFFFF);
  if (s == nullptr) throw py::error_already_set();
  bool ok =
      latin1 ? to_latin1(in, n, PyUnicode_1BYTE_DATA(s)) : to_bmp(in, n, PyUnicode_2BYTE_DATA(s));
  if (!ok) {
    Py_DECREF(s);
    return nullptr;
  }
  return s;
}

}  // namespace

py::str str_keeping_utf8(std::string_view utf8) {
  PyObject* s = narrow_str(reinterpret_cast<const std::uint8_t*>(utf8.data()), utf8.size());
  if (s == nullptr) {
    s = PyUnicode_DecodeUTF8(utf8.data(), static_cast<Py_ssize_t>(utf8.size()), "strict");
    if (s == nullptr) throw py::error_already_set();
  }
  keep_utf8(s, utf8);
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace corun::python
