// Labels and names of the WHATWG encodings (tables generated from encodings.json).
#include "corun/text/encoding.hpp"

#include <algorithm>
#include <array>

#include "corun/text/ascii.hpp"
#include "corun/text/utf8.hpp"
#include "text_tables.hpp"

namespace corun::text {

namespace {

std::string quote(std::string_view label) {
  std::string s = "unknown encoding label: \"";
  s += shown_label(label);
  s += '"';
  s += label_hint(label);
  return s;
}

// The letters and digits of label, lower-cased ("Latin-1" -> "latin1").
std::string squeezed(std::string_view label) {
  std::string out;
  for (char c : label) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      out += c;
    } else if (c >= 'A' && c <= 'Z') {
      out += ascii_lower(c);
    }
  }
  return out;
}

// Python's names for encodings the standard names otherwise (its "cp936" is the
// standard's "gbk", "cp874" its "windows-874"). Python's cp1250-cp1258, ms932,
// sjis, latin1, l1 are labels of the standard too.
struct Alias {
  std::string_view python;
  std::string_view standard;
};
constexpr Alias kPythonAliases[] = {
    {"cp874", "windows-874"}, {"cp932", "shift_jis"}, {"cp936", "gbk"},  {"ms936", "gbk"},
    {"cp949", "euc-kr"},      {"uhc", "euc-kr"},      {"cp950", "big5"}, {"ms950", "big5"},
    {"u8", "utf-8"},          {"utf", "utf-8"},
};

}  // namespace

std::string shown_label(std::string_view label) {
  constexpr std::size_t kMax = 64;
  bool cut = label.size() > kMax;
  if (cut) {
    label = label.substr(0, kMax);
    // Not inside a UTF-8 sequence: back to its first byte.
    while (!label.empty() && (static_cast<unsigned char>(label.back()) & 0xC0) == 0x80) {
      label.remove_suffix(1);
    }
    if (!label.empty() && static_cast<unsigned char>(label.back()) >= 0xC0) label.remove_suffix(1);
  }
  bool utf8 = is_valid_utf8(label);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : label) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || (c >= 0x80 && !utf8)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  if (cut) out += "...";
  return out;
}

std::string label_hint(std::string_view label) {
  if (lookup(label)) return {};
  std::string key = squeezed(label);
  if (key.empty()) return {};
  std::string_view found;
  for (const Alias& a : kPythonAliases) {
    if (a.python == key) found = a.standard;
  }
  // The same letters and digits as a label of the standard: "latin-1" ->
  // "latin1", "euc_jp" -> "euc-jp", "shift-jis" -> "shift_jis".
  for (const detail::LabelEntry& e : detail::kLabels) {
    if (found.empty() && squeezed(e.label) == key) found = e.label;
  }
  if (found.empty()) return {};
  std::string hint = " (did you mean \"";
  hint.append(found);
  hint += '"';
  std::optional<Encoding> e = lookup(found);
  if (e && name(*e) != found) {
    hint += ", ";
    hint.append(name(*e));
  }
  hint += "?)";
  return hint;
}

LookupError::LookupError(std::string label)
    : std::invalid_argument(quote(label)), label_(std::move(label)) {}

std::string_view name(Encoding encoding) noexcept {
  auto i = static_cast<std::size_t>(encoding);
  return i < detail::kEncodingCount ? detail::kNames[i] : std::string_view{};
}

std::optional<Encoding> lookup(std::string_view label) noexcept {
  label = trim_ascii_whitespace(label);
  if (label.empty() || label.size() > detail::kMaxLabelLength) return std::nullopt;
  std::array<char, detail::kMaxLabelLength> buf{};
  for (std::size_t i = 0; i < label.size(); ++i) buf[i] = ascii_lower(label[i]);
  std::string_view key(buf.data(), label.size());
  const auto* first = std::begin(detail::kLabels);
  const auto* last = std::end(detail::kLabels);
  const auto* it =
      std::lower_bound(first, last, key,
                       [](const detail::LabelEntry& e, std::string_view k) { return e.label < k; });
  if (it == last || it->label != key) return std::nullopt;
  return it->encoding;
}

Encoding encoding_for_label(std::string_view label) {
  if (auto e = lookup(label)) return *e;
  throw LookupError(std::string(label));
}

}  // namespace corun::text
