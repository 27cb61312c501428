// Labels and names of the WHATWG encodings (tables generated from encodings.json).
#include "corun/text/encoding.hpp"

#include <algorithm>
#include <array>

#include "corun/text/ascii.hpp"
#include "text_tables.hpp"

namespace corun::text {

namespace {

std::string quote(std::string_view label) {
  std::string s = "unknown encoding label: \"";
  s.append(label);
  s += '"';
  return s;
}

}  // namespace

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
