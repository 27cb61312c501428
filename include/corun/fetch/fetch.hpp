// corun::fetch: many URLs -> one file each + a JSON-lines report. The engine
// behind `corun fetch` and the Python binding's corun.fetch(): the original
// scraper (aiohttp session + asyncio.gather, pages decoded and saved as UTF-8
// with a BOM) as a product.
//
//   corun::fetch::Options o;
//   o.out_dir = "pages";
//   corun::fetch::ListSource urls({"http://127.0.0.1:8080/p/0.html", ...});
//   corun::fetch::Fetcher fetcher(o);
//   corun::fetch::Summary s = co_await fetcher.run(urls);
//
// What happens to each URL: one GET on a ClientSession (keep-alive,
// -c connections in total, --per-host, --rate per host). Retried, with
// exponential backoff and jitter: connect errors (refused, unreachable), a
// connection dropped before the response (ServerDisconnectedError), timeouts,
// and the statuses 408, 429 and 5xx (Retry-After honoured up to
// retry_max_delay; a longer one is not waited for). Not retried: a malformed
// URL, a host name that does not resolve (ClientConnectorDNSError, as for curl
// --retry), TLS failures, too many redirects, bad response heads, truncated
// bodies, bodies over max_body_size, other 4xx. A
// response >= 400 is a failure and writes no file; `attempts` counts requests.
// A text body (text/*, XML, JSON, JavaScript, or no Content-Type) is decoded
// as a browser would (BOM, the HTTP charset, <meta>, UTF-8, detection; or the
// label given) and written as UTF-8, with a BOM by default; other bodies, and
// every body with raw = true, are written as received, atomically
// (fs::write_file). Every URL that was started ends as one report record;
// nothing a URL does (a malformed line, an unknown label, a dead host, a 500,
// a full disk) stops the run.
//
// Threads: the requests run in `threads` lanes (one per core by default),
// each a loop with its own session (one cookie jar for all of them), share of
// -c and workers; lane 0 is the caller's loop, the others run on threads of
// their own. A page is fetched, decoded and written on its lane's thread
// (with fsync, the writes go to libuv's pool). A host's URLs go to the lane
// that had its earlier ones (where its idle connections and HTTP/2 connection
// are), unless that lane has twice the backlog of the least busy one, so a
// crawl over many hosts opens about one connection per host (a lane keeps
// idle connections to every host it saw) and one busy host still uses every
// lane. With limit_per_host or rate, all URLs of a host go to the same lane, so the
// limits hold for the whole run. TLS sessions are shared by every lane.
// The input, the names, the report and on_record stay on the caller's loop.
//
// Stopping: stop() (Ctrl-C in the CLI) stops starting URLs; those in flight
// finish (without further retries), their files and records are written, and
// run() returns with interrupted = true. Cancelling the task awaiting run()
// stops at once: transfers are aborted, files already being written complete
// or never appear, the records gathered so far are flushed, CancelledError
// propagates. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "corun/core/error.hpp"
#include "corun/core/task.hpp"
#include "corun/fetch/record.hpp"
#include "corun/fetch/source.hpp"

