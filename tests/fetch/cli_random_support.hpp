// Random argument vectors and random input files for the real `corun fetch`
// (cli_random_test.cpp, cli_random_integration_test.cpp; issue 15): whatever a
// user types or feeds, the run ends with exit 0, 1 or 2, never a signal, a hang
// or an internal message; on 0 and 1 the report is whole JSON lines, one record
// per URL line. Every URL points at 127.0.0.1 (a dead port), so no run waits
// for the network. The RNG is seeded from CORUN_FUZZ_SEED or a fixed default,
// and the seed is printed with every failure.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cli_support.hpp"

namespace corun::testing::cli {

inline std::uint64_t fuzz_seed(std::uint64_t fallback) {
  const char* s = std::getenv("CORUN_FUZZ_SEED");
  std::uint64_t seed = s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : fallback;
  std::printf("corun fetch random cases: seed %llu (set CORUN_FUZZ_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

// What stderr must never show: internals, crashes, sanitizer reports.
inline const std::vector<std::string_view>& internal_messages() {
  static const std::vector<std::string_view> words = {
      "Semaphore", "std::",     "terminate",     "what():",
      "Assertion", "Sanitizer", "runtime error", "Segmentation",
      "Aborted",   "bad_alloc", "basic_string",  "stoul",
      "stoull",    "stoi",      "out_of_range",  "invalid_argument"};
  return words;
}

// The URL lines of an input, counted as the docs state (include/corun/fetch/source.hpp):
// lines end at '\n' (a last line without one counts); spaces, tabs and a trailing '\r'
// around a line are dropped; empty lines and lines starting with '#' are not URL lines
// (nor is a BOM at the start of the input part of a line);
// a line longer than 64 KiB is one URL line (its record says so). Written apart from
// parse_input_line on purpose: it checks that.
inline bool is_url_line(std::string_view line) {
  std::size_t b = line.find_first_not_of(" \t");
  if (b == std::string_view::npos) return false;
  line.remove_prefix(b);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
    line.remove_suffix(1);
  return !line.empty() && line.front() != '#';
}

inline std::size_t url_lines(std::string_view text) {
  std::size_t n = 0;
  // A UTF-8 byte order mark at the very start of the input is not part of its first line.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    n += line.size() > 64 * 1024 || is_url_line(line);
  }
  return n;
}

class RandomCases {
 public:
  RandomCases(std::uint64_t seed, int dead_port) : rng_(seed), dead_(dead_port) {}

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  std::string junk(std::size_t max_len, bool allow_nul) {
    std::string s(below(max_len + 1), '\0');
    for (char& c : s) {
      c = static_cast<char>(below(256));
      if (!allow_nul && c == '\0') c = 'x';
    }
    return s;
  }

  // A URL that fails at once: a dead loopback port, or not a URL at all.
  std::string url() {
    switch (below(8)) {
      case 0:
        return fmt::format("https://127.0.0.1:{}/s", dead_);
      case 1:
        return fmt::format("http://127.0.0.1:{}/p/{}.html?q={}#f", dead_, below(5), below(3));
      case 2:
        return pick<std::string>({"not-a-url", "http://", "ftp://127.0.0.1/x", "http://[::1",
                                  "http://127.0.0.1:99999/", "://", "http:/127.0.0.1/",
                                  "HTTP://127.0.0.1:1/UP"});
      case 3:
        return "j" + junk(20, false);  // no scheme: invalid, never resolved
      default:
        return fmt::format(
            "http://127.0.0.1:{}/{}", dead_,
            pick<std::string>({"", "a", "a/b/", "same.html", "%2e%2e/x", "..", "a b"}));
    }
  }

  // An input file's bytes.
  std::string input() {
    std::string text;
    if (chance(15)) text += "\xEF\xBB\xBF";  // a BOM (it stays in the first line's URL)
    std::size_t lines = below(30);
    for (std::size_t i = 0; i < lines; ++i) {
      switch (below(12)) {
        case 0:
          text += "";
          break;
        case 1:
          text += "# a comment " + junk(10, true);
          break;
        case 2:
          text += junk(40, true);  // binary junk, NULs included
          break;
        case 3:
          text += url() + std::string(1 + below(3), ' ') +
                  pick<std::string>({"gb18030", "utf-8", "klingon", "x y", "\t"});
          break;
        case 4:
          text += "  \t " + url() + " \t";
          break;
        case 5:  // a very long line: over the 64 KiB cap, or just under it
          text += fmt::format("http://127.0.0.1:{}/", dead_) +
                  std::string(chance(50) ? 70000 + below(50000) : 60000, 'a');
          break;
        case 6:
          text += std::string(below(3), '\r');
          break;
        default:
          text += url();
          break;
      }
      if (i + 1 < lines || chance(70)) text += chance(30) ? "\r\n" : "\n";
    }
    return text;
  }

  struct Argv {
    std::vector<std::string> args;  // after "fetch -o DIR --report FILE"
    bool exact = true;              // false when junk flags or values make the URL count unknowable
    std::optional<std::string> input_file;  // -i's contents, when given
    std::vector<std::string> positional;    // the URL arguments
  };

  Argv argv(const fs::path& input_path) {
    Argv a;
    std::size_t items = below(7);
    bool urls = chance(60);
    for (std::size_t i = 0; i < items; ++i) {
      switch (below(6)) {
        case 0:
        case 1:
          a.exact = number_option(a.args) && a.exact;
          break;
        case 2: {
          a.args.push_back(pick<std::string>({"--name", "--encoding", "-H", "-A", "--base", "-x"}));
          bool known = true;
          a.args.push_back(string_value(a.args.back(), known));
          a.exact = known && a.exact;
          break;
        }
        case 3:
          a.args.push_back(
              pick<std::string>({"--raw", "--no-bom", "--fsync", "--resume", "--no-cookies", "-k",
                                 "-q", "--progress", "--no-progress"}));
          break;
        case 4:
          a.exact = false;
          if (chance(20)) {
            a.args.push_back(pick<std::string>({"--bogus", "-Z", "--concurrency=", "--c", "-",
                                                "--demo", "-i", "--max-size", "-cq"}));
          } else {
            a.args.push_back("-" + junk(6, false));
          }
          break;
        default:
          if (chance(50) && !a.input_file) {
            a.input_file = input();
            write_file(input_path, *a.input_file);
            a.args.push_back("-i");
            a.args.push_back(input_path.string());
          }
          break;
      }
    }
    if (urls) {
      std::size_t n = 1 + below(4);
      for (std::size_t i = 0; i < n; ++i) {
        std::string u = chance(10) ? pick<std::string>({"", " ", "#c", "u gb18030"}) : url();
        a.positional.push_back(u);
        a.args.push_back(u);
      }
    }
    return a;
  }

 private:
  // False when the value is random bytes (which may read as another flag).
  bool number_option(std::vector<std::string>& args) {
    // Valid values stay small so a valid run is quick (no long waits between tries).
    static const std::vector<std::pair<std::string, std::vector<std::string>>> flags = {
        {"-c", {"1", "4", "64"}},           {"--per-host", {"0", "1", "2"}},
        {"--threads", {"0", "1", "3"}},     {"--retries", {"0", "1"}},
        {"--rate", {"0", "1000"}},          {"--timeout", {"0", "5", "0.5"}},
        {"--connect-timeout", {"0", "2"}},  {"--read-timeout", {"0", "3"}},
        {"--retry-delay", {"0", "0.01"}},   {"--retry-max-delay", {"0", "0.05"}},
        {"--max-size", {"1", "10M", "1K"}}, {"--demo-pages", {"1", "3"}},
    };
    static const std::vector<std::string> bad = {"-1",
                                                 "0",
                                                 "-0",
                                                 "99999999999999999999999",
                                                 "1e400",
                                                 "nan",
                                                 "inf",
                                                 "",
                                                 "0x10",
                                                 "abc",
                                                 "1.5",
                                                 "+3",
                                                 " 5",
                                                 "010",
                                                 "1e3",
                                                 "-1e-9",
                                                 "18446744073709551616"};
    // Values that are valid but slow (a retry 1000 s later, 1.5 requests per second)
    // are left out for the flags that pace a run.
    static const std::vector<std::string> bad_pacing = {
        "-1", "nan", "inf", "", "0x10", "abc", "-1e-9", "1e400", "99999999999999999999999"};
    const auto& f = pick(flags);
    args.push_back(f.first);
    bool pacing = f.first == "--retries" || f.first == "--retry-delay" ||
                  f.first == "--retry-max-delay" || f.first == "--rate";
    if (f.first == "--demo-pages") {
      args.push_back(pick(bad));  // a valid one runs nothing without --demo; a bad one is an error
      return true;
    }
    if (chance(50)) {
      args.push_back(pick(f.second));
    } else if (chance(85)) {
      args.push_back(pick(pacing ? bad_pacing : bad));
    } else {
      args.push_back(junk(8, false));
      return false;
    }
    return true;
  }

  // known: false for random bytes. (Never for -x: a random proxy name would be
  // looked up in DNS.)
  std::string string_value(const std::string& flag, bool& known) {
    if (flag != "-x" && chance(20)) {
      known = false;
      return junk(12, false);
    }
    if (flag == "--name")
      return pick<std::string>({"{index}.html", "{host}/{name}", "{hash}", "{path}", "{bad}",
                                "{index", "/abs", "../x", "a//b", "{name}/..", ".", "x/{index}/."});
    if (flag == "--encoding")
      return pick<std::string>({"auto", "utf-8", "gb18030", "klingon", "", "UTF8"});
    if (flag == "-H") return pick<std::string>({"X-A: 1", "bad", ":", "", "X:\x01"});
    if (flag == "--base")
      return pick<std::string>({fmt::format("http://127.0.0.1:{}/", dead_), "", "junk/"});
    if (flag == "-x") return fmt::format("http://127.0.0.1:{}", dead_);
    return "agent";
  }

  std::mt19937_64 rng_;
  int dead_;
};

// Runs one case and checks it; `what` describes the case for failure messages.
struct CaseExpectations {
  std::optional<std::size_t> records;  // expected records on exit 0/1, when known
};

inline void check_run(const RunResult& r, const fs::path& report, const CaseExpectations& expect,
                      const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_FALSE(r.hung) << r;
  ASSERT_EQ(r.signal, 0) << r;
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2) << r;
  for (std::string_view w : internal_messages()) {
    EXPECT_EQ(r.err.find(w), std::string::npos) << "internal message '" << w << "'\n" << r;
  }
  if (r.exit_code == 2) {
    EXPECT_NE(r.err.find("corun"), std::string::npos) << "a usage error says what is wrong\n" << r;
    return;
  }
  ASSERT_TRUE(fs::exists(report)) << r;
  std::string text = read_file(report);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the report ends in a partial line";
  auto records = read_report(report);
  if (expect.records) {
    EXPECT_EQ(records.size(), *expect.records) << r;
  }
  std::size_t failed = 0;
  for (const auto& rec : records) {
    EXPECT_TRUE(rec.contains("url") && rec["url"].is_string()) << rec;
    failed += !ok(rec);
  }
  if (r.exit_code == 0) {
    EXPECT_EQ(failed, 0u) << r;
  } else {
    EXPECT_GT(failed, 0u) << r;
  }
}

}  // namespace corun::testing::cli
