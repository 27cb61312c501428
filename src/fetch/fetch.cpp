// corun::fetch engine (see include/corun/fetch/fetch.hpp).
//
// Shape: one reader task on the engine's loop turns input lines into items and
// hands them to lanes (FetchLane: a loop with its own session, share of -c and
// workers; lane 0 is the engine's loop, the others have threads of their own).
// A lane's worker does the request(s), decodes and writes the page, and hands
// the outcome back; the engine appends the record to the report buffer, which
// goes to disk in large writes (and at least every second).
#include "corun/fetch/fetch.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>

#include "corun/core/event.hpp"
#include "corun/core/future.hpp"
#include "corun/core/gather.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/queue.hpp"
#include "corun/core/semaphore.hpp"
#include "corun/core/threads.hpp"
#include "corun/core/time.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/fs/file.hpp"
#include "corun/http/session.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/mime.hpp"
#include "corun/text/sniff.hpp"
#include "corun/text/utf8.hpp"

namespace corun::fetch {

int Summary::exit_code() const noexcept {
  if (interrupted) return 130;
  return failed > 0 || !report_error.empty() ? 1 : 0;
}

// ---------------------------------------------------------------- engine

namespace {

using Clock = std::chrono::steady_clock;

struct Item {
  std::string url;
  std::string label;  // per-line encoding label, may be empty
  std::uint64_t index = 0;
  bool end = false;          // tells a worker to quit
  bool not_started = false;  // stop() came while it waited for a request slot
};

struct HostState {
  explicit HostState(int per_host) : slots(per_host > 0 ? per_host : 1) {}
  Semaphore slots;
  Clock::time_point next_start{};
  std::size_t users = 0;
};

// What the decode-and-write job reports back.
struct WriteOutcome {
  bool decoded = false;
  text::Encoding encoding = text::Encoding::utf_8;
  text::Source source = text::Source::default_;
  std::string error;
};

bool is_text_type(std::string_view content_type) {
  std::string_view essence =
      text::trim_http_tab_or_space(content_type.substr(0, content_type.find(';')));
  if (essence.empty()) return true;  // no Content-Type: sniff it
  return text::is_text_mime_type(essence);
}

// Retry-After: delta-seconds or an HTTP date; nullopt when absent or unreadable.
std::optional<double> retry_after_seconds(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  bool digits = true;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9) return 1e9;
    return static_cast<double>(std::stol(std::string(value)));
  }
  std::string v(value);
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  double d = std::difftime(when, std::time(nullptr));
  return d < 0 ? 0.0 : d;
}

std::optional<std::chrono::milliseconds> to_ms(Seconds s) {
  if (s.count() <= 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(s.count() * 1000)));
}

// Everything the decode-and-write pool job needs, moved in.
struct WriteJob {
  std::string body;
  std::string content_type;
  std::filesystem::path file;
  fs::WriteOptions write_options;
  bool decode = false;
  bool bom = true;
  std::optional<text::Encoding> override_encoding;
};

