// fetch::check_options and the option list it reads (kOptionFields) and
// fetch::parse_input_line: in process, no server.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <type_traits>
#include <variant>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/queue.hpp"
#include "corun/fetch/source.hpp"

namespace corun::fetch {
namespace {

// The field an Options check blames, or "" when it passes.
std::string blamed(const Options& o) {
  try {
    check_options(o);
  } catch (const OptionsError& e) {
    return e.field();
  }
  return "";
}

struct Case {
  std::string field;
  std::function<void(Options&, double)> set;
};

std::vector<Case> numeric_cases() {
  return {
      {"concurrency", [](Options& o, double v) { o.concurrency = static_cast<std::size_t>(v); }},
      {"limit_per_host",
       [](Options& o, double v) { o.limit_per_host = static_cast<std::size_t>(v); }},
      {"threads", [](Options& o, double v) { o.threads = static_cast<std::size_t>(v); }},
      {"retries", [](Options& o, double v) { o.retries = static_cast<int>(v); }},
      {"rate", [](Options& o, double v) { o.rate = v; }},
      {"timeout", [](Options& o, double v) { o.timeout = Seconds(v); }},
      {"connect_timeout", [](Options& o, double v) { o.connect_timeout = Seconds(v); }},
      {"read_timeout", [](Options& o, double v) { o.read_timeout = Seconds(v); }},
      {"retry_delay", [](Options& o, double v) { o.retry_delay = Seconds(v); }},
      {"retry_max_delay", [](Options& o, double v) { o.retry_max_delay = Seconds(v); }},
      {"max_body_size",
       [](Options& o, double v) { o.max_body_size = static_cast<std::size_t>(v); }},
  };
}

TEST(FetchOptions, DefaultsPass) {
  EXPECT_EQ(blamed(Options{}), "");
}

TEST(FetchOptions, EveryNumericFieldHasARangeAndEveryRangeAField) {
  std::set<std::string> fields;
  for (const Case& c : numeric_cases()) fields.insert(c.field);
  std::set<std::string> ranged;
  for (const OptionField& f : kOptionFields) {
    if (is_numeric(f)) ranged.insert(std::string(f.name));
  }
  EXPECT_EQ(fields, ranged);
  EXPECT_THROW(numeric_range("no_such_field"), std::out_of_range);
  EXPECT_THROW(numeric_range("user_agent"), std::out_of_range);  // an option, not a number
  EXPECT_NO_THROW(option_field("user_agent"));
}

TEST(FetchOptions, BoundsPassAndValuesPastThemNameTheirField) {
  for (const Case& c : numeric_cases()) {
    SCOPED_TRACE(c.field);
    const NumericRange& r = numeric_range(c.field);
    for (double ok : {r.min, r.max}) {
      Options o;
      c.set(o, ok);
      EXPECT_EQ(blamed(o), "") << ok;
    }
    {
      Options o;
      c.set(o, 0);
      EXPECT_EQ(blamed(o), r.zero.empty() && r.min > 0 ? c.field : "");
    }
    // Just past the top (for size_t fields, also a huge value a negative number wraps to).
    std::vector<double> bad{r.integer ? r.max + 1 : r.max * 1.5};
    if (!r.integer) {
      bad.push_back(-1);
      bad.push_back(std::nan(""));
      bad.push_back(std::numeric_limits<double>::infinity());
      if (r.min > 0) bad.push_back(r.min / 2);
    } else if (c.field == "retries") {
      bad.push_back(-1);
    } else {
      bad.push_back(1.8e19);  // (size_t)-5
    }
    for (double v : bad) {
      Options o;
      c.set(o, v);
      EXPECT_EQ(blamed(o), c.field) << v;
    }
  }
}

TEST(FetchOptions, TheMessageNamesTheFieldTheRangeAndTheValue) {
  Options o;
  o.concurrency = static_cast<std::size_t>(-5);
  try {
    check_options(o);
    FAIL() << "no error";
  } catch (const OptionsError& e) {
    EXPECT_EQ(std::string(e.what()),
              "concurrency must be a whole number from 1 to 100000, not 18446744073709551611");
  }
  o = Options{};
  o.rate = -2;
  try {
    check_options(o);
    FAIL() << "no error";
  } catch (const OptionsError& e) {
    EXPECT_EQ(std::string(e.what()),
              "rate must be 0 (no limit) or a number from 0.001 to 1000000 (requests per "
              "second), not -2");
  }
}

TEST(FetchOptions, TheFetcherRefusesWhatTheCheckRefuses) {
  Options o;
  o.limit_per_host = 100001;
  try {
    Fetcher f(o);
    FAIL() << "no error";
  } catch (const OptionsError& e) {
    EXPECT_EQ(e.field(), "limit_per_host");
  }
}

TEST(FetchOptions, OtherBadOptionsNameTheirFieldToo) {
  Options label;
  label.encoding = "klingon";
  EXPECT_EQ(blamed(label), "encoding");
  label.raw = true;  // no decoding: the label is not used
  EXPECT_EQ(blamed(label), "");
  Options name;
  name.name_template = "{what}";
  EXPECT_EQ(blamed(name), "name_template");
  Options header;
  header.headers = {"X-Ok: 1", ": no name"};
  EXPECT_EQ(blamed(header), "headers");
  // A line break in a value would start a header of its own on the wire.
  header.headers = {"X-Ok: 1", "X-A: a\r\nX-Injected: 1"};
  EXPECT_EQ(blamed(header), "headers");
  header.headers = {"X A: spaces in the name"};
  EXPECT_EQ(blamed(header), "headers");
  header.headers = {"X-Ok: 1", "X-Empty:"};
  EXPECT_EQ(blamed(header), "");
  // A proxy scheme libcurl does not speak would fail every request.
  Options proxy;
  proxy.proxy = "bogus://127.0.0.1:3128";
  EXPECT_EQ(blamed(proxy), "proxy");
  for (const char* ok : {"127.0.0.1:3128", "http://p:3128", "HTTPS://p", "socks5h://p:1080"}) {
    proxy.proxy = ok;
    EXPECT_EQ(blamed(proxy), "") << ok;
  }
}

TEST(FetchOptions, DescribeRange) {
  EXPECT_EQ(describe_range(numeric_range("limit_per_host")),
            "0 (no limit) or a whole number from 1 to 100000");
  EXPECT_EQ(describe_range(numeric_range("retry_delay")), "a number from 0 to 1000000 (seconds)");
  EXPECT_FALSE(in_range(numeric_range("retries"), 1.5));
  EXPECT_TRUE(in_range(numeric_range("timeout"), 2.5));
}

// ---- input lines ----

struct Parsed {
  bool url_line;
  std::string url, label;
};
Parsed parse(std::string_view line, std::string_view base = {}) {
  InputLine l;
  l.url = "stale";
  l.label = "stale";
  bool ok = parse_input_line(line, base, l);
  return {ok, ok ? l.url : "", ok ? l.label : ""};
}

// A value of each option's type that differs from `was`.
struct Changed {
  template <class T>
  T operator()(const T& was) const {
    if constexpr (std::is_same_v<T, bool>) {
      return !was;
    } else if constexpr (std::is_same_v<T, Seconds>) {
      return was + Seconds(1.5);
    } else if constexpr (std::is_same_v<T, std::optional<std::size_t>>) {
      return was.value_or(0) + 4096;
    } else if constexpr (std::is_arithmetic_v<T>) {
      return static_cast<T>(was + 2);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      T more = was;
      more.push_back("X-Changed: 1");
      return more;
    } else {
      return T(std::string("changed-") + std::string(was.c_str()));
    }
  }
};

// kOptionFields is the one list of options: each entry addresses its own
// member, and its name, flags and Python keyword are its own too.
TEST(FetchOptions, TheFieldListNamesEachMemberOnce) {
  Options o;
  std::set<std::ptrdiff_t> offsets;
  std::set<std::string> names, keywords, flags;
  std::size_t entries = 0;
  for_each_option(o, [&](const OptionField& f, auto& member) {
    ++entries;
    SCOPED_TRACE(f.name);
    offsets.insert(reinterpret_cast<const char*>(&member) - reinterpret_cast<const char*>(&o));
    names.insert(std::string(f.name));
    keywords.insert(std::string(f.python_keyword()));
    std::string_view rest = f.flags;
    while (!rest.empty()) {
      std::size_t comma = std::min(rest.find(','), rest.size());
      EXPECT_TRUE(flags.insert(std::string(rest.substr(0, comma))).second) << rest;
      rest.remove_prefix(std::min(comma + 1, rest.size()));
    }
    using T = std::remove_cvref_t<decltype(member)>;
    // A switch takes no value; everything else shows a placeholder.
    EXPECT_EQ(f.value_name.empty(), (std::is_same_v<T, bool>));
    EXPECT_FALSE(f.help.empty());
    if (is_numeric(f)) {
      EXPECT_GT(f.range.max, 0);
      EXPECT_LE(f.range.min, f.range.max);
    } else {
      EXPECT_EQ(f.range.max, 0);  // a range on a non-number would never be checked
    }
  });
  EXPECT_EQ(entries, std::size(kOptionFields));
  EXPECT_EQ(offsets.size(), entries);
  EXPECT_EQ(names.size(), entries);
  EXPECT_EQ(keywords.size(), entries);
  // A change made through the list is a change of that member.
  Options changed;
  for_each_option(changed, [](const OptionField&, auto& member) { member = Changed{}(member); });
  EXPECT_NE(changed.concurrency, o.concurrency);
  EXPECT_NE(changed.ca_file, o.ca_file);
  EXPECT_NE(changed.bom, o.bom);
}

// The options a shared crawl's producer stores for every worker are the list's
// `crawl` ones, and only those: QueueSettings carries each (a crawl setting
// added to the list but not to QueueSettings fails here).
TEST(FetchOptions, CrawlOptionsAreTheQueueSettings) {
  Options changed;
  for_each_option(changed, [](const OptionField&, auto& member) { member = Changed{}(member); });
  Options applied;
  QueueSettings::from_options(changed).apply_to(applied);
  const Options defaults;
  std::size_t crawl = 0;
  for (const OptionField& f : kOptionFields) {
    SCOPED_TRACE(f.name);
    std::visit(
        [&](auto member) {
          if (f.role == OptionRole::crawl) {
            ++crawl;
            EXPECT_TRUE(applied.*member == changed.*member);
          } else {
            EXPECT_TRUE(applied.*member == defaults.*member);
          }
        },
        f.member);
  }
  EXPECT_GT(crawl, 0U);
}

TEST(InputLine, BlankLinesAndCommentsAreNotUrlLines) {
  for (std::string_view s : {"", " ", "\t \r", "\r", "#", "# http://x/", "  \t# c"})
    EXPECT_FALSE(parse(s).url_line) << s;
}

TEST(InputLine, UrlAndLabel) {
  Parsed p = parse("  http://a/b  gb18030 \r");
  EXPECT_TRUE(p.url_line);
  EXPECT_EQ(p.url, "http://a/b");
  EXPECT_EQ(p.label, "gb18030");
  p = parse("http://a/\tsome  label");
  EXPECT_EQ(p.url, "http://a/");
  EXPECT_EQ(p.label, "some  label");
  p = parse("http://a/");
  EXPECT_EQ(p.label, "");  // a reused InputLine is reset
}

TEST(InputLine, BaseGoesBeforeRelativeLinesOnly) {
  EXPECT_EQ(parse("p/1.html", "http://h/").url, "http://h/p/1.html");
  EXPECT_EQ(parse("https://o/x", "http://h/").url, "https://o/x");
}

// A #comment after the URL or its label is dropped, as a line of its own is.
TEST(InputLine, ACommentAfterTheUrlIsNotItsLabel) {
  Parsed p = parse("http://a/x #the home page");
  EXPECT_EQ(p.url, "http://a/x");
  EXPECT_EQ(p.label, "");
  p = parse("http://a/x#frag gbk\t# old site");
  EXPECT_EQ(p.url, "http://a/x#frag");
  EXPECT_EQ(p.label, "gbk");
}

// A base that is a site alone gets the path's '/' before a line that does not
// start with one, not the line glued onto its host name ("h:8080p/1.html"); any
// other base is a prefix, as documented (a query's start, a path's stem).
TEST(InputLine, ASiteAloneAsBaseGetsTheSlashOfThePath) {
  EXPECT_EQ(parse("p/1.html", "http://h:8080").url, "http://h:8080/p/1.html");
  EXPECT_EQ(parse("/p/1.html", "http://h:8080").url, "http://h:8080/p/1.html");
  EXPECT_EQ(parse("?q=1", "http://h").url, "http://h?q=1");
  EXPECT_EQ(parse("a", "https://user@h").url, "https://user@h/a");
  EXPECT_EQ(parse("42", "http://h/item").url, "http://h/item42");
  EXPECT_EQ(parse("term", "http://h/search?q=").url, "http://h/search?q=term");
  EXPECT_EQ(parse("x", "http://h/#").url, "http://h/#x");
  // One '/' between a base that ends with one and a line that starts with one.
  EXPECT_EQ(parse("/p2.html", "http://h/").url, "http://h/p2.html");
  EXPECT_EQ(parse("/v1", "http://h/api/").url, "http://h/api/v1");
}

TEST(InputLine, OtherBytesStayInTheUrl) {
  std::string line("http://a/\0b\xff", 12);
  Parsed p = parse(line);
  EXPECT_TRUE(p.url_line);
  EXPECT_EQ(p.url, line);
  // A BOM and a lone '\r' inside are not blanks: the URL keeps them (its record
  // then says it is invalid).
  EXPECT_EQ(parse("\xEF\xBB\xBFhttp://a/").url, "\xEF\xBB\xBFhttp://a/");
  EXPECT_EQ(parse("http://a/\rhttp://b/").url, "http://a/\rhttp://b/");
}

}  // namespace
}  // namespace corun::fetch
