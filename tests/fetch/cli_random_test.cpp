// `corun fetch` on random argument vectors and random input files (issue 15; the
// generator and the checks are in cli_random_support.hpp). A few dozen cases of
// each here, in the normal suite; cli_random_integration_test.cpp has the heavy
// ones (100,000 identical URLs, more random cases).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "cli_random_support.hpp"
#include "support/nginx_fixture.hpp"

namespace {

using namespace corun::testing::cli;

bool has(const std::vector<std::string>& args, std::string_view flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

TEST(FetchCliRandom, ArgumentVectors) {
  corun::testing::TempDir dir("corun-cli-random");
  std::uint64_t seed = fuzz_seed(20261202);
  RandomCases gen(seed, corun::testing::free_port());
  for (int i = 0; i < 60; ++i) {
    fs::path run = dir.path() / fmt::format("case{}", i);
    fs::create_directories(run);
    RandomCases::Argv a = gen.argv(run / "input.txt");
    std::vector<std::string> args = {"fetch", "-o", (run / "out").string(), "--report",
                                     (run / "report.jsonl").string()};
    // No waits between tries unless the case asks for its own.
    if (!has(a.args, "--retries")) args.insert(args.end(), {"--retries", "0"});
    if (!has(a.args, "--retry-max-delay")) args.insert(args.end(), {"--retry-max-delay", "0.05"});
    args.insert(args.end(), a.args.begin(), a.args.end());
    std::string shown = fmt::format("seed {} case {}: corun", seed, i);
    for (const auto& s : args) shown += fmt::format(" '{}'", s);

    CaseExpectations expect;
    if (a.exact) {
      if (a.input_file && a.positional.empty()) {
        expect.records = url_lines(*a.input_file);
      } else if (!a.input_file && !a.positional.empty()) {
        std::size_t n = 0;
        for (const auto& p : a.positional) n += is_url_line(p);
        expect.records = n;
      }
    }
    RunResult r = run_corun(args, RunOptions().in(run).hang_guard(std::chrono::seconds(120)));
    check_run(r, run / "report.jsonl", expect, shown);
    if (a.exact && !expect.records) {
      EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r;
    }
    if (HasFatalFailure()) return;
    fs::remove_all(run);
  }
}

TEST(FetchCliRandom, InputFiles) {
  corun::testing::TempDir dir("corun-cli-random");
  std::uint64_t seed = fuzz_seed(15);
  RandomCases gen(seed, corun::testing::free_port());
  for (int i = 0; i < 30; ++i) {
    fs::path run = dir.path() / fmt::format("case{}", i);
    fs::create_directories(run);
    std::string text = gen.input();
    write_file(run / "input.txt", text);
    bool from_stdin = gen.chance(30);
    std::vector<std::string> args = {"fetch",     "-q",
                                     "--retries", "0",
                                     "-c",        "16",
                                     "-o",        (run / "out").string(),
                                     "--report",  (run / "report.jsonl").string()};
    if (gen.chance(30)) args.insert(args.end(), {"--name", "{index}-{name}"});
    if (from_stdin) {
      args.push_back("-");
    } else {
      args.insert(args.end(), {"-i", (run / "input.txt").string()});
    }
    RunOptions opt = RunOptions().in(run).hang_guard(std::chrono::seconds(120));
    if (from_stdin) opt.stdin_from(run / "input.txt");
    RunResult r = run_corun(args, opt);
    std::string shown = fmt::format("seed {} case {} ({} bytes{})", seed, i, text.size(),
                                    from_stdin ? ", stdin" : "");
    CaseExpectations expect{url_lines(text)};
    check_run(r, run / "report.jsonl", expect, shown);
    EXPECT_NE(r.exit_code, 2) << shown << "\n" << r;  // the input never makes a usage error
    if (HasFatalFailure()) return;
    fs::remove_all(run);
  }
}

// The oracle itself, on the shapes the generator makes.
TEST(FetchCliRandom, UrlLinesCountsAsDocumented) {
  EXPECT_EQ(url_lines(""), 0u);
  EXPECT_EQ(url_lines("a\n\n  \n# c\n\tb \r\nc"), 3u);
  EXPECT_EQ(url_lines("\r\n\r\r\n"), 0u);
  EXPECT_EQ(url_lines(std::string(70000, ' ') + "\n"), 1u);  // over 64 KiB: one URL line
  EXPECT_EQ(url_lines(std::string(60000, ' ') + "\n"), 0u);
  EXPECT_EQ(url_lines(std::string("a\0b\n", 4)), 1u);
}

}  // namespace
