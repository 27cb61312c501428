// corun::fetch shared crawl: one crawl shared by any number of `corun fetch`
// workers on any machines through Redis Streams with a consumer group
// (docs/scale-out.md; its measurements: bench/README.md "Shared crawl"). This header has the
// crawl's address, its settings, and the three library functions around the workers: the producer
// (enqueue), the report writer (collect) and the overview (status). The
// worker is RedisFrontier (frontier_redis.hpp), a fetch::Frontier.
//
// Keys, all under the hash tag {NAME} (one cluster slot; Lua steps touch only
// their own crawl):
//   {NAME}:meta      hash    settings (per_host, rate, retries, ...), lines and
//                            URLs read (every input), input_done, total,
//                            collect cursor, crawl_id (random, set by the
//                            producer that makes the crawl: a crawl made anew
//                            under the same name is another crawl)
//   {NAME}:work      stream  URLs waiting or in flight; group "workers"; an
//                            entry is deleted when acked, so XLEN = waiting +
//                            in flight and the PEL is the set of leases
//   {NAME}:delay     zset    retries and host-limited URLs, score = due (ms,
//                            server clock); moved back to work when due
//   {NAME}:seen:<b>  set     exact dedup and the done mark: the URL's 62-bit
//                            fingerprint f while known, -f once recorded
//                            (integers: an intset, 8 bytes per URL)
//   {NAME}:results   stream  one report record per URL, consumed by collect
//   {NAME}:stats     hash    done, failed, retried, dup (input), refetched,
//                            bounced (host-limited), delivered_too_often
//   {NAME}:hostq     hash    host -> URLs of that host not recorded yet
//   {NAME}:slots:<h> zset    per-host concurrency slots: entry id -> expiry
//   {NAME}:next      hash    host -> earliest start of its next request (ms)
//   {NAME}:workers   hash    worker -> last heartbeat (ms, server clock)
//   {NAME}:inputs    hash    input name -> its lines read (a producer's resume point)
//   {NAME}:producers zset    producers reading now: input name -> registration expiry
//                            (ms, server clock)
//   {NAME}:collector string  the collector writing the report (expires unless renewed)
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/error.hpp"
#include "corun/core/task.hpp"
#include "corun/fetch/fetch.hpp"

namespace corun::fetch {

// A queue URL that is not redis://[user:pass@]host:port[/db]/NAME: a usage error.
class QueueUrlError : public Error {
 public:
  using Error::Error;
};

// The server cannot be used for the crawl: unreachable, refused password, a
// key of the wrong type under NAME, no crawl of that name (for a worker).
class QueueError : public SetupError {
 public:
  using SetupError::SetupError;
};

// "redis://[user:pass@]host:port[/db]/NAME" split into the Redis URL the
// redis layer takes and the crawl's NAME (letters, digits, '-', '_', '.',
// at most 100 characters).
struct QueueAddress {
  std::string redis_url;  // redis://[user:pass@]host:port[/db]
  std::string name;
  std::string prefix() const { return "{" + name + "}:"; }
  std::string to_string() const;  // without the password
};
// Throws QueueUrlError naming the expected form.
QueueAddress parse_queue_url(std::string_view url);
inline constexpr std::string_view kQueueUrlForm = "redis://[user:password@]host:port[/db]/NAME";
// The default --name of a shared crawl: the URL's 16-hex-digit hash, then the
// usual name ("0f1e...-index.html").
inline constexpr std::string_view kQueueNameTemplate = "{hash}-{name}";

// What every worker of a crawl enforces, stored by the producer in {NAME}:meta.
struct QueueSettings {
  // Across all workers; 0: no limit. Stored in {NAME}:meta under the key
  // "per_host" (its name before it was renamed after SessionOptions'), so a
  // crawl an earlier version created still loads and the scripts read it.
  std::size_t limit_per_host = 0;
  double rate = 0;  // requests per second per host across all workers; 0: none
  int retries = 3;
  Seconds retry_delay{0.5};
  Seconds retry_max_delay{30.0};
  std::string encoding = "auto";
  // Workers on several machines name a page from its URL alone, and two URLs
  // must never share a file: a template needs {hash} or {index}. Empty: the
  // producer stores kQueueNameTemplate.
  std::string name_template;
  bool bom = true;
  bool raw = false;
  int max_deliveries = 5;                  // a URL leased more often is recorded as failed
  std::chrono::milliseconds lease{60000};  // renewed every lease/3 while in flight
  std::uint32_t buckets = 65536;           // dedup sets (fixed when the crawl is created)

