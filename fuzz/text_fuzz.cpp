// libFuzzer target over corun::text: sniff + decode for every encoding.
//
// Input layout (so real pages make meaningful seeds, see run.sh):
//   byte 0      encoding (index into corun::text::Encoding, modulo their number)
//   byte 1      seed of the chunking used for the streaming decoder
//   byte 2      length L (modulo 64) of a Content-Type value, then L bytes of it
//   the rest    the document
// Properties checked (a violation aborts, so libFuzzer reports it):
//   - sniff(), prescan_meta(), charset_from_content_type() never crash; an unknown
//     override label throws LookupError and nothing else;
//   - decode() output is valid UTF-8, for the chosen and for the sniffed encoding;
//   - streaming with any chunking (empty chunks included) equals one-shot decoding, in
//     both error modes;
//   - streaming timing: after every feed the output is exactly what the reference decoder
//     (below) has emitted once it has read those bytes, so only a sequence still in
//     progress is held back; strict mode throws from the feed that gave the byte making
//     the input invalid (finish() only for an incomplete sequence at the end); for
//     single-byte encodings each feed emits its own chunk's decoding;
//   - strict mode either returns exactly the replace-mode text or throws DecodeError
//     with offset < input size, and then replace-mode text holds a U+FFFD;
//   - valid UTF-8 decodes as UTF-8 to itself (minus a BOM);
//   - UTF-8, UTF-16LE/BE, x-user-defined and replacement equal reference decoders
//     written from the standard's byte-at-a-time algorithms, and is_valid_utf8 agrees
//     with the reference UTF-8 decoder;
//   - gb18030/GBK, Big5, EUC-KR, Shift_JIS and EUC-JP equal the standard's control flow
//     with index lookups done by decoding each isolated sequence (hot loops vs algorithm),
//     and ISO-2022-JP equals the standard's state machine the same way.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corun/text.hpp"

namespace {

using corun::text::DecodeError;
using corun::text::Decoder;
using corun::text::Encoding;
using corun::text::Errors;

constexpr int kEncodings = static_cast<int>(Encoding::x_user_defined) + 1;

[[noreturn]] void fail(const char* what, Encoding e) {
  std::fprintf(stderr, "text_fuzz: %s (encoding %s)\n", what,
               std::string(corun::text::name(e)).c_str());
  std::abort();
}

// Chunk sizes from a tiny PRNG: mostly 1..16 bytes, sometimes empty, sometimes large.
class Chunker {
 public:
  explicit Chunker(std::uint8_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    const std::uint64_t r = state_ % 100;
    if (r < 10) return 0;
    if (r < 90) return 1 + state_ / 100 % 16;
    return 1 + state_ / 100 % 4096;
  }

 private:
  std::uint64_t state_;
};

// ------------------------------------------------------------------------------------
// Reference decoders written straight from the Encoding Standard's byte-at-a-time
// algorithms (no tables needed), against which the optimised kernels are compared.

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr std::uint32_t kReplacement = 0xFFFD;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// When a reference decoder emits what, for the streaming timing rule: marks[p] is the
// output size when the decoder first needs byte p (bytes [0, p) read; p == size: the
// end of input), first_error the newest byte read when the first error came (size: the
// end). A Decoder fed [0, p) must have emitted exactly marks[p] bytes (what the
// standard's decoder, and TextDecoder's stream mode, emit by then), and in strict mode
// throw from the feed that gave byte first_error, or from finish() for the end.
struct Timeline {
  std::vector<std::size_t> marks;
  std::size_t first_error = kNone;
  std::size_t newest = 0;

