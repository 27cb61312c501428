// `corun fetch` (see fetch_command.hpp).
#include "fetch_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <memory>

#include "corun/corun.hpp"
#include "corun/fetch/demo.hpp"
#include "corun/fetch/source.hpp"
#include "corun/fs/file.hpp"

namespace corun::app {

namespace {

// "10M" -> 10485760; K, M, G (powers of 1024), optional B.
std::optional<std::size_t> parse_size(std::string s) {
  if (s.empty()) return std::nullopt;
  if (s.back() == 'B' || s.back() == 'b') s.pop_back();
  std::size_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        mult = std::size_t{1} << 10;
        s.pop_back();
        break;
      case 'm':
      case 'M':
        mult = std::size_t{1} << 20;
        s.pop_back();
        break;
      case 'g':
      case 'G':
        mult = std::size_t{1} << 30;
        s.pop_back();
        break;
      default:
        break;
    }
  }
  if (s.empty()) return std::nullopt;
  std::size_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n * mult;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

std::string clock_time(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Ctrl-C (and SIGTERM): the first stops the fetcher gracefully, a second exits
// at once (after writing what the report buffer holds; files are atomic).
class SignalWatch {
 public:
  SignalWatch(Loop& loop, fetch::Fetcher& fetcher, bool quiet) : fetcher_(fetcher), quiet_(quiet) {
    for (int i = 0; i < 2; ++i) {
      auto* h = new uv_signal_t;
      uv_signal_init(loop.uv_loop(), h);
      h->data = this;
      uv_signal_start(h, &SignalWatch::on_signal, i == 0 ? SIGINT : SIGTERM);
      handles_[i] = h;
    }
  }
  ~SignalWatch() {
    for (auto* h : handles_) {
      uv_signal_stop(h);
      uv_close(reinterpret_cast<uv_handle_t*>(h),
               [](uv_handle_t* x) { delete reinterpret_cast<uv_signal_t*>(x); });
    }
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  static void on_signal(uv_signal_t* h, int) {
    auto* self = static_cast<SignalWatch*>(h->data);
    if (++self->count_ == 1) {
      if (!self->quiet_) {
        std::fputs(
            "\ncorun fetch: interrupted: finishing the requests in flight (Ctrl-C again to quit "
            "now)\n",
            stderr);
      }
      self->fetcher_.stop();
      return;
    }
    self->fetcher_.flush_report();
    ::_exit(130);
  }
  fetch::Fetcher& fetcher_;
  bool quiet_;
  int count_ = 0;
  uv_signal_t* handles_[2]{};
};

struct Run {
  FetchArgs* args;
  fetch::Fetcher* fetcher;
  fetch::UrlSource* source;
  bool show_progress;
};

void print_progress(const fetch::Progress& p, double elapsed, bool final_line) {
  double rate = elapsed > 0 ? static_cast<double>(p.done + p.failed) / elapsed : 0;
  std::string line =
      fmt::format("  {} done  {} failed  {} in flight", p.done, p.failed, p.in_flight);
  if (p.skipped > 0) line += fmt::format("  {} skipped", p.skipped);
  line += fmt::format("  | {:.0f} pages/s  {}", rate, human_bytes(static_cast<double>(p.bytes)));
  if (p.total_hint > 0) {
    double finished = static_cast<double>(p.done + p.failed + p.skipped);
    double total =
        static_cast<double>(std::max<long long>(p.total_hint, static_cast<long long>(p.seen)));
    double left = std::max(0.0, total - finished);
    line += fmt::format("  | {:.0f}%", total > 0 ? 100 * finished / total : 100.0);
    if (!final_line && rate > 0) line += fmt::format("  ETA {}", clock_time(left / rate));
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

Task<void> progress_ticker(fetch::Fetcher* fetcher) {
  auto t0 = Clock::now();
  for (;;) {
    co_await sleep(std::chrono::milliseconds(250));
    print_progress(fetcher->progress(), std::chrono::duration<double>(Clock::now() - t0).count(),
                   false);
  }
}

Task<int> fetch_main(Run* run) {
  FetchArgs& args = *run->args;
  fetch::Fetcher& fetcher = *run->fetcher;
  Loop& loop = get_running_loop();
  SignalWatch signals(loop, fetcher, args.quiet);

  std::unique_ptr<fetch::ListSource> demo_source;
  net::Server server;
  if (args.demo) {
    server = co_await fetch::start_demo_server("127.0.0.1", 0);
    if (!args.quiet) {
      std::fprintf(
          stderr,
          "corun fetch --demo: serving %zu GB18030 sample pages on http://127.0.0.1:%u/p/\n",
          args.demo_pages, static_cast<unsigned>(server.port()));
    }
    demo_source = std::make_unique<fetch::ListSource>(
        fetch::demo_urls("127.0.0.1", server.port(), args.demo_pages));
    run->source = demo_source.get();
  }
  if (auto* file = dynamic_cast<fetch::FileSource*>(run->source);
      file != nullptr && run->show_progress) {
    file->set_size_hint(co_await to_thread([file] { return file->count_lines(); }));
  }

  TaskHandle<void> ticker;
  if (run->show_progress) ticker = create_task(progress_ticker(&fetcher), "progress");
  fetch::Summary summary;
  std::exception_ptr error;
  try {
    summary = co_await fetcher.run(*run->source);
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  if (ticker.valid()) {
    ticker.cancel();
    print_progress(fetcher.progress(), summary.elapsed, true);
    std::fputs("\n", stderr);
  }
  if (args.demo) server.close();
  if (error) std::rethrow_exception(error);

  if (!args.quiet) {
    double rate = summary.elapsed > 0
                      ? static_cast<double>(summary.done + summary.failed) / summary.elapsed
                      : 0;
    std::string text = fmt::format("corun fetch: {} done, {} failed", summary.done, summary.failed);
    if (summary.skipped > 0) text += fmt::format(", {} skipped (already done)", summary.skipped);
    if (summary.not_started > 0) text += fmt::format(", {} not started", summary.not_started);
    text += fmt::format(" in {:.2f} s ({:.0f} pages/s, {})", summary.elapsed, rate,
                        human_bytes(static_cast<double>(summary.bytes)));
    if (summary.interrupted) text += "; interrupted";
    std::string report = fetcher.options().report.empty()
                             ? (fetcher.options().out_dir / "report.jsonl").string()
                             : fetcher.options().report.string();
    text +=
        fmt::format("\n  files in {}, report in {}", fetcher.options().out_dir.string(), report);
    if (summary.interrupted) text += "\n  run again with --resume to fetch the rest";
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  if (!summary.report_error.empty())
    std::fprintf(stderr, "corun fetch: %s\n", summary.report_error.c_str());
  co_return summary.exit_code();
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "corun fetch: %s\nTry 'corun fetch --help' for more information.\n",
               message.c_str());
  return 2;
}

}  // namespace

CLI::App* add_fetch_command(CLI::App& app, FetchArgs& a) {
  CLI::App* f =
      app.add_subcommand("fetch", "Fetch many URLs concurrently into files, decoded to UTF-8");
  f->footer(
      "Usage: corun fetch [options] URL... | -i FILE | -\n"
      "Each URL becomes one file in --out and one JSON line in the report (url, final_url,\n"
      "status, bytes, encoding, encoding_source, path, error, attempts, elapsed). An input\n"
      "line is 'URL [ENCODING]'; blank lines and #comments are skipped.\n"
      "Exit status: 0 all done, 1 some failed, 2 usage error, 130 interrupted.\n"
      "Examples:\n"
      "  corun fetch --demo\n"
      "  corun fetch -c 64 -o pages -i urls.txt\n"
      "  corun fetch --base http://example.com -i paths.txt --name '{index}.html' --resume");
  fetch::Options& o = a.options;
  auto* urls =
      f->add_option("URL", a.urls, "URLs to fetch ('-' reads them from stdin)")->group("Input");
  f->add_option("-i,--input", a.input, "Read URLs from FILE, one per line ('-' = stdin)")
      ->group("Input")
      ->type_name("FILE");
  f->add_option("--base", o.base_url, "Prefix for input lines that are not absolute URLs")
      ->group("Input")
      ->type_name("URL");
  f->add_flag("--demo", a.demo, "Serve built-in GB18030 sample pages on loopback and fetch them")
      ->group("Input");
  f->add_option("--demo-pages", a.demo_pages, "How many pages --demo fetches (default 1000)")
      ->group("Input")
      ->type_name("N");
  (void)urls;

  f->add_option("-o,--out", o.out_dir,
                "Write the files into DIR (default: . ; --demo: ./corun-demo)")
      ->group("Output")
      ->type_name("DIR");
  f->add_option("--name", o.name_template,
                "File name template: {index} {name} {host} {path} {hash}, '/' for folders")
      ->group("Output")
      ->type_name("TEMPLATE");
  f->add_option("--report", o.report, "JSON-lines report (default DIR/report.jsonl)")
      ->group("Output")
      ->type_name("FILE");
  f->add_flag("--resume", o.resume, "Skip the URLs the report records as done")->group("Output");
  f->add_option("-e,--encoding", o.encoding,
                "Decode text as LABEL instead of sniffing it (default auto)")
      ->group("Output")
      ->type_name("LABEL");
  f->add_flag("--no-bom", a.no_bom, "Write UTF-8 without the byte order mark")->group("Output");
  f->add_flag("--raw", o.raw, "Write bodies as received: no decoding, no BOM")->group("Output");
  f->add_option("--max-size", a.max_size, "Fail bodies larger than SIZE (e.g. 500K, 10M)")
      ->group("Output")
      ->type_name("SIZE");
  f->add_flag("--fsync", o.fsync, "Flush every file to disk before counting it done")
      ->group("Output");

  f->add_option("-c,--concurrency", o.concurrency, "Requests in flight in total (default 64)")
      ->group("Connection")
      ->type_name("N");
  f->add_option("--per-host", o.per_host, "Requests in flight per host (default: no limit)")
      ->group("Connection")
      ->type_name("N");
  f->add_option("--threads", o.threads,
                "Threads for the requests, each with a share of -c (default: one per core, "
                "at most 4)")
      ->group("Connection")
      ->type_name("N");
  f->add_flag("--no-cookies", a.no_cookies,
              "Keep no cookies (by default those responses set are sent for the rest of the "
              "run)")
      ->group("Connection");
  f->add_option("--rate", o.rate, "At most R requests per second per host")
      ->group("Connection")
      ->type_name("R");
  f->add_option("-m,--timeout", a.timeout,
                "Seconds one attempt may take in all (default 120, 0 = none)")
      ->group("Connection")
      ->type_name("S");
  f->add_option("--connect-timeout", a.connect_timeout, "Seconds to connect (default 15)")
      ->group("Connection")
      ->type_name("S");
  f->add_option("--read-timeout", a.read_timeout,
                "Fail after S seconds without data (default: off)")
      ->group("Connection")
      ->type_name("S");
  f->add_option("--retries", o.retries,
                "Retries on connect errors, timeouts, 408/429/5xx (default 3)")
      ->group("Connection")
      ->type_name("N");
  f->add_option("--retry-delay", a.retry_delay,
                "First backoff in seconds, doubled each time (default 0.5)")
      ->group("Connection")
      ->type_name("S");
  f->add_option("--retry-max-delay", a.retry_max_delay,
                "Longest backoff; a longer Retry-After is not waited for (default 30)")
      ->group("Connection")
      ->type_name("S");
  f->add_option("-H,--header", o.headers, "Extra request header (repeatable)")
      ->group("Connection")
      ->type_name("'NAME: VALUE'");
  f->add_option("-A,--user-agent", o.user_agent, "User-Agent to send")
      ->group("Connection")
      ->type_name("NAME");
  f->add_option("-x,--proxy", o.proxy, "Use this proxy ([scheme://]host[:port])")
      ->group("Connection")
      ->type_name("URL");
  f->add_flag("-k,--insecure", o.insecure, "Do not verify TLS certificates")->group("Connection");
  f->add_option("--cacert", o.ca_file, "Trust the CAs of this PEM file instead of the system's")
      ->group("Connection")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);

  f->add_flag("-q,--quiet", a.quiet, "No progress line, no summary")->group("Display");
  f->add_flag("--progress", a.progress, "Show the progress line even when stderr is not a terminal")
      ->group("Display");
  f->add_flag("--no-progress", a.no_progress, "Never show the progress line")->group("Display");
  return f;
}

int run_fetch_command(FetchArgs& a) {
  fetch::Options& o = a.options;
  o.bom = !a.no_bom;
  o.cookies = !a.no_cookies;
  if (!a.max_size.empty()) {
    o.max_size = parse_size(a.max_size);
    if (!o.max_size) return usage_error(fmt::format("--max-size: not a size: '{}'", a.max_size));
  }
  for (double* d :
       {&a.timeout, &a.connect_timeout, &a.read_timeout, &a.retry_delay, &a.retry_max_delay}) {
    if (*d < 0) return usage_error("times must be 0 or more seconds");
  }
  o.timeout = fetch::Seconds(a.timeout);
  o.connect_timeout = fetch::Seconds(a.connect_timeout);
  o.read_timeout = fetch::Seconds(a.read_timeout);
  o.retry_delay = fetch::Seconds(a.retry_delay);
  o.retry_max_delay = fetch::Seconds(a.retry_max_delay);

  bool from_stdin = a.urls.size() == 1 && a.urls[0] == "-";
  int inputs = (a.demo ? 1 : 0) + (a.input.empty() ? 0 : 1) + (a.urls.empty() ? 0 : 1);
  if (inputs == 0) return usage_error("no URLs: give URL..., -i FILE, - (stdin) or --demo");
  if (inputs > 1) return usage_error("give URLs in one way only: arguments, -i FILE, - or --demo");
  if (a.demo && o.out_dir == ".") o.out_dir = "corun-demo";

  std::unique_ptr<fetch::UrlSource> source;
  try {
    if (!a.input.empty() || from_stdin) {
      source = std::make_unique<fetch::FileSource>(from_stdin ? std::string("-") : a.input);
    } else if (!a.demo) {
      source = std::make_unique<fetch::ListSource>(std::move(a.urls));
    }
  } catch (const fs::FileError& e) {
    return usage_error(e.what());
  }

  std::unique_ptr<fetch::Fetcher> fetcher;
  try {
    fetcher = std::make_unique<fetch::Fetcher>(o);
  } catch (const fetch::OptionsError& e) {
    return usage_error(e.what());
  }

  bool tty = ::isatty(STDERR_FILENO) == 1;
  Run run{&a, fetcher.get(), source.get(), !a.quiet && !a.no_progress && (a.progress || tty)};
  // SIGINT is ours (SignalWatch): run()'s own handler would cancel the whole
  // task at once instead of letting the requests in flight finish.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);  // a peer or a pipe that went away is an error, not death
  try {
    return corun::run(fetch_main(&run));
  } catch (const fetch::SetupError& e) {
    std::fprintf(stderr, "corun fetch: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corun fetch: %s\n", e.what());
    return 1;
  } catch (const KeyboardInterrupt&) {
    return 130;
  }
}

}  // namespace corun::app
