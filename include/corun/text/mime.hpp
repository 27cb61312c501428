// corun::text MIME types: the MIME Sniffing standard's "parse a MIME type" and Fetch's
// "extract a MIME type" from a Content-Type header value (several values joined by
// commas included), exactly as browsers run them. What corun needs of a MIME type is its
// essence and its charset parameter; other parameters are checked as the standard says
// and then dropped. Pure functions (no loop); used by text::sniff (the transport
// charset), http::Response::content_type()/charset() and fetch (is a body text?).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corun::text {

struct MimeType {
  std::string essence;                 // "type/subtype", ASCII lower case
  std::optional<std::string> charset;  // the first valid charset parameter, unquoted
  bool operator==(const MimeType&) const = default;
};

// "Parse a MIME type": nullopt where the standard returns failure (no '/', an empty or
// non-token type or subtype).
std::optional<MimeType> parse_mime_type(std::string_view input);

// Fetch's "extract a MIME type" from a header value: the last valid MIME type among the
// comma-separated values (skipping */*), carrying a charset over from an earlier value
// of the same essence. nullopt when there is none (a missing or unparseable header).
std::optional<MimeType> extract_mime_type(std::string_view header_value);

// True for a MIME type whose body is text a browser would decode: text/*, XML and JSON
// (application/xml, application/json, any +xml or +json subtype, XHTML) and JavaScript.
bool is_text_mime_type(std::string_view essence) noexcept;

// For a body without a MIME type: is it binary, as MIME Sniffing's "identify an
// unknown MIME type" tells (no BOM, and a GIF, JPEG, WebP, PDF, PostScript, gzip or
// zip signature, or a binary data byte, 00-08 0B 0E-1A 1C-1F, in its first 1,445
// bytes)? A browser would not show such a body as text; corun fetch saves it as it is.
bool looks_binary(std::string_view body) noexcept;

}  // namespace corun::text
