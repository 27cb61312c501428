// corun::fetch engine (see include/corun/fetch/fetch.hpp): Fetcher::Impl.
//
// Shape: the engine talks to a Frontier (frontier.hpp) and to lanes
// (lane.hpp). One dispatcher task on the engine's loop takes URLs from the
// frontier, as many as there are credits (URLs handed to lanes and not back
// yet), and hands each to a lane; a lane's worker does one request, decodes
// and writes the page, and hands the outcome back; the engine gives it to the
// frontier: complete (the record), defer (a retry, with its delay) or release
// (never started). The pieces: report.hpp (the report file), retry.hpp (the
// retry policy), page_writer.hpp (decode and write), admission.hpp (--rate;
// -c and --per-host are the lanes' sessions' limits), frontier_local.hpp
// (input + report).
#include "corun/fetch/fetch.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "corun/core/gather.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/semaphore.hpp"
#include "corun/core/threads.hpp"
#include "corun/core/time.hpp"
#include "corun/fetch/frontier.hpp"
#include "corun/fetch/frontier_local.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/http/url.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/decode.hpp"
#include "labels.hpp"
#include "lane.hpp"

namespace corun::fetch {

int Summary::exit_code() const noexcept {
  if (interrupted && stop_reason.empty()) return 130;
  return failed > 0 || !report_error.empty() || !stop_reason.empty() ? 1 : 0;
}

// ---------------------------------------------------------------- engine

namespace {

using Clock = std::chrono::steady_clock;

Task<void> wait_child(TaskHandle<void>* child) {
  co_await *child;
}

std::optional<std::chrono::milliseconds> to_ms(Seconds s) {
  if (s.count() <= 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(s.count() * 1000)));
}

}  // namespace

struct Fetcher::Impl final : LaneContext {
  Progress progress;
  bool stopping = false;
  std::string stop_reason;  // why the frontier made the run stop (Summary::stop_reason)
  bool started = false;
  std::uint64_t not_started = 0;

  Frontier* frontier = nullptr;
  std::unique_ptr<LocalFrontier> own_frontier;  // run(UrlSource&)

  std::shared_ptr<http::SharedCache> tls_cache;  // without cookies: TLS sessions for every lane
  // Host -> the lanes its URLs went to (bit i: lane i), so its connections are
  // reused (see pick_lane). Cleared when it grows past kMaxAffinityHosts.
  std::unordered_map<std::string, std::uint64_t> host_lanes;
  static constexpr std::size_t kMaxAffinityHosts = 1 << 16;
  std::size_t spills = 0;  // hosts given a second (third...) lane, since host_lanes was cleared
  std::vector<std::unique_ptr<FetchLane>> lanes;
  bool route_by_host = false;          // per-host limits: a host's URLs all go to one lane
  std::unique_ptr<Semaphore> credits;  // URLs handed to lanes and not back yet
  // URLs whose lease the frontier is confirming (their credits still taken),
  // and whether the lanes have been told to end (a URL confirmed then is
  // handed back to the frontier).
  std::vector<TaskHandle<void>> confirms;
  std::size_t confirming = 0;
  Event confirms_idle;
  bool lanes_ending = false;
  // URLs taken from the frontier at once, at most.
  static constexpr std::size_t kTakeBatch = 64;

  explicit Impl(Options o) : LaneContext(std::move(o)) {
    check_options(options);  // every range, label, template and header (the errors name the field)
    if (!options.name_template.empty()) {
      try {
        name_template = NameTemplate(options.name_template);
      } catch (const TemplateError& e) {
        throw OptionsError(e.what());
      }
    }
    if (!options.raw && !options.encoding.empty() && options.encoding != "auto") {
      if (auto problem = label_problem(options.encoding)) throw OptionsError(*problem);
      override_encoding = *text::lookup(options.encoding);
    }
    out_dir =
        options.out_dir.empty() ? std::filesystem::path(".") : options.out_dir.lexically_normal();
    unique_names = !name_template.empty() && name_template.has_index();
    per_host = options.limit_per_host < options.concurrency ? options.limit_per_host : 0;
    rate = options.rate;
  }

  ~Impl() override {
    lanes.clear();  // stops and joins the lanes' threads
  }

  // The report of run(UrlSource&): the default path is in the output folder.
  std::filesystem::path report_path() const {
    return options.report.empty() ? out_dir / "report.jsonl" : options.report;
  }

