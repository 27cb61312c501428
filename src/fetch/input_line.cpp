// corun::fetch input lines (see parse_input_line in include/corun/fetch/source.hpp).
// Its own file, with no dependency past the standard library, so the fuzz
// target (fuzz/fetch_input_fuzz.cpp) builds it alone.
#include <string>
#include <string_view>

#include "corun/fetch/source.hpp"

namespace corun::fetch {

namespace {
// "scheme://authority" with no path, query or fragment after it.
bool is_site_alone(std::string_view base) {
  auto scheme_end = base.find("://");
  if (scheme_end == std::string_view::npos) return false;
  return base.find_first_of("/?#", scheme_end + 3) == std::string_view::npos;
}
}  // namespace

bool parse_input_line(std::string_view line, std::string_view base_url, InputLine& out) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!line.empty() && blank(line.front())) line.remove_prefix(1);
  while (!line.empty() && (blank(line.back()) || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.front() == '#') return false;
  auto ws = line.find_first_of(" \t");
  std::string_view url = line.substr(0, ws);
  out.label.clear();
  if (ws != std::string_view::npos) {
    std::string_view label = line.substr(ws);
    while (!label.empty() && blank(label.front())) label.remove_prefix(1);
    // A #comment after the URL (or after its label) is a comment, as on a line
    // of its own; a '#' inside the URL is its fragment (no blank before it).
    for (std::size_t i = 0; i < label.size(); ++i) {
      if (label[i] == '#' && (i == 0 || blank(label[i - 1]))) {
        label = label.substr(0, i);
        break;
      }
    }
    while (!label.empty() && blank(label.back())) label.remove_suffix(1);
    out.label.assign(label);
  }
  out.url.clear();
  if (!base_url.empty() && url.find("://") == std::string_view::npos) {
    out.url.reserve(base_url.size() + url.size() + 1);
    out.url.append(base_url);
    // "http://h/" and "/p.html": one '/' between, not two.
    if (!out.url.empty() && out.url.back() == '/' && url.front() == '/') out.url.pop_back();
    // A base that is a site alone ("http://example.com") and a line that does not
    // start its path ("a.html"): glued, the line would become part of the host
    // name ("example.coma.html"). The path's '/' goes between, as resolving the
    // line against the site would (wget's --base). Any other base is a prefix.
    if (is_site_alone(base_url) && url.front() != '/' && url.front() != '?' && url.front() != '#') {
      out.url += '/';
    }
  }
  out.url.append(url);
  return true;
}

}  // namespace corun::fetch