namespace corun::fetch {

class Frontier;
using Seconds = std::chrono::duration<double>;

// Each member but on_record is an option of `corun fetch` and corun.fetch():
// one entry of kOptionFields (below) gives its flag, help, Python keyword and
// range. Adding an option is adding a member here and its entry there.
struct Options {
  // --- output ---
  std::filesystem::path out_dir = ".";
  std::string name_template;                 // empty: names from the URL (see naming.hpp)
  std::filesystem::path report;              // empty: out_dir / "report.jsonl"; "-": stdout
  bool resume = false;                       // skip URLs the report records as done
  std::string encoding = "auto";             // "auto" or a WHATWG label
  bool bom = true;                           // UTF-8 output starts with a BOM (utf-8-sig)
  bool raw = false;                          // write bodies as received
  bool fsync = false;                        // flush every file to disk
  std::optional<std::size_t> max_body_size;  // bodies larger than this fail
  std::string base_url;                      // prefix for input lines without "://"
  // --- requests ---
  std::size_t concurrency = 64;    // requests in flight in total
  std::size_t limit_per_host = 0;  // in flight per host; 0 = no limit
  double rate = 0;                 // requests per second per host; 0 = no limit
  int retries = 3;                 // extra attempts after the first
  Seconds retry_delay{0.5};        // backoff base: delay * 2^(n-1), jittered
  Seconds retry_max_delay{30.0};   // longest backoff; longer Retry-After: no retry
  // One attempt, from its start (admitted under -c and --per-host: a wait for
  // them is not timed) to its last byte; 0 = none.
  Seconds timeout{120.0};
  Seconds connect_timeout{15.0};     // 0 = libcurl's default (300 s)
  Seconds read_timeout{0.0};         // longest silence once connected; 0 = none
  std::vector<std::string> headers;  // "Name: value"
  std::string user_agent = "corun-fetch/0.1";
  std::string proxy;
  bool verify_tls = true;         // false: do not verify TLS certificates (--insecure)
  std::filesystem::path ca_file;  // PEM CA bundle to trust instead of the system's (--cacert)
  bool cookies = true;            // keep the cookies responses set, for the rest of the run
  // --- engine ---
  // Threads the requests run on, each with its own loop and share of
  // concurrency (a page is fetched, decoded and written on one); 0: one per
  // core, at most 4. The report, names and on_record stay on the caller's loop.
  std::size_t threads = 0;
  // --- observation ---
  std::function<void(const Record&)> on_record;  // loop thread, after the report line
};

// Record (one report line) and its JSON codec: corun/fetch/record.hpp.

// Live counters (loop thread), for a progress line.
struct Progress {
  std::uint64_t seen = 0;       // URL lines read so far
  std::uint64_t skipped = 0;    // done in the report already (--resume)
  std::uint64_t in_flight = 0;  // started, no record yet (requests, waits for a slot, writes)
  std::uint64_t requests = 0;   // requests on the wire (at most concurrency)
  std::uint64_t writing = 0;    // pages received, being decoded and written
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t bytes = 0;    // body bytes of done URLs
  long long total_hint = -1;  // lines in the input, when known
};

struct Summary {
  std::uint64_t seen = 0;
  std::uint64_t skipped = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t not_started = 0;  // read but dropped after stop()
  // Raw input lines the engine took (blank lines and #comments included), and
  // whether that was all of them: after stop(), the rest were never read.
  std::uint64_t lines_read = 0;
  bool input_exhausted = false;
  std::uint64_t bytes = 0;
  double elapsed = 0;
  bool interrupted = false;
  std::string report_error;  // the report could not be (fully) written
  // Why the run stopped before the end of its input when nobody asked it to
  // (interrupted is set too): the report's disk is full, or a write to it
  // failed. Empty otherwise.
  std::string stop_reason;
  // 0 all done, 1 some failed (or the report failed, or stop_reason), 130
  // interrupted (stop(), Ctrl-C).
  int exit_code() const noexcept;
};

// Bad options (an unknown --encoding label, a bad --name template, a number
// out of its range, ...): raised by the Fetcher constructor (check_options()),
// before anything starts. field() is the Options member at fault ("concurrency",
// "name_template", ...; the Python keywords have the same names), empty when no
// one member is.
class OptionsError : public Error {
 public:
  explicit OptionsError(std::string message) : Error(std::move(message)) {}
  OptionsError(std::string field, std::string message)
      : Error(std::move(message)), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// The accepted values of a numeric option: check_options(), the CLI's flags
// and their --help, and the Python keywords all use its OptionField's range.
// Accepted: `zero` is non-empty and the value is 0 (zero is its meaning), or
// min <= value <= max (whole numbers only when integer). NaN and infinities
// never are. Every bound is exact in a double.
struct NumericRange {
  bool integer = false;
  double min = 0, max = 0;
  std::string_view zero;  // what 0 means when it is allowed outside [min, max]
  std::string_view unit;  // "seconds", "bytes", ... (for messages), may be empty
};

// A pointer to an Options member, of any type an option has.
using OptionMember =
    std::variant<bool Options::*, int Options::*, std::size_t Options::*, double Options::*,
                 Seconds Options::*, std::optional<std::size_t> Options::*, std::string Options::*,
                 std::filesystem::path Options::*, std::vector<std::string> Options::*>;

// Where --help shows an option.
enum class OptionGroup { input, output, connection };
// Who sets an option in a shared crawl (docs/scale-out.md): `crawl`, the
// producer, once for every worker (QueueSettings); `worker`, each worker for
// itself; `run`, nobody (a local run's own: its report, resume, base URL).
enum class OptionRole { run, crawl, worker };

// One option of `corun fetch` and corun.fetch(): the Options member, its CLI
// flag and help, its Python keyword and, for a number, what it accepts. Its
// type, and so its kind (switch, number, seconds, size, text, path, list),
// comes from the member; its default from a default-constructed Options.
struct OptionField {
  std::string_view name;  // the Options member, and OptionsError::field()
  OptionMember member;
  OptionGroup group;
  OptionRole role;
  std::string_view flags;         // CLI11's names: "-c,--concurrency"
  std::string_view value_name;    // --help's placeholder ("N", "DIR"); empty for a switch
  std::string_view help;          // --help's text (a number's range is appended to it)
  std::string_view keyword = {};  // the Python keyword, when it is not `name`
  bool sets = true;               // a switch: the value its flag gives the member
  NumericRange range = {};        // a number's (integer, int, size_t, double, seconds, size)

