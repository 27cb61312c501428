// corun: the command-line tool. Subcommands: fetch (see fetch_command.hpp).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "fetch_command.hpp"
#include "queue_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"corun: asyncio's model in C++20, and the tools built on it"};
  app.set_version_flag("-V,--version", "corun 0.1.0");
  app.require_subcommand(1);
  app.footer("Run 'corun fetch --help' for the fetcher's options.");
  corun::app::FetchArgs fetch_args;
  CLI::App* fetch = corun::app::add_fetch_command(app, fetch_args);
  corun::app::QueueArgs queue_args;
  corun::app::add_queue_options(fetch, queue_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::puts("corun 0.1.0");
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return 0;
    }
    std::fprintf(stderr, "corun: %s\n", e.what());
    std::fprintf(stderr, "Try 'corun %s--help' for more information.\n",
                 fetch->parsed() ? "fetch " : "");
    return 2;
  }
  if (fetch->parsed() && corun::app::queue_mode(queue_args)) {
    return corun::app::run_queue_command(fetch_args, queue_args);
  }
  if (fetch->parsed()) return corun::app::run_fetch_command(fetch_args);
  return 2;
}
