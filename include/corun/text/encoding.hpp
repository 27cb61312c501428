// corun::text encodings: the WHATWG Encoding Standard's encodings and labels.
// Python's codecs.lookup() for the web: every label in encodings.json resolves,
// case-insensitively and with ASCII whitespace trimmed, to one encoding
// ("gb2312" -> GBK, "latin1" -> windows-1252, "hz-gb-2312" -> replacement).
// Pure: no loop, no I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace corun::text {

// One enumerator per encoding of the standard, in encodings.json order.
enum class Encoding : std::uint8_t {
  utf_8,
  ibm866,
  iso_8859_2,
  iso_8859_3,
  iso_8859_4,
  iso_8859_5,
  iso_8859_6,
  iso_8859_7,
  iso_8859_8,
  iso_8859_8_i,
  iso_8859_10,
  iso_8859_13,
  iso_8859_14,
  iso_8859_15,
  iso_8859_16,
  koi8_r,
  koi8_u,
  macintosh,
  windows_874,
  windows_1250,
  windows_1251,
  windows_1252,
  windows_1253,
  windows_1254,
  windows_1255,
  windows_1256,
  windows_1257,
  windows_1258,
  x_mac_cyrillic,
  gbk,
  gb18030,
  big5,
  euc_jp,
  iso_2022_jp,
  shift_jis,
  euc_kr,
  replacement,
  utf_16be,
  utf_16le,
  x_user_defined,
};

// An unknown label (Python's LookupError). what() names the label, and the
// standard's label it is close to, if any (label_hint).
class LookupError : public std::invalid_argument {
 public:
  explicit LookupError(std::string label);
  const std::string& label() const noexcept { return label_; }

 private:
  std::string label_;
};

// The standard's canonical name: "UTF-8", "GBK", "gb18030", "windows-1252", ...
std::string_view name(Encoding encoding) noexcept;

// Label -> encoding, or nullopt for a label the standard does not know.
std::optional<Encoding> lookup(std::string_view label) noexcept;

// Label -> encoding; throws LookupError naming the label.
Encoding encoding_for_label(std::string_view label);

// For an unknown label, what the user may have meant, as a suffix for the error
// message: ` (did you mean "latin1", windows-1252?)` for "latin-1" (the same letters
// and digits as one of the standard's labels) or "cp1252" (Python's name for a code
// page the standard names otherwise); empty when nothing is close, or the label
// is known.
std::string label_hint(std::string_view label);

// A label as an error message shows it: a control character, '"', '\\' and
// every byte of a label that is not UTF-8 as \xNN (a vertical tab or a NUL
// would hide in the message), at most 64 bytes of it, then "...".
std::string shown_label(std::string_view label);

}  // namespace corun::text
