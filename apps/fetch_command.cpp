// `corun fetch` (see fetch_command.hpp).
#include "fetch_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "corun/corun.hpp"
#include "corun/fetch/demo.hpp"
#include "corun/fetch/source.hpp"
#include "corun/fs/file.hpp"
#include "failure_tally.hpp"

namespace corun::app {

namespace {

// A stop for want of room (pages or report), where "make room" is the advice.
bool out_of_space(const std::string& why) {
  return why.starts_with("the disk is") || why.find("No space left") != std::string::npos ||
         why.find("quota") != std::string::npos;
}

// ---- numeric flags: strict parsing against fetch::NumericRange ----
//
// CLI11's own conversions take "-5" for a huge unsigned number, "010" for octal
// and wrap on overflow; these transforms read plain decimal text only, check it
// against the option's range (the same table the Fetcher enforces) and hand
// CLI11 the canonical number. A failure is a usage error naming the flag:
// "--concurrency: must be a whole number from 1 to 100000, not '-5'".

// --demo-pages is the CLI's own (not an Options field).
constexpr fetch::NumericRange kDemoPagesRange{true, 1, 1000000, "", ""};

std::string rejected(const fetch::NumericRange& r, const std::string& text) {
  return fmt::format("must be {}, not '{}'", fetch::describe_range(r), text);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "123" or "-123" (a sign only so a negative value is named as out of range);
// nullopt when not such text. Values past 2^64 saturate (out of every range).
std::optional<long double> parse_whole(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (!all_digits(s)) return std::nullopt;
  long double v = 0;
  for (char c : s) v = std::min(v * 10 + (c - '0'), 1e30L);
  return negative ? -v : v;
}

// Decimal text with an optional fraction and exponent ("0.5", "-3", "1e3");
// no hex, inf or nan.
std::optional<double> parse_real(const std::string& s) {
  std::string_view v = s;
  if (!v.empty() && v.front() == '-') v.remove_prefix(1);
  std::string_view mantissa = v.substr(0, v.find_first_of("eE"));
  std::string_view exponent =
      mantissa.size() < v.size() ? v.substr(mantissa.size() + 1) : std::string_view{};
  auto dot = mantissa.find('.');
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view{} : mantissa.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  if (!whole.empty() && !all_digits(whole)) return std::nullopt;
  if (!frac.empty() && !all_digits(frac)) return std::nullopt;
  if (mantissa.size() < v.size()) {
    if (!exponent.empty() && (exponent.front() == '+' || exponent.front() == '-'))
      exponent.remove_prefix(1);
    if (!all_digits(exponent)) return std::nullopt;
  }
  return std::strtod(s.c_str(), nullptr);  // out of double's range: +-HUGE_VAL, rejected
}

CLI::Validator number_in(const fetch::NumericRange& r) {
  return CLI::Validator(
      [&r](std::string& text) -> std::string {
        if (r.integer) {
          auto v = parse_whole(text);
          if (!v || !fetch::in_range(r, static_cast<double>(*v))) return rejected(r, text);
          text = fmt::format("{}", static_cast<unsigned long long>(*v));
        } else {
          auto v = parse_real(text);
          if (!v || !fetch::in_range(r, *v)) return rejected(r, text);
          text = fmt::format("{}", *v);
        }
        return {};
      },
      "", "number");
}

// --max-size: plain decimal digits and an optional unit, converted by CLI11's
// size parser (CLI::AsSizeValue: K, M, G, T, P, E as powers of 1024; KB and
// KiB alike; B for bytes), then checked against the range.
std::string size_range_text(const fetch::NumericRange& r) {
  return fmt::format("a size from {} to {} bytes (1024T), in bytes or with K, M, G, T or P",
                     static_cast<unsigned long long>(r.min),
                     static_cast<unsigned long long>(r.max));
}

CLI::Validator size_in(const fetch::NumericRange& r) {
  return CLI::Validator(
      [&r](std::string& text) -> std::string {
        std::string fail = fmt::format("must be {}, not '{}'", size_range_text(r), text);
        // CLI11's number conversion takes a sign, "0x10" and "010" (octal):
        // only digits reach it, without leading zeros.
        std::size_t digits = 0;
        while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
        std::size_t first = text.find_first_not_of('0');
        if (digits == 0 ||
            std::any_of(text.begin() + static_cast<std::ptrdiff_t>(digits), text.end(), [](char c) {
              return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
            })) {
          return fail;
        }
        std::string value = text.substr(std::min(first, digits - 1));
        try {
          if (!CLI::AsSizeValue(false)(value).empty()) return fail;
        } catch (const CLI::ValidationError&) {
          return fail;  // an unknown unit, or past 2^64
        }
        auto v = parse_whole(value);
        if (!v || !fetch::in_range(r, static_cast<double>(*v))) return fail;
        text = fmt::format("{}", static_cast<unsigned long long>(*v));
        return {};
      },
      "", "size");
}

// The help of a numeric flag ends with what it accepts.
std::string with_range(std::string_view help, const fetch::NumericRange& r) {
  return fmt::format("{} [{}]", help, fetch::describe_range(r));
}

// The defaults --help shows: a default-constructed Options' values.
const fetch::Options& defaults() {
  static const fetch::Options options;
  return options;
}

// Declares the flags of fetch::kOptionFields on one subcommand, each writing
// into its member of args.options, and records which flag sets which member.
class OptionBinder {
 public:
  OptionBinder(CLI::App* app, FetchArgs& args) : app_(app), args_(args) {}

  // The flags of `group`'s options, in kOptionFields' order.
  void bind(fetch::OptionGroup group) {
    const char* title = group == fetch::OptionGroup::input    ? "Input"
                        : group == fetch::OptionGroup::output ? "Output"
                                                              : "Connection";
    for (const fetch::OptionField& field : fetch::kOptionFields) {
      if (field.group != group) continue;
      CLI::Option* o = std::visit(
          [&](auto member) { return add(field, args_.options.*member, defaults().*member); },
          field.member);
      o->group(title);
      if (!field.value_name.empty()) o->type_name(std::string(field.value_name));
      args_.flag_of_field.emplace_back(std::string(field.name), o->get_name());
      args_.flags.emplace_back(&field, o);
    }
  }

 private:
  // A switch: sets the member to field.sets (--raw sets raw, --no-bom clears bom).
  CLI::Option* add(const fetch::OptionField& f, bool& target, bool /*default*/) {
    bool given = f.sets;
    return app_->add_flag_callback(
        std::string(f.flags), [&target, given] { target = given; }, std::string(f.help));
  }
  // A number, strictly parsed and checked against its range.
  template <class T>
  CLI::Option* add(const fetch::OptionField& f, T& target,
                   const T& shown) requires std::is_arithmetic_v<T> {
    return app_->add_option(std::string(f.flags), target, with_range(f.help, f.range))
        ->transform(number_in(f.range))
        ->default_str(fmt::format("{}", shown));
  }
  // A duration, given in seconds.
  CLI::Option* add(const fetch::OptionField& f, fetch::Seconds& target,
                   const fetch::Seconds& shown) {
    return app_
        ->add_option_function<double>(
            std::string(f.flags), [&target](double v) { target = fetch::Seconds(v); },
            with_range(f.help, f.range))
        ->transform(number_in(f.range))
        ->default_str(fmt::format("{}", shown.count()));
  }
  // A byte size (unset: no limit).
  CLI::Option* add(const fetch::OptionField& f, std::optional<std::size_t>& target,
                   const std::optional<std::size_t>& /*default: unset*/) {
    return app_
        ->add_option_function<std::uint64_t>(
            std::string(f.flags), [&target](std::uint64_t v) { target = v; },
            fmt::format("{} [{}]", f.help, size_range_text(f.range)))
        ->transform(size_in(f.range));
  }
  // Text or a path, shown with its default when it has one.
  template <class T>
  CLI::Option* add(const fetch::OptionField& f, T& target, const T& shown) requires
      std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path> {
    CLI::Option* o = app_->add_option(std::string(f.flags), target, std::string(f.help));
    std::string text;
    if constexpr (std::is_same_v<T, std::filesystem::path>) {
      text = shown.string();
    } else {
      text = shown;
    }
    if (!text.empty()) o->default_str(text);
    return o;
  }
  // A list: a repeatable flag taking one value each time, as curl's -H (a
  // vector option would otherwise take every word after it, URLs included).
  CLI::Option* add(const fetch::OptionField& f, std::vector<std::string>& target,
                   const std::vector<std::string>& /*default: empty*/) {
    return app_->add_option(std::string(f.flags), target, std::string(f.help))
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }

  CLI::App* app_;
  FetchArgs& args_;
};

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
  long s = std::lround(seconds);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Ctrl-C (and SIGTERM): the first stops the fetcher gracefully, a second exits
// at once (after writing what the report buffer holds; files are atomic). The
// exit status names the first: 130 for SIGINT, 143 for SIGTERM (128 + signal).
class SignalWatch {
 public:
  SignalWatch(Loop& loop, fetch::Fetcher& fetcher, bool quiet)
      : loop_(loop), fetcher_(fetcher), quiet_(quiet) {
    for (int signum : {SIGINT, SIGTERM}) {
      loop.add_signal_handler(signum, [this, signum] { on_signal(signum); });
    }
  }
  // The run's exit status, with an interruption's told by its signal.
  int exit_status(int code) const noexcept {
    return code == 130 && first_ == SIGTERM ? 128 + SIGTERM : code;
  }
  ~SignalWatch() {
    if (loop_.is_closed()) return;
    for (int signum : {SIGINT, SIGTERM}) loop_.remove_signal_handler(signum);
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  void on_signal(int signum) {
    if (++count_ == 1) {
      first_ = signum;
      if (!quiet_) {
        std::fputs(signum == SIGTERM
                       ? "\ncorun fetch: terminated (SIGTERM): finishing the requests in flight "
                         "(a second signal quits now)\n"
                       : "\ncorun fetch: interrupted: finishing the requests in flight (Ctrl-C "
                         "again to quit now)\n",
                   stderr);
      }
      fetcher_.stop();
      return;
    }
    fetcher_.flush_report();
    ::_exit(128 + first_);
  }
  Loop& loop_;
  fetch::Fetcher& fetcher_;
  bool quiet_;
  int count_ = 0;
  int first_ = 0;
};

struct Run {
  FetchArgs* args;
  fetch::Fetcher* fetcher;
  fetch::UrlSource* source;
  bool show_progress;
  FailureTally* failures;  // null under --quiet
};

void print_progress(const fetch::Progress& p, double elapsed, bool final_line) {
  double rate = elapsed > 0 ? static_cast<double>(p.done + p.failed) / elapsed : 0;
  // Requests on the wire (at most -c); pages received and still being written
  // apart (a lane's workers are twice its requests, so the two add up to 2 * -c).
  std::string line =
      fmt::format("  {} done  {} failed  {} in flight", p.done, p.failed, p.requests);
  if (p.writing > 0) line += fmt::format("  {} writing", p.writing);
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
  if (run->source == nullptr) co_return 2;  // (never: run_fetch_command or --demo sets one)
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

  // Stopped before the end of the input: say how much of it was never read, so
  // "--resume to fetch the rest" is understood (the report lists what was done).
  std::string unread;
  if (summary.interrupted && !summary.input_exhausted && !args.quiet) {
    long long total = -1;
    if (auto* file = dynamic_cast<fetch::FileSource*>(run->source); file != nullptr) {
      total = co_await to_thread([file] { return file->count_lines(); });
    } else if (run->source->size_hint() >= 0) {
      total = run->source->size_hint();
    }
    auto read = static_cast<long long>(summary.lines_read);
    if (total >= read) {
      unread = fmt::format("{} of the input's {} lines not read (it was read up to line {})",
                           total - read, total, read);
    } else {
      unread = fmt::format("the input was read up to line {}; the rest was not read", read);
    }
  }
  if (!args.quiet) {
    double rate = summary.elapsed > 0
                      ? static_cast<double>(summary.done + summary.failed) / summary.elapsed
                      : 0;
    std::string text = fmt::format("corun fetch: {} done, {} failed", summary.done, summary.failed);
    if (summary.skipped > 0) text += fmt::format(", {} skipped (already done)", summary.skipped);
    if (summary.not_started > 0)
      text += fmt::format(", {} read but not started", summary.not_started);
    text += fmt::format(" in {:.2f} s ({:.0f} pages/s, {})", summary.elapsed, rate,
                        human_bytes(static_cast<double>(summary.bytes)));
    if (summary.interrupted) text += summary.stop_reason.empty() ? "; interrupted" : "; stopped";
    if (!unread.empty()) text += "\n  " + unread;
    const std::filesystem::path& report = fetcher.options().report;
    text +=
        fmt::format("\n  files in {}, report {}", fetcher.options().out_dir.string(),
                    report.empty()  ? "in " + (fetcher.options().out_dir / "report.jsonl").string()
                    : report == "-" ? std::string("on standard output")
                                    : "in " + report.string());
    if (summary.interrupted && report != "-") {  // a report on standard output: no --resume
      text += summary.stop_reason.empty() ? "\n  run again with --resume to fetch the rest"
              : out_of_space(summary.stop_reason)
                  ? "\n  make room, then run again with --resume to fetch the rest"
                  : "\n  run again with --resume to fetch the rest once that is mended";
    }
    if (run->failures != nullptr) {
      if (std::string why = run->failures->describe(); !why.empty()) text += "\n" + why;
    }
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  if (!summary.stop_reason.empty())
    std::fprintf(stderr, "corun fetch: stopped: %s\n", summary.stop_reason.c_str());
  if (!summary.report_error.empty())
    std::fprintf(stderr, "corun fetch: %s\n", summary.report_error.c_str());
  co_return signals.exit_status(summary.exit_code());
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "corun fetch: %s\nTry 'corun fetch --help' for more information.\n",
               message.c_str());
  return 2;
}

// The help's footer: usage, the report's fields (from the record's field list),
// exit codes and examples.
std::string fetch_help_footer() {
  std::string fields;
  fetch::for_each_record_field([&](const auto& field) {
    if (!field.in_report) return;
    fields += fields.empty() ? "" : ", ";
    fields += field.name;
  });
  return fmt::format(
      "Usage: corun fetch [options] URL... | -i FILE | -\n"
      "Each URL becomes one file in --out and one JSON line in the report, with the fields\n"
      "  {}.\n"
      "An input line is 'URL [ENCODING]'; blank lines and #comments are skipped.\n"
      "Exit status: 0 all done, 1 some failed (or stopped: disk full), 2 usage error, 130\n"
      "interrupted (Ctrl-C), 143 terminated (SIGTERM).\n"
      "Examples:\n"
      "  corun fetch --demo\n"
      "  corun fetch -c 64 -o pages -i urls.txt\n"
      "  corun fetch --base http://example.com -i paths.txt --name '{{index}}.html' --resume",
      fields);
}

void add_input_flags(CLI::App* f, FetchArgs& a, OptionBinder& bind) {
  f->add_option("URL", a.urls, "URLs to fetch ('-' reads them from stdin)")->group("Input");
  f->add_option("-i,--input", a.input, "Read URLs from FILE, one per line ('-' = stdin)")
      ->group("Input")
      ->type_name("FILE");
  bind.bind(fetch::OptionGroup::input);
  f->add_flag("--demo", a.demo, "Serve built-in GB18030 sample pages on loopback and fetch them")
      ->group("Input");
  f->add_option("--demo-pages", a.demo_pages,
                with_range("How many pages --demo fetches", kDemoPagesRange))
      ->transform(number_in(kDemoPagesRange))
      ->capture_default_str()
      ->group("Input")
      ->type_name("N");
}

void add_display_flags(CLI::App* f, FetchArgs& a) {
  f->add_flag("-q,--quiet", a.quiet, "No progress line, no summary")->group("Display");
  f->add_flag("--progress", a.progress, "Show the progress line even when stderr is not a terminal")
      ->group("Display");
  f->add_flag("--no-progress", a.no_progress, "Never show the progress line")->group("Display");
}

}  // namespace

CLI::App* add_fetch_command(CLI::App& app, FetchArgs& a) {
  CLI::App* f =
      app.add_subcommand("fetch", "Fetch many URLs concurrently into files, decoded to UTF-8");
  f->footer(fetch_help_footer());
  // Flags in help order, grouped as --help shows them.
  OptionBinder bind(f, a);
  add_input_flags(f, a, bind);
  bind.bind(fetch::OptionGroup::output);
  bind.bind(fetch::OptionGroup::connection);
  add_display_flags(f, a);
  return f;
}

namespace {
// A URL argument as one input line: surrounding blanks trimmed, inner ones
// percent-encoded (a space or tab would otherwise start its encoding label).
std::string one_url(std::string_view arg) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!arg.empty() && blank(arg.front())) arg.remove_prefix(1);
  while (!arg.empty() && blank(arg.back())) arg.remove_suffix(1);
  std::string url;
  url.reserve(arg.size());
  for (char c : arg) {
    if (c == ' ') {
      url += "%20";
    } else if (c == '\t') {
      url += "%09";
    } else {
      url += c;
    }
  }
  return url;
}
}  // namespace

int run_fetch_command(FetchArgs& a) {
  fetch::Options& o = a.options;

  bool from_stdin = a.urls.size() == 1 && a.urls[0] == "-";
  if (!from_stdin && std::find(a.urls.begin(), a.urls.end(), "-") != a.urls.end()) {
    return usage_error("'-' (read the URLs from stdin) goes alone, not among URL arguments");
  }
  if (!from_stdin) {
    // An argument is one URL: blanks inside it are part of it (encoded, as a
    // browser would), not an encoding label after it as on an input line.
    for (std::string& u : a.urls) u = one_url(u);
  }
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

  FailureTally failures;
  if (!a.quiet) failures.attach(o);  // the summary groups them
  std::unique_ptr<fetch::Fetcher> fetcher;
  try {
    fetcher = std::make_unique<fetch::Fetcher>(o);
  } catch (const fetch::OptionsError& e) {
    // (The flags' own checks catch numbers first; this names the flag all the same.)
    auto flag = std::find_if(a.flag_of_field.begin(), a.flag_of_field.end(),
                             [&](const auto& p) { return p.first == e.field(); });
    if (flag != a.flag_of_field.end() && fetch::is_numeric(fetch::option_field(e.field()))) {
      return usage_error(fmt::format("{}: must be {}", flag->second,
                                     fetch::describe_range(fetch::numeric_range(e.field()))));
    }
    return usage_error(e.what());
  }

  bool tty = ::isatty(STDERR_FILENO) == 1;
  Run run{&a, fetcher.get(), source.get(), !a.quiet && !a.no_progress && (a.progress || tty),
          a.quiet ? nullptr : &failures};
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
