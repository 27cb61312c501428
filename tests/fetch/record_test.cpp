// corun::fetch::Record's JSON line, driven by the one field list
// (kRecordFields): every field written and read back, the exact format
// earlier reports have (--resume reads them), string escaping, malformed lines
// rejected, and a field added to a list written and read with nothing else
// changed.
#include "corun/fetch/record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "record_json.hpp"

namespace {

using corun::fetch::FieldKind;
using corun::fetch::parse_json_line;
using corun::fetch::Record;
using corun::fetch::RecordField;
using corun::fetch::to_json_line;

// A value for every field, different from its default and from every other
// field's (so a field written under another's key would show).
template <class Object, class Fields>
void fill_every_field(Object& r, const Fields& fields) {
  int n = 1;
  std::apply(
      [&](const auto&... f) {
        auto set = [&](const auto& field) {
          using F = std::remove_cvref_t<decltype(field)>;
          auto& v = r.*F::member;
          if constexpr (std::is_same_v<typename F::Type, std::string>) {
            v = std::string(field.name) + "-value-" + std::to_string(n);
          } else if constexpr (std::is_same_v<typename F::Type, double>) {
            v = n + 0.5;
          } else {
            v = static_cast<typename F::Type>(100 + n);
          }
          ++n;
        };
        (set(f), ...);
      },
      fields);
}

std::vector<std::string> report_names() {
  std::vector<std::string> names;
  corun::fetch::for_each_record_field([&](const auto& f) {
    if (f.in_report) names.emplace_back(f.name);
  });
  return names;
}

TEST(RecordJson, EveryFieldOfTheListRoundTrips) {
  Record r;
  fill_every_field(r, corun::fetch::kRecordFields);
  std::string line = to_json_line(r);
  Record back;
  ASSERT_TRUE(parse_json_line(line, back)) << line;
  int compared = 0;
  corun::fetch::for_each_record_field([&](const auto& f) {
    using F = std::remove_cvref_t<decltype(f)>;
    if constexpr (F::in_report) {
      EXPECT_EQ(back.*F::member, r.*F::member) << f.name;
      ++compared;
    } else {
      // Not in the report (the input index): read back as its default.
      EXPECT_EQ(back.*F::member, typename F::Type{}) << f.name;
      EXPECT_EQ(line.find(std::string(f.name)), std::string::npos) << line;
    }
  });
  EXPECT_EQ(compared, 10);
  // The keys are the list's names, in its order, and nothing else.
  auto j = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, report_names());
}

TEST(RecordJson, TheReportFormatIsKept) {
  Record r;
  r.url = "http://h/a";
  r.index = 7;
  r.final_url = "http://h/b";
  r.status = 200;
  r.bytes = 5;
  r.encoding = "UTF-8";
  r.encoding_source = "http";
  r.path = "o/a.html";
  r.attempts = 2;
  r.elapsed = 0.25;
  EXPECT_EQ(to_json_line(r),
            R"({"url":"http://h/a","final_url":"http://h/b","status":200,"bytes":5,)"
            R"("encoding":"UTF-8","encoding_source":"http","path":"o/a.html","error":null,)"
            R"("attempts":2,"elapsed":0.250000})");
  Record failed;
  failed.url = "http://h/c";
  failed.error = "connect: refused";
  failed.attempts = 4;
  failed.elapsed = 1.0 / 3;
  EXPECT_EQ(to_json_line(failed),
            R"({"url":"http://h/c","final_url":null,"status":null,"bytes":0,"encoding":null,)"
            R"("encoding_source":null,"path":null,"error":"connect: refused","attempts":4,)"
            R"("elapsed":0.333333})");
  // append_record (the writer's hot path) appends the same line.
  std::string out = "x";
  corun::fetch::append_record(out, r);
  EXPECT_EQ(out, "x" + to_json_line(r));
}

