// corun::fetch input lines (see parse_input_line in include/corun/fetch/source.hpp).
// Its own file, with no dependency past the standard library, so the fuzz
// target (fuzz/fetch_input_fuzz.cpp) builds it alone.
#include <string>
#include <string_view>

#include "corun/fetch/source.hpp"

namespace corun::fetch {

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
    out.label.assign(label);
  }
  out.url.clear();
  if (!base_url.empty() && url.find("://") == std::string_view::npos) {
    out.url.reserve(base_url.size() + url.size());
    out.url.append(base_url);
  }
  out.url.append(url);
  return true;
}

}  // namespace corun::fetch