  explicit Timeline(std::size_t size) : marks(size + 1, kNone) {}
  // About to read byte i (i == size: the end of input).
  void read(std::size_t i, std::size_t out_size) {
    if (marks[i] == kNone) marks[i] = out_size;
    newest = std::max(newest, i);
  }
  void error() {
    if (first_error == kNone) first_error = newest;
  }
};

// The hooks the reference decoders call; tl may be null (no timing wanted).
void on_read(Timeline* tl, std::size_t i, const std::string& out) {
  if (tl) tl->read(i, out.size());
}
void on_error(Timeline* tl) {
  if (tl) tl->error();
}

// The standard's UTF-8 decoder; *errors counts U+FFFD emitted for errors.
std::string reference_utf8(std::string_view in, std::size_t* errors, Timeline* tl = nullptr) {
  std::string out;
  std::uint32_t cp = 0;
  int seen = 0, needed = 0;
  unsigned lower = 0x80, upper = 0xBF;
  for (std::size_t i = 0; i < in.size();) {
    on_read(tl, i, out);
    const auto b = static_cast<unsigned char>(in[i]);
    if (needed == 0) {
      ++i;
      if (b <= 0x7F) {
        out.push_back(static_cast<char>(b));
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
        cp = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;
        needed = 2;
        cp = b & 0xF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;
        needed = 3;
        cp = b & 0x7;
      } else {
        append_utf8(out, kReplacement);
        ++*errors;
        on_error(tl);
      }
      continue;
    }
    if (b < lower || b > upper) {  // error; the byte is processed again
      cp = 0;
      needed = seen = 0;
      lower = 0x80;
      upper = 0xBF;
      append_utf8(out, kReplacement);
      ++*errors;
      on_error(tl);
      continue;
    }
    ++i;
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    if (++seen != needed) continue;
    append_utf8(out, cp);
    cp = 0;
    needed = seen = 0;
  }
  on_read(tl, in.size(), out);
  if (needed != 0) {
    append_utf8(out, kReplacement);
    ++*errors;
    on_error(tl);
  }
  return out;
}

// The standard's shared UTF-16 decoder.
std::string reference_utf16(std::string_view in, bool big_endian, Timeline* tl) {
  std::string out;
  std::optional<unsigned> lead_byte;
  std::optional<std::uint32_t> lead_surrogate;
  std::string queue(in);  // bytes restored to the front are re-inserted here
  for (std::size_t i = 0; i < queue.size();) {
    on_read(tl, i, out);
    const auto b = static_cast<unsigned char>(queue[i++]);
    if (!lead_byte) {
      lead_byte = b;
      continue;
    }
    const std::uint32_t unit = big_endian ? (*lead_byte << 8) + b : (b << 8) + *lead_byte;
    lead_byte.reset();
    if (lead_surrogate) {
      const std::uint32_t lead = *lead_surrogate;
      lead_surrogate.reset();
      if (unit >= 0xDC00 && unit <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((lead - 0xD800) << 10) + (unit - 0xDC00));
        continue;
      }
      // Restore the unit's two bytes (in stream order) and emit an error.
      i -= 2;
      append_utf8(out, kReplacement);
      on_error(tl);
      continue;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      lead_surrogate = unit;
      continue;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      append_utf8(out, kReplacement);
      on_error(tl);
      continue;
    }
    append_utf8(out, unit);
  }
  on_read(tl, queue.size(), out);
  if (lead_byte || lead_surrogate) {
    append_utf8(out, kReplacement);
    on_error(tl);
  }
  return out;
}

std::string reference_x_user_defined(std::string_view in, Timeline* tl) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    on_read(tl, i, out);
    const auto b = static_cast<unsigned char>(in[i]);
    append_utf8(out, b < 0x80 ? b : 0xF780 + b - 0x80);
  }
  on_read(tl, in.size(), out);
  return out;
}

// The double-byte decoders' control flow (when to wait for more bytes, what an error
// consumes, which bytes are read again) written from the standard, with the index
// lookups delegated to corun decoding the isolated sequence in strict mode: this
// compares the optimised hot loops with the standard's algorithm, sharing only tables.
class DoubleByteReference {
 public:
  DoubleByteReference(Encoding e, Timeline* tl) : e_(e), tl_(tl) {}

  std::string run(std::string_view in) {
    in_ = in;
    out_.clear();
    switch (e_) {
      case Encoding::gbk:
      case Encoding::gb18030:
        gb18030();
        break;
      case Encoding::big5:
        two_byte(0x81, 0xFE,
                 [](unsigned b) { return (b >= 0x40 && b <= 0x7E) || (b >= 0xA1 && b <= 0xFE); });
        break;
      case Encoding::euc_kr:
        two_byte(0x81, 0xFE, [](unsigned b) { return b >= 0x41 && b <= 0xFE; });
        break;
      case Encoding::shift_jis:
        shift_jis();
        break;
      case Encoding::euc_jp:
        euc_jp();
        break;
      default:
        break;
    }
    return out_;
  }

 private:
  unsigned byte(std::size_t i) const { return static_cast<unsigned char>(in_[i]); }

