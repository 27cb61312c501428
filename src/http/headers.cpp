// corun::http::Headers (see include/corun/http/headers.hpp).
#include "corun/http/headers.hpp"

#include "corun/text/ascii.hpp"

namespace corun::http {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return text::iequals(a, b);
}

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [n, v] : fields) add(n, v);
}

void Headers::add(std::string_view name, std::string_view value) {
  Entry e;
  e.name_off = static_cast<std::uint32_t>(buf_.size());
  e.name_len = static_cast<std::uint32_t>(name.size());
  buf_.append(name);
  e.value_off = static_cast<std::uint32_t>(buf_.size());
  e.value_len = static_cast<std::uint32_t>(value.size());
  buf_.append(value);
  entries_.push_back(e);
}

void Headers::set(std::string_view name, std::string_view value) {
  // name/value may point into buf_: copy before erasing may shift nothing (erase
  // only drops entries), but add() may reallocate buf_, so copy first.
  std::string n(name), v(value);
  erase(n);
  add(n, v);
}

std::size_t Headers::erase(std::string_view name) {
  std::size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) {
    return iequals(std::string_view(buf_).substr(e.name_off, e.name_len), name);
  });
  return before - entries_.size();
}

void Headers::clear() noexcept {
  buf_.clear();
  entries_.clear();
}

Headers::Field Headers::operator[](std::size_t i) const noexcept {
  const Entry& e = entries_[i];
  std::string_view b(buf_);
  return {b.substr(e.name_off, e.name_len), b.substr(e.value_off, e.value_len)};
}

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Field f = (*this)[i];
    if (iequals(f.name, name)) return f.value;
  }
  return std::nullopt;
}

std::string_view Headers::get_or(std::string_view name, std::string_view fallback) const noexcept {
  auto v = get(name);
  return v ? *v : fallback;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Field f = (*this)[i];
    if (iequals(f.name, name)) out.push_back(f.value);
  }
  return out;
}

bool Headers::add_raw_line(std::string_view line) {
  if (line.empty()) return false;
  if ((line.front() == ' ' || line.front() == '\t') && !entries_.empty()) {
    // obs-fold: continuation of the previous field's value. The previous value is
    // the last thing in buf_, so it can grow in place.
    std::string_view more = text::trim_http_whitespace(line);
    if (more.empty()) return false;
    Entry& last = entries_.back();
    if (last.value_off + last.value_len != buf_.size()) return false;
    buf_.push_back(' ');
    buf_.append(more);
    last.value_len += static_cast<std::uint32_t>(more.size() + 1);
    return true;
  }
  // One pass finds the colon and refuses a name with a space or tab in it (the
  // name's characters are looked at once, not once per character searched for).
  std::size_t colon = 0;
  for (; colon < line.size(); ++colon) {
    char c = line[colon];
    if (c == ':') break;
    if (c == ' ' || c == '\t') return false;
  }
  if (colon == line.size() || colon == 0) return false;
  std::string_view name = line.substr(0, colon);
  if (entries_.capacity() == 0) {
    // A response's fields: room for a typical header block at once, not grown field
    // by field.
    entries_.reserve(kTypicalFields);
    buf_.reserve(kTypicalBytes);
  }
  add(name, text::trim_http_whitespace(line.substr(colon + 1)));
  return true;
}

}  // namespace corun::http