  // URLs handed to lanes and not back yet (in progress or queued there): the
  // lanes' workers (up to 2 per slot of -c) plus as many again queued. From a
  // frontier that leases its URLs (the shared crawl), what the workers can
  // start: a worker claims for its free slots (twice -c, so that a slot does
  // not wait for Redis's answer), and leaves the rest to the other workers;
  // a worker killed strands no more than that until the leases expire.
  std::size_t window() const {
    if (frontier != nullptr && frontier->leases()) return 2 * options.concurrency;
    return 4 * options.concurrency + 64;
  }

  // ---- stop

  void stop() {
    if (stopping) return;
    stopping = true;
    stop_requested.store(true, std::memory_order_relaxed);
    if (frontier != nullptr) frontier->stop();
    for (auto& lane : lanes) lane->stop();
  }

  // ---- setup

  // Creates the output folder and checks that a page can be written there
  // (blocking: on the pool). A folder this user may not write to (or on a
  // read-only mount) is refused before any URL is taken: every page would
  // fail, and in a shared crawl each would be recorded failed for good.
  // Returns the folders it made, outermost first (on the pool: the caller keeps
  // them once back on the loop, so a cancelled wait races with nothing).
  std::vector<std::filesystem::path> create_out_dir() const {
    std::vector<std::filesystem::path> made;
    std::error_code ec;
    for (std::filesystem::path p = out_dir; !p.empty() && !std::filesystem::exists(p, ec);
         p = p.parent_path()) {
      made.insert(made.begin(), p);
    }
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw SetupError(fmt::format("cannot create {}: {}", out_dir.string(), ec.message()));
    const std::string dir = out_dir.empty() ? std::string(".") : out_dir.string();
    // An unnamed file, as the page writer makes them (O_TMPFILE); where the
    // file system has none, a named one removed at once.
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    int err = fd < 0 ? errno : 0;
    if (fd < 0 && (err == EOPNOTSUPP || err == EISDIR || err == EINVAL)) {
      std::string probe = (out_dir / ".corun-write-check-XXXXXX").string();
      fd = ::mkstemp(probe.data());
      err = fd < 0 ? errno : 0;
      if (fd >= 0) ::unlink(probe.c_str());
    }
    if (fd >= 0) {
      ::close(fd);
    } else if (err == EACCES || err == EPERM || err == EROFS) {
      throw SetupError(fmt::format("cannot write into {}: {}", dir, std::strerror(err)));
    }
    // (Any other error, a full disk included, is met again by the first page
    // and handled there.)
    return made;
  }

  // The folders create_out_dir() made, outermost first: removed again (those
  // still empty) when the run fails before it starts, e.g. on a report that
  // cannot be opened, so that a refused run leaves nothing behind. Loop thread.
  std::vector<std::filesystem::path> made_dirs;
  void remove_made_dirs() noexcept {
    for (auto it = made_dirs.rbegin(); it != made_dirs.rend(); ++it) {
      std::error_code ec;
      std::filesystem::remove(*it, ec);  // (a folder that is not empty stays)
    }
    made_dirs.clear();
  }

  // Every record, whoever made it (see Frontier "Records"): counted, then on_record.
  void observe(const Record& r) {
    if (r.ok()) {
      ++progress.done;
      progress.bytes += r.bytes;
    } else {
      ++progress.failed;
    }
    if (options.on_record) options.on_record(r);
  }

  Task<void> open_frontier() {
    try {
      Task<std::vector<std::filesystem::path>> making =
          to_thread([this] { return create_out_dir(); });
      made_dirs = co_await making;
      frontier->set_record_observer([this](const Record& r) { observe(r); });
      co_await frontier->open();
    } catch (...) {
      remove_made_dirs();
      throw;
    }
    made_dirs.clear();
    leases = frontier->leases();
    if (frontier->limits_hosts()) {  // the frontier's limits hold across every worker
      per_host = 0;
      rate = 0;
    }
    deterministic_names = frontier->deterministic_names();
    if (!deterministic_names) {
      frontier->reserve_names(names);
      own_path = frontier->own_path();
    }
  }

  void configure_session() {
    http::SessionOptions& so = session_options;
    // Each lane sets its session's limit (its share of -c) and limit_per_host
    // (--per-host: a host's URLs all go to one lane); see FetchLane::open.
    so.limit_per_host = 0;
    so.timeout.total = to_ms(options.timeout);
    so.timeout.connect = to_ms(options.connect_timeout);
    so.timeout.sock_read = to_ms(options.read_timeout);
    for (const std::string& h : options.headers) {
      if (auto parts = split_header_flag(h)) so.headers.add(parts->first, parts->second);
    }
    so.user_agent = options.user_agent;
    so.proxy = options.proxy;
    so.verify_tls = options.verify_tls;
    so.ca_file = options.ca_file;
    so.max_body_size = options.max_body_size;
    so.cookie_jar = options.cookies;
    if (options.cookies) {
      cookie_jar = std::make_shared<http::CookieJar>();  // shares TLS sessions too
    } else {
      tls_cache = std::make_shared<http::SharedCache>();
      so.shared_cache = tls_cache;
    }
  }

