// The report's JSON codec over a field list (RecordField, see
// include/corun/fetch/record.hpp): a writer and a reader for any struct whose
// fields are listed that way. record.cpp instantiates them for Record; the
// unit test also for a record with one more field, to show that a field added
// to a list is written and read back with nothing else to change.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "corun/fetch/record.hpp"

namespace corun::fetch::report_json {

// s as a JSON string: the escapes JSON requires (and DEL as \u007f), valid
// UTF-8 copied, each byte of an invalid sequence as U+FFFD (the report is
// UTF-8 whatever a URL or an error message held).
void append_json_string(std::string& out, std::string_view s);

inline void append_json_string_or_null(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

template <class Int>
void append_integer(std::string& out, Int v) {
  fmt::format_int text(v);
  out.append(text.data(), text.size());
}

// The text before a field's value, `,"name":` (`{"name":` for the first
// field of the report), made at compile time: one append per field.
template <const auto& Fields, std::size_t I>
struct JsonKey {
  static constexpr std::size_t first_in_report() {
    std::size_t first = 0;
    bool found = false;
    std::apply(
        [&](const auto&... f) {
          std::size_t i = 0;
          ((!found && f.in_report ? (first = i, found = true) : false, ++i), ...);
        },
        Fields);
    return first;
  }
  static constexpr std::string_view name = std::get<I>(Fields).name;
  static constexpr std::array<char, name.size() + 4> text = [] {
    std::array<char, name.size() + 4> a{};
    a[0] = I == first_in_report() ? '{' : ',';
    a[1] = '"';
    for (std::size_t i = 0; i < name.size(); ++i) a[i + 2] = name[i];
    a[name.size() + 2] = '"';
    a[name.size() + 3] = ':';
    return a;
  }();
};

template <const auto& Fields, std::size_t I, class Object>
void append_json_field(std::string& out, const Object& object) {
  using Field = std::remove_cvref_t<decltype(std::get<I>(Fields))>;
  if constexpr (Field::in_report) {
    out.append(JsonKey<Fields, I>::text.data(), JsonKey<Fields, I>::text.size());
    const auto& v = object.*Field::member;
    if constexpr (Field::kind == FieldKind::text) {
      append_json_string(out, v);
    } else if constexpr (Field::kind == FieldKind::text_or_null ||
                         Field::kind == FieldKind::error_text) {
      append_json_string_or_null(out, v);
    } else if constexpr (Field::kind == FieldKind::code_or_null) {
      if (v == 0) {
        out += "null";
      } else {
        append_integer(out, v);
      }
    } else if constexpr (Field::kind == FieldKind::count || Field::kind == FieldKind::integer) {
      append_integer(out, v);
    } else {
      static_assert(Field::kind == FieldKind::seconds);
      // Formatted in fmt's inline buffer first: far cheaper than a
      // back_inserter into out (the report writer's hot path).
      fmt::memory_buffer text;
      fmt::format_to(std::back_inserter(text), "{:.6f}", v);
      out.append(text.data(), text.size());
    }
  }
}

// Appends {"key":value,...} for the fields of Fields (a tuple of RecordField
// with static storage) that are in the report.
template <const auto& Fields, class Object>
void append_json_object(std::string& out, const Object& object) {
  constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<decltype(Fields)>>;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (append_json_field<Fields, I>(out, object), ...);
  }
  (std::make_index_sequence<n>{});
  out.push_back('}');
}

template <class Object, class Field>
bool read_json_field(const nlohmann::json& j, Object& object, const Field& f) {
  if constexpr (Field::in_report) {
    auto& v = object.*Field::member;
    auto it = j.find(f.name);
    bool present = it != j.end();
    if constexpr (Field::kind == FieldKind::text) {
      if (!present || !it->is_string()) return false;
      v = it->template get<std::string>();
    } else if constexpr (Field::kind == FieldKind::text_or_null) {
      if (present && it->is_string()) v = it->template get<std::string>();
    } else if constexpr (Field::kind == FieldKind::error_text) {
      if (present && !it->is_null()) {
        v = it->is_string() ? it->template get<std::string>() : it->dump();
        if (v.empty()) v = "error";
      }
    } else if constexpr (Field::kind == FieldKind::code_or_null ||
                         Field::kind == FieldKind::integer) {
      if (present && it->is_number_integer()) v = it->template get<int>();
    } else if constexpr (Field::kind == FieldKind::count) {
      if (present && it->is_number_unsigned()) v = it->template get<std::uint64_t>();
    } else {
      static_assert(Field::kind == FieldKind::seconds);
      if (present && it->is_number()) v = it->template get<double>();
    }
  }
  return true;
}

// Reads a line written by append_json_object (or an older writer: absent or
// mistyped optional fields keep their defaults). False, object untouched, for
// a malformed line: not a JSON object, or a required (text) field missing.
template <const auto& Fields, class Object>
bool parse_json_object(std::string_view line, Object& object) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  Object read{};
  bool ok =
      std::apply([&](const auto&... f) { return (read_json_field(j, read, f) && ...); }, Fields);
  if (!ok) return false;
  object = std::move(read);
  return true;
}

}  // namespace corun::fetch::report_json