TEST(RecordJson, StringsAreEscaped) {
  Record r;
  r.url = std::string(
      "q\"b\\n\nr\rt\tc\x01\x1f"
      "d\x7f"
      "e",
      16);
  r.error = "\xE4\xB8\xAD ok \xF0\x9F\x98\x80 bad \xFF cut \xE4\xB8";
  std::string line = to_json_line(r);
  EXPECT_NE(line.find(R"("url":"q\"b\\n\nr\rt\tc\u0001\u001fd\u007fe")"), std::string::npos)
      << line;
  // Valid UTF-8 is copied; a stray byte and a cut sequence become U+FFFD.
  EXPECT_NE(line.find("\"error\":\"\xE4\xB8\xAD ok \xF0\x9F\x98\x80 bad \xEF\xBF\xBD cut "
                      "\xEF\xBF\xBD\xEF\xBF\xBD\""),
            std::string::npos)
      << line;
  auto j = nlohmann::json::parse(line);  // valid JSON
  EXPECT_EQ(j["url"].get<std::string>(), r.url);
  Record back;
  ASSERT_TRUE(parse_json_line(line, back));
  EXPECT_EQ(back.url, r.url);
}

TEST(RecordJson, MalformedLinesAreRejectedAndLeaveTheRecordAlone) {
  Record back;
  back.url = "untouched";
  for (const char* bad : {"", "not json", "{\"url\": \"cut", "[1]", "{}", "{\"url\":5}",
                          "{\"url\":null,\"status\":200}", "\"url\""}) {
    EXPECT_FALSE(parse_json_line(bad, back)) << bad;
    EXPECT_EQ(back.url, "untouched") << bad;
  }
}

TEST(RecordJson, OptionalFieldsReadLeniently) {
  Record r;
  r.attempts = 9;
  // Only url: everything else at its default (a line from an older writer).
  ASSERT_TRUE(parse_json_line(R"({"url":"http://h/"})", r));
  EXPECT_EQ(r.url, "http://h/");
  EXPECT_EQ(r.attempts, 0);
  EXPECT_TRUE(r.ok());
  // Mistyped fields keep their defaults; an error that is not a string is an
  // error all the same (a damaged line never reads as done).
  ASSERT_TRUE(parse_json_line(
      R"({"url":"u","status":"200","bytes":-1,"path":3,"error":{"x":1},"elapsed":"1"})", r));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.error, R"({"x":1})");
  EXPECT_EQ(r.elapsed, 0);
  ASSERT_TRUE(parse_json_line(R"({"url":"u","error":""})", r));
  EXPECT_EQ(r.error, "error");
  ASSERT_TRUE(parse_json_line(R"({"url":"u","error":null,"status":null})", r));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.status, 0);
}

// A record with one more field than Record, listed the same way.
struct WiderRecord : Record {
  std::string language;
};
inline constexpr auto kWiderFields = std::tuple_cat(
    corun::fetch::kRecordFields,
    std::make_tuple(RecordField<FieldKind::text_or_null, &WiderRecord::language>{"language"}));

TEST(RecordJson, AFieldAddedToTheListIsWrittenAndRead) {
  namespace rj = corun::fetch::report_json;
  WiderRecord r;
  r.url = "http://h/";
  r.language = "zh-CN";
  std::string line;
  rj::append_json_object<kWiderFields>(line, r);
  EXPECT_NE(line.find(R"("elapsed":0.000000,"language":"zh-CN"})"), std::string::npos) << line;
  WiderRecord back;
  ASSERT_TRUE(rj::parse_json_object<kWiderFields>(line, back)) << line;
  EXPECT_EQ(back.language, "zh-CN");
  EXPECT_EQ(back.url, "http://h/");
  // Record's own reader ignores the key it does not know.
  Record plain;
  ASSERT_TRUE(parse_json_line(line, plain));
  EXPECT_EQ(plain.url, "http://h/");
}

}  // namespace