WriteOutcome run_write_job(const WriteJob& job) {
  WriteOutcome o;
  try {
    if (!job.decode) {
      fs::write_file_sync(job.file, job.body, job.write_options);
      return o;
    }
    text::SniffResult sniffed =
        job.override_encoding
            ? text::sniff(job.body, job.content_type, text::name(*job.override_encoding))
            : text::sniff(job.body, job.content_type);
    o.decoded = true;
    o.encoding = sniffed.encoding;
    o.source = sniffed.source;
    std::string_view head = job.bom ? text::utf8_bom : std::string_view{};
    if (sniffed.encoding == text::Encoding::utf_8 && text::is_valid_utf8(job.body)) {
      // Already UTF-8: only the BOM changes.
      std::string_view b = job.body;
      if (b.starts_with(text::utf8_bom)) b.remove_prefix(text::utf8_bom.size());
      fs::write_file_sync(job.file, head, b, job.write_options);
    } else {
      std::string utf8 = text::decode(job.body, sniffed.encoding);
      fs::write_file_sync(job.file, head, utf8, job.write_options);
    }
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

// Decode-and-write jobs on libuv's thread pool, batched: a job takes every
// page waiting when it starts, so under load one thread hand-off (and one
// wake-up of the loop) serves many pages instead of one each. At most
// max_jobs jobs run at once; the rest of the pages wait on the loop thread.
// Loop-thread API. run()'s shutdown waits for running jobs (they count as
// executor jobs, like to_thread's).
class BatchWriter {
 public:
  BatchWriter(Loop& loop, std::size_t max_jobs) : loop_(loop), max_jobs_(max_jobs) {}
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;
  ~BatchWriter() {
    // Jobs still running own their batches; they only touch this object
    // through the lifeline, which is cut here.
    *alive_ = false;
  }

  Future<WriteOutcome> write(WriteJob job) {
    Future<WriteOutcome> done(loop_);
    pending_.push_back(Pending{std::move(job), done});
    if (running_ < max_jobs_) start_job();
    return done;
  }

 private:
  struct Pending {
    WriteJob job;
    Future<WriteOutcome> done;
  };
  struct Batch {
    std::vector<WriteJob> jobs;
    std::vector<Future<WriteOutcome>> futures;
    std::vector<WriteOutcome> outcomes;
  };
  static constexpr std::size_t kMaxBatch = 64;

  void start_job() {
    auto batch = std::make_shared<Batch>();
    std::size_t n = std::min(pending_.size(), kMaxBatch);
    batch->jobs.reserve(n);
    batch->futures.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      Pending& p = pending_.front();
      if (!p.done.done()) {  // a cancelled wait needs no write
        batch->jobs.push_back(std::move(p.job));
        batch->futures.push_back(p.done);
      }
      pending_.pop_front();
    }
    if (batch->jobs.empty()) return;
    try {
      loop_.queue_work(
          [batch] {
            batch->outcomes.reserve(batch->jobs.size());
            for (const WriteJob& j : batch->jobs) batch->outcomes.push_back(run_write_job(j));
          },
          [batch, writer = this, alive = alive_] {
            for (std::size_t i = 0; i < batch->futures.size(); ++i) {
              if (batch->futures[i].done()) continue;
              if (i < batch->outcomes.size()) {
                batch->futures[i].set_result(std::move(batch->outcomes[i]));
              } else {
                batch->futures[i].set_exception(
                    std::make_exception_ptr(RuntimeError("write job cancelled")));
              }
            }
            if (*alive) {
              --writer->running_;
              while (!writer->pending_.empty() && writer->running_ < writer->max_jobs_) {
                writer->start_job();
              }
            }
          });
    } catch (const RuntimeError& e) {
      for (auto& f : batch->futures) {
        f.set_exception(std::make_exception_ptr(
            RuntimeError(fmt::format("cannot start a write job: {}", e.what()))));
      }
      return;
    }
    ++running_;
  }

  Loop& loop_;
  std::size_t max_jobs_;
  std::size_t running_ = 0;
  std::deque<Pending> pending_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

struct FetchLane;

struct Fetcher::Impl {
  Options options;
  NameTemplate name_template;
  std::optional<text::Encoding> override_encoding;
  std::filesystem::path out_dir;
  std::filesystem::path report_path;
  bool unique_names = false;  // the template has {index}
  std::size_t per_host = 0;   // 0 also when per_host >= concurrency (it could never bind)
  std::string report_key;     // the report's path as a page path would be written

  Progress progress;
  bool stopping = false;
  std::atomic<bool> stop_requested{false};  // stopping, for the lanes' threads
  bool started = false;
  std::uint64_t not_started = 0;

  http::SessionOptions session_options;          // every lane's session is made from these
  std::shared_ptr<http::CookieJar> cookie_jar;   // one jar for every lane's session
  std::shared_ptr<http::SharedCache> tls_cache;  // without cookies: TLS sessions for every lane
  // Host -> the lanes its URLs went to (bit i: lane i), so its connections are
  // reused (see pick_lane). Cleared when it grows past kMaxAffinityHosts.
  std::unordered_map<std::string, std::uint64_t> host_lanes;
  static constexpr std::size_t kMaxAffinityHosts = 1 << 16;
  std::size_t spills = 0;  // hosts given a second (third...) lane, since host_lanes was cleared
  std::vector<std::unique_ptr<FetchLane>> lanes;
  bool route_by_host = false;          // per-host limits: a host's URLs all go to one lane
  std::unique_ptr<Semaphore> credits;  // URLs handed to lanes and not back yet
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // for posts from lanes
  std::mutex names_mutex;  // lanes claim names from their threads
  NameRegistry names;
  FlatCounter done_before;  // --resume: URL hash -> how many done records

  // Report: records are appended to buffer and written in large pieces.
  int report_fd = -1;
  std::string report_buffer;
  off_t report_size = 0;
  std::string report_error;
  static constexpr std::size_t kReportFlushBytes = 64 * 1024;

  explicit Impl(Options o) : options(std::move(o)) {
    check_options(options);  // every range, label, template and header (the errors name the field)
    if (!options.name_template.empty()) {
      try {
        name_template = NameTemplate(options.name_template);
      } catch (const TemplateError& e) {
        throw OptionsError(e.what());
      }
    }
    if (!options.raw && !options.encoding.empty() && options.encoding != "auto") {
      auto e = text::lookup(options.encoding);
      if (!e) throw OptionsError(fmt::format("unknown encoding label '{}'", options.encoding));
      override_encoding = *e;
    }
    for (const std::string& h : options.headers) {
      auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0) {
        throw OptionsError(fmt::format("bad header '{}' (expected 'Name: value')", h));
      }
    }
    out_dir =
        options.out_dir.empty() ? std::filesystem::path(".") : options.out_dir.lexically_normal();
    report_path = options.report.empty() ? out_dir / "report.jsonl" : options.report;
    unique_names = !name_template.empty() && name_template.has_index();
    per_host = options.per_host < options.concurrency ? options.per_host : 0;
  }

  ~Impl();  // after FetchLane

  // ---- report ----

  void flush_report() noexcept {
    if (report_fd < 0 || report_buffer.empty()) return;
    std::string_view data = report_buffer;
    while (!data.empty()) {
      ssize_t n = ::write(report_fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : ENOSPC;
        // Never leave a half line: cut the file back to its last whole record.
        if (::ftruncate(report_fd, report_size) != 0) { /* the next flush tries again */
        }
        report_error = fmt::format("cannot write {}: {}", report_path.string(), std::strerror(err));
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
      report_size += n;
    }
    report_buffer.clear();
    report_error.clear();
  }

  void add_record(const Record& r) {
    append_record(report_buffer, r);
    report_buffer.push_back('\n');
    if (report_buffer.size() >= kReportFlushBytes) flush_report();
    if (options.on_record) options.on_record(r);
  }

  // Opens the report (after reading it with --resume), creates the out folder.
  // Blocking: run on the pool.
  void setup_blocking() {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw SetupError(fmt::format("cannot create {}: {}", out_dir.string(), ec.message()));
    if (report_path.has_parent_path()) {
      std::filesystem::create_directories(report_path.parent_path(), ec);
      if (ec) {
        throw SetupError(
            fmt::format("cannot create {}: {}", report_path.parent_path().string(), ec.message()));
      }
    }
    if (options.resume) remove_stale_temp_files();
    off_t whole_lines = -1;  // with --resume: where the last complete line ends
    if (options.resume) {
      int fd = ::open(report_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        std::string pending;
        char buf[65536];
        auto take_line = [&](std::string_view line) {
          Record r;
          if (!parse_json_line(line, r) || !r.ok()) return;
          done_before.add(stable_hash(r.url));
          if (!r.path.empty()) names.reserve(r.path);
        };
        off_t offset = 0;
        whole_lines = 0;
        for (;;) {
          ssize_t n = ::read(fd, buf, sizeof buf);
          if (n <= 0) break;
          std::string_view block(buf, static_cast<std::size_t>(n));
          if (auto last = block.rfind('\n'); last != std::string_view::npos) {
            whole_lines = offset + static_cast<off_t>(last) + 1;
          }
          offset += n;
          for (;;) {
            auto nl = block.find('\n');
            if (nl == std::string_view::npos) {
              pending.append(block);
              break;
            }
            if (pending.empty()) {
              take_line(block.substr(0, nl));
            } else {
              pending.append(block.substr(0, nl));
              take_line(pending);
              pending.clear();
            }
            block.remove_prefix(nl + 1);
          }
        }
        // A last line without its newline was cut by a crash: it is dropped below.
        ::close(fd);
      }
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.resume ? O_APPEND : O_TRUNC);
    report_fd = ::open(report_path.c_str(), flags, 0666);
    if (report_fd < 0) {
      throw SetupError(
          fmt::format("cannot write {}: {}", report_path.string(), std::strerror(errno)));
    }
    report_size = ::lseek(report_fd, 0, SEEK_END);
    if (whole_lines >= 0 && whole_lines < report_size) {
      // Drop the torn tail a crash left, so the report stays whole JSON lines.
      if (::ftruncate(report_fd, whole_lines) != 0) {
        throw SetupError(
            fmt::format("cannot write {}: {}", report_path.string(), std::strerror(errno)));
      }
      report_size = whole_lines;
    }
    // The report may live in the output folder: no page may take its name.
    std::filesystem::path rel = report_path.lexically_normal().lexically_relative(out_dir);
    if (!rel.empty() && *rel.begin() != "..") {
      report_key = path_key(rel.generic_string());
      names.reserve(report_key);
    }
  }

  // Named temporary files a kill -9 can leave (where O_TMPFILE was not usable,
  // or while replacing an existing file): a resumed run removes them.
  void remove_stale_temp_files() {
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(
        out_dir, std::filesystem::directory_options::skip_permission_denied, ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::filesystem::path& p = it->path();
      std::string name = p.filename().string();
      if (name.size() > fs::kTempSuffix.size() && name.front() == '.' &&
          name.ends_with(fs::kTempSuffix)) {
        std::error_code ignored;
        std::filesystem::remove(p, ignored);
      }
    }
  }

  // The key a relative name is reserved under: the path as the report writes it.
  std::string path_key(std::string_view relative) const { return (out_dir / relative).string(); }

  // ---- stop ----

  void stop();  // after FetchLane

  // ---- reader: lines -> items -> lanes ----

  std::uint64_t lines_given = 0;  // raw lines the source gave
  std::uint64_t lines_read = 0;   // of those, taken (Summary::lines_read)
  bool input_exhausted = false;

  Task<void> reader(UrlSource* source) {
    std::vector<std::string> lines;
    bool more = true;
    while (more && !stopping) {
      lines.clear();
      more = co_await source->next_batch(lines);
      lines_given += lines.size();
      for (std::string& raw : lines) {
        if (stopping) break;
        ++lines_read;
        InputLine parsed;
        if (!parse_input_line(raw, options.base_url, parsed)) continue;
        Item item;
        item.url = std::move(parsed.url);
        item.label = std::move(parsed.label);
        item.index = progress.seen++;
        if (options.resume && done_before.take(stable_hash(item.url))) {
          ++progress.skipped;
          continue;
        }
        co_await credits->acquire();
        if (stopping) {  // stopped while waiting for room: never handed out
          credits->release();
          ++not_started;
          break;
        }
        // The lane first: arguments are evaluated in no set order, and the by-value
        // Item may be moved from before pick_lane reads it (g++ does so).
        FetchLane& lane = pick_lane(item);
        dispatch(lane, std::move(item));
      }
    }
    input_exhausted = !more && lines_read == lines_given;
    for (auto& lane : lanes) {
      for (std::size_t i = 0; i < 2 * lane_concurrency(*lane); ++i) {
        Item end;
        end.end = true;
        dispatch(*lane, std::move(end));
      }
    }
  }

  FetchLane& pick_lane(const Item& item);  // after FetchLane
  void dispatch(FetchLane& lane, Item item);
  static std::size_t lane_concurrency(const FetchLane& lane);

  // An outcome handed back by a lane (engine loop).
  void take(FetchLane& lane, Record rec, bool never_started);
  void refresh_in_flight() noexcept;

  // Lanes: one per core by default (threads = 0), each with its own loop,
  // session and share of -c; never more than -c.
  std::size_t lane_count() const {
    std::size_t n = options.threads;
    if (n == 0) {
      unsigned cores = std::thread::hardware_concurrency();
      n = std::clamp<std::size_t>(cores == 0 ? 1 : cores, 1, 4);
    }
    return std::clamp<std::size_t>(n, 1, options.concurrency);
  }

  Task<void> report_ticker() {
    for (;;) {
      co_await sleep(std::chrono::seconds(1));
      flush_report();
    }
  }

  Task<Summary> run(UrlSource* source);  // after FetchLane
};

// ---------------------------------------------------------------- lanes

// One loop's share of a run's requests: a session of its own, request slots
// (its share of -c), per-host state, workers. Lane 0 runs on the engine's loop;
// each other lane on a LoopThread of its own, so a run uses every core for what
// costs the most (libcurl's work, decoding, writing files) while the engine's
// loop keeps the input, names, records and report. A page is fetched, decoded
// and written on its lane's thread, start to end: handing bodies to another
// thread cost more CPU than it saved here (see bench/README.md). URLs reach a
// remote lane, and outcomes come back, through mailboxes whose wake-ups
// coalesce under load.
struct FetchLane {
  FetchLane(Fetcher::Impl& engine, std::size_t concurrency)
      : impl(engine), concurrency(concurrency) {}
  FetchLane(const FetchLane&) = delete;
  FetchLane& operator=(const FetchLane&) = delete;
  ~FetchLane() { thread.reset(); }  // stops the loop: its tasks are cancelled first

  Fetcher::Impl& impl;
  std::size_t concurrency;
  std::unique_ptr<LoopThread> thread;          // null: the lane runs on the engine's loop
  bool is_remote = false;                      // set once, before the lane runs
  std::shared_ptr<detail::LoopLifeline> home;  // the engine's loop

  // The lane's loop only.
  std::unique_ptr<http::ClientSession> session;
  std::unique_ptr<BatchWriter> writer;  // --fsync: writes go to the pool
  std::unique_ptr<Semaphore> net_slots;
  std::unique_ptr<Queue<Item>> queue;  // unbounded: the engine's credits bound it
  std::unordered_map<std::string, std::unique_ptr<HostState>> hosts;
  std::mt19937_64 rng{std::random_device{}()};
  Event stop_event;                         // set by stop_local(): wakes pause()
  std::atomic<std::uint64_t> in_flight{0};  // read by the engine for Progress
  std::atomic<std::uint64_t> requests{0};   // Progress::requests
  std::atomic<std::uint64_t> writing{0};    // Progress::writing
  struct Counting {                         // counts itself in *n while it lives
    explicit Counting(std::atomic<std::uint64_t>& c) : n(c) {
      n.fetch_add(1, std::memory_order_relaxed);
    }
    ~Counting() { n.fetch_sub(1, std::memory_order_relaxed); }
    Counting(const Counting&) = delete;
    Counting& operator=(const Counting&) = delete;
    std::atomic<std::uint64_t>& n;
  };

  // Mailboxes between the loops (remote lanes).
  std::mutex mutex;
  std::vector<Item> inbox;
  bool inbox_posted = false;
  struct Outcome {
    Record record;
    bool never_started = false;
  };
  std::vector<Outcome> outbox;
  bool outbox_posted = false;

  // The engine's loop only.
  std::size_t outstanding = 0;  // URLs handed over, no outcome yet

  bool remote() const noexcept { return is_remote; }

  // On the lane's loop, before any URL.
  void open() {
    http::SessionOptions so = impl.session_options;
    so.limit = concurrency;
    so.shared_cookie_jar = impl.cookie_jar;
    session = std::make_unique<http::ClientSession>(std::move(so));
    if (impl.options.fsync) writer = std::make_unique<BatchWriter>(get_running_loop(), 2);
    net_slots = std::make_unique<Semaphore>(static_cast<int>(concurrency));
    queue = std::make_unique<Queue<Item>>();
  }

  // On the lane's loop: the workers until every end marker is taken.
  Task<void> run() {
    std::exception_ptr failure;
    try {
      std::vector<Task<void>> tasks;
      // Twice the lane's requests: while those are in flight, as many again can be
      // decoding and writing their pages; at most that many bodies are held.
      for (std::size_t i = 0; i < 2 * concurrency; ++i) tasks.push_back(worker());
      co_await gather(std::move(tasks));
      co_await session->close();
    } catch (...) {
      failure = std::current_exception();
    }
    // Everything bound to this loop goes with it, here, on its own thread.
    session.reset();
    writer.reset();
    if (failure) std::rethrow_exception(failure);
  }

  // Every lane sees the engine's stop at once (an atomic); stop_local() also
  // wakes the lane's waits, on its own loop.
  bool stopped() const noexcept { return impl.stop_requested.load(std::memory_order_relaxed); }
  void stop_local() { stop_event.set(); }

  // Engine -> lane (remote): taken on the lane's loop in one go.
  void post_item(Item item) {
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      inbox.push_back(std::move(item));
      wake = !inbox_posted;
      inbox_posted = true;
    }
    if (wake) {
      thread->call_soon_threadsafe([this] {
        std::vector<Item> items;
        {
          std::lock_guard lock(mutex);
          items.swap(inbox);
          inbox_posted = false;
        }
        for (Item& it : items) queue->put_nowait(std::move(it));
      });
    }
  }

  // Lane -> engine.
  void finish(Record rec, bool never_started);
  void drain_outbox();  // the engine's loop
  Task<void> run_remote(Future<bool>* slot);

  Task<void> worker() {
    for (;;) {
      Item item = co_await queue->get();
      if (item.end) break;
      if (stopped()) {
        Record rec;
        rec.url = std::move(item.url);
        rec.index = item.index;
        finish(std::move(rec), true);
        continue;
      }
      co_await process(&item);
    }
  }

  Task<void> wait_stop() { co_await stop_event.wait(); }

  // Sleeps d, or less if the run is stopped; true if it was.
  Task<bool> pause(Clock::duration d) {
    if (stopped()) co_return true;
    if (d <= Clock::duration::zero()) co_return false;
    try {
      co_await wait_for(wait_stop(), d);
      co_return true;
    } catch (const TimeoutError&) {
      co_return false;
    }
  }

  Clock::duration backoff(int attempt) {
    const Options& o = impl.options;
    double base = o.retry_delay.count() * std::pow(2.0, attempt - 1);
    base = std::min(base, o.retry_max_delay.count());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::duration_cast<Clock::duration>(Seconds(base * jitter(rng)));
  }

  static bool retryable_status(int status) {
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
  }

  // Waits for a per-host slot and the per-host rate; false if stopped meanwhile.
  Task<bool> enter_host(HostState* host) {
    if (impl.per_host > 0) co_await host->slots.acquire();
    if (impl.options.rate > 0) {
      Clock::time_point now = Clock::now();
      Clock::time_point start = std::max(now, host->next_start);
      host->next_start =
          start + std::chrono::duration_cast<Clock::duration>(Seconds(1.0 / impl.options.rate));
      if (start > now && co_await pause(start - now)) {
        if (impl.per_host > 0) host->slots.release();
        co_return false;
      }
    }
    co_return true;
  }

  void leave_host(HostState* host) {
    if (impl.per_host > 0) host->slots.release();
  }

  Task<void> process(Item* it) {
    Clock::time_point t0 = Clock::now();
    Record rec;
    rec.url = std::move(it->url);
    rec.index = it->index;
    in_flight.fetch_add(1, std::memory_order_relaxed);
    co_await fetch_one(&rec, it);
    rec.elapsed = Seconds(Clock::now() - t0).count();
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    finish(std::move(rec), it->not_started);  // not started: no record, --resume fetches it
  }

  std::string claim_name(const std::string& path) {
    std::lock_guard lock(impl.names_mutex);
    return impl.names.claim(path);
  }

  Task<WriteOutcome> write(WriteJob job) {
    if (writer) co_return co_await writer->write(std::move(job));
    co_return run_write_job(job);
  }

  Task<void> fetch_one(Record* rec, Item* it) {
    const Options& options = impl.options;
    UrlParts parts;
    if (!parse_url(rec->url, parts, rec->error)) co_return;
    // An encoding label on the input line overrides --encoding for this URL.
    std::optional<text::Encoding> override_enc = impl.override_encoding;
    if (!it->label.empty() && !options.raw) {
      auto e = text::lookup(it->label);
      if (!e) {
        rec->error = fmt::format("unknown encoding label '{}'", it->label);
        co_return;
      }
      override_enc = *e;
    }
    std::string relative = impl.name_template.empty()
                               ? name_from_url(parts)
                               : impl.name_template.expand(rec->url, parts, it->index);
    std::string path = impl.path_key(relative);
    // {index} names never collide (except with the report file, resolved as usual).
    if (!impl.unique_names || path == impl.report_key) path = claim_name(path);

    HostState* host = nullptr;
    std::string key;
    if (impl.per_host > 0 || options.rate > 0) {
      key = host_key(parts);
      auto& slot = hosts[key];
      if (!slot) slot = std::make_unique<HostState>(static_cast<int>(impl.per_host));
      host = slot.get();
      ++host->users;
    }
    struct HostRelease {
      FetchLane* self;
      HostState* host;
      const std::string* key;
      ~HostRelease() {
        if (host != nullptr && --host->users == 0 && self->impl.options.rate <= 0)
          self->hosts.erase(*key);
      }
    } host_release{this, host, &key};

    http::RequestOptions ro;
    for (int attempt = 1;; ++attempt) {
      if (host != nullptr && !co_await enter_host(host)) {
        if (rec->error.empty()) rec->error = "interrupted before the request started";
        co_return;
      }
      rec->attempts = attempt;
      std::exception_ptr failure;
      http::Response resp;
      // The lane's share of -c bounds its requests in flight; a worker waiting for
      // its page to be written has given its slot back (twice as many workers).
      co_await net_slots->acquire();
      if (stopped() && attempt == 1) {  // stopped while waiting: counts as never started
        net_slots->release();
        if (host != nullptr) leave_host(host);
        it->not_started = true;
        co_return;
      }
      try {
        Counting on_the_wire(requests);
        resp = co_await session->get(rec->url, ro);
      } catch (const std::exception&) {
        failure = std::current_exception();
      } catch (...) {
        net_slots->release();
        if (host != nullptr) leave_host(host);
        throw;
      }
      net_slots->release();
      if (host != nullptr) leave_host(host);
      bool may_retry = attempt <= options.retries && !stopped();

      if (failure) {
        bool retry = false;
        try {
          std::rethrow_exception(failure);
        } catch (const http::ClientSSLError& e) {
          rec->error = e.what();
        } catch (const http::ClientConnectionError& e) {
          rec->error = e.what();
          retry = true;
        } catch (const http::BodyTooLargeError& e) {
          rec->error =
              fmt::format("body larger than --max-size ({} bytes): {}", e.limit(), rec->url);
        } catch (const http::ClientPayloadError& e) {
          rec->error = e.what();  // a truncated or malformed body: not retried
        } catch (const TimeoutError& e) {
          rec->error = e.what();
          retry = true;
        } catch (const std::exception& e) {
          rec->error = e.what();
        }
        if (retry && may_retry) {
          if (co_await pause(backoff(attempt))) {
            rec->error += " (not retried: interrupted)";
            co_return;
          }
          continue;
        }
        co_return;
      }

      rec->status = resp.status();
      rec->final_url = resp.url();
      rec->bytes = resp.body_size();
      if (resp.status() >= 400) {
        rec->error = fmt::format("HTTP {} {}", resp.status(), resp.reason());
        if (retryable_status(resp.status()) && may_retry) {
          Clock::duration delay = backoff(attempt);
          if (auto ra = resp.headers().get("Retry-After")) {
            if (auto secs = retry_after_seconds(*ra)) {
              if (*secs > options.retry_max_delay.count()) {
                rec->error +=
                    fmt::format(" (Retry-After {} s is longer than the longest wait, {} s)", *secs,
                                options.retry_max_delay.count());
                co_return;
              }
              delay = std::chrono::duration_cast<Clock::duration>(Seconds(*secs));
            }
          }
          if (co_await pause(delay)) {
            rec->error += " (not retried: interrupted)";
            co_return;
          }
          continue;
        }
        co_return;
      }
      rec->error.clear();

      // Decode and write: here on the lane's thread (the pool with --fsync).
      std::string content_type(resp.headers().get_or("Content-Type", ""));
      std::string body = resp.take_body();
      bool decode = !options.raw && is_text_type(content_type);
      std::filesystem::path file = path;
      fs::WriteOptions wo{
          .atomic = true, .fsync = options.fsync, .create_dirs = !impl.name_template.empty()};
      WriteJob job{
          std::move(body), std::move(content_type), std::move(file), wo, decode, options.bom,
          override_enc};
      WriteOutcome out;
      {
        Counting pending_write(writing);
        out = co_await write(std::move(job));
      }
      if (!out.error.empty()) {
        rec->error = std::move(out.error);
        co_return;
      }
      if (out.decoded) {
        rec->encoding = std::string(text::name(out.encoding));
        rec->encoding_source = std::string(text::to_string(out.source));
      }
      rec->path = std::move(path);
      co_return;
    }
  }
};

void FetchLane::finish(Record rec, bool never_started) {
  if (!remote()) {
    impl.take(*this, std::move(rec), never_started);
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(mutex);
    outbox.push_back(Outcome{std::move(rec), never_started});
    wake = !outbox_posted;
    outbox_posted = true;
  }
  if (!wake) return;
  std::weak_ptr<bool> alive = impl.alive;
  home->post([this, alive] {
    if (!alive.expired()) drain_outbox();  // else the run is gone: nothing to report to
  });
}

void FetchLane::drain_outbox() {
  std::vector<Outcome> outcomes;
  {
    std::lock_guard lock(mutex);
    outcomes.swap(outbox);
    outbox_posted = false;
  }
  for (Outcome& o : outcomes) impl.take(*this, std::move(o.record), o.never_started);
}

Fetcher::Impl::~Impl() {
  lanes.clear();  // stops and joins the lanes' threads
  if (report_fd >= 0) ::close(report_fd);
}

void Fetcher::Impl::stop() {
  if (stopping) return;
  stopping = true;
  stop_requested.store(true, std::memory_order_relaxed);
  for (auto& lane : lanes) {
    if (!lane->remote()) {
      lane->stop_local();
      continue;
    }
    FetchLane* l = lane.get();
    try {
      l->thread->call_soon_threadsafe([l] { l->stop_local(); });
    } catch (const RuntimeError&) {  // its loop has finished already
    }
  }
}

std::size_t Fetcher::Impl::lane_concurrency(const FetchLane& lane) {
  return lane.concurrency;
}

FetchLane& Fetcher::Impl::pick_lane(const Item& item) {
  if (lanes.size() == 1) return *lanes.front();
  UrlParts parts;
  std::string error;
  bool parsed = parse_url(item.url, parts, error);
  if (route_by_host) {
    // Per-host slots and rates live in one lane: a host's URLs all go there.
    if (!parsed) return *lanes.front();
    return *lanes[stable_hash(host_key(parts)) % lanes.size()];
  }
  // Backlog per request slot, compared without dividing.
  auto busier = [](const FetchLane* a, const FetchLane* b) {
    return a->outstanding * b->concurrency > b->outstanding * a->concurrency;
  };
  FetchLane* least = lanes.front().get();
  for (auto& lane : lanes) {
    if (busier(least, lane.get())) least = lane.get();
  }
  if (!parsed || lanes.size() > 64) return *least;
  // Connection reuse: each lane has a session (and connection cache) of its own,
  // so a host's URLs go where its earlier ones went: its idle keep-alive (or
  // HTTP/2) connection is there. Spilling to the least busy lane (which then
  // keeps a connection to the host too) only when the host's lanes have a real
  // backlog, more than twice the least busy one's plus a slot's worth: one busy
  // host still uses every lane, many hosts stay put.
  if (host_lanes.size() >= kMaxAffinityHosts) {
    host_lanes.clear();
    spills = 0;
  }
  std::uint64_t& mask = host_lanes[host_key(parts)];
  FetchLane* home = nullptr;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if ((mask >> i & 1) != 0 && (home == nullptr || busier(home, lanes[i].get()))) {
      home = lanes[i].get();
    }
  }
  if (home != nullptr) {
    std::size_t backlog = home->outstanding;    // compared per slot:
    std::size_t floor = 2 * home->concurrency;  //   below 2 per slot: never spill
    std::size_t other = least->outstanding * home->concurrency / least->concurrency;
    if (backlog <= floor || backlog <= 2 * other + home->concurrency) return *home;
    // Each spill may open a connection more; a run's spills are bounded so the
    // connections stay at most hosts + -c (a stalled lane must not move every
    // host to the others).
    if (spills >= std::max<std::size_t>(1, options.concurrency / 2)) return *home;
    ++spills;
  }
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if (lanes[i].get() == least) mask |= std::uint64_t{1} << i;
  }
  return *least;
}

