// MIME types (include/corun/text/mime.hpp): MIME Sniffing's "parse a MIME type" and
// Fetch's "extract a MIME type", step for step; tests in tests/text/mime_test.cpp and,
// through the transport charset, sniff_test.cpp.
#include "corun/text/mime.hpp"

#include <algorithm>
#include <vector>

#include "corun/text/ascii.hpp"

namespace corun::text {
namespace {

bool is_http_token(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 'a' && u <= 'z') return true;
  if (u >= 'A' && u <= 'Z') return true;
  if (u >= '0' && u <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_quoted_string_token(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x09 || (u >= 0x20 && u <= 0x7E) || u >= 0x80;
}

bool all_tokens(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), is_http_token);
}

// Fetch's "collect an HTTP quoted string" with extract-value set: position is at the
// opening quote and ends past the closing one (or at the end of s).
std::string collect_quoted_string(std::string_view s, std::size_t& position) {
  std::string value;
  ++position;  // the opening quote
  while (position < s.size()) {
    const std::size_t stop = s.find_first_of("\"\\", position);
    const std::size_t end = stop == std::string_view::npos ? s.size() : stop;
    value.append(s.substr(position, end - position));
    position = end;
    if (position >= s.size()) break;
    const char quote_or_backslash = s[position];
    ++position;
    if (quote_or_backslash == '"') break;
    if (position >= s.size()) {  // a backslash at the very end stands for itself
      value.push_back('\\');
      break;
    }
    value.push_back(s[position]);
    ++position;
  }
  return value;
}

// Splits a header value on commas outside quoted strings (Fetch's "getting, decoding,
// and splitting"), trimming HTTP tab-or-space around each value.
std::vector<std::string_view> split_header_values(std::string_view s) {
  std::vector<std::string_view> values;
  std::size_t start = 0;
  std::size_t i = 0;
  while (true) {
    while (i < s.size() && s[i] != '"' && s[i] != ',') ++i;
    if (i < s.size() && s[i] == '"') {
      collect_quoted_string(s, i);
      if (i < s.size()) continue;
    }
    values.push_back(trim_http_tab_or_space(s.substr(start, std::min(i, s.size()) - start)));
    if (i >= s.size()) break;
    ++i;  // the ','
    start = i;
  }
  return values;
}

}  // namespace

std::optional<MimeType> parse_mime_type(std::string_view input) {
  input = trim_http_whitespace(input);
  std::size_t position = input.find('/');
  if (position == std::string_view::npos) return std::nullopt;
  const std::string_view type = input.substr(0, position);
  if (type.empty() || !all_tokens(type)) return std::nullopt;
  ++position;
  std::size_t semicolon = input.find(';', position);
  if (semicolon == std::string_view::npos) semicolon = input.size();
  std::string_view subtype = input.substr(position, semicolon - position);
  while (!subtype.empty() && is_http_whitespace(subtype.back())) subtype.remove_suffix(1);
  if (subtype.empty() || !all_tokens(subtype)) return std::nullopt;
  MimeType mime;
  mime.essence.reserve(type.size() + 1 + subtype.size());
  mime.essence.append(to_ascii_lower(type)).push_back('/');
  mime.essence.append(to_ascii_lower(subtype));
  position = semicolon;

  while (position < input.size()) {
    ++position;  // the ';'
    while (position < input.size() && is_http_whitespace(input[position])) ++position;
    std::size_t name_end = position;
    while (name_end < input.size() && input[name_end] != ';' && input[name_end] != '=') {
      ++name_end;
    }
    const std::string_view name = input.substr(position, name_end - position);
    position = name_end;
    if (position < input.size()) {
      if (input[position] == ';') continue;
      ++position;  // the '='
    }
    if (position >= input.size()) break;
    std::string value;
    if (input[position] == '"') {
      value = collect_quoted_string(input, position);
      while (position < input.size() && input[position] != ';') ++position;
    } else {
      std::size_t end = input.find(';', position);
      if (end == std::string_view::npos) end = input.size();
      std::string_view raw = input.substr(position, end - position);
      position = end;
      while (!raw.empty() && is_http_whitespace(raw.back())) raw.remove_suffix(1);
      if (raw.empty()) continue;
      value = raw;
    }
    // The standard keeps the first valid occurrence of each parameter; of them, corun
    // keeps only charset.
    if (!name.empty() && all_tokens(name) &&
        std::all_of(value.begin(), value.end(), is_quoted_string_token) &&
        iequals(name, "charset") && !mime.charset.has_value()) {
      mime.charset = std::move(value);
    }
  }
  return mime;
}

std::optional<MimeType> extract_mime_type(std::string_view header_value) {
  std::optional<std::string> charset;  // the algorithm's "charset" variable
  std::string essence;
  std::optional<MimeType> result;
  for (std::string_view value : split_header_values(header_value)) {
    std::optional<MimeType> mime = parse_mime_type(value);
    if (!mime || mime->essence == "*/*") continue;
    if (mime->essence != essence) {
      charset = mime->charset;
      essence = mime->essence;
    } else if (!mime->charset.has_value() && charset.has_value()) {
      mime->charset = charset;
    }
    result = std::move(mime);
  }
  return result;
}

bool is_text_mime_type(std::string_view essence) noexcept {
  if (istarts_with(essence, "text/")) return true;
  if (iends_with(essence, "+xml") || iends_with(essence, "+json")) return true;
  for (std::string_view t : {"application/xml", "application/json", "application/javascript",
                             "application/ecmascript", "application/x-javascript"}) {
    if (iequals(essence, t)) return true;
  }
  return false;
}

bool looks_binary(std::string_view body) noexcept {
  std::string_view head = body.substr(0, 1445);  // the standard's resource header
  for (std::string_view bom : {std::string_view("\xFE\xFF"), std::string_view("\xFF\xFE"),
                               std::string_view("\xEF\xBB\xBF")}) {
    if (head.starts_with(bom)) return false;
  }
  // Signatures the standard names whose first bytes are all text-like.
  for (std::string_view sig :
       {std::string_view("%PDF-"), std::string_view("%!PS-Adobe-"), std::string_view("GIF87a"),
        std::string_view("GIF89a"), std::string_view("\xFF\xD8\xFF"),
        std::string_view("PK\x03\x04"), std::string_view("\x1F\x8B\x08")}) {
    if (head.starts_with(sig)) return true;
  }
  if (head.size() >= 12 && head.starts_with("RIFF") && head.substr(8, 4) == "WEBP") return true;
  for (char ch : head) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1A) || (c >= 0x1C && c <= 0x1F)) {
      return true;
    }
  }
  return false;
}

}  // namespace corun::text