  // Lanes: one per core by default (threads = 0), each with its own loop,
  // session and share of -c; never more than -c. With --per-host a host's URLs
  // run in one lane, so a lane's share of -c must hold the per-host limit: so
  // many fewer lanes (a share below it capped the host at the share, 16 for
  // --per-host 40 -c 64 --threads 4).
  std::size_t lane_count() const {
    std::size_t n = options.threads;
    if (n == 0) {
      unsigned cores = std::thread::hardware_concurrency();
      n = std::clamp<std::size_t>(cores == 0 ? 1 : cores, 1, 4);
    }
    n = std::clamp<std::size_t>(n, 1, options.concurrency);
    if (per_host > 0) n = std::clamp<std::size_t>(options.concurrency / per_host, 1, n);
    return n;
  }

  Task<void> start_lanes() {
    std::size_t n = lane_count();
    route_by_host = per_host > 0 || rate > 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t share = options.concurrency / n + (i < options.concurrency % n ? 1 : 0);
      lanes.push_back(std::make_unique<FetchLane>(*this, share));
    }
    lanes.front()->open();
    if (n > 1) {
      // Starting threads blocks: on the pool. (The lambda captures nothing that
      // owns: g++ 12 may destroy a co_await operand's temporaries twice.)
      auto home = detail::lifeline_of(get_running_loop());
      auto* home_ptr = &home;
      co_await to_thread([this, home_ptr] {
        for (std::size_t i = 1; i < lanes.size(); ++i) lanes[i]->start_remote(*home_ptr);
      });
    }
    credits = std::make_unique<Semaphore>(static_cast<int>(window()));
  }

  // ---- dispatch: frontier -> lanes

  Task<void> dispatcher() {
    std::vector<Work> batch;
    bool more = true;
    while (more && !stopping) {
      co_await credits->acquire();
      std::size_t n = 1;
      while (n < kTakeBatch && !credits->locked()) {
        co_await credits->acquire();  // ready: no suspension
        ++n;
      }
      if (stopping) {
        for (std::size_t i = 0; i < n; ++i) credits->release();
        break;
      }
      batch.clear();
      more = co_await frontier->take(batch, n);
      for (std::size_t i = batch.size(); i < n; ++i) credits->release();
      for (Work& w : batch) {
        if (stopping) {  // stopped while taking: never handed out
          credits->release();
          unstarted(std::move(w));
          continue;
        }
        if (w.path.empty() && names_in_input_order()) {
          // (A URL that does not parse gets its record from the lane.)
          UrlParts parts;
          std::string error;
          if (parse_url(w.url, parts, error))
            w.path = relative_key(claim_path(w.url, parts, w.index));
        }
        // The lane first: arguments are evaluated in no set order.
        FetchLane& lane = pick_lane(w.url);
        lane.give(LaneItem{std::move(w), false});
      }
    }
    // A URL being confirmed goes back to its lane before the end markers.
    while (confirming > 0) {
      confirms_idle.clear();
      co_await confirms_idle.wait();
    }
    lanes_ending = true;
    for (auto& lane : lanes) {
      for (std::size_t i = 0; i < lane->workers(); ++i) lane->give(LaneItem{{}, true});
    }
  }

  bool lease_lapsed(const Work& work) const noexcept override {
    return frontier->lease_lapsed(work);
  }

  // A URL whose lease may have lapsed before its request: the frontier checks
  // it still holds it; then back to its lane (same host routing), or dropped
  // (another worker owns it now: no outcome here).
  Task<void> confirm_start(FetchLane* lane, Work work) {
    bool ok = false;
    std::exception_ptr failure;
    try {
      Task<bool> asking = frontier->confirm_lease(work);
      ok = co_await asking;
    } catch (...) {
      failure = std::current_exception();
    }
    --confirming;
    confirms_idle.set();
    if (failure) {
      credits->release();
      try {
        std::rethrow_exception(failure);
      } catch (const CancelledError&) {
        throw;  // the run is failing: its URLs are the frontier's to hand back
      } catch (...) {
        unstarted(std::move(work));  // cannot tell: handed back, never fetched here
        co_return;
      }
    }
    if (!ok) {
      credits->release();
      co_return;
    }
    if (stopping || lanes_ending) {
      credits->release();
      unstarted(std::move(work));
      co_return;
    }
    lane->give(LaneItem{std::move(work), false});
  }

  FetchLane& pick_lane(const std::string& url);

  void unstarted(Work w) {
    if (w.attempts == 0) ++not_started;
    frontier->release(std::move(w));
  }

  // An outcome handed back by a lane (engine loop).
  void on_outcome(FetchLane& lane, LaneOutcome&& o) override {
    --lane.outstanding;
    if (o.kind == LaneOutcome::Kind::confirm) {  // its credit stays taken meanwhile
      ++confirming;
      std::erase_if(confirms, [](const TaskHandle<void>& t) { return t.done(); });
      confirms.push_back(
          create_task(confirm_start(&lane, std::move(o.work)), "corun fetch lease check"));
      return;
    }
    credits->release();
    refresh_in_flight();
    // A page the disk had no room for: the run stops (what is in flight still
    // ends, each with its record) instead of fetching every URL left only to
    // fail to save it. --resume after making room fetches the rest.
    std::string disk_full;
    if (o.disk_full && !stopping) {
      disk_full = fmt::format("the disk is full ({})", o.record.error);
    }
    if (o.disk_full && frontier->leases() && o.kind == LaneOutcome::Kind::complete) {
      // The shared crawl: the page goes back for a worker with room, instead of
      // a failure that ends it for every worker (a local run's --resume fetches
      // a failed URL again; a crawl's record is final). Its name (Work::path)
      // goes with it, under the next worker's own --out.
      o.kind = LaneOutcome::Kind::not_started;
    }
    switch (o.kind) {
      case LaneOutcome::Kind::not_started:
        unstarted(std::move(o.work));
        break;
      case LaneOutcome::Kind::defer:
        frontier->defer(std::move(o.work), std::move(o.record), o.delay);
        break;
      case LaneOutcome::Kind::complete:
        frontier->complete(std::move(o.work), std::move(o.record));
        break;
      case LaneOutcome::Kind::confirm:
        break;  // (above)
    }
    if (!stopping) {
      std::string why = disk_full.empty() ? frontier->must_stop() : std::move(disk_full);
      if (!why.empty()) {
        stop_reason = std::move(why);
        stop();
      }
    }
  }

  void refresh_in_flight() noexcept {
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

  // The frontier's counters (URLs seen, skipped) into progress.
  void refresh_frontier_counts() noexcept {
    if (frontier == nullptr) return;
    try {
      Summary s;
      frontier->fill(s);
      progress.seen = s.seen;
      progress.skipped = s.skipped;
    } catch (...) {  // (a copy of the report error that could not be made)
    }
  }

  void flush() noexcept {
    if (frontier != nullptr) frontier->flush();
  }

  Task<void> flush_ticker() {
    for (;;) {
      co_await sleep(std::chrono::seconds(1));
      flush();
    }
  }

  Task<Summary> run(Frontier* f);
  Task<Summary> run_local(UrlSource* source);
  Summary summary(Clock::time_point t0);
};

