// UTF-8: validation (the fast path of sniffing and decoding), the UTF-8 decoder
// with the standard's maximal-subpart error handling, and utf-8-sig output.
#include "corun/text/utf8.hpp"

#include <array>

#include "decoder_kernels.hpp"

namespace corun::text {

namespace detail {

namespace {

// Per lead byte: sequence length (0: never a lead) and the allowed range of the
// second byte, per the standard's UTF-8 decoder (E0: A0..BF, ED: 80..9F,
// F0: 90..BF, F4: 80..8F, other leads 80..BF). This excludes overlongs,
// surrogates and code points above U+10FFFF.
struct LeadInfo {
  std::uint8_t length;
  std::uint8_t lower;
  std::uint8_t upper;
};

constexpr std::array<LeadInfo, 256> make_lead_table() {
  std::array<LeadInfo, 256> t{};
  for (int b = 0; b < 256; ++b) {
    LeadInfo info{0, 0x80, 0xBF};
    if (b < 0x80) {
      info.length = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      info.length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      info.length = 3;
      if (b == 0xE0) info.lower = 0xA0;
      if (b == 0xED) info.upper = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      info.length = 4;
      if (b == 0xF0) info.lower = 0x90;
      if (b == 0xF4) info.upper = 0x8F;
    }
    t[static_cast<std::size_t>(b)] = info;
  }
  return t;
}

constexpr std::array<LeadInfo, 256> kLead = make_lead_table();

inline bool is_continuation(std::uint8_t c) {
  return (c & 0xC0) == 0x80;
}

// Exact scalar walk: the offset of the first sequence that is ill-formed or cut
// by the end of input.
std::size_t exact_valid_prefix(const std::uint8_t* in, std::size_t n) noexcept {
  std::size_t i = 0;
  while (i < n) {
    std::uint8_t b = in[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    const LeadInfo& lead = kLead[b];
    if (lead.length == 0 || i + lead.length > n) return i;
    std::uint8_t c1 = in[i + 1];
    if (c1 < lead.lower || c1 > lead.upper) return i;
    if (lead.length >= 3) {
      if (!is_continuation(in[i + 2])) return i;
      if (lead.length == 4 && !is_continuation(in[i + 3])) return i;
    }
    i += lead.length;
  }
  return n;
}

// The same well-formedness as a shift-based DFA: a state is a bit offset, and
// kDfa[byte] holds, at each state's offset, the 6-bit offset of the next state.
// One shift per byte with no branch, so non-ASCII text runs at about a byte per
// cycle. The transitions are the standard's UTF-8 decoder's byte ranges.
enum DfaState : unsigned {
  kAccept = 0,
  kReject = 6,
  kNeed1 = 12,    // one continuation 80..BF left
  kNeed2 = 18,    // two left
  kNeed3 = 24,    // three left
  kAfterE0 = 30,  // A0..BF, then one
  kAfterED = 36,  // 80..9F, then one
  kAfterF0 = 42,  // 90..BF, then two
  kAfterF4 = 48,  // 80..8F, then two
};

constexpr std::array<std::uint64_t, 256> make_dfa() {
  std::array<std::uint64_t, 256> rows{};
  for (unsigned b = 0; b < 256; ++b) {
    auto next = [b](unsigned state) -> unsigned {
      bool cont = b >= 0x80 && b <= 0xBF;
      switch (state) {
        case kAccept:
          if (b < 0x80) return kAccept;
          if (b >= 0xC2 && b <= 0xDF) return kNeed1;
          if (b == 0xE0) return kAfterE0;
          if (b == 0xED) return kAfterED;
          if (b >= 0xE1 && b <= 0xEF) return kNeed2;
          if (b == 0xF0) return kAfterF0;
          if (b >= 0xF1 && b <= 0xF3) return kNeed3;
          if (b == 0xF4) return kAfterF4;
          return kReject;
        case kNeed1:
          return cont ? kAccept : kReject;
        case kNeed2:
          return cont ? kNeed1 : kReject;
        case kNeed3:
          return cont ? kNeed2 : kReject;
        case kAfterE0:
          return b >= 0xA0 && b <= 0xBF ? kNeed1 : kReject;
        case kAfterED:
          return b >= 0x80 && b <= 0x9F ? kNeed1 : kReject;
        case kAfterF0:
          return b >= 0x90 && b <= 0xBF ? kNeed2 : kReject;
        case kAfterF4:
          return b >= 0x80 && b <= 0x8F ? kNeed2 : kReject;
        default:
          return kReject;
      }
    };
    std::uint64_t row = 0;
    for (unsigned state :
         {kAccept, kReject, kNeed1, kNeed2, kNeed3, kAfterE0, kAfterED, kAfterF0, kAfterF4}) {
      row |= std::uint64_t{next(state)} << state;
    }
    rows[b] = row;
  }
  return rows;
}

constexpr std::array<std::uint64_t, 256> kDfa = make_dfa();

inline std::uint64_t step(std::uint64_t state, std::uint8_t b) {
  return kDfa[b] >> (state & 63);
}

}  // namespace

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define CORUN_TEXT_HAVE_X86_PATHS 1
#include <immintrin.h>

// Well-formedness checked 16 or 32 bytes at a time with byte shuffles, after
// Keiser and Lemire, "Validating UTF-8 in less than one instruction per byte"
// (2021): every ill-formed pair of adjacent bytes is caught by three 16-entry
// nibble lookups (high and low nibble of the previous byte, high nibble of this
// one), each giving the set of errors that nibble allows; their AND is non-zero
// exactly for a bad pair. Continuations required by a three- or four-byte lead
// two or three bytes back are checked apart. The functions return the length of
// a prefix that is certainly valid and ends on a sequence boundary; the exact
// scan finishes from there (after an error, or for the tail).

// Error bits of a byte pair (previous byte, this byte).
constexpr std::uint8_t kTooShort = 1 << 0;      // lead, then not a continuation
constexpr std::uint8_t kTooLong = 1 << 1;       // ASCII, then a continuation
constexpr std::uint8_t kOverlong3 = 1 << 2;     // E0, then 80..9F
constexpr std::uint8_t kTooLarge = 1 << 3;      // F4 or F5..FF, then 90..BF
constexpr std::uint8_t kSurrogate = 1 << 4;     // ED, then A0..BF
constexpr std::uint8_t kOverlong2 = 1 << 5;     // C0 or C1, then a continuation
constexpr std::uint8_t kTooLarge1000 = 1 << 6;  // F5..FF, then 80..8F
constexpr std::uint8_t kOverlong4 = 1 << 6;     // F0, then 80..8F
constexpr std::uint8_t kTwoConts = 1 << 7;      // continuation, continuation
constexpr std::uint8_t kCarry = kTooShort | kTooLong | kTwoConts;

// clang-format off
// By high nibble of the previous byte.
alignas(16) constexpr std::uint8_t kByte1High[16] = {
    kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,  // ASCII
    kTwoConts, kTwoConts, kTwoConts, kTwoConts,                                      // continuations
    kTooShort | kOverlong2,                                                          // C_
    kTooShort,                                                                       // D_
    kTooShort | kOverlong3 | kSurrogate,                                             // E_
    kTooShort | kTooLarge | kTooLarge1000 | kOverlong4,                              // F_
};
// By low nibble of the previous byte.
alignas(16) constexpr std::uint8_t kByte1Low[16] = {
    kCarry | kOverlong3 | kOverlong2 | kOverlong4,  // _0: C0 E0 F0
    kCarry | kOverlong2,                            // _1: C1
    kCarry,
    kCarry,
    kCarry | kTooLarge,  // _4: F4
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000 | kSurrogate,  // _D: ED
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
};
// By high nibble of this byte.
alignas(16) constexpr std::uint8_t kByte2High[16] = {
    kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4,  // 8_
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge,                   // 9_
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,                   // A_
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,                   // B_
    kTooShort, kTooShort, kTooShort, kTooShort,
};
// A lead in the last three bytes whose sequence does not fit: >= F0 third from
// last, >= E0 second from last, >= C0 last. (Saturating subtraction of these.)
alignas(32) constexpr std::uint8_t kIncompleteMax[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0xDF, 0xBF,
};
// clang-format on

// Everything before the sequence holding byte i - 1 is well-formed when every
// pair before i passed: back up over at most three continuation bytes.
std::size_t back_to_boundary(const std::uint8_t* in, std::size_t i) {
  if (i == 0) return 0;
  std::size_t p = i - 1;
  for (int back = 0; back < 3 && p > 0 && (in[p] & 0xC0) == 0x80; ++back) --p;
  return p;
}

__attribute__((target("ssse3"))) std::size_t ssse3_valid_prefix(const std::uint8_t* in,
                                                                std::size_t n) {
  const __m128i byte1_high = _mm_load_si128(reinterpret_cast<const __m128i*>(kByte1High));
  const __m128i byte1_low = _mm_load_si128(reinterpret_cast<const __m128i*>(kByte1Low));
  const __m128i byte2_high = _mm_load_si128(reinterpret_cast<const __m128i*>(kByte2High));
  const __m128i incomplete_max =
      _mm_load_si128(reinterpret_cast<const __m128i*>(kIncompleteMax + 16));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  // Saturating subtractions that leave the top bit set for >= E0 and >= F0.
  const __m128i third_threshold = _mm_set1_epi8(static_cast<char>(0xE0 - 0x80));
  const __m128i fourth_threshold = _mm_set1_epi8(static_cast<char>(0xF0 - 0x80));
  const __m128i high_bit = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i zero = _mm_setzero_si128();

  constexpr std::size_t kChunk = 64;
  __m128i prev = zero;
  std::size_t i = 0;
  while (i + kChunk <= n) {
    const auto* chunk = reinterpret_cast<const __m128i*>(in + i);
    __m128i c[4] = {_mm_loadu_si128(chunk), _mm_loadu_si128(chunk + 1), _mm_loadu_si128(chunk + 2),
                    _mm_loadu_si128(chunk + 3)};
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(c[0], c[1]), _mm_or_si128(c[2], c[3]))) == 0) {
      // All ASCII: only a sequence left open by the previous chunk can be wrong.
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(prev, incomplete_max), zero)) != 0xFFFF)
        break;
      prev = c[3];
      i += kChunk;
      continue;
    }
    __m128i error = zero;
    for (const __m128i& cur : c) {
      __m128i prev1 = _mm_alignr_epi8(cur, prev, 15);
      __m128i prev2 = _mm_alignr_epi8(cur, prev, 14);
      __m128i prev3 = _mm_alignr_epi8(cur, prev, 13);
      __m128i b1h = _mm_shuffle_epi8(byte1_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble));
      __m128i b1l = _mm_shuffle_epi8(byte1_low, _mm_and_si128(prev1, nibble));
      __m128i b2h = _mm_shuffle_epi8(byte2_high, _mm_and_si128(_mm_srli_epi16(cur, 4), nibble));
      __m128i special = _mm_and_si128(_mm_and_si128(b1h, b1l), b2h);
      __m128i must23 = _mm_or_si128(_mm_subs_epu8(prev2, third_threshold),
                                    _mm_subs_epu8(prev3, fourth_threshold));
      error = _mm_or_si128(error, _mm_xor_si128(_mm_and_si128(must23, high_bit), special));
      prev = cur;
    }
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(error, zero)) != 0xFFFF) break;
    i += kChunk;
  }
  return back_to_boundary(in, i);
}