  // corun's text for an isolated sequence, or nullopt ("index code point is null").
  std::optional<std::string> lookup(std::initializer_list<unsigned> bytes) const {
    std::string seq;
    for (unsigned b : bytes) seq.push_back(static_cast<char>(b));
    try {
      return corun::text::decode(seq, e_, Errors::strict);
    } catch (const DecodeError&) {
      return std::nullopt;
    }
  }

  void error() {
    append_utf8(out_, kReplacement);
    on_error(tl_);
  }
  void read(std::size_t i) { on_read(tl_, i, out_); }

  void gb18030() {
    unsigned first = 0, second = 0, third = 0;
    for (std::size_t i = 0; i < in_.size();) {
      read(i);
      const unsigned b = byte(i++);
      if (third != 0) {
        if (b < 0x30 || b > 0x39) {
          i -= 3;  // restore second, third and this byte
          first = second = third = 0;
          error();
          continue;
        }
        const std::optional<std::string> text = lookup({first, second, third, b});
        first = second = third = 0;
        if (text)
          out_ += *text;
        else
          error();
        continue;
      }
      if (second != 0) {
        if (b >= 0x81 && b <= 0xFE) {
          third = b;
          continue;
        }
        i -= 2;  // restore second and this byte
        first = second = 0;
        error();
        continue;
      }
      if (first != 0) {
        if (b >= 0x30 && b <= 0x39) {
          second = b;
          continue;
        }
        const unsigned lead = first;
        first = 0;
        std::optional<std::string> text;
        if ((b >= 0x40 && b <= 0x7E) || (b >= 0x80 && b <= 0xFE)) text = lookup({lead, b});
        if (text) {
          out_ += *text;
          continue;
        }
        if (b < 0x80) --i;
        error();
        continue;
      }
      if (b < 0x80) {
        out_.push_back(static_cast<char>(b));
      } else if (b == 0x80) {
        append_utf8(out_, 0x20AC);
      } else if (b <= 0xFE) {
        first = b;
      } else {
        error();
      }
    }
    read(in_.size());
    if (first != 0 || second != 0 || third != 0) error();
  }

  // Big5 and EUC-KR: a lead byte, then a trail byte in trail_ok or an error that
  // reads an ASCII trail byte again.
  template <typename TrailOk>
  void two_byte(unsigned lead_lo, unsigned lead_hi, TrailOk trail_ok) {
    unsigned lead = 0;
    for (std::size_t i = 0; i < in_.size();) {
      read(i);
      const unsigned b = byte(i++);
      if (lead != 0) {
        const unsigned l = lead;
        lead = 0;
        std::optional<std::string> text;
        if (trail_ok(b)) text = lookup({l, b});
        if (text) {
          out_ += *text;
          continue;
        }
        if (b < 0x80) --i;
        error();
        continue;
      }
      if (b < 0x80) {
        out_.push_back(static_cast<char>(b));
      } else if (b >= lead_lo && b <= lead_hi) {
        lead = b;
      } else {
        error();
      }
    }
    read(in_.size());
    if (lead != 0) error();
  }

  void shift_jis() {
    unsigned lead = 0;
    for (std::size_t i = 0; i < in_.size();) {
      read(i);
      const unsigned b = byte(i++);
      if (lead != 0) {
        const unsigned l = lead;
        lead = 0;
        std::optional<std::string> text;
        if ((b >= 0x40 && b <= 0x7E) || (b >= 0x80 && b <= 0xFC)) text = lookup({l, b});
        if (text) {
          out_ += *text;
          continue;
        }
        if (b < 0x80) --i;
        error();
        continue;
      }
      if (b <= 0x80) {
        append_utf8(out_, b);
      } else if (b >= 0xA1 && b <= 0xDF) {
        append_utf8(out_, 0xFF61 - 0xA1 + b);
      } else if ((b >= 0x81 && b <= 0x9F) || (b >= 0xE0 && b <= 0xFC)) {
        lead = b;
      } else {
        error();
      }
    }
    read(in_.size());
    if (lead != 0) error();
  }