FetchLane& Fetcher::Impl::pick_lane(const std::string& url) {
  if (lanes.size() == 1) return *lanes.front();
  // The session's key for the URL's host, without parsing it (the lane does,
  // once): http://a and http://a:80 are one host.
  std::string origin = http::URL::origin_of(url);
  if (route_by_host) {
    // Per-host slots and rates live in one lane: a host's URLs all go there.
    return *lanes[stable_hash(origin) % lanes.size()];
  }
  // Backlog per request slot, compared without dividing.
  auto busier = [](const FetchLane* a, const FetchLane* b) {
    return a->outstanding * b->concurrency() > b->outstanding * a->concurrency();
  };
  FetchLane* least = lanes.front().get();
  for (auto& lane : lanes) {
    if (busier(least, lane.get())) least = lane.get();
  }
  if (lanes.size() > 64) return *least;
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
  std::uint64_t& mask = host_lanes[std::move(origin)];
  FetchLane* home = nullptr;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if ((mask >> i & 1) != 0 && (home == nullptr || busier(home, lanes[i].get()))) {
      home = lanes[i].get();
    }
  }
  if (home != nullptr) {
    std::size_t backlog = home->outstanding;      // compared per slot:
    std::size_t floor = 2 * home->concurrency();  //   below 2 per slot: never spill
    std::size_t other = least->outstanding * home->concurrency() / least->concurrency();
    if (backlog <= floor || backlog <= 2 * other + home->concurrency()) return *home;
    // Each spill may open a connection more, a TLS handshake on both sides; a
    // run's spills are bounded so the connections stay well within hosts + -c (a
    // stalled lane must not move every host to the others). -c/8: at -c/2 a
    // 50-host HTTPS crawl spent most of them on lanes briefly descheduled, each a
    // connection for about ten requests, and used 4% more CPU (bench/README.md,
    // sitting 12); one hot host needs one spill to use every lane.
    if (spills >= std::max<std::size_t>(1, options.concurrency / 8)) return *home;
    ++spills;
  }
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if (lanes[i].get() == least) mask |= std::uint64_t{1} << i;
  }
  return *least;
}