void Fetcher::Impl::dispatch(FetchLane& lane, Item item) {
  if (!item.end) ++lane.outstanding;
  if (lane.remote()) {
    lane.post_item(std::move(item));
  } else {
    lane.queue->put_nowait(std::move(item));
  }
}

void Fetcher::Impl::take(FetchLane& lane, Record rec, bool never_started) {
  --lane.outstanding;
  credits->release();
  refresh_in_flight();
  if (never_started) {
    ++not_started;
    return;
  }
  if (rec.ok()) {
    ++progress.done;
    progress.bytes += rec.bytes;
  } else {
    ++progress.failed;
  }
  add_record(rec);
}

void Fetcher::Impl::refresh_in_flight() noexcept {
  std::uint64_t n = 0, requests = 0, writing = 0;
  for (auto& lane : lanes) {
    n += lane->in_flight.load(std::memory_order_relaxed);
    requests += lane->requests.load(std::memory_order_relaxed);
    writing += lane->writing.load(std::memory_order_relaxed);
  }
  progress.in_flight = n;
  progress.requests = requests;
  progress.writing = writing;
}

// On a remote lane's loop: runs the lane, then completes *slot (and deletes
// it) on the engine's loop.
Task<void> FetchLane::run_remote(Future<bool>* slot) {
  std::exception_ptr failure;
  try {
    co_await run();
  } catch (...) {
    failure = std::current_exception();
  }
  bool posted = home->post([slot, failure] {
    std::unique_ptr<Future<bool>> owned(slot);
    if (owned->done()) return;
    if (failure) {
      owned->set_exception(failure);
    } else {
      owned->set_result(true);
    }
  });
  if (!posted) delete slot;  // the engine's loop is gone: nobody waits
}

