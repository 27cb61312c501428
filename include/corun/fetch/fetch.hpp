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
// exponential backoff and jitter: connect errors (refused, DNS; not TLS
// verification), a connection dropped before the response
// (ServerDisconnectedError), timeouts, and the statuses 408, 429 and 5xx
// (Retry-After honoured up to retry_max_delay; a longer one is not waited
// for). Not retried: a malformed URL, TLS failures, too many redirects, bad
// response heads, truncated bodies, bodies over max_body_size, other 4xx. A
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
#include <vector>

#include "corun/core/error.hpp"
#include "corun/core/task.hpp"
#include "corun/fetch/record.hpp"
#include "corun/fetch/source.hpp"

namespace corun::fetch {

class Frontier;
using Seconds = std::chrono::duration<double>;

struct Options {
  // --- output ---
  std::filesystem::path out_dir = ".";
  std::string name_template;                 // empty: names from the URL (see naming.hpp)
  std::filesystem::path report;              // empty: out_dir / "report.jsonl"
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
  Seconds read_timeout{0.0};         // longest silence (whole seconds); 0 = none
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
  // 0 all done, 1 some failed (or the report failed), 130 interrupted.
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

// The accepted values of a numeric option, in one place: check_options(), the
// CLI's flags and their --help, and the Python keywords all use these.
// Accepted: `zero` is non-empty and the value is 0 (zero is its meaning), or
// min <= value <= max (whole numbers only when integer). NaN and infinities
// never are. Every bound is exact in a double.
struct NumericRange {
  std::string_view field;  // the Options member (and Python keyword)
  bool integer;
  double min, max;
  std::string_view zero;  // what 0 means when it is allowed outside [min, max]
  std::string_view unit;  // "seconds", "bytes", ... (for messages), may be empty
};
inline constexpr NumericRange kNumericRanges[] = {
    {"concurrency", true, 1, 100000, "", ""},
    {"limit_per_host", true, 1, 100000, "no limit", ""},
    {"threads", true, 1, 256, "one per core, at most 4", ""},
    {"retries", true, 0, 100, "", ""},
    {"rate", false, 0.001, 1e6, "no limit", "requests per second"},
    {"timeout", false, 0.001, 1e6, "none", "seconds"},
    {"connect_timeout", false, 0.001, 1e6, "libcurl's default, 300 s", "seconds"},
    {"read_timeout", false, 0.001, 1e6, "none", "seconds"},
    {"retry_delay", false, 0, 1e6, "", "seconds"},
    {"retry_max_delay", false, 0, 1e6, "", "seconds"},
    {"max_body_size", true, 1, 1125899906842624.0 /* 2^50, 1 PiB */, "", "bytes"},
};
// The range of a field of kNumericRanges; throws std::out_of_range for another name.
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
