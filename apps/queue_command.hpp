// `corun fetch --queue redis://[user:pass@]host:port[/db]/NAME`: the shared
// crawl on the command line (docs/scale-out.md): --enqueue FILE|- (producer),
// --collect FILE (report), --status [--watch], and with none of those a
// worker. Kept apart from fetch_command.cpp: it only adds its flags to the
// fetch subcommand and takes over when --queue is given.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "fetch_command.hpp"

namespace corun::app {

struct QueueArgs {
  std::string queue;    // --queue URL/NAME; empty: not queue mode
  std::string enqueue;  // --enqueue FILE|-
  std::string collect;  // --collect FILE
  bool status = false;
  bool watch = false;
  std::string worker;      // --worker-name
  double lease = 60;       // --lease seconds (producer: stored for every worker)
  int max_deliveries = 5;  // --max-deliveries (producer)
  std::size_t high_water = 1000000;
  std::uint64_t expected_urls = 0;  // --expected-urls (producer): sizes the dedup sets
  double deliver_timeout = 30;      // --deliver-timeout seconds (worker, at exit)
  // The companions only a producer, or only a worker, takes (to refuse them
  // elsewhere: given there, they would be ignored).
  std::vector<const CLI::Option*> producer_only, worker_only;
};

// Adds --queue and its companions to the fetch subcommand.
void add_queue_options(CLI::App* fetch, QueueArgs& args);
// True when --queue was given: run_queue_command() handles the run.
inline bool queue_mode(const QueueArgs& args) {
  return !args.queue.empty();
}
// Exit code: 0 done (the crawl finished, for a worker and the collector), 1
// some URLs failed (collector), 2 usage or server error, 130 interrupted.
int run_queue_command(FetchArgs& fetch_args, QueueArgs& args);

}  // namespace corun::app
