// Encoding sniffing: the HTML standard's "encoding sniffing algorithm" (13.2.3.2), its
// "prescan a byte stream to determine its encoding" and "get an XML encoding", and the
// Fetch/MIME Sniffing standards' charset extraction from Content-Type.
//
// Choices the standards leave open, and what corun does (tests in sniff_test.cpp):
// - Transport (HTTP) charset: honoured whatever it resolves to, UTF-16BE/LE,
//   x-user-defined and replacement included (step 4 says "if the transport layer
//   specifies a character encoding, and it is supported, return that encoding"; the
//   UTF-16 -> UTF-8 rewrite applies only to <meta>). An unknown label is skipped.
// - Override: after the BOM and before HTTP (step 2); an unknown label throws.
// - Prescan: exactly the first 1024 bytes. Reaching their end inside a comment, a tag or
//   an attribute ends the prescan with no result (the "end condition"), so a <meta>
//   counts only when its closing '>' lies within them.
//   After the <meta> loop, "get an XML encoding" (`<?xml ... encoding="...">`) runs
//   over the same 1024 bytes, its search for `encoding` bounded by the declaration's
//   first '>' (the position the standard computes for that purpose), and UTF-16 XML
//   declarations (`<\0?\0x\0`) are recognised at the start, as the current standard says.
// - "Valid UTF-8": the whole buffer, or all of it but a truncated final sequence (a body
//   cut off mid-character); at least one byte must be non-ASCII. All-ASCII bytes get the
//   default, windows-1252, as in browsers (they decode the same either way).
// - Detection: uchardet over the first kDetectLimit bytes. Its answer counts only when
//   it is a WHATWG label (plus uchardet's "UHC" = windows-949 = WHATWG euc-kr, and
//   "MAC-CYRILLIC"); ASCII, replacement (e.g. HZ, ISO-2022-KR), UTF-16 and
//   x-user-defined guesses are refused (a browser never autodetects these).
#include "corun/text/sniff.hpp"

#include <uchardet/uchardet.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/text/ascii.hpp"
#include "corun/text/mime.hpp"
#include "corun/text/utf8.hpp"

