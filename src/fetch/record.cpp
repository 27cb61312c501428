// corun::fetch::Record's JSON line (see include/corun/fetch/record.hpp): the
// writer and reader of record_json.hpp over kRecordFields, and the string
// escaping they share.
#include "corun/fetch/record.hpp"

#include "corun/text/utf8.hpp"
#include "record_json.hpp"

namespace corun::fetch {

namespace report_json {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; };
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    // A run of printable ASCII other than '"' and '\\' goes out as it is, in one append.
    std::size_t run = i;
    while (run < s.size() && plain(static_cast<unsigned char>(s[run]))) ++run;
    if (run != i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escape, sizeof escape);
    } else {
      // Copy a valid UTF-8 sequence; a stray byte becomes U+FFFD.
      std::size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
      if (n != 0 && i + n <= s.size() && text::is_valid_utf8(s.substr(i, n))) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\xEF\xBF\xBD";
      }
    }
  }
  out.push_back('"');
}

}  // namespace report_json

void append_record(std::string& out, const Record& record) {
  report_json::append_json_object<kRecordFields>(out, record);
}

std::string to_json_line(const Record& record) {
  std::string out;
  append_record(out, record);
  return out;
}

bool parse_json_line(std::string_view line, Record& record) {
  return report_json::parse_json_object<kRecordFields>(line, record);
}

std::string as_reported(std::string_view text) {
  if (text::is_valid_utf8(text)) return std::string(text);
  // The JSON string and back: the one rule for invalid bytes, in one place.
  std::string json;
  report_json::append_json_string(json, text);
  Record r;
  if (!parse_json_line(R"({"url":)" + json + "}", r)) return std::string(text);
  return r.url;
}

}  // namespace corun::fetch