  // The settings a producer's fetch::Options carry, and back.
  static QueueSettings from_options(const Options& options);
  void apply_to(Options& options) const;
};

// The fingerprint of a URL: bucket and a 62-bit value (>= 1) from its SHA-1.
struct UrlFingerprint {
  std::uint32_t bucket = 0;
  std::uint64_t value = 0;
};
UrlFingerprint fingerprint(std::string_view url, std::uint32_t buckets);

// Connects and reads the crawl's settings; QueueError when the server cannot be
// reached, NAME's keys have the wrong type, or no producer has created NAME.
Task<QueueSettings> read_queue_settings(QueueAddress address);

// The coroutines below take their arguments by value (they are lazy tasks);
// a UrlSource passed by reference must outlive the task.

// ---- producer ----
struct EnqueueOptions {
  // Stored when this run creates the crawl; an existing crawl keeps its own
  // unless replace_settings (workers read them when they start).
  QueueSettings settings;
  bool replace_settings = false;
  std::string base_url;              // as Options::base_url
  std::size_t high_water = 1000000;  // pause while more URLs than this wait or are in flight
  std::size_t batch = 500;           // URLs per atomic add step
  std::function<void(std::uint64_t lines, std::uint64_t added)> on_progress;
};
// How long a producer stays registered as reading without renewing (a live
// one renews every third of it): one killed mid-input stops counting then.
inline constexpr std::chrono::seconds kProducerRegistration{30};

struct EnqueueResult {
  // True when this run created the crawl (or replaced its settings); false:
  // the crawl kept the settings it had, which `settings` holds.
  bool stored_settings = false;
  QueueSettings settings;
  std::uint64_t lines = 0;    // input lines read by this run (skipped ones included)
  std::uint64_t resumed = 0;  // lines skipped because an earlier run had added them
  std::uint64_t added = 0;    // URLs new to the crawl
  std::uint64_t duplicates = 0;
  // Other producers still registered as reading when this one finished: the
  // crawl's input is done only once they finish too (or their registrations
  // lapse, for one that was stopped).
  std::uint64_t other_producers = 0;
};
// Streams `input` (a file, or "-" for stdin) into the crawl: creates it (or
// checks it), stores the settings (see EnqueueOptions::settings), adds each URL line not seen
// before with one atomic step per batch that also records the input position, waits while the crawl
// holds more than high_water URLs, and marks the input done at the end. Run again with the same
// input after a kill, it skips the lines already added. Throws QueueError (server), fs::FileError
// (input).
Task<EnqueueResult> enqueue(QueueAddress address, std::filesystem::path input,
                            EnqueueOptions options);
// The same from lines held by the caller (the Python binding, tests).
Task<EnqueueResult> enqueue(QueueAddress address, UrlSource& source, std::string input_name,
                            EnqueueOptions options);

// ---- report ----
struct CollectOptions {
  std::chrono::milliseconds poll{200};
  std::function<void(const Record&)> on_record;  // each record once its batch is stored
  // Redis became unreachable (with the error; the collector retries until it
  // is back), and it is reachable again. Empty: nothing is said.
  std::function<void(const std::string&)> on_warning;
};
struct CollectResult {
  std::uint64_t written = 0;  // records this run appended
  std::uint64_t done = 0;     // the whole crawl's counters when it finished
  std::uint64_t failed = 0;
  int exit_code() const noexcept { return failed > 0 ? 1 : 0; }
};
// Appends the crawl's records to `report` (JSON lines, to_json_line) as they
// arrive and removes them from Redis once written; returns when the crawl is
// finished and every record is written. Resumable: a cursor and the file's
// length are stored with each batch, so a collector killed mid-write restarts
// from there (the file is cut back to the length last stored). One collector
// per crawl: a claim in Redis, renewed while it runs; another collector's
// live claim is a QueueError (a lapsing one, of a collector killed, is waited
// out). Redis going away mid-run is waited out (on_warning says so), as
// workers wait it out.
Task<CollectResult> collect(QueueAddress address, std::filesystem::path report,
                            CollectOptions options);

// ---- status ----
struct QueueStatus {
  struct Worker {
    std::string name;
    std::uint64_t in_flight = 0;
    std::int64_t seen_ms_ago = -1;  // since its last claim or renewal
  };
  struct Host {
    std::string host;
    std::uint64_t backlog = 0;  // URLs not recorded yet
  };
  // A producer registered as reading (the input is not done while one is).
  struct Producer {
    std::string name;               // its input's name
    std::int64_t lapses_in_ms = 0;  // unless renewed (a live one renews every 10 s)
  };
  std::uint64_t total = 0;  // distinct URLs added
  std::uint64_t waiting = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t delayed = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t retried = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t uncollected = 0;  // records not written by collect yet
  std::uint64_t input_lines = 0;
  bool input_done = false;
  bool finished = false;  // input done, nothing waiting, in flight or delayed
  std::vector<Worker> workers;
  std::vector<Host> slowest_hosts;  // largest backlog first, at most 10
  std::vector<Producer> producers;  // registered, not lapsed
  // The crawl's lease (QueueSettings::lease): a worker unseen for longer has
  // stopped or stalled, and its URLs go to the others. 0: not known.
  std::int64_t lease_ms = 0;
};
Task<QueueStatus> status(QueueAddress address);
// Human-readable lines; with previous (an earlier status) and the seconds
// between them, also a rate and an ETA.
std::string format_status(const QueueStatus& s, const QueueStatus* previous = nullptr,
                          double seconds = 0);

}  // namespace corun::fetch
