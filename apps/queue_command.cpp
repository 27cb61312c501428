// `corun fetch --queue ...` (see queue_command.hpp).
#include "queue_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "corun/corun.hpp"
#include "corun/fetch/frontier_redis.hpp"
#include "corun/fetch/queue.hpp"
#include "corun/fs/file.hpp"
#include "failure_tally.hpp"

namespace corun::app {

namespace {

// "1 URL", "2 URLs".
std::string count(std::uint64_t n, const char* noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

int queue_usage(const std::string& message) {
  std::fprintf(stderr, "corun fetch: %s\nTry 'corun fetch --help' for more information.\n",
               message.c_str());
  return 2;
}

// A crawl setting the producer was given, as given and as the crawl has it
// (equal when the crawl took it).
std::pair<std::string, std::string> setting_values(const std::string& field,
                                                   const fetch::QueueSettings& s) {
  auto secs = [](double v) { return fmt::format("{}", v); };
  if (field == "limit_per_host") return {"--per-host", std::to_string(s.limit_per_host)};
  if (field == "rate") return {"--rate", fmt::format("{}", s.rate)};
  if (field == "retries") return {"--retries", std::to_string(s.retries)};
  if (field == "retry_delay") return {"--retry-delay", secs(s.retry_delay.count())};
  if (field == "retry_max_delay") return {"--retry-max-delay", secs(s.retry_max_delay.count())};
  if (field == "encoding") return {"--encoding", s.encoding};
  if (field == "name_template") return {"--name", s.name_template};
  if (field == "bom") return {"--no-bom", s.bom ? "off" : "on"};
  if (field == "raw") return {"--raw", s.raw ? "on" : "off"};
  if (field == "lease") return {"--lease", secs(static_cast<double>(s.lease.count()) / 1000)};
  if (field == "max_deliveries") return {"--max-deliveries", std::to_string(s.max_deliveries)};
  return {field, ""};
}

Task<int> enqueue_main(const fetch::QueueAddress& address, std::string input,
                       fetch::EnqueueOptions options, bool quiet,
                       std::vector<std::string> given_settings) {
  const fetch::QueueSettings wanted = options.settings;
  // What the run had added when it was interrupted (the progress so far).
  auto so_far = std::make_shared<std::pair<std::uint64_t, std::uint64_t>>(0, 0);
  options.on_progress = [quiet, so_far](std::uint64_t lines, std::uint64_t added) {
    *so_far = {lines, added};
    if (!quiet && ::isatty(STDERR_FILENO) == 1) {
      std::fprintf(stderr, "\r\033[K  %s read, %s added", count(lines, "line").c_str(),
                   count(added, "URL").c_str());
    }
  };
  Task<fetch::EnqueueResult> running =
      fetch::enqueue(address, std::filesystem::path(input), std::move(options));
  fetch::EnqueueResult r;
  try {
    r = co_await running;
  } catch (const CancelledError&) {
    // Ctrl-C: the lines read were added before it ended (unless Redis was
    // away, or Ctrl-C came again meanwhile); say how far it got.
    if (!quiet) {
      struct stat st {};
      bool file = input != "-" && ::stat(input.c_str(), &st) == 0 && S_ISREG(st.st_mode);
      if (::isatty(STDERR_FILENO) == 1) std::fputs("\n", stderr);
      std::fprintf(stderr, "corun fetch: interrupted: %s added to %s from the first %s read; %s\n",
                   count(so_far->second, "URL").c_str(), address.to_string().c_str(),
                   count(so_far->first, "line").c_str(),
                   file ? "the same command again goes on from there"
                        : "the rest of the input was not read");
    }
    throw;
  }
  if (!quiet) {
    if (::isatty(STDERR_FILENO) == 1) std::fputs("\n", stderr);
    std::fprintf(stderr,
                 "corun fetch: %s added to %s, %s, %s read (%llu skipped: added by an "
                 "earlier run)\n",
                 count(r.added, "URL").c_str(), address.to_string().c_str(),
                 count(r.duplicates, "duplicate").c_str(), count(r.lines, "line").c_str(),
                 static_cast<unsigned long long>(r.resumed));
  }
  if (r.other_producers > 0) {
    // (whatever --quiet: the crawl does not finish until they do.)
    std::fprintf(stderr,
                 "corun fetch: the crawl's input is not done yet: %s still registered as "
                 "reading (one that was stopped lapses within %d s; run it again, or this "
                 "once more after that, to end the input)\n",
                 count(r.other_producers, "other producer").c_str(),
                 static_cast<int>(fetch::kProducerRegistration.count()));
  }
  // Settings given to a producer of an existing crawl are not applied: say so
  // (whatever --quiet), with what the crawl has.
  if (!r.stored_settings) {
    std::string differ;
    for (const std::string& field : given_settings) {
      auto [flag, want] = setting_values(field, wanted);
      auto [same_flag, have] = setting_values(field, r.settings);
      if (want != have)
        differ +=
            fmt::format("{}{} {} (the crawl's: {})", differ.empty() ? "" : ", ", flag, want, have);
    }
    if (!differ.empty()) {
      std::fprintf(stderr,
                   "corun fetch: not applied: %s: the crawl keeps the settings it was created "
                   "with\n",
                   differ.c_str());
    }
  }
  co_return 0;
}

Task<int> collect_main(const fetch::QueueAddress& address, std::string path, bool quiet) {
  fetch::CollectOptions options;
  auto written = std::make_shared<std::uint64_t>(0);
  options.on_record = [written](const fetch::Record&) { ++*written; };
  options.on_warning = [](const std::string& message) {
    fmt::print(stderr, "corun fetch: {}\n", message);
  };
  Task<fetch::CollectResult> running = fetch::collect(address, path, std::move(options));
  fetch::CollectResult r;
  try {
    r = co_await running;
  } catch (const CancelledError&) {
    // Ctrl-C: the report keeps what was written; a run again goes on after it.
    if (!quiet) {
      std::fprintf(stderr,
                   "corun fetch: interrupted: %s written to %s by this run; the same command "
                   "again goes on from there\n",
                   count(*written, "record").c_str(), path.c_str());
    }
    throw;
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "corun fetch: crawl %s finished: %llu done, %llu failed; %s written to %s "
                 "by this run\n",
                 address.to_string().c_str(), static_cast<unsigned long long>(r.done),
                 static_cast<unsigned long long>(r.failed), count(r.written, "record").c_str(),
                 path.c_str());
  }
  co_return r.exit_code();
}

// SIGTERM (kill, systemd, docker stop) ends the producer and the collector as
// Ctrl-C does: their task is cancelled, so the producer says what it added and
// the collector lets its claim go (the next one goes on at once instead of
// waiting 10 s for it to lapse); exit 143. A second SIGTERM quits at once.
Task<int> with_sigterm(Task<int> role) {
  Loop& loop = get_running_loop();
  TaskHandle<int> running = loop.create_task(std::move(role));
  int terms = 0;
  loop.add_signal_handler(SIGTERM, [&] {
    if (++terms > 1) {  // still stopping (Redis stalled, say): no more waiting
      std::fputs("corun fetch: terminated again: quitting now\n", stderr);
      ::_exit(128 + SIGTERM);
    }
    running.cancel();
  });
  struct Remove {
    Loop& loop;
    ~Remove() {
      if (!loop.is_closed()) loop.remove_signal_handler(SIGTERM);
    }
  } remove{loop};
  try {
    co_return co_await running;
  } catch (const CancelledError&) {
    if (terms == 0) throw;  // Ctrl-C: the runner's own (130)
  }
  co_return 128 + SIGTERM;
}

Task<int> status_main(const fetch::QueueAddress& address, bool watch) {
  Task<fetch::QueueStatus> first = fetch::status(address);
  fetch::QueueStatus previous = co_await first;
  std::fputs(fetch::format_status(previous).c_str(), stdout);
  std::fflush(stdout);
  auto t0 = Clock::now();
  while (watch && !previous.finished) {
    co_await sleep(std::chrono::seconds(2));
    Task<fetch::QueueStatus> next = fetch::status(address);
    fetch::QueueStatus now = co_await next;
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    std::fputs("\n", stdout);
    std::fputs(fetch::format_status(now, &previous, seconds).c_str(), stdout);
    std::fflush(stdout);
    previous = std::move(now);
  }
  co_return 0;
}

// A worker: the engine over a RedisFrontier.
Task<int> worker_main(const fetch::QueueAddress& address, fetch::Options options,
                      std::string worker, double deliver_timeout, bool quiet) {
  Task<fetch::QueueSettings> reading = fetch::read_queue_settings(address);
  fetch::QueueSettings settings = co_await reading;
  settings.apply_to(options);
  FailureTally failures;
  if (!quiet) failures.attach(options);
  {
    fetch::Fetcher fetcher(options);
    fetch::RedisFrontierOptions fo;
    fo.worker = std::move(worker);
    fo.close_timeout = std::chrono::milliseconds(static_cast<long long>(deliver_timeout * 1000));
    fo.on_warning = [](const std::string& message) {
      fmt::print(stderr, "corun fetch: {}\n", message);
    };
    fetch::RedisFrontier frontier(address, fo);
    Loop& loop = get_running_loop();
    int signals = 0;
    int first_signal = 0;  // the exit status is 128 + it, as a shell's
    for (int signum : {SIGINT, SIGTERM}) {
      loop.add_signal_handler(signum, [&, signum] {
        if (++signals == 1) {
          first_signal = signum;
          if (!quiet) {
            // SIGTERM (kill, systemd, docker stop) is not a Ctrl-C at a terminal:
            // the way to quit now is said as it applies.
            std::fprintf(stderr,
                         "\ncorun fetch: %s: finishing the URLs in flight and handing back the "
                         "rest (%s again to quit now; its leases then expire)\n",
                         signum == SIGTERM ? "terminated" : "interrupted",
                         signum == SIGTERM ? "SIGTERM" : "Ctrl-C");
          }
          fetcher.stop();
          return;
        }
        // Also ends a wait for Redis to take the results: they were never
        // acked, so their URLs are fetched again once their leases expire.
        if (!quiet) {
          std::fputs(
              "corun fetch: interrupted again: quitting now (what was not delivered is "
              "fetched again by another worker once its lease expires)\n",
              stderr);
        }
        ::_exit(128 + first_signal);
      });
    }
    Task<fetch::Summary> running = fetcher.run(frontier);
    fetch::Summary summary = co_await running;
    for (int signum : {SIGINT, SIGTERM}) loop.remove_signal_handler(signum);
    if (!quiet) {
      const auto& c = frontier.counters();
      std::string stalled;
      if (c.dropped + c.bounced > 0) {
        stalled = fmt::format(
            "; {} not started after a stall (taken over meanwhile, or their host full: {} back "
            "in the queue)",
            c.dropped + c.bounced, c.bounced);
      }
      // done + failed are this worker's records: each recorded in the crawl,
      // found recorded there already, or not delivered (Redis away); the
      // URLs its claims gave up on (delivered too often) are among them.
      std::string of =
          fmt::format("{} recorded, {} already recorded elsewhere", c.recorded, c.duplicates);
      if (c.not_delivered > 0) of += fmt::format(", {} not delivered", c.not_delivered);
      std::string back = fmt::format("{} handed back", c.released);
      if (c.not_released > 0) {
        back +=
            fmt::format(" ({} more not: Redis unreachable, their leases expire)", c.not_released);
      }
      if (c.given_up > 0) of += fmt::format(", {} given up (delivered too often)", c.given_up);
      std::fprintf(stderr,
                   "corun fetch: worker %s: %llu URLs taken; %llu done and %llu failed (%s), %llu "
                   "retried later, %s%s%s\n",
                   frontier.worker().c_str(), static_cast<unsigned long long>(c.taken),
                   static_cast<unsigned long long>(summary.done),
                   static_cast<unsigned long long>(summary.failed), of.c_str(),
                   static_cast<unsigned long long>(c.deferred), back.c_str(), stalled.c_str(),
                   summary.input_exhausted ? "; the crawl is finished" : "");
      if (std::string why = failures.describe(); !why.empty()) {
        std::fprintf(stderr, "%s\n", why.c_str());
      }
    }
    if (!summary.stop_reason.empty()) {
      // Stopped by itself (its disk is full): its unstarted URLs went back to the
      // crawl for the other workers; exit 1, as a plain run.
      std::fprintf(stderr, "corun fetch: stopped: %s\n", summary.stop_reason.c_str());
      co_return 1;
    }
    if (summary.interrupted) co_return 128 + (first_signal == SIGTERM ? SIGTERM : SIGINT);
    co_return summary.input_exhausted ? 0 : 1;
  }
}

}  // namespace

namespace {

// A range check whose text stays out of the option's type (CLI11 would show
// "FLOAT:FLOAT in [1 - 86400]"): the help line says the range instead.
CLI::Validator in_range(double lo, double hi) {
  CLI::Validator v = CLI::Range(lo, hi);
  v.description("");
  return v;
}

}  // namespace

void add_queue_options(CLI::App* f, QueueArgs& a) {
  const char* group = "Shared crawl (docs/scale-out.md)";
  f->add_option("--queue", a.queue,
                "Share one crawl through Redis: redis://[user:password@]host:port[/db]/NAME. "
                "Alone: run a worker")
      ->type_name("URL")
      ->group(group);
  f->add_option("--enqueue", a.enqueue,
                "Producer: add FILE's URLs ('-' = stdin) to the crawl and store its settings "
                "(--per-host, --rate, --retries, --encoding, --name, --no-bom, --raw)")
      ->type_name("FILE")
      ->group(group);
  f->add_option("--collect", a.collect,
                "Write the crawl's JSON-lines report to FILE as records arrive; exits when the "
                "crawl is finished")
      ->type_name("FILE")
      ->group(group);
  f->add_flag("--status", a.status, "Show the crawl at a glance")->group(group);
  f->add_flag("--watch", a.watch, "With --status: refresh every 2 s until the crawl finishes")
      ->group(group);
  f->add_option("--worker-name", a.worker, "A worker's name (default host:pid:random)")
      ->type_name("NAME")
      ->group(group);
  f->add_option("--deliver-timeout", a.deliver_timeout,
                "Worker: at exit, seconds to keep trying to deliver results while Redis is "
                "unreachable (then their URLs are fetched again by another worker once their "
                "leases expire) [1 to 86400]")
      ->type_name("S")
      ->check(in_range(1.0, 86400.0))
      ->capture_default_str()
      ->group(group);
  f->add_option("--lease", a.lease,
                "Producer: seconds a worker's claim lasts unless renewed (renewed every third) "
                "[1 to 86400]")
      ->type_name("S")
      ->check(in_range(1.0, 86400.0))
      ->capture_default_str()
      ->group(group);
  f->add_option("--max-deliveries", a.max_deliveries,
                "Producer: a URL handed out more often (its workers died) is recorded as failed "
                "[1 to 1000]")
      ->type_name("N")
      ->check(in_range(1, 1000))
      ->capture_default_str()
      ->group(group);
  f->add_option("--expected-urls", a.expected_urls,
                "Producer creating the crawl: how many distinct URLs to expect (sizes the dedup "
                "sets so each stays compact; default fits up to about 25 million) [1 to 10^12]")
      ->type_name("N")
      ->check(in_range(1.0, 1e12))
      ->group(group);
  f->add_option("--high-water", a.high_water,
                "Producer: pause while more URLs than this wait or are in flight [1 to 10^9]")
      ->type_name("N")
      ->check(in_range(1, 1000000000))
      ->capture_default_str()
      ->group(group);
  a.producer_only = {f->get_option("--lease"), f->get_option("--max-deliveries"),
                     f->get_option("--expected-urls"), f->get_option("--high-water")};
  a.worker_only = {f->get_option("--worker-name"), f->get_option("--deliver-timeout")};
}

int run_queue_command(FetchArgs& fa, QueueArgs& a) {
  fetch::QueueAddress address;
  try {
    address = fetch::parse_queue_url(a.queue);
  } catch (const fetch::QueueUrlError& e) {
    return queue_usage(fmt::format("--queue: {}", e.what()));
  }
  int modes = (a.enqueue.empty() ? 0 : 1) + (a.collect.empty() ? 0 : 1) + (a.status ? 1 : 0);
  if (modes > 1) return queue_usage("--queue: give one of --enqueue, --collect and --status");
  if (a.watch && !a.status) return queue_usage("--watch goes with --status");
  if (a.collect == "-") {
    // Not standard output: the collector locks its file, resumes it after a stop
    // and cuts a partial last line, none of which a pipe allows.
    return queue_usage(
        "--collect -: the crawl's report goes to a file (locked, resumed after a stop); give "
        "--collect FILE, and `tail -f FILE` to watch it");
  }
  if (!fa.urls.empty() || !fa.input.empty() || fa.demo) {
    return queue_usage(
        "--queue: the crawl's URLs come from the queue: add them with --enqueue FILE|-, not as "
        "arguments, -i or --demo");
  }
  bool worker = a.enqueue.empty() && a.collect.empty() && !a.status;
  // Flags the chosen role would ignore are refused (docs/behaviour.md).
  auto given = [](const CLI::Option* o) { return o->count() > 0; };
  if (!worker) {
    const char* role = !a.enqueue.empty() ? "a producer's (--enqueue)"
                       : a.status         ? "--status's"
                                          : "the collector's (--collect)";
    for (const CLI::Option* o : a.worker_only) {
      if (given(o)) {
        return queue_usage(fmt::format("{}: not {} option: a worker's own", o->get_name(), role));
      }
    }
    if (a.enqueue.empty()) {
      for (const CLI::Option* o : a.producer_only) {
        if (given(o)) {
          return queue_usage(
              fmt::format("{}: not {} option: the producer (--enqueue) stores it for the crawl",
                          o->get_name(), role));
        }
      }
    }
    for (const auto& [field, flag] : fa.flags) {
      if (flag->count() == 0) continue;
      if (!a.enqueue.empty() &&
          (field->role == fetch::OptionRole::crawl || field->name == "base_url")) {
        continue;  // the producer's: stored for every worker, or resolving its lines
      }
      const char* why = "--collect FILE writes the crawl's report";
      if (field->role == fetch::OptionRole::worker) {
        why = "each worker takes its own (give it to the workers)";
      } else if (field->role == fetch::OptionRole::crawl) {
        why = "the crawl's settings go to the producer (--enqueue)";
      } else if (field->name == "base_url") {
        why = "the producer (--enqueue) resolves the URLs it adds";
      } else if (field->name == "resume" && !a.enqueue.empty()) {
        why = "a producer resumes by itself (its input's position is kept in the crawl)";
      }
      return queue_usage(fmt::format("{}: not {} option: {}", flag->get_name(), role, why));
    }
  }
  if (worker) {
    for (const CLI::Option* o : a.producer_only) {
      if (given(o)) {
        return queue_usage(fmt::format(
            "{}: not a worker's option: the producer (--enqueue) stores it for every worker",
            o->get_name()));
      }
    }
    // A worker takes the crawl's settings from the queue, and records into it:
    // a crawl setting or a local run's option given here would be ignored.
    for (const auto& [field, flag] : fa.flags) {
      if (field->role == fetch::OptionRole::worker || flag->count() == 0) continue;
      return queue_usage(fmt::format(
          "{}: not a worker's option: {}", flag->get_name(),
          field->role == fetch::OptionRole::crawl
              ? "the crawl's settings go to the producer (--enqueue), which stores them for "
                "every worker"
              : (field->name == "base_url"
                     ? "the producer (--enqueue) resolves the URLs it adds"
                     : "a worker records into the crawl; --collect FILE writes the report")));
    }
  }
  fetch::Options options = fa.options;  // the flags wrote into it
  ::signal(SIGPIPE, SIG_IGN);
  try {
    if (!a.enqueue.empty()) {
      fetch::EnqueueOptions eo;
      eo.settings = fetch::QueueSettings::from_options(options);
      eo.settings.lease = std::chrono::milliseconds(static_cast<long long>(a.lease * 1000));
      eo.settings.max_deliveries = a.max_deliveries;
      // Dedup sets stay intsets (8 bytes per URL) while they hold at most
      // 512 members (Redis's set-max-intset-entries): aim at ~256 per set.
      while (a.expected_urls / eo.settings.buckets > 256 && eo.settings.buckets < (1U << 30)) {
        eo.settings.buckets *= 2;
      }
      eo.base_url = options.base_url;
      eo.high_water = a.high_water;
      try {
        fetch::check_options(options);
      } catch (const fetch::OptionsError& e) {
        return queue_usage(e.what());
      }
      std::vector<std::string> given_settings;
      for (const auto& [field, flag] : fa.flags) {
        if (field->role == fetch::OptionRole::crawl && flag->count() > 0) {
          given_settings.emplace_back(field->name);
        }
      }
      if (a.producer_only[0]->count() > 0) given_settings.emplace_back("lease");
      if (a.producer_only[1]->count() > 0) given_settings.emplace_back("max_deliveries");
      return corun::run(with_sigterm(
          enqueue_main(address, a.enqueue, std::move(eo), fa.quiet, std::move(given_settings))));
    }
    if (!a.collect.empty()) {
      return corun::run(with_sigterm(collect_main(address, a.collect, fa.quiet)));
    }
    if (a.status) return corun::run(status_main(address, a.watch));
    ::signal(SIGINT, SIG_IGN);  // the worker's own handler stops it gracefully
    return corun::run(worker_main(address, options, a.worker, a.deliver_timeout, fa.quiet));
  } catch (const fetch::SetupError& e) {  // QueueError included
    std::fprintf(stderr, "corun fetch: %s\n", e.what());
    return 2;
  } catch (const fs::FileError& e) {
    std::fprintf(stderr, "corun fetch: %s\n", e.what());
    return 2;
  } catch (const fetch::OptionsError& e) {
    return queue_usage(e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corun fetch: %s\n", e.what());
    return 1;
  } catch (const KeyboardInterrupt&) {
    return 130;
  }
}

}  // namespace corun::app