  void euc_jp() {
    unsigned lead = 0;
    bool jis0212 = false;
    for (std::size_t i = 0; i < in_.size();) {
      read(i);
      const unsigned b = byte(i++);
      if (lead == 0x8E && b >= 0xA1 && b <= 0xDF) {
        lead = 0;
        append_utf8(out_, 0xFF61 - 0xA1 + b);
        continue;
      }
      if (lead == 0x8F && b >= 0xA1 && b <= 0xFE) {
        jis0212 = true;
        lead = b;
        continue;
      }
      if (lead != 0) {
        const unsigned l = lead;
        lead = 0;
        std::optional<std::string> text;
        if (l >= 0xA1 && l <= 0xFE && b >= 0xA1 && b <= 0xFE) {
          text = jis0212 ? lookup({0x8F, l, b}) : lookup({l, b});
        }
        jis0212 = false;
        if (text) {
          out_ += *text;
          continue;
        }
        if (b < 0x80) --i;
        error();
        continue;
      }
      if (b < 0x80) {
        out_.push_back(static_cast<char>(b));
      } else if (b == 0x8E || b == 0x8F || (b >= 0xA1 && b <= 0xFE)) {
        lead = b;
      } else {
        error();
      }
    }
    read(in_.size());
    if (lead != 0) error();
  }

  Encoding e_;
  Timeline* tl_;
  std::string_view in_;
  std::string out_;
};

// The standard's ISO-2022-JP decoder state machine; JIS X 0208 lookups by decoding
// "ESC $ B lead trail" in isolation.
std::string reference_iso_2022_jp(std::string_view in, Timeline* tl) {
  enum class State : std::uint8_t { ascii, roman, katakana, lead, trail, escape_start, escape };
  State state = State::ascii;
  State output_state = State::ascii;
  unsigned lead = 0;
  bool output = false;
  std::string out;
  auto error = [&] {
    append_utf8(out, kReplacement);
    on_error(tl);
  };
  auto jis0208 = [](unsigned l, unsigned b) -> std::optional<std::string> {
    std::string seq = "\x1B$B";
    seq.push_back(static_cast<char>(l));
    seq.push_back(static_cast<char>(b));
    try {
      return corun::text::decode(seq, Encoding::iso_2022_jp, Errors::strict);
    } catch (const DecodeError&) {
      return std::nullopt;
    }
  };
  constexpr int kEnd = -1;
  // i may step back (a "prepend"); i == in.size() is the end-of-queue token, which can be
  // read more than once (it is prepended too).
  for (std::size_t i = 0; i <= in.size();) {
    on_read(tl, i, out);
    const int b = i < in.size() ? static_cast<unsigned char>(in[i]) : kEnd;
    ++i;
    switch (state) {
      case State::ascii:
      case State::roman:
      case State::katakana:
      case State::lead:
        if (b == 0x1B) {
          state = State::escape_start;
          continue;
        }
        if (b == kEnd) return out;
        if (state == State::ascii && b <= 0x7F && b != 0x0E && b != 0x0F) {
          output = false;
          out.push_back(static_cast<char>(b));
        } else if (state == State::roman && b <= 0x7F && b != 0x0E && b != 0x0F) {
          output = false;
          append_utf8(out, b == 0x5C ? 0xA5 : b == 0x7E ? 0x203E : static_cast<unsigned>(b));
        } else if (state == State::katakana && b >= 0x21 && b <= 0x5F) {
          output = false;
          append_utf8(out, 0xFF61 - 0x21 + b);
        } else if (state == State::lead && b >= 0x21 && b <= 0x7E) {
          output = false;
          lead = static_cast<unsigned>(b);
          state = State::trail;
        } else {
          output = false;
          error();
        }
        continue;
      case State::trail:
        if (b == 0x1B) {
          state = State::escape_start;
          error();
          continue;
        }
        if (b >= 0x21 && b <= 0x7E) {
          state = State::lead;
          if (std::optional<std::string> text = jis0208(lead, static_cast<unsigned>(b))) {
            out += *text;
          } else {
            error();
          }
          continue;
        }
        if (b == kEnd) --i;  // the end is read again in the lead state
        state = State::lead;
        error();
        continue;
      case State::escape_start:
        if (b == 0x24 || b == 0x28) {
          lead = static_cast<unsigned>(b);
          state = State::escape;
          continue;
        }
        --i;  // prepend the byte (or the end)
        output = false;
        state = output_state;
        error();
        continue;
      case State::escape: {
        const unsigned l = lead;
        lead = 0;
        std::optional<State> next;
        if (l == 0x28 && b == 0x42) next = State::ascii;
        if (l == 0x28 && b == 0x4A) next = State::roman;
        if (l == 0x28 && b == 0x49) next = State::katakana;
        if (l == 0x24 && (b == 0x40 || b == 0x42)) next = State::lead;
        if (next) {
          state = output_state = *next;
          const bool was = output;
          output = true;
          if (was) error();
          continue;
        }
        i -= 2;  // prepend lead and byte: both were the last two read
        output = false;
        state = output_state;
        error();
        continue;
      }
    }
  }
  return out;
}

