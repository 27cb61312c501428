// Helpers shared by the corun::text tests: building expected UTF-8 from code
// points, printing bytes, and reading the Encoding Standard's index files.
#pragma once

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace corun::text::test {

inline constexpr char32_t kFFFD = 0xFFFD;

// UTF-8 of one code point.
inline std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// UTF-8 of a list of code points: cps({'A', kFFFD, 0x4E00}).
inline std::string cps(std::initializer_list<char32_t> list) {
  std::string s;
  for (char32_t cp : list) s += utf8(cp);
  return s;
}

// "41 FF 80" for failure messages.
inline std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty()) s += ' ';
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

inline std::string whatwg_path(const std::string& file) {
  return std::string(CORUN_WHATWG_DIR) + "/" + file;
}

// pointer -> code point of index-NAME.txt, read the way the standard describes
// the format (comment lines start with #; fields: pointer, code point in hex).
inline std::map<std::uint32_t, char32_t> read_index(const std::string& name) {
  std::ifstream f(whatwg_path("index-" + name + ".txt"));
  if (!f) throw std::runtime_error("cannot read index-" + name + ".txt from " CORUN_WHATWG_DIR);
  std::map<std::uint32_t, char32_t> m;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::uint32_t pointer = 0;
    std::string cp;
    if (!(ls >> pointer >> cp)) continue;
    m[pointer] = static_cast<char32_t>(std::stoul(cp, nullptr, 16));
  }
  return m;
}

}  // namespace corun::text::test