// The same with 32-byte vectors. Byte shifts across the two 128-bit halves take
// a lane permute first (alignr works within each half).
__attribute__((target("avx2"))) std::size_t avx2_valid_prefix(const std::uint8_t* in,
                                                              std::size_t n) {
  const __m256i byte1_high =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kByte1High)));
  const __m256i byte1_low =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kByte1Low)));
  const __m256i byte2_high =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kByte2High)));
  const __m256i incomplete_max =
      _mm256_load_si256(reinterpret_cast<const __m256i*>(kIncompleteMax));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i third_threshold = _mm256_set1_epi8(static_cast<char>(0xE0 - 0x80));
  const __m256i fourth_threshold = _mm256_set1_epi8(static_cast<char>(0xF0 - 0x80));
  const __m256i high_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i zero = _mm256_setzero_si256();

  constexpr std::size_t kChunk = 64;
  __m256i prev = zero;
  std::size_t i = 0;
  while (i + kChunk <= n) {
    const auto* chunk = reinterpret_cast<const __m256i*>(in + i);
    __m256i c[2] = {_mm256_loadu_si256(chunk), _mm256_loadu_si256(chunk + 1)};
    if (_mm256_movemask_epi8(_mm256_or_si256(c[0], c[1])) == 0) {
      __m256i open = _mm256_subs_epu8(prev, incomplete_max);
      if (!_mm256_testz_si256(open, open)) break;
      prev = c[1];
      i += kChunk;
      continue;
    }
    __m256i error = zero;
    for (const __m256i& cur : c) {
      __m256i joined =
          _mm256_permute2x128_si256(prev, cur, 0x21);  // prev's high half, cur's low half
      __m256i prev1 = _mm256_alignr_epi8(cur, joined, 15);
      __m256i prev2 = _mm256_alignr_epi8(cur, joined, 14);
      __m256i prev3 = _mm256_alignr_epi8(cur, joined, 13);
      __m256i b1h =
          _mm256_shuffle_epi8(byte1_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
      __m256i b1l = _mm256_shuffle_epi8(byte1_low, _mm256_and_si256(prev1, nibble));
      __m256i b2h =
          _mm256_shuffle_epi8(byte2_high, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nibble));
      __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
      __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, third_threshold),
                                       _mm256_subs_epu8(prev3, fourth_threshold));
      error = _mm256_or_si256(error, _mm256_xor_si256(_mm256_and_si256(must23, high_bit), special));
      prev = cur;
    }
    if (!_mm256_testz_si256(error, error)) break;
    i += kChunk;
  }
  return back_to_boundary(in, i);
}
#endif