// The reference output where there is one (decode() strips a BOM of the same encoding:
// *bom is its length, and tl then times the bytes after it).
std::optional<std::string> reference(std::string_view bytes, Encoding e, Timeline* tl,
                                     std::size_t* bom) {
  std::size_t errors = 0;
  *bom = 0;
  auto strip = [&](std::string_view mark) {
    if (bytes.substr(0, mark.size()) != mark) return;
    bytes.remove_prefix(mark.size());
    *bom = mark.size();
    if (tl) *tl = Timeline(bytes.size());
  };
  switch (e) {
    case Encoding::utf_8:
      strip("\xEF\xBB\xBF");
      return reference_utf8(bytes, &errors, tl);
    case Encoding::utf_16be:
      strip("\xFE\xFF");
      return reference_utf16(bytes, true, tl);
    case Encoding::utf_16le:
      strip("\xFF\xFE");
      return reference_utf16(bytes, false, tl);
    case Encoding::x_user_defined:
      return reference_x_user_defined(bytes, tl);
    case Encoding::replacement: {
      std::string out;
      for (std::size_t i = 0; i <= bytes.size(); ++i) {
        on_read(tl, i, out);
        if (i == 0 && !bytes.empty()) {
          out = "\xEF\xBF\xBD";
          on_error(tl);
        }
      }
      return out;
    }
    case Encoding::gbk:
    case Encoding::gb18030:
    case Encoding::big5:
    case Encoding::euc_kr:
    case Encoding::shift_jis:
    case Encoding::euc_jp:
      return DoubleByteReference(e, tl).run(bytes);
    case Encoding::iso_2022_jp:
      return reference_iso_2022_jp(bytes, tl);
    default:
      return std::nullopt;
  }
}

// The streaming timing rule for one input: after each feed the output is what the
// standard's decoder has emitted once it has read those bytes (only a sequence it is in
// the middle of is held back), and strict mode throws from the feed of the byte that
// makes the input invalid.
struct Timing {
  const Timeline* timeline = nullptr;  // null: a single-byte encoding
  std::size_t bom = 0;                 // bytes of a BOM before what timeline times
  std::size_t error_byte = kNone;      // strict: the feed of this byte throws (size: finish)

  // Output size once [0, fed) is fed; a held BOM prefix emits nothing.
  std::size_t emitted(std::size_t fed) const { return fed < bom ? 0 : timeline->marks[fed - bom]; }
};

// Streaming decode, checking the timing after every feed; nullopt when strict mode
// threw (offset in *error_offset).
std::optional<std::string> stream(std::string_view bytes, Encoding e, Errors errors,
                                  std::uint8_t seed, const Timing& timing,
                                  std::size_t* error_offset) {
  Decoder decoder(e, errors);
  Chunker chunker(seed);
  std::string out;
  const bool strict = errors == Errors::strict;
  try {
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      const std::size_t n = std::min(chunker.next(), bytes.size() - pos);
      const bool must_throw = strict && timing.error_byte != kNone && timing.error_byte >= pos &&
                              timing.error_byte < pos + n;
      const std::size_t before = out.size();
      try {
        decoder.feed(bytes.substr(pos, n), out);
      } catch (const DecodeError&) {
        if (!must_throw) fail("strict streaming threw before the feed of the bad byte", e);
        throw;
      }
      if (must_throw) fail("strict streaming did not throw at the feed of the bad byte", e);
      pos += n;
      if (timing.timeline) {
        if (out.size() != timing.emitted(pos)) {
          fail("streaming output after a feed is not what the standard's decoder emitted", e);
        }
      } else if (out.compare(before, std::string::npos,
                             corun::text::decode(bytes.substr(pos - n, n), e)) != 0) {
        fail("single-byte streaming output after a feed is not the chunk's decoding", e);
      }
    }
    const bool must_throw = strict && timing.error_byte == bytes.size();
    try {
      decoder.finish(out);
    } catch (const DecodeError&) {
      if (!must_throw) fail("strict streaming threw at finish() for no error at the end", e);
      throw;
    }
    if (must_throw) fail("strict streaming did not throw at finish()", e);
  } catch (const DecodeError& error) {
    *error_offset = error.offset();
    return std::nullopt;
  }
  return out;
}

