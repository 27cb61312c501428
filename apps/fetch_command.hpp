// `corun fetch`: the command-line face of corun::fetch (options, progress line,
// summary, Ctrl-C, --demo).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "corun/fetch/fetch.hpp"

namespace corun::app {

struct FetchArgs {
  fetch::Options options;
  std::vector<std::string> urls;  // positional; "-" alone means stdin
  std::string input;              // -i FILE
  std::string max_size;
  double timeout = 120, connect_timeout = 15, read_timeout = 0, retry_delay = 0.5,
         retry_max_delay = 30;
  bool no_bom = false;
  bool no_cookies = false;
  bool demo = false;
  std::size_t demo_pages = 1000;
  bool quiet = false;
  bool progress = false;
  bool no_progress = false;
};

// Declares the subcommand and its options on app.
CLI::App* add_fetch_command(CLI::App& app, FetchArgs& args);
// Runs it; returns the exit code (0 all done, 1 some failed, 2 usage, 130 Ctrl-C).
int run_fetch_command(FetchArgs& args);

}  // namespace corun::app
