// corun::fetch: an encoding label a user gives to decode pages with (--encoding,
// an input line's label, a shared crawl's setting).
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include "corun/text/encoding.hpp"

namespace corun::fetch {

// Why `label` cannot decode pages, or nullopt if it can. Besides a label the
// Encoding Standard does not know: one of those it maps to its "replacement"
// encoding (iso-2022-kr, iso-2022-cn, hz-gb-2312, ...). A page that declares
// one is decoded to a single U+FFFD, as browsers do, to keep hostile content
// out; chosen by the user, it would silently turn every page into that.
inline std::optional<std::string> label_problem(std::string_view label) {
  std::optional<text::Encoding> e = text::lookup(label);
  if (!e) {
    return fmt::format("unknown encoding label '{}'{}", text::shown_label(label),
                       text::label_hint(label));
  }
  if (*e == text::Encoding::replacement) {
    return fmt::format(
        "encoding label '{}' cannot decode pages: the Encoding Standard maps it to "
        "\"replacement\", which turns a whole page into one U+FFFD (--raw keeps the bytes)",
        text::shown_label(label));
  }
  return std::nullopt;
}

}  // namespace corun::fetch
