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

inline bool is_continuation(std::uint8_t c) { return (c & 0xC0) == 0x80; }

}  // namespace

std::size_t utf8_valid_prefix(const std::uint8_t* in, std::size_t n) noexcept {
  std::size_t i = 0;
  while (i < n) {
    std::uint8_t b = in[i];
    if (b < 0x80) {
#if defined(__SSE2__)
      while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(v));
        if (mask != 0) {
          i += static_cast<unsigned>(__builtin_ctz(mask));
          break;
        }
        i += 16;
      }
#endif
      while (i < n && in[i] < 0x80) ++i;
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
  return detail::utf8_valid_prefix(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()) ==
         bytes.size();
}

std::string with_bom(std::string_view utf8) {
  std::string s;
  s.reserve(utf8_bom.size() + utf8.size());
  s.append(utf8_bom);
  s.append(utf8);
  return s;
}

}  // namespace corun::text