void check_decoding(std::string_view bytes, Encoding e, std::uint8_t seed) {
  const std::string text = corun::text::decode(bytes, e);
  if (!corun::text::is_valid_utf8(text)) fail("decode() output is not valid UTF-8", e);
  Timeline timeline(bytes.size());
  std::size_t bom = 0;
  const std::optional<std::string> expected = reference(bytes, e, &timeline, &bom);
  if (expected && *expected != text) fail("decode() differs from the reference decoder", e);

  std::optional<std::string> strict;
  std::size_t offset = 0;
  try {
    strict = corun::text::decode(bytes, e, Errors::strict);
  } catch (const DecodeError& error) {
    offset = error.offset();
    if (error.encoding() != e) fail("DecodeError names another encoding", e);
  }

  // What each feed must emit and which one must throw.
  Timing timing;
  if (expected) {
    if (std::find(timeline.marks.begin(), timeline.marks.end(), kNone) != timeline.marks.end()) {
      fail("the reference decoder skipped a byte", e);
    }
    timing.timeline = &timeline;
    timing.bom = bom;
    timing.error_byte = timeline.first_error == kNone ? kNone : bom + timeline.first_error;
    if ((timing.error_byte == kNone) != strict.has_value()) {
      fail("strict decode() and the reference decoder disagree on an error", e);
    }
  } else {
    // A single-byte decoder holds nothing: an error comes at its own byte.
    timing.error_byte = strict ? kNone : offset;
  }

  std::size_t unused = 0;
  const std::optional<std::string> streamed =
      stream(bytes, e, Errors::replace, seed, timing, &unused);
  if (!streamed || *streamed != text) fail("streaming != one-shot (replace)", e);

  if (strict) {
    if (*strict != text) fail("strict output != replace output", e);
  } else {
    if (offset >= bytes.size()) fail("DecodeError offset beyond the input", e);
    if (text.find("\xEF\xBF\xBD") == std::string::npos) fail("strict error, no U+FFFD", e);
  }
  std::size_t stream_offset = 0;
  const std::optional<std::string> strict_streamed =
      stream(bytes, e, Errors::strict, seed, timing, &stream_offset);
  if (strict.has_value() != strict_streamed.has_value()) fail("strict streaming differs", e);
  if (strict && *strict_streamed != *strict) fail("strict streaming text differs", e);
  if (!strict && stream_offset != offset) fail("strict streaming offset differs", e);

  if (e == Encoding::utf_8 && corun::text::is_valid_utf8(bytes)) {
    std::string_view expected = bytes;
    if (expected.substr(0, 3) == corun::text::utf8_bom) expected.remove_prefix(3);
    if (text != expected) fail("valid UTF-8 does not decode to itself", e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto e = static_cast<Encoding>(data[0] % kEncodings);
  const std::uint8_t seed = data[1];
  const std::size_t content_type_length = std::min<std::size_t>(data[2] % 64, size - 3);
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::string_view content_type = all.substr(3, content_type_length);
  const std::string_view bytes = all.substr(3 + content_type_length);

  std::size_t utf8_errors = 0;
  (void)reference_utf8(bytes, &utf8_errors);
  if (corun::text::is_valid_utf8(bytes) != (utf8_errors == 0)) {
    fail("is_valid_utf8 disagrees with the reference UTF-8 decoder", Encoding::utf_8);
  }

  (void)corun::text::charset_from_content_type(content_type);
  (void)corun::text::prescan_meta(bytes);
  const corun::text::SniffResult sniffed = corun::text::sniff(bytes, content_type);
  if (static_cast<int>(sniffed.encoding) >= kEncodings) fail("sniff() out of range", e);
  try {
    (void)corun::text::sniff(bytes, {}, content_type);  // the value as an override label
  } catch (const corun::text::LookupError&) {
  }

  check_decoding(bytes, e, seed);
  if (sniffed.encoding != e) check_decoding(bytes, sniffed.encoding, seed);
  return 0;
}
