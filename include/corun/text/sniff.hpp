// corun::text sniffing: which encoding a browser would decode a document with,
// and which step decided. Order (WHATWG + HTML): BOM, user override, transport
// (HTTP Content-Type charset), <meta> prescan of the first 1024 bytes, then
// "the bytes are valid UTF-8", then uchardet's guess, then windows-1252.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "corun/text/encoding.hpp"

namespace corun::text {

enum class Source : std::uint8_t { bom, override, http, meta, utf8, detected, default_ };

// "bom", "override", "http", "meta", "utf8", "detected", "default" (report field).
std::string_view to_string(Source source) noexcept;

struct SniffResult {
  Encoding encoding;
  Source source;
};

// content_type: the HTTP Content-Type header value, or empty. override_label:
// the user's choice, or empty; an unknown override label throws LookupError
// (a user error), while an unknown charset from HTTP or <meta> is skipped (as
// browsers do). A UTF-16 label in <meta> means UTF-8, per the standard.
SniffResult sniff(std::string_view bytes, std::string_view content_type = {},
                  std::string_view override_label = {});

// The charset parameter of a Content-Type value, unquoted (and unescaped), or empty.
std::string charset_from_content_type(std::string_view content_type);

// The HTML standard's prescan of (at most) the first 1024 bytes for <meta>.
std::optional<Encoding> prescan_meta(std::string_view bytes) noexcept;

}  // namespace corun::text
