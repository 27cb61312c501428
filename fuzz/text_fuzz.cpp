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
//   - strict mode either returns exactly the replace-mode text or throws DecodeError
//     with offset < input size, and then replace-mode text holds a U+FFFD;
//   - valid UTF-8 decodes as UTF-8 to itself (minus a BOM).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

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

// Streaming decode; nullopt when strict mode threw (offset in *error_offset).
std::optional<std::string> stream(std::string_view bytes, Encoding e, Errors errors,
                                  std::uint8_t seed, std::size_t* error_offset) {
  Decoder decoder(e, errors);
  Chunker chunker(seed);
  std::string out;
  try {
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      const std::size_t n = std::min(chunker.next(), bytes.size() - pos);
      decoder.feed(bytes.substr(pos, n), out);
      pos += n;
    }
    decoder.finish(out);
  } catch (const DecodeError& error) {
    *error_offset = error.offset();
    return std::nullopt;
  }
  return out;
}

void check_decoding(std::string_view bytes, Encoding e, std::uint8_t seed) {
  const std::string text = corun::text::decode(bytes, e);
  if (!corun::text::is_valid_utf8(text)) fail("decode() output is not valid UTF-8", e);

  std::size_t unused = 0;
  const std::optional<std::string> streamed = stream(bytes, e, Errors::replace, seed, &unused);
  if (!streamed || *streamed != text) fail("streaming != one-shot (replace)", e);

  std::optional<std::string> strict;
  std::size_t offset = 0;
  try {
    strict = corun::text::decode(bytes, e, Errors::strict);
  } catch (const DecodeError& error) {
    offset = error.offset();
    if (error.encoding() != e) fail("DecodeError names another encoding", e);
  }
  if (strict) {
    if (*strict != text) fail("strict output != replace output", e);
  } else {
    if (offset >= bytes.size()) fail("DecodeError offset beyond the input", e);
    if (text.find("\xEF\xBF\xBD") == std::string::npos) fail("strict error, no U+FFFD", e);
  }
  std::size_t stream_offset = 0;
  const std::optional<std::string> strict_streamed =
      stream(bytes, e, Errors::strict, seed, &stream_offset);
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