// Runs the DFA from i (a sequence boundary) over len bytes and on to the end of
// the sequence in progress; true when that ends in the accepting state.
inline bool dfa_run(const std::uint8_t* in, std::size_t& i, std::size_t len, std::size_t n) {
  std::uint64_t s = kAccept;
  std::size_t end = i + len;
  for (; i < end; ++i) s = step(s, in[i]);
  while ((s & 63) > kReject && i < n) s = step(s, in[i++]);
  return (s & 63) == kAccept;
}

inline bool all_ascii16(const std::uint8_t* p) {
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

Utf8Validator best_utf8_validator() noexcept {
#if defined(CORUN_TEXT_HAVE_X86_PATHS)
  static const Utf8Validator best = __builtin_cpu_supports("avx2")    ? Utf8Validator::avx2
                                    : __builtin_cpu_supports("ssse3") ? Utf8Validator::ssse3
                                                                      : Utf8Validator::scalar;
  return best;
#else
  return Utf8Validator::scalar;
#endif
}

std::size_t utf8_valid_prefix(const std::uint8_t* in, std::size_t n) noexcept {
  return utf8_valid_prefix_using(best_utf8_validator(), in, n);
}

std::size_t utf8_vector_prefix(Utf8Validator how, const std::uint8_t* in, std::size_t n) noexcept {
#if defined(CORUN_TEXT_HAVE_X86_PATHS)
  if (how == Utf8Validator::avx2) return avx2_valid_prefix(in, n);
  if (how == Utf8Validator::ssse3) return ssse3_valid_prefix(in, n);
#else
  (void)how;
  (void)in;
  (void)n;
#endif
  return 0;
}

std::size_t utf8_valid_prefix_using(Utf8Validator how, const std::uint8_t* in,
                                    std::size_t n) noexcept {
  std::size_t i = n >= 64 ? utf8_vector_prefix(how, in, n) : 0;
  // The rest (a tail under 64 bytes, or the chunk where the vector check found an
  // error): 16-byte blocks, all-ASCII ones skipped, others through the DFA, each
  // finishing its last sequence so blocks start on boundaries; a failing block
  // is rescanned exactly from its start.
  while (i + 16 <= n) {
    if (all_ascii16(in + i)) {
      i += 16;
      continue;
    }
    std::size_t block = i;
    if (!dfa_run(in, i, 16, n)) return block + exact_valid_prefix(in + block, n - block);
  }
  return i + exact_valid_prefix(in + i, n - i);
}

std::size_t decode_utf8(const std::uint8_t* in, std::size_t n, Sink& sink) {
  Output& out = sink.out;
  char* w = out.cursor();
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = n - i > kBlock ? i + kBlock : n;
    w = out.ensure(w, kMaxExpansion * (end - i) + kSlack);
    while (i < end) {
      std::size_t valid = utf8_valid_prefix(in + i, end - i);
      std::memcpy(w, in + i, valid);
      w += valid;
      i += valid;
      if (i >= end) break;
      // in[i] starts an ill-formed sequence, or one cut by the block end. Walk it
      // as the standard does: each byte in range continues it; the first byte out
      // of range ends it with one error and is processed again on its own (so one
      // U+FFFD per maximal subpart); end of input inside it is one error.
      std::uint8_t b = in[i];
      const LeadInfo& lead = kLead[b];
      if (lead.length == 0) {
        w = sink.error(w, i);
        ++i;
        continue;
      }
      std::size_t k = 1;
      for (; k < lead.length; ++k) {
        if (i + k >= n) break;
        std::uint8_t c = in[i + k];
        std::uint8_t lower = k == 1 ? lead.lower : 0x80;
        std::uint8_t upper = k == 1 ? lead.upper : 0xBF;
        if (c < lower || c > upper) break;
      }
      if (k == lead.length) {
        std::memcpy(w, in + i, k);
        w += k;
        i += k;
      } else if (i + k >= n) {
        if (!sink.last) {
          out.commit(w);
          return i;
        }
        w = sink.error(w, i);
        i = n;
      } else {
        w = sink.error(w, i);
        i += k;
      }
    }
  }
  out.commit(w);
  return i;
}

}  // namespace detail

bool is_valid_utf8(std::string_view bytes) noexcept {
  return detail::utf8_valid_prefix(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                   bytes.size()) == bytes.size();
}

std::string with_bom(std::string_view utf8) {
  std::string s;
  s.reserve(utf8_bom.size() + utf8.size());
  s.append(utf8_bom);
  s.append(utf8);
  return s;
}

}  // namespace corun::text