namespace corun::text {
namespace {

constexpr std::size_t kPrescanLimit = 1024;
constexpr std::size_t kDetectLimit = std::size_t{256} * 1024;

// ---------------------------------------------------------------------------------------
// BOM sniffing (Encoding standard).

std::optional<Encoding> bom_sniff(std::string_view bytes) noexcept {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") return Encoding::utf_8;
  if (bytes.substr(0, 2) == "\xFE\xFF") return Encoding::utf_16be;
  if (bytes.substr(0, 2) == "\xFF\xFE") return Encoding::utf_16le;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// "Extracting a character encoding from a meta element" (HTML 2.5.x): the charset=... in
// a content attribute value. nullopt is "nothing"; a failed label lookup is also nothing
// (the prescan only takes "a character encoding").

std::optional<Encoding> extract_encoding_from_meta_content(std::string_view s) noexcept {
  std::size_t position = 0;
  while (true) {
    // Loop: the first "charset" (ASCII case-insensitive) at or after position.
    std::size_t found = std::string_view::npos;
    for (std::size_t i = position; i + 7 <= s.size(); ++i) {
      if (iequals(s.substr(i, 7), "charset")) {
        found = i;
        break;
      }
    }
    if (found == std::string_view::npos) return std::nullopt;
    std::size_t p = found + 7;
    while (p < s.size() && is_ascii_whitespace(static_cast<unsigned char>(s[p]))) ++p;
    if (p >= s.size() || s[p] != '=') {
      // "Move position to point just before that next character, and jump back to loop."
      position = p;
      continue;
    }
    ++p;
    while (p < s.size() && is_ascii_whitespace(static_cast<unsigned char>(s[p]))) ++p;
    if (p >= s.size()) return std::nullopt;
    const char c = s[p];
    if (c == '"' || c == '\'') {
      const std::size_t close = s.find(c, p + 1);
      if (close == std::string_view::npos) return std::nullopt;  // unmatched quote
      return lookup(s.substr(p + 1, close - p - 1));
    }
    std::size_t end = p;
    while (end < s.size() && !is_ascii_whitespace(static_cast<unsigned char>(s[end])) &&
           s[end] != ';') {
      ++end;
    }
    return lookup(s.substr(p, end - p));
  }
}

// ---------------------------------------------------------------------------------------
// The prescan (HTML 13.2.3.2 "prescan a byte stream to determine its encoding").

struct Attribute {
  std::string name;
  std::string value;
};

class Prescanner {
 public:
  explicit Prescanner(std::string_view input) : in_(input.substr(0, kPrescanLimit)) {}

  std::optional<Encoding> run() {
    // Prescan for UTF-16 XML declarations.
    if (in_.substr(0, 6) == std::string_view("\x3C\x00\x3F\x00\x78\x00", 6)) {
      return Encoding::utf_16le;
    }
    if (in_.substr(0, 6) == std::string_view("\x00\x3C\x00\x3F\x00\x78", 6)) {
      return Encoding::utf_16be;
    }
    if (std::optional<Encoding> found = meta_loop()) return found;
    return xml_encoding();
  }

 private:
  // End of the 1024 bytes reached inside a construct: the prescan ends, no result.
  struct EndOfInput {};

  unsigned char at(std::size_t i) const {
    if (i >= in_.size()) throw EndOfInput{};
    return static_cast<unsigned char>(in_[i]);
  }

  bool starts_with_at(std::size_t i, std::string_view s) const noexcept {
    return in_.substr(std::min(i, in_.size()), s.size()) == s;
  }

  std::optional<Encoding> meta_loop() {
    try {
      while (pos_ < in_.size()) {
        if (starts_with_at(pos_, "<!--")) {
          // To the '>' of the first "-->" after the '<' (the dashes may be those of "<!--").
          const std::size_t end = in_.find("-->", pos_ + 2);
          if (end == std::string_view::npos) return std::nullopt;
          pos_ = end + 2;
        } else if (is_meta_start()) {
          pos_ += 5;  // at the space or slash after "<meta"
          if (std::optional<Encoding> found = meta_element()) return found;
        } else if (is_tag_start()) {
          // Skip a start or end tag and its attributes.
          while (true) {
            const unsigned char c = at(pos_);
            if (is_ascii_whitespace(c) || c == '>') break;
            ++pos_;
          }
          while (get_attribute()) {
          }
        } else if (starts_with_at(pos_, "<!") || starts_with_at(pos_, "</") ||
                   starts_with_at(pos_, "<?")) {
          const std::size_t end = in_.find('>', pos_ + 1);
          if (end == std::string_view::npos) return std::nullopt;
          pos_ = end;
        }
        ++pos_;  // next byte
      }
    } catch (const EndOfInput&) {
    }
    return std::nullopt;
  }

  bool is_meta_start() const noexcept {
    if (pos_ + 6 > in_.size() || in_[pos_] != '<') return false;
    if (!iequals(in_.substr(pos_ + 1, 4), "meta")) return false;
    const auto c = static_cast<unsigned char>(in_[pos_ + 5]);
    return is_ascii_whitespace(c) || c == '/';
  }

  bool is_tag_start() const noexcept {
    if (pos_ + 1 >= in_.size() || in_[pos_] != '<') return false;
    std::size_t i = pos_ + 1;
    if (in_[i] == '/') ++i;
    return i < in_.size() && is_ascii_alpha(static_cast<unsigned char>(in_[i]));
  }

  std::optional<Encoding> meta_element() {
    enum class Charset : std::uint8_t { null, failure, found };
    std::vector<std::string> attribute_list;
    bool got_pragma = false;
    std::optional<bool> need_pragma;
    Charset charset_state = Charset::null;
    Encoding charset = Encoding::utf_8;

    while (std::optional<Attribute> attribute = get_attribute()) {
      bool seen = false;
      for (const std::string& name : attribute_list) seen = seen || name == attribute->name;
      if (seen) continue;
      attribute_list.push_back(attribute->name);
      if (attribute->name == "http-equiv") {
        if (attribute->value == "content-type") got_pragma = true;
      } else if (attribute->name == "content") {
        if (charset_state == Charset::null) {
          if (std::optional<Encoding> e = extract_encoding_from_meta_content(attribute->value)) {
            charset = *e;
            charset_state = Charset::found;
            need_pragma = true;
          }
        }
      } else if (attribute->name == "charset") {
        if (std::optional<Encoding> e = lookup(attribute->value)) {
          charset = *e;
          charset_state = Charset::found;
        } else {
          charset_state = Charset::failure;
        }
        need_pragma = false;
      }
    }
    // Processing.
    if (!need_pragma.has_value()) return std::nullopt;
    if (*need_pragma && !got_pragma) return std::nullopt;
    if (charset_state != Charset::found) return std::nullopt;
    if (charset == Encoding::utf_16be || charset == Encoding::utf_16le) return Encoding::utf_8;
    if (charset == Encoding::x_user_defined) return Encoding::windows_1252;
    return charset;
  }

  // "Get an attribute": nullopt when there is none (a '>' ends the tag); throws
  // EndOfInput when the bytes end first.
  std::optional<Attribute> get_attribute() {
    while (is_ascii_whitespace(at(pos_)) || at(pos_) == '/') ++pos_;
    if (at(pos_) == '>') return std::nullopt;
    Attribute attribute;
    // Name.
    while (true) {
      const unsigned char c = at(pos_);
      if (c == '=' && !attribute.name.empty()) {
        ++pos_;
        return value(std::move(attribute));
      }
      if (is_ascii_whitespace(c)) break;  // to "spaces"
      if (c == '/' || c == '>') return attribute;
      attribute.name.push_back(ascii_lower(static_cast<char>(c)));
      ++pos_;
    }
    // Spaces.
    while (is_ascii_whitespace(at(pos_))) ++pos_;
    if (at(pos_) != '=') return attribute;
    ++pos_;
    return value(std::move(attribute));
  }

  Attribute value(Attribute attribute) {
    while (is_ascii_whitespace(at(pos_))) ++pos_;
    const unsigned char c = at(pos_);
    if (c == '"' || c == '\'') {
      while (true) {
        ++pos_;
        const unsigned char d = at(pos_);
        if (d == c) {
          ++pos_;
          return attribute;
        }
        attribute.value.push_back(ascii_lower(static_cast<char>(d)));
      }
    }
    if (c == '>') return attribute;
    attribute.value.push_back(ascii_lower(static_cast<char>(c)));
    ++pos_;
    while (true) {
      const unsigned char d = at(pos_);
      if (is_ascii_whitespace(d) || d == '>') return attribute;
      attribute.value.push_back(ascii_lower(static_cast<char>(d)));
      ++pos_;
    }
  }

  // "Get an XML encoding" over the same bytes.
  std::optional<Encoding> xml_encoding() const noexcept {
    if (!starts_with_at(0, "<?xml")) return std::nullopt;
    const std::size_t declaration_end = in_.find('>');
    if (declaration_end == std::string_view::npos) return std::nullopt;
    std::size_t p = in_.substr(0, declaration_end).find("encoding");
    if (p == std::string_view::npos) return std::nullopt;
    p += 8;
    while (p < in_.size() && static_cast<unsigned char>(in_[p]) <= 0x20) ++p;
    if (p >= in_.size() || in_[p] != '=') return std::nullopt;
    ++p;
    while (p < in_.size() && static_cast<unsigned char>(in_[p]) <= 0x20) ++p;
    if (p >= in_.size() || (in_[p] != '"' && in_[p] != '\'')) return std::nullopt;
    const char quote = in_[p];
    ++p;
    const std::size_t end = in_.find(quote, p);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view potential = in_.substr(p, end - p);
    for (char c : potential) {
      if (static_cast<unsigned char>(c) <= 0x20) return std::nullopt;
    }
    std::optional<Encoding> encoding = lookup(potential);
    if (encoding == Encoding::utf_16be || encoding == Encoding::utf_16le) {
      return Encoding::utf_8;
    }
    return encoding;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

std::string extract_charset(std::string_view content_type) {
  std::optional<MimeType> mime = extract_mime_type(content_type);
  if (!mime || !mime->charset) return {};
  return std::move(*mime->charset);
}

// ---------------------------------------------------------------------------------------
// "Valid UTF-8", allowing a truncated final sequence.

// True when tail (1..3 bytes) is a proper prefix of a well-formed UTF-8 sequence.
bool is_truncated_utf8_sequence(std::string_view tail) noexcept {
  const auto lead = static_cast<unsigned char>(tail[0]);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return false;
  }
  if (tail.size() >= length) return false;
  for (std::size_t i = 1; i < tail.size(); ++i) {
    const auto c = static_cast<unsigned char>(tail[i]);
    if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return false;
  }
  return true;
}

bool has_non_ascii(std::string_view bytes) noexcept {
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Valid UTF-8, or valid UTF-8 cut inside its last character (a page truncated
// in transit). A cut lead byte alone is no evidence: "caf\xE9" ends like a cut
// "\xE9\x80\x80" but is Latin-1 text. It counts when the text before it holds
// UTF-8 of its own, or when a continuation byte that fits follows it.
bool is_utf8_allowing_truncated_end(std::string_view bytes) noexcept {
  if (is_valid_utf8(bytes)) return true;
  // The last lead byte within the final three bytes starts the truncated sequence.
  for (std::size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    const std::size_t start = bytes.size() - back;
    const auto c = static_cast<unsigned char>(bytes[start]);
    if ((c & 0xC0) != 0x80) {
      const std::string_view before = bytes.substr(0, start);
      return is_truncated_utf8_sequence(bytes.substr(start)) &&
             (back >= 2 || has_non_ascii(before)) && is_valid_utf8(before);
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Detection through uchardet.

std::optional<Encoding> detect(std::string_view bytes) {
  struct Deleter {
    void operator()(uchardet* ud) const noexcept { uchardet_delete(ud); }
  };
  const std::unique_ptr<uchardet, Deleter> ud(uchardet_new());
  if (!ud) return std::nullopt;
  const std::string_view sample = bytes.substr(0, kDetectLimit);
  if (uchardet_handle_data(ud.get(), sample.data(), sample.size()) != 0) return std::nullopt;
  uchardet_data_end(ud.get());
  const char* guess = uchardet_get_charset(ud.get());
  if (guess == nullptr) return std::nullopt;
  std::string_view name = guess;
  // uchardet's names for two WHATWG encodings that are not WHATWG labels: UHC is
  // windows-949 (WHATWG's euc-kr decoder is windows-949), MAC-CYRILLIC is x-mac-cyrillic.
  if (iequals(name, "UHC")) name = "windows-949";
  if (iequals(name, "MAC-CYRILLIC")) name = "x-mac-cyrillic";
  const std::optional<Encoding> encoding = lookup(name);
  if (!encoding) return std::nullopt;  // "", "ASCII" and non-WHATWG names
  switch (*encoding) {
    case Encoding::replacement:
    case Encoding::utf_16be:
    case Encoding::utf_16le:
    case Encoding::x_user_defined:
      return std::nullopt;
    default:
      return encoding;
  }
}

}  // namespace

std::string_view to_string(Source source) noexcept {
  switch (source) {
    case Source::bom:
      return "bom";
    case Source::override:
      return "override";
    case Source::http:
      return "http";
    case Source::meta:
      return "meta";
    case Source::utf8:
      return "utf8";
    case Source::detected:
      return "detected";
    case Source::default_:
      return "default";
  }
  return "default";
}

std::string charset_from_content_type(std::string_view content_type) {
  return extract_charset(content_type);
}

std::optional<Encoding> prescan_meta(std::string_view bytes) noexcept {
  try {
    return Prescanner(bytes).run();
  } catch (...) {  // allocation failure only
    return std::nullopt;
  }
}

SniffResult sniff(std::string_view bytes, std::string_view content_type,
                  std::string_view override_label) {
  if (std::optional<Encoding> bom = bom_sniff(bytes)) return {*bom, Source::bom};
  if (!override_label.empty()) return {encoding_for_label(override_label), Source::override};
  if (!content_type.empty()) {
    const std::string charset = charset_from_content_type(content_type);
    if (!charset.empty()) {
      if (std::optional<Encoding> encoding = lookup(charset)) return {*encoding, Source::http};
    }
  }
  if (std::optional<Encoding> meta = prescan_meta(bytes)) return {*meta, Source::meta};
  if (has_non_ascii(bytes) && is_utf8_allowing_truncated_end(bytes)) {
    return {Encoding::utf_8, Source::utf8};
  }
  if (has_non_ascii(bytes)) {
    if (std::optional<Encoding> guess = detect(bytes)) return {*guess, Source::detected};
  }
  return {Encoding::windows_1252, Source::default_};
}

}  // namespace corun::text