  std::string_view python_keyword() const noexcept { return keyword.empty() ? name : keyword; }
};

// Every option but on_record, in --help's order: the one place an option is
// added (with its Options member). The CLI's flags, check_options(), the
// Python keywords, their checks and defaults are all made from it.
// clang-format off
inline constexpr OptionField kOptionFields[] = {
    // Input.
    {.name = "base_url", .member = &Options::base_url, .group = OptionGroup::input,
     .role = OptionRole::run, .flags = "--base", .value_name = "URL",
     .help = "Prefix for input lines that are not absolute URLs"},
    // Output.
    {.name = "out_dir", .member = &Options::out_dir, .group = OptionGroup::output,
     .role = OptionRole::worker, .flags = "-o,--out", .value_name = "DIR",
     .help = "Write the files into DIR (--demo: ./corun-demo)"},
    {.name = "name_template", .member = &Options::name_template, .group = OptionGroup::output,
     .role = OptionRole::crawl, .flags = "--name", .value_name = "TEMPLATE",
     .help = "File name template: {index} {name} {host} {path} {hash}, '/' for folders",
     .keyword = "name"},
    {.name = "report", .member = &Options::report, .group = OptionGroup::output,
     .role = OptionRole::run, .flags = "--report", .value_name = "FILE",
     .help = "JSON-lines report (default DIR/report.jsonl; - for standard output)"},
    {.name = "resume", .member = &Options::resume, .group = OptionGroup::output,
     .role = OptionRole::run, .flags = "--resume", .value_name = "",
     .help = "Skip the URLs the report records as done"},
    {.name = "encoding", .member = &Options::encoding, .group = OptionGroup::output,
     .role = OptionRole::crawl, .flags = "-e,--encoding", .value_name = "LABEL",
     .help = "Decode text as LABEL instead of sniffing it"},
    {.name = "bom", .member = &Options::bom, .group = OptionGroup::output,
     .role = OptionRole::crawl, .flags = "--no-bom", .value_name = "",
     .help = "Write UTF-8 without the byte order mark", .sets = false},
    {.name = "raw", .member = &Options::raw, .group = OptionGroup::output,
     .role = OptionRole::crawl, .flags = "--raw", .value_name = "",
     .help = "Write bodies as received: no decoding, no BOM"},
    {.name = "max_body_size", .member = &Options::max_body_size, .group = OptionGroup::output,
     .role = OptionRole::worker, .flags = "--max-size", .value_name = "SIZE",
     .help = "Fail bodies larger than SIZE bytes; K, M, G, T multiply by powers of 1024 "
             "(e.g. 500K, 10M)",
     .range = {true, 1, 1125899906842624.0 /* 2^50, 1 PiB */, "", "bytes"}},
    {.name = "fsync", .member = &Options::fsync, .group = OptionGroup::output,
     .role = OptionRole::worker, .flags = "--fsync", .value_name = "",
     .help = "Flush every file to disk before counting it done"},
    // Connection.
    {.name = "concurrency", .member = &Options::concurrency, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-c,--concurrency", .value_name = "N",
     .help = "Requests in flight in total", .range = {true, 1, 100000, "", ""}},
    {.name = "limit_per_host", .member = &Options::limit_per_host, .group = OptionGroup::connection,
     .role = OptionRole::crawl, .flags = "--per-host", .value_name = "N",
     .help = "Requests in flight per host", .range = {true, 1, 100000, "no limit", ""}},
    {.name = "threads", .member = &Options::threads, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "--threads", .value_name = "N",
     .help = "Threads for the requests, each with a share of -c",
     .range = {true, 1, 256, "one per core, at most 4", ""}},
    {.name = "cookies", .member = &Options::cookies, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "--no-cookies", .value_name = "",
     .help = "Keep no cookies (by default those responses set are sent for the rest of the run)",
     .sets = false},
    {.name = "rate", .member = &Options::rate, .group = OptionGroup::connection,
     .role = OptionRole::crawl, .flags = "--rate", .value_name = "R",
     .help = "At most R requests per second per host",
     .range = {false, 0.001, 1e6, "no limit", "requests per second"}},
    {.name = "timeout", .member = &Options::timeout, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-m,--timeout", .value_name = "S",
     .help = "Seconds one attempt may take in all",
     .range = {false, 0.001, 1e6, "none", "seconds"}},
    {.name = "connect_timeout", .member = &Options::connect_timeout,
     .group = OptionGroup::connection, .role = OptionRole::worker, .flags = "--connect-timeout",
     .value_name = "S", .help = "Seconds to connect",
     .range = {false, 0.001, 1e6, "libcurl's default, 300 s", "seconds"}},
    {.name = "read_timeout", .member = &Options::read_timeout, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "--read-timeout", .value_name = "S",
     .help = "Fail after S seconds without data (once connected)",
     .range = {false, 0.001, 1e6, "none", "seconds"}},
    {.name = "retries", .member = &Options::retries, .group = OptionGroup::connection,
     .role = OptionRole::crawl, .flags = "--retries", .value_name = "N",
     .help = "Retries on connect errors, timeouts, 408/429/5xx", .range = {true, 0, 100, "", ""}},
    {.name = "retry_delay", .member = &Options::retry_delay, .group = OptionGroup::connection,
     .role = OptionRole::crawl, .flags = "--retry-delay", .value_name = "S",
     .help = "First backoff in seconds, doubled each time",
     .range = {false, 0, 1e6, "", "seconds"}},
    {.name = "retry_max_delay", .member = &Options::retry_max_delay,
     .group = OptionGroup::connection, .role = OptionRole::crawl, .flags = "--retry-max-delay",
     .value_name = "S", .help = "Longest backoff; a longer Retry-After is not waited for",
     .range = {false, 0, 1e6, "", "seconds"}},
    {.name = "headers", .member = &Options::headers, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-H,--header", .value_name = "'NAME: VALUE'",
     .help = "Extra request header (repeatable)"},
    {.name = "user_agent", .member = &Options::user_agent, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-A,--user-agent", .value_name = "NAME",
     .help = "User-Agent to send"},
    {.name = "proxy", .member = &Options::proxy, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-x,--proxy", .value_name = "URL",
     .help = "Use this proxy ([scheme://]host[:port])"},
    {.name = "verify_tls", .member = &Options::verify_tls, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "-k,--insecure", .value_name = "",
     .help = "Do not verify TLS certificates", .sets = false},
    {.name = "ca_file", .member = &Options::ca_file, .group = OptionGroup::connection,
     .role = OptionRole::worker, .flags = "--cacert", .value_name = "FILE",
     .help = "Trust the CAs of this PEM file instead of the system's", .keyword = "cacert"},
};
// clang-format on

// f(field, member) for each of kOptionFields, member being o's (const when o is).
template <class O, class F>
void for_each_option(O& o, F&& f) {
  for (const OptionField& field : kOptionFields) {
    std::visit([&](auto pointer) { f(field, o.*pointer); }, field.member);
  }
}

// True for the members whose value is a number (and whose range is checked).
template <class T>
inline constexpr bool kIsNumericOption =
    std::is_same_v<T, int> || std::is_same_v<T, std::size_t> || std::is_same_v<T, double> ||
    std::is_same_v<T, Seconds> || std::is_same_v<T, std::optional<std::size_t>>;

// The entry of kOptionFields named `field`; throws std::out_of_range for another name.
const OptionField& option_field(std::string_view field);
// True for a number's entry (its range is checked).
bool is_numeric(const OptionField& f) noexcept;
// The range of a numeric option; throws std::out_of_range for another name.
const NumericRange& numeric_range(std::string_view field);
// True if value is accepted by r.
bool in_range(const NumericRange& r, double value) noexcept;
// "0 (no limit) or a whole number from 1 to 100000", "a number from 0.001 to
// 1000000 (seconds)": what r accepts, for messages.
std::string describe_range(const NumericRange& r);
// Every numeric field in range (NumericRange), a known --encoding label, a valid
// --name template, "Name: value" headers; throws OptionsError naming the field,
// e.g. "concurrency must be a whole number from 1 to 100000, not 0".
void check_options(const Options& options);

// A -H value as curl reads it: "Name: value" (the value trimmed), or "Name;" for
// the header sent with an empty value. nullopt: neither.
std::optional<std::pair<std::string_view, std::string_view>> split_header_flag(
    std::string_view header);

// The output folder or the report cannot be created: raised by run() before
// any URL is started.
class SetupError : public Error {
 public:
  using Error::Error;
};

class Fetcher {
 public:
  explicit Fetcher(Options options);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Fetches every URL of source, with the report of Options (the local
  // frontier, frontier_local.hpp). Once per Fetcher.
  Task<Summary> run(UrlSource& source);
  // Fetches what frontier hands out and gives it each outcome (frontier.hpp);
  // Options::report, resume and base_url are the local frontier's and unused
  // here. Once per Fetcher; frontier must outlive the run.
  Task<Summary> run(Frontier& frontier);
  // Graceful stop (see above). Loop thread; idempotent.
  void stop();
  bool stopping() const noexcept;
  const Progress& progress() const noexcept;
  const Options& options() const noexcept;
  // Writes the records gathered so far to the report (e.g. before _exit on a
  // second Ctrl-C). Blocking, loop thread.
  void flush_report() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One call: Fetcher(options).run(source).
Task<Summary> run_fetch(UrlSource& source, Options options);

}  // namespace corun::fetch
