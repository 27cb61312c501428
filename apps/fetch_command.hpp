// `corun fetch`: the command-line face of corun::fetch (options, progress line,
// summary, Ctrl-C, --demo).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "corun/fetch/fetch.hpp"

namespace corun::app {

struct FetchArgs {
  // The flags write into it directly (their defaults shown from a
  // default-constructed Options).
  fetch::Options options;
  std::vector<std::string> urls;  // positional; "-" alone means stdin
  std::string input;              // -i FILE
  bool demo = false;
  std::size_t demo_pages = 1000;
  bool quiet = false;
  bool progress = false;
  bool no_progress = false;
  // Options members -> the flags that set them (for the Fetcher's OptionsError),
  // recorded as the flags are declared.
  std::vector<std::pair<std::string, std::string>> flag_of_field;
  // Each field's flag as declared: which were given (a worker refuses the
  // crawl's and a local run's own).
  std::vector<std::pair<const fetch::OptionField*, const CLI::Option*>> flags;
};

// Declares the subcommand and its options on app.
CLI::App* add_fetch_command(CLI::App& app, FetchArgs& args);
// Runs it; returns the exit code (0 all done, 1 some failed, 2 usage, 130 Ctrl-C).
int run_fetch_command(FetchArgs& args);

}  // namespace corun::app
