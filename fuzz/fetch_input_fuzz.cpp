// libFuzzer target over what users type and feed to `corun fetch` (issue 15):
// input lines (parse_input_line), URLs (parse_url), --name templates
// (NameTemplate), default names (name_from_url, sanitize_name) and collisions
// (NameRegistry).
//
// Input layout (FuzzedDataProvider): a template, a --base, an input line (each a
// "random length string": a backslash followed by another byte ends it), an
// {index}, then the rest as raw bytes for sanitize_name.
// Properties checked (a violation aborts, so libFuzzer reports it):
//   - nothing throws but TemplateError from the NameTemplate constructor;
//   - parse_input_line: false exactly for a blank line or a #comment; a URL has
//     no blank in it, and is the line's first word (after --base when relative,
//     joined with one '/' as the README says);
//   - every name (default, sanitized, from a template) is a relative path whose
//     segments are non-empty, not "." or "..", at most kMaxNameBytes bytes, valid
//     UTF-8, free of NUL, '\\' and control bytes, and do not start with '.'
//     (a collision's variant may be 21 bytes longer: "-N");
//   - NameRegistry never hands out one name twice.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "corun/fetch/naming.hpp"
#include "corun/fetch/source.hpp"
#include "corun/text/utf8.hpp"

namespace {

using namespace corun::fetch;

[[noreturn]] void fail(const char* what, std::string_view value) {
  std::fprintf(stderr, "fetch_input_fuzz: %s: '%.*s' (%zu bytes)\n", what,
               static_cast<int>(std::min<std::size_t>(value.size(), 300)), value.data(),
               value.size());
  std::abort();
}

// max: kMaxNameBytes, and 21 more for a collision's "-N" (N a 64-bit count).
void check_segment(std::string_view s, std::string_view whole, std::size_t max = kMaxNameBytes) {
  if (s.empty()) fail("empty path segment", whole);
  if (s == "." || s == "..") fail("dot segment", whole);
  if (s.front() == '.') fail("segment starts with '.'", whole);
  if (s.size() > max) fail("segment too long", whole);
  if (!corun::text::is_valid_utf8(s)) fail("segment is not UTF-8", whole);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '\\' || c == '/') fail("unsafe byte in a segment", whole);
  }
}

void check_relative(std::string_view path, std::size_t max = kMaxNameBytes) {
  if (path.empty()) fail("empty name", path);
  if (path.front() == '/') fail("absolute name", path);
  std::string_view rest = path;
  for (;;) {
    auto slash = rest.find('/');
    check_segment(rest.substr(0, slash), path, max);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

bool blank(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  std::string tmpl = in.ConsumeRandomLengthString(256);
  std::string base = in.ConsumeRandomLengthString(64);
  std::string line = in.ConsumeRandomLengthString(4096);
  auto index = in.ConsumeIntegral<std::uint64_t>();
  std::string raw = in.ConsumeRemainingBytesAsString();

  // The input line.
  InputLine parsed;
  bool url_line = parse_input_line(line, base, parsed);
  std::string_view t = line;
  while (!t.empty() && blank(t.front())) t.remove_prefix(1);
  while (!t.empty() && (blank(t.back()) || t.back() == '\r')) t.remove_suffix(1);
  if (url_line != !(t.empty() || t.front() == '#')) fail("URL line or not", line);
  if (url_line) {
    std::string_view word = t.substr(0, t.find_first_of(" \t"));
    std::string expect;
    if (!base.empty() && word.find("://") == std::string_view::npos) {
      // --base joins as documented (README): one '/' between a base ending in one
      // and a word starting with one; a base that is a site alone ("scheme://host",
      // nothing after) gets the path's '/' before a word that does not start one.
      expect = base;
      auto scheme_end = base.find("://");
      bool site_alone = scheme_end != std::string::npos &&
                        base.find_first_of("/?#", scheme_end + 3) == std::string::npos;
      if (expect.back() == '/' && word.front() == '/') {
        expect.pop_back();
      } else if (site_alone && word.front() != '/' && word.front() != '?' && word.front() != '#') {
        expect += '/';
      }
      expect += word;
    } else {
      expect = std::string(word);
    }
    if (parsed.url != expect) fail("URL is not the line's first word", line);
    if (!parsed.label.empty() && blank(parsed.label.front())) fail("label starts blank", line);
  }

  // Names.
  check_segment(sanitize_name(raw), raw);
  std::string url = url_line ? parsed.url : line;
  UrlParts parts;
  std::string error;
  if (parse_url(url, parts, error)) {
    check_segment(name_from_url(parts), url);
    NameTemplate name_template;
    bool valid = true;
    try {
      name_template = NameTemplate(tmpl);
    } catch (const TemplateError&) {
      valid = false;
    }
    if (valid) {
      std::string relative = name_template.expand(url, parts, index);
      check_relative(relative);
      NameRegistry names;
      std::string first = names.claim(relative);
      std::string second = names.claim(relative);
      if (first != relative || second == first) fail("a name handed out twice", relative);
      check_relative(second, kMaxNameBytes + 21);
    }
  } else if (error.empty()) {
    fail("parse_url failed without a message", url);
  }
  return 0;
}
