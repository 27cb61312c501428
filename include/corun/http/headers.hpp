// corun::http::Headers: an ordered multi-map of HTTP header fields with
// case-insensitive names (aiohttp's CIMultiDict / multidict.CIMultiDictProxy).
// Repeated fields are kept, in arrival order; get() returns the first one,
// get_all() every one. All names and values live in one buffer, so a response's
// headers cost two allocations, not two per field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corun::http {

// ASCII case-insensitive equality (HTTP field names are ASCII).
bool iequals(std::string_view a, std::string_view b) noexcept;

class Headers {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };

  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  // Appends a field (a repeat of an existing name is kept).
  void add(std::string_view name, std::string_view value);
  // Replaces every field of this name by one (appended if absent).
  void set(std::string_view name, std::string_view value);
  // Removes every field of this name; returns how many.
  std::size_t erase(std::string_view name);
  void clear() noexcept;

  std::optional<std::string_view> get(std::string_view name) const noexcept;
  std::string_view get_or(std::string_view name, std::string_view fallback) const noexcept;
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  Field operator[](std::size_t i) const noexcept;

  class const_iterator {
   public:
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    const_iterator() = default;
    const_iterator(const Headers* h, std::size_t i) : h_(h), i_(i) {}
    Field operator*() const noexcept { return (*h_)[i_]; }
    const_iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      auto copy = *this;
      ++i_;
      return copy;
    }
    bool operator==(const const_iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const Headers* h_ = nullptr;
    std::size_t i_ = 0;
  };
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, entries_.size()}; }

  // Parses one raw header line as curl delivers it ("Name: value\r\n"); the
  // status line, blank line and malformed lines are ignored (returns false).
  // An obs-fold continuation line is appended to the previous value.
  bool add_raw_line(std::string_view line);

 private:
  struct Entry {
    std::uint32_t name_off, name_len, value_off, value_len;
  };
  static constexpr std::size_t kTypicalFields = 16;  // a response's header block, at first
  static constexpr std::size_t kTypicalBytes = 512;
  std::string buf_;
  std::vector<Entry> entries_;
};

}  // namespace corun::http