Summary Fetcher::Impl::summary(Clock::time_point t0) {
  refresh_in_flight();
  Summary s;
  frontier->fill(s);  // seen, skipped, lines_read, input_exhausted, report_error
  s.done = progress.done;
  s.failed = progress.failed;
  s.not_started = not_started;
  s.bytes = progress.bytes;
  s.elapsed = Seconds(Clock::now() - t0).count();
  s.interrupted = stopping;
  s.stop_reason = stop_reason;
  return s;
}

Task<Summary> Fetcher::Impl::run(Frontier* f) {
  if (started) throw RuntimeError("Fetcher::run() can be called once");
  started = true;
  frontier = f;
  Clock::time_point t0 = Clock::now();
  co_await open_frontier();
  if (stopping) frontier->stop();  // stop() before the frontier was known
  configure_session();
  co_await start_lanes();

  TaskHandle<void> ticker = create_task(flush_ticker(), "corun fetch report flush");
  // The children as tasks of their own, so that after a failure or a
  // cancellation the run waits for every one to end: a lane's task still
  // unwinding must not outlive the Fetcher.
  std::vector<TaskHandle<void>> children;
  children.push_back(create_task(dispatcher(), "corun fetch dispatcher"));
  children.push_back(create_task(lanes.front()->run(), "corun fetch lane"));
  for (std::size_t i = 1; i < lanes.size(); ++i) {
    children.push_back(create_task(lanes[i]->run_remote(), "corun fetch lane"));
  }
  std::vector<Task<void>> waits;
  waits.reserve(children.size());
  for (auto& child : children) waits.push_back(wait_child(&child));
  std::exception_ptr failure;
  try {
    co_await gather(std::move(waits));
  } catch (...) {
    failure = std::current_exception();
  }
  ticker.cancel();
  if (failure) {
    // Stop the other lanes now (their transfers are aborted), take what they
    // finished meanwhile, write what the frontier holds, and let every child
    // unwind before the Fetcher can go.
    for (auto& child : children) child.cancel();
    for (auto& c : confirms) c.cancel();
    for (auto& c : confirms) {
      try {
        co_await wait_child(&c);
      } catch (...) {  // (its cancellation)
      }
    }
    for (std::size_t i = 1; i < lanes.size(); ++i) {
      lanes[i]->stop_thread();
      lanes[i]->drain_outbox();
    }
    flush();
    for (auto& child : children) {
      try {
        co_await wait_child(&child);
      } catch (...) {  // (its own cancellation, or the failure already held)
      }
    }
    std::rethrow_exception(failure);
  }
  for (std::size_t i = 1; i < lanes.size(); ++i) {
    lanes[i]->stop_thread();
    lanes[i]->drain_outbox();  // (empty: a lane's outcomes reach the engine before its end)
  }
  // A lease check asked for by a lane's last URL ends (that URL handed back)
  // before the frontier closes.
  while (confirming > 0) {
    confirms_idle.clear();
    co_await confirms_idle.wait();
  }
  co_await frontier->close();
  co_return summary(t0);
}

Task<Summary> Fetcher::Impl::run_local(UrlSource* source) {
  if (started || own_frontier) throw RuntimeError("Fetcher::run() can be called once");
  progress.total_hint = source->size_hint();
  LocalFrontier::Config config{report_path(), out_dir, options.resume, options.base_url, window()};
  own_frontier = std::make_unique<LocalFrontier>(*source, std::move(config));
  co_return co_await run(own_frontier.get());
}

Fetcher::Fetcher(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Fetcher::~Fetcher() = default;

Task<Summary> Fetcher::run(UrlSource& source) {
  return impl_->run_local(&source);
}
Task<Summary> Fetcher::run(Frontier& frontier) {
  return impl_->run(&frontier);
}
void Fetcher::stop() {
  impl_->stop();
}
bool Fetcher::stopping() const noexcept {
  return impl_->stopping;
}
const Progress& Fetcher::progress() const noexcept {
  impl_->refresh_in_flight();  // the lanes count their own
  impl_->refresh_frontier_counts();
  return impl_->progress;
}
const Options& Fetcher::options() const noexcept {
  return impl_->options;
}
void Fetcher::flush_report() noexcept {
  impl_->flush();
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
