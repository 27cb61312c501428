// corun::text UTF-8 helpers: validation (fast path of sniffing and decoding)
// and the BOM Python's "utf-8-sig" writes.
#pragma once

#include <string>
#include <string_view>

namespace corun::text {

inline constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// True when bytes are well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

// Python's str.encode("utf-8-sig"): the BOM, then the text.
std::string with_bom(std::string_view utf8);

}  // namespace corun::text
