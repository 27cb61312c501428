// corun::http::Headers: case-insensitive multi-map.
#include "corun/http/headers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using corun::http::Headers;

TEST(Headers, LookupIsCaseInsensitiveAndKeepsRepeats) {
  Headers h;
  h.add("Set-Cookie", "a=1");
  h.add("Content-Type", "text/html");
  h.add("set-cookie", "b=2");
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.get("content-TYPE").value(), "text/html");
  EXPECT_EQ(h.get("SET-COOKIE").value(), "a=1");
  auto all = h.get_all("Set-Cookie");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1], "b=2");
  EXPECT_FALSE(h.get("X-Missing").has_value());
  EXPECT_EQ(h.get_or("X-Missing", "none"), "none");
}

TEST(Headers, SetReplacesEveryRepeatAndEraseCounts) {
  Headers h{{"A", "1"}, {"a", "2"}, {"B", "3"}};
  h.set("A", "9");
  EXPECT_EQ(h.get_all("a").size(), 1u);
  EXPECT_EQ(h.get("a").value(), "9");
  EXPECT_EQ(h.erase("b"), 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Headers, ParsesRawLinesAsCurlDeliversThem) {
  Headers h;
  EXPECT_FALSE(h.add_raw_line("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(h.add_raw_line("Content-Length:   12 \r\n"));
  EXPECT_TRUE(h.add_raw_line("X-Folded: first\r\n"));
  EXPECT_TRUE(h.add_raw_line("  second\r\n"));
  EXPECT_FALSE(h.add_raw_line("\r\n"));
  EXPECT_FALSE(h.add_raw_line("no colon here\r\n"));
  EXPECT_EQ(h.get("content-length").value(), "12");
  EXPECT_EQ(h.get("x-folded").value(), "first second");
  int n = 0;
  for (auto f : h) {
    EXPECT_FALSE(f.name.empty());
    ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(Headers, RefusesANameWithWhitespaceOrNoName) {
  Headers h;
  EXPECT_FALSE(h.add_raw_line("Bad Name: x\r\n"));
  EXPECT_FALSE(h.add_raw_line("Bad\tName: x\r\n"));
  EXPECT_FALSE(h.add_raw_line("Trailing : x\r\n"));
  EXPECT_FALSE(h.add_raw_line(": no name\r\n"));
  EXPECT_TRUE(h.add_raw_line("Value-Spaces: a b:c\r\n"));
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("value-spaces").value(), "a b:c");
  // Many fields (past the first reservation) keep their names and values.
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(h.add_raw_line("X-" + std::to_string(i) + ": v" + std::to_string(i) + "\r\n"));
  }
  EXPECT_EQ(h.size(), 41u);
  EXPECT_EQ(h.get("x-39").value(), "v39");
  EXPECT_EQ(h.get("value-spaces").value(), "a b:c");
}

}  // namespace
