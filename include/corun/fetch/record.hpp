// corun::fetch::Record: one URL's outcome, one line of the JSON-lines report
// (`corun fetch`'s report.jsonl; Python's corun.FetchRecord).
//
// The fields are listed once, in kRecordFields: that list drives the report's
// JSON writer and reader (keys in list order; --resume reads back the reports
// earlier runs wrote, so the format stays) and the Python record (its
// attributes and tuple order). Adding a field: a member here and one entry in
// the list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace corun::fetch {

// One report line (JSON keys: the member names, except index).
struct Record {
  std::string url;
  // The URL's position among the input's URL lines (0-based; blank and
  // comment lines not counted). Not written to the report: it lets a caller
  // put records, which arrive in completion order, back in input order.
  std::uint64_t index = 0;
  std::string final_url;        // after redirects; empty when no response
  int status = 0;               // 0: no response
  std::uint64_t bytes = 0;      // body bytes received
  std::string encoding;         // encoding decoded from; empty: raw or failed
  std::string encoding_source;  // bom override http meta utf8 detected default
  std::string path;             // the file written; empty when none
  std::string error;            // empty: done
  int attempts = 0;
  double elapsed = 0;  // seconds, all attempts and the write
  bool ok() const noexcept { return error.empty(); }
};

// How a field is written, read back and shown to Python. The member type each
// kind takes is checked at compile time (RecordField).
enum class FieldKind : std::uint8_t {
  text,          // std::string, required: a JSON string; a line without it is malformed
  text_or_null,  // std::string: empty <-> null (absent or not a string reads as empty)
  error_text,    // std::string: empty <-> null; any other value reads back as an error
                 // (its JSON text; "" as "error"), so a damaged line never reads as done
  code_or_null,  // int: 0 <-> null (status: no response)
  count,         // std::uint64_t: a JSON unsigned integer
  integer,       // int: a JSON integer
  seconds,       // double, written with 6 decimals
  position,      // std::uint64_t, not in the report (Python only: the input index)
};

// "text", "text_or_null", ...: the kind's name (the Python binding exposes it).
constexpr std::string_view field_kind_name(FieldKind k) noexcept {
  switch (k) {
    case FieldKind::text:
      return "text";
    case FieldKind::text_or_null:
      return "text_or_null";
    case FieldKind::error_text:
      return "error_text";
    case FieldKind::code_or_null:
      return "code_or_null";
    case FieldKind::count:
      return "count";
    case FieldKind::integer:
      return "integer";
    case FieldKind::seconds:
      return "seconds";
    case FieldKind::position:
      return "position";
  }
  return "";
}

// One field: its JSON key (and Python attribute) name, kind and member. The
// kind and member are template arguments, so a writer over the list compiles
// to straight-line code (no per-field dispatch at run time).
template <FieldKind K, auto Member>
struct RecordField {
  template <class C, class M>
  static M member_type(M C::*);
  using Type = decltype(member_type(Member));
  static constexpr FieldKind kind = K;
  static constexpr auto member = Member;
  static constexpr bool in_report = K != FieldKind::position;
  static_assert(K == FieldKind::text || K == FieldKind::text_or_null || K == FieldKind::error_text
                    ? std::is_same_v<Type, std::string>
                : K == FieldKind::code_or_null || K == FieldKind::integer
                    ? std::is_same_v<Type, int>
                : K == FieldKind::seconds ? std::is_same_v<Type, double>
                                          : std::is_same_v<Type, std::uint64_t>,
                "the member's type does not fit the field's kind");
  std::string_view name;
};

// The record's fields, in report order (index last: not in the report).
inline constexpr auto kRecordFields = std::make_tuple(
    RecordField<FieldKind::text, &Record::url>{"url"},
    RecordField<FieldKind::text_or_null, &Record::final_url>{"final_url"},
    RecordField<FieldKind::code_or_null, &Record::status>{"status"},
    RecordField<FieldKind::count, &Record::bytes>{"bytes"},
    RecordField<FieldKind::text_or_null, &Record::encoding>{"encoding"},
    RecordField<FieldKind::text_or_null, &Record::encoding_source>{"encoding_source"},
    RecordField<FieldKind::text_or_null, &Record::path>{"path"},
    RecordField<FieldKind::error_text, &Record::error>{"error"},
    RecordField<FieldKind::integer, &Record::attempts>{"attempts"},
    RecordField<FieldKind::seconds, &Record::elapsed>{"elapsed"},
    RecordField<FieldKind::position, &Record::index>{"index"});

// Calls f(field) for each field of kRecordFields, in order.
template <class F>
constexpr void for_each_record_field(F&& f) {
  std::apply([&f](const auto&... field) { (f(field), ...); }, kRecordFields);
}

// Appends the record's JSON line (no newline) to out: the report writer's hot
// path (no allocation beyond out's own growth).
void append_record(std::string& out, const Record& record);
// The JSON line of a record (no trailing newline).
std::string to_json_line(const Record& record);
// Parses one report line; false for a malformed one (not a JSON object, or no
// string "url"); record is left as it was then.
bool parse_json_line(std::string_view line, Record& record);
// Text as a report line gives it back once parsed: UTF-8 kept, each byte of an
// invalid sequence U+FFFD (what --resume compares an input URL with).
std::string as_reported(std::string_view text);

}  // namespace corun::fetch
