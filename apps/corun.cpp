// corun: the command-line tool. Subcommands: fetch (see fetch_command.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>

#include "fetch_command.hpp"
#include "queue_command.hpp"

namespace {
// A descriptor among 0, 1, 2 that the caller closed (`corun fetch ... >&-`) would be
// the next one opened: libuv's epoll instance read as stdin, written as stdout, and
// its close on exit asserting. Each closed one is /dev/null instead, as a shell's
// redirection would give: a closed stdin reads as empty, output is dropped.
void open_closed_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int got = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (got >= 0 && got != fd) {
      ::dup2(got, fd);
      ::close(got);
    }
  }
}
}  // namespace

int main(int argc, char** argv) {
  open_closed_standard_descriptors();
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
    // Under `corun fetch`, its own prefix, as every other fetch message has.
    std::fprintf(stderr, "%s: %s\n", fetch->parsed() ? "corun fetch" : "corun", e.what());
    std::fprintf(stderr, "Try 'corun %s--help' for more information.\n",
                 fetch->parsed() ? "fetch " : "");
    return 2;
  }
  if (fetch->parsed() && !corun::app::queue_mode(queue_args)) {
    // The shared crawl's flags without --queue, --demo-pages without --demo:
    // refused, not ignored (the run would do something else than asked).
    for (const char* flag :
         {"--enqueue", "--collect", "--status", "--watch", "--worker-name", "--deliver-timeout",
          "--lease", "--max-deliveries", "--expected-urls", "--high-water"}) {
      if (fetch->get_option(flag)->count() == 0) continue;
      std::fprintf(stderr, "corun fetch: %s goes with --queue URL (docs/scale-out.md)\n", flag);
      std::fprintf(stderr, "Try 'corun fetch --help' for more information.\n");
      return 2;
    }
    if (fetch->get_option("--demo-pages")->count() > 0 && !fetch_args.demo) {
      std::fprintf(stderr, "corun fetch: --demo-pages goes with --demo\n");
      std::fprintf(stderr, "Try 'corun fetch --help' for more information.\n");
      return 2;
    }
  }
  if (fetch->parsed() && fetch->get_option("--raw")->count() > 0 &&
      fetch->get_option("--encoding")->count() > 0) {
    // --raw decodes nothing: the label would be ignored.
    std::fprintf(stderr,
                 "corun fetch: --encoding goes without --raw (--raw writes the bodies as "
                 "received, nothing is decoded)\n");
    std::fprintf(stderr, "Try 'corun fetch --help' for more information.\n");
    return 2;
  }
  if (fetch->parsed() && corun::app::queue_mode(queue_args)) {
    return corun::app::run_queue_command(fetch_args, queue_args);
  }
  if (fetch->parsed()) return corun::app::run_fetch_command(fetch_args);
  return 2;
}