namespace {
// Runs a remote lane to its end on its own loop; completes on the engine's loop.
Task<void> run_remote_lane(FetchLane* lane) {
  Future<bool> done(get_running_loop());
  auto* slot = new Future<bool>(done);  // completed and deleted on the engine's loop
  try {
    lane->thread->call_soon_threadsafe([lane, slot] {
      get_running_loop().create_task(lane->run_remote(slot), "corun fetch lane");
    });
  } catch (...) {
    delete slot;
    throw;
  }
  co_await done;
}

// On a remote lane's loop, before it runs.
Task<void> open_lane(FetchLane* lane) {
  lane->open();
  co_return;
}
}  // namespace

Task<Summary> Fetcher::Impl::run(UrlSource* source) {
  if (started) throw RuntimeError("Fetcher::run() can be called once");
  started = true;
  Clock::time_point t0 = Clock::now();
  progress.total_hint = source->size_hint();
  co_await to_thread([this] { setup_blocking(); });

  http::SessionOptions& so = session_options;
  // --per-host is the lane's own (HostState slots, one lane per host): with
  // curl's per-host limit the session would have no gate, and curl's total
  // limit (which counts idle connections) would evict keep-alive connections.
  so.limit_per_host = 0;
  so.timeout.total = to_ms(options.timeout);
  so.timeout.connect = to_ms(options.connect_timeout);
  so.timeout.sock_read = to_ms(options.read_timeout);
  for (const std::string& h : options.headers) {
    auto colon = h.find(':');
    std::string_view value = std::string_view(h).substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    so.headers.add(std::string_view(h).substr(0, colon), value);
  }
  so.user_agent = options.user_agent;
  so.proxy = options.proxy;
  so.verify_tls = !options.insecure;
  so.ca_file = options.ca_file;
  so.max_body_size = options.max_size;
  so.cookie_jar = options.cookies;
  if (options.cookies) {
    cookie_jar = std::make_shared<http::CookieJar>();  // shares TLS sessions too
  } else {
    tls_cache = std::make_shared<http::SharedCache>();
    so.shared_cache = tls_cache;
  }

  std::size_t n = lane_count();
  route_by_host = per_host > 0 || options.rate > 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t share = options.concurrency / n + (i < options.concurrency % n ? 1 : 0);
    lanes.push_back(std::make_unique<FetchLane>(*this, share));
  }
  for (auto& lane : lanes) lane->home = detail::lifeline_of(get_running_loop());
  lanes.front()->open();
  if (n > 1) {
    // Starting threads blocks: on the pool. (The lambda captures nothing that
    // owns: g++ 12 may destroy a co_await operand's temporaries twice.)
    co_await to_thread([this] {
      for (std::size_t i = 1; i < lanes.size(); ++i) {
        FetchLane* lane = lanes[i].get();
        lane->thread = std::make_unique<LoopThread>();
        lane->is_remote = true;
        lane->thread->submit(open_lane(lane)).get();
      }
    });
  }
  // URLs handed to lanes and not back yet (in progress or queued there): the
  // lanes' 2 * -c workers plus as many again queued, as the one bounded queue
  // allowed before the lanes.
  credits = std::make_unique<Semaphore>(static_cast<int>(4 * options.concurrency + 64));

  TaskHandle<void> ticker = create_task(report_ticker(), "corun fetch report flush");
  std::vector<Task<void>> tasks;
  tasks.push_back(reader(source));
  tasks.push_back(lanes.front()->run());
  for (std::size_t i = 1; i < lanes.size(); ++i) tasks.push_back(run_remote_lane(lanes[i].get()));
  try {
    co_await gather(std::move(tasks));
  } catch (...) {
    ticker.cancel();
    // Stop the other lanes now (their transfers are aborted), take what they
    // finished meanwhile, then report.
    for (std::size_t i = 1; i < lanes.size(); ++i) {
      if (lanes[i]->thread) lanes[i]->thread->stop();
      lanes[i]->drain_outbox();
    }
    flush_report();
    throw;
  }
  ticker.cancel();
  for (std::size_t i = 1; i < lanes.size(); ++i) {
    lanes[i]->thread->stop();
    lanes[i]->drain_outbox();  // (empty: a lane's outcomes reach the engine before its end)
  }
  flush_report();
  refresh_in_flight();

  Summary s;
  s.seen = progress.seen;
  s.skipped = progress.skipped;
  s.done = progress.done;
  s.failed = progress.failed;
  s.not_started = not_started;
  s.lines_read = lines_read;
  s.input_exhausted = input_exhausted;
  s.bytes = progress.bytes;
  s.elapsed = Seconds(Clock::now() - t0).count();
  s.interrupted = stopping;
  s.report_error = report_error;
  co_return s;
}

Fetcher::Fetcher(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Fetcher::~Fetcher() = default;

Task<Summary> Fetcher::run(UrlSource& source) {
  return impl_->run(&source);
}
void Fetcher::stop() {
  impl_->stop();
}
bool Fetcher::stopping() const noexcept {
  return impl_->stopping;
}
const Progress& Fetcher::progress() const noexcept {
  impl_->refresh_in_flight();  // the lanes count their own
  return impl_->progress;
}
const Options& Fetcher::options() const noexcept {
  return impl_->options;
}
void Fetcher::flush_report() noexcept {
  impl_->flush_report();
}

namespace {
Task<Summary> run_owned(std::unique_ptr<Fetcher> fetcher, UrlSource* source) {
  co_return co_await fetcher->run(*source);
}
}  // namespace

Task<Summary> run_fetch(UrlSource& source, Options options) {
  return run_owned(std::make_unique<Fetcher>(std::move(options)), &source);
}

}  // namespace corun::fetch
