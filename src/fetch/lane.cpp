// corun::fetch lanes (see lane.hpp).
#include "lane.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "corun/core/gather.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/time.hpp"
#include "corun/text/decode.hpp"
#include "labels.hpp"

namespace corun::fetch {

namespace {

// Counts itself in *n while it lives.
class Counting {
 public:
  explicit Counting(std::atomic<std::uint64_t>& c) : n_(c) {
    n_.fetch_add(1, std::memory_order_relaxed);
  }
  ~Counting() { n_.fetch_sub(1, std::memory_order_relaxed); }
  Counting(const Counting&) = delete;
  Counting& operator=(const Counting&) = delete;

 private:
  std::atomic<std::uint64_t>& n_;
};

// The longest run of one host's URLs a lane's workers take in a row
// (host_batches.hpp).
constexpr std::size_t kHostRun = 8;

// Thrown by a request's before_start when the URL's lease may have lapsed:
// the request ends before anything is sent.
struct LeaseToConfirm {};

// On a remote lane's loop, before it runs.
Task<void> open_lane(FetchLane* lane) {
  lane->open();
  co_return;
}

}  // namespace

FetchLane::FetchLane(LaneContext& engine, std::size_t concurrency)
    : engine_(engine),
      concurrency_(concurrency),
      // One worker per slot of the lane's share of -c: without --fsync a page
      // is decoded and written on the lane's loop, start to end, so a worker
      // not waiting for its response holds the loop, not a slot, and a slot
      // freed is taken again as soon as the loop is free. With --fsync (the
      // write waits for the pool), --rate (a worker waits for its host's
      // turn) or --per-host (for its host's slot) a worker can wait holding
      // none of the lane's slots, and twice as many keep them busy. More
      // would only wait in the session's gate, each with its request built
      // (about 2% more CPU: bench/README.md, sitting 10).
      workers_(engine.options.fsync || engine.rate > 0 || engine.per_host > 0 ? 2 * concurrency
                                                                              : concurrency),
      retry_(engine.options) {}

FetchLane::~FetchLane() {
  thread_.reset();
}

void FetchLane::start_remote(std::shared_ptr<detail::LoopLifeline> home) {
  home_ = std::move(home);
  thread_ = std::make_unique<LoopThread>();
  thread_->submit(open_lane(this)).get();
}

void FetchLane::open() {
  http::SessionOptions so = engine_.session_options;
  // The session owns the limits: the lane's share of -c in total and, with
  // --per-host (a host's URLs all come to one lane), per host. Requests ask
  // for total_timeout_from_admission, so a backlog waiting for a slot is not
  // timed, only the request once it runs.
  so.limit = concurrency_;
  so.limit_per_host = engine_.per_host;
  so.shared_cookie_jar = engine_.cookie_jar;
  session_ = std::make_unique<http::ClientSession>(std::move(so));
  if (engine_.options.fsync) writer_ = std::make_unique<BatchWriter>(get_running_loop(), 2);
  // Runs of one host's URLs (host_batches.hpp), at most kHostRun long, and
  // never longer than --per-host (more would wait in the session's gate
  // while other hosts' URLs wait in the queue). With --rate a host's requests
  // start 1/rate apart whatever the order: first in, first out.
  std::size_t run = kHostRun;
  if (engine_.per_host > 0) run = std::min(run, engine_.per_host);
  if (engine_.rate > 0) run = 1;
  batches_ = std::make_unique<HostBatches>(run);
  tickets_ = std::make_unique<Queue<bool>>();
  admission_ =
      std::make_unique<HostAdmission>(engine_.rate, [this](Clock::duration d) { return pause(d); });
}

// ---- engine side

void FetchLane::give(LaneItem item) {
  if (!item.end) ++outstanding;
  if (!remote()) {
    take_in(std::move(item));
    return;
  }
  // Engine -> lane: taken on the lane's loop in one go.
  if (inbox_.push(std::move(item))) {
    thread_->call_soon_threadsafe([this] {
      for (LaneItem& it : inbox_.drain()) take_in(std::move(it));
    });
  }
}

// On the lane's loop.
void FetchLane::take_in(LaneItem&& item) {
  if (!item.end) batches_->push(std::move(item.work));
  tickets_->put_nowait(item.end);
}

void FetchLane::stop() {
  if (!remote()) {
    stop_event_.set();
    return;
  }
  try {
    thread_->call_soon_threadsafe([this] { stop_event_.set(); });
  } catch (const RuntimeError&) {  // its loop has finished already
  }
}

void FetchLane::stop_thread() {
  if (thread_) thread_->stop();
}

// Lane -> engine.
void FetchLane::finish(LaneOutcome&& outcome) {
  if (!remote()) {
    engine_.on_outcome(*this, std::move(outcome));
    return;
  }
  if (!outbox_.push(std::move(outcome))) return;
  std::weak_ptr<bool> alive = engine_.alive;
  home_->post([this, alive] {
    if (!alive.expired()) drain_outbox();  // else the run is gone: nothing to report to
  });
}

void FetchLane::drain_outbox() {
  for (LaneOutcome& o : outbox_.drain()) engine_.on_outcome(*this, std::move(o));
}

// On the lane's loop: runs the lane, then completes *slot (and deletes it) on
// the engine's loop.
Task<void> FetchLane::run_here(Future<bool>* slot) {
  std::exception_ptr failure;
  try {
    co_await run();
  } catch (...) {
    failure = std::current_exception();
  }
  bool posted = home_->post([slot, failure] {
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

Task<void> FetchLane::run_remote() {
  Future<bool> done(get_running_loop());
  auto* slot = new Future<bool>(done);  // completed and deleted on the engine's loop
  try {
    thread_->call_soon_threadsafe(
        [this, slot] { get_running_loop().create_task(run_here(slot), "corun fetch lane"); });
  } catch (...) {
    delete slot;
    throw;
  }
  co_await done;
}

// ---- the lane's loop

Task<void> FetchLane::run() {
  std::exception_ptr failure;
  try {
    std::vector<Task<void>> tasks;
    // The workers (see workers()) are the bound on pages held in memory (a
    // body is held by its worker from response to written file); the rest of
    // the lane's URLs wait in its queue as URLs.
    for (std::size_t i = 0; i < workers_; ++i) tasks.push_back(worker());
    co_await gather(std::move(tasks));
    co_await session_->close();
  } catch (...) {
    failure = std::current_exception();
  }
  // Everything bound to this loop goes with it, here, on its own thread.
  session_.reset();
  writer_.reset();
  if (failure) std::rethrow_exception(failure);
}

Task<void> FetchLane::worker() {
  for (;;) {
    bool end = co_await tickets_->get();
    if (end) break;
    HostBatches::Next next = batches_->pop();
    if (stopped()) {
      LaneOutcome out;
      out.work = std::move(next.work);
      out.kind = LaneOutcome::Kind::not_started;
      finish(std::move(out));
      continue;
    }
    co_await process(&next.work, next.host);
  }
}

Task<void> FetchLane::wait_stop() {
  co_await stop_event_.wait();
}

Task<bool> FetchLane::pause(Clock::duration d) {
  if (stopped()) co_return true;
  if (d <= Clock::duration::zero()) co_return false;
  try {
    co_await wait_for(wait_stop(), d);
    co_return true;
  } catch (const TimeoutError&) {
    co_return false;
  }
}

Task<void> FetchLane::process(Work* work, std::uint64_t host) {
  Clock::time_point t0 = Clock::now();
  LaneOutcome out;
  out.work = std::move(*work);
  out.record.url = out.work.url;
  out.record.index = out.work.index;
  in_flight.fetch_add(1, std::memory_order_relaxed);
  co_await fetch_one(&out, host);
  out.record.elapsed = out.work.elapsed + Seconds(Clock::now() - t0).count();
  in_flight.fetch_sub(1, std::memory_order_relaxed);
  finish(std::move(out));
}

// One URL, one attempt: target, attempt, decide, save. A retry comes back
// through the frontier as a new Work (work.attempts requests made).
Task<void> FetchLane::fetch_one(LaneOutcome* out, std::uint64_t host) {
  Target t;
  if (!target(out->work, out->record, t)) co_return;  // a record without a request
  Attempt a = co_await attempt(&t, &out->work, &out->record);
  if (a.kind == Attempt::Kind::response) {
    // How the host answered, on its first hop (after a redirect the last hop
    // is another host's): runs of its URLs from now on if over HTTP/2 or 3.
    const http::Response& r = a.response;
    std::string_view v = r.history().empty() ? r.version() : r.history().front().version();
    batches_->multiplexes(host, v == "2" || v == "3");
  }
  if (!decide(a, *out)) co_return;
  co_await save(&t, &a.response, out);
}

bool FetchLane::target(Work& work, Record& rec, Target& t) {
  const Options& options = engine_.options;
  // The URL, parsed once, by the session's parser (libcurl's): its origin keys
  // --rate and --per-host as the session keys its limits, its parts as
  // written name the file.
  try {
    t.url.emplace(http::URL::parse(rec.url));
  } catch (const http::InvalidURL& e) {
    // FileSource's stand-in for a line too long to hold: the length is the fault.
    rec.error = rec.url.starts_with("<line-longer-than-")
                    ? fmt::format("the input line is longer than {} bytes: not read as a URL",
                                  rec.url.substr(18, rec.url.find('-', 18) - 18))
                    : std::string(e.what());
    return false;
  }
  t.parts = url_parts(*t.url);
  // An encoding label on the input line overrides --encoding for this URL.
  t.encoding = engine_.override_encoding;
  if (!work.label.empty() && !options.raw) {
    if (auto problem = label_problem(work.label)) {
      rec.error = std::move(*problem);
      return false;
    }
    t.encoding = *text::lookup(work.label);
  }
  if (!work.path.empty()) {  // a retry keeps the name its first attempt claimed
    t.path = engine_.path_key(work.path);
    return true;
  }
  t.path = engine_.claim_path(rec.url, t.parts, work.index);
  // Work::path is the name under --out, not the path: a shared crawl's retry
  // may be taken by another worker, which saves under its own --out.
  work.path = engine_.relative_key(t.path);
  return true;
}

Task<FetchLane::Attempt> FetchLane::attempt(Target* t, const Work* work, Record* rec) {
  Attempt a;
  std::optional<HostAdmission::Permit> host;  // --rate: the host's turn, until the request starts
  if (admission_->active()) {
    std::optional<HostAdmission::Permit> admitted = co_await admission_->admit(t->url->origin());
    if (!admitted) {  // stopped during the --rate wait
      a.kind = Attempt::Kind::interrupted;
      co_return a;
    }
    host.emplace(std::move(*admitted));
  }
  rec->attempts = work->attempts + 1;
  // The session holds the request until its limits allow it (the lane's share
  // of -c; --per-host); one that waited past a stop never starts. A worker
  // waiting for its page to be written holds no slot: the session's limit
  // bounds the requests in flight, the lane's workers (see the constructor)
  // the pages held, in flight or being decoded and written.
  struct NotStarted {};
  // What before_start reads, in this frame: the hook captures one pointer, so
  // std::function keeps it inline (no allocation per request).
  struct Start {
    FetchLane* lane;
    const Work* work;
    std::optional<HostAdmission::Permit>* host;
    bool on_the_wire = false;
  } start{this, work, &host};
  http::RequestOptions ro;
  ro.total_timeout_from_admission = true;
  ro.before_start = [s = &start] {
    if (s->lane->stopped() && s->work->attempts == 0) throw NotStarted{};
    // Checked at the last moment before the first byte goes out: a lane that
    // stalled (SIGSTOP) while this URL waited must not fetch a URL another
    // worker has taken over (its host slot and turn went with it).
    if (s->lane->engine_.leases && s->lane->engine_.lease_lapsed(*s->work)) throw LeaseToConfirm{};
    if (*s->host) (*s->host)->started();
    s->on_the_wire = true;
    s->lane->requests.fetch_add(1, std::memory_order_relaxed);
  };
  if (engine_.leases) {
    // And again once the connection is ready, just before the request is
    // sent: a stall after the check above (a connect, a loop turn) must not
    // send a request whose lease lapsed meanwhile.
    ro.before_send = [s = &start] {
      if (s->lane->engine_.lease_lapsed(*s->work)) throw LeaseToConfirm{};
    };
  }
  try {
    Task<http::Response> request = session_->get(std::move(*t->url), std::move(ro));
    a.response = co_await request;
  } catch (const NotStarted&) {
    a.kind = Attempt::Kind::not_started;  // stopped while waiting: counts as never started
  } catch (const LeaseToConfirm&) {
    a.kind = Attempt::Kind::confirm;
  } catch (const std::exception&) {
    a.kind = Attempt::Kind::failure;
    a.failure = std::current_exception();
  }
  t->url.reset();  // moved into the request
  if (start.on_the_wire) requests.fetch_sub(1, std::memory_order_relaxed);
  co_return a;
}

bool FetchLane::decide(Attempt& a, LaneOutcome& out) {
  Record& rec = out.record;
  auto jitter = [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); };
  auto defer = [&out](Clock::duration delay) {
    out.kind = LaneOutcome::Kind::defer;
    out.delay = delay;
  };
  switch (a.kind) {
    case Attempt::Kind::not_started:
      out.kind = LaneOutcome::Kind::not_started;  // no record: --resume fetches it
      return false;
    case Attempt::Kind::confirm:
      out.kind = LaneOutcome::Kind::confirm;  // no request was made
      rec.attempts = out.work.attempts;
      return false;
    case Attempt::Kind::interrupted:
      // Stopped while waiting for its --rate turn: never started, as a URL
      // the stop found still queued. No record (--resume fetches it); a
      // retry's frontier ends it with its earlier record.
      out.kind = LaneOutcome::Kind::not_started;
      return false;
    case Attempt::Kind::failure: {
      // Stopped or not, a retry goes to the frontier: the local one ends it
      // with " (not retried: interrupted)", the shared crawl keeps it for
      // another worker.
      bool may_retry = retry_.may_retry(rec.attempts);
      FailureKind k = classify_failure(a.failure, rec.url);
      rec.error = std::move(k.error);
      if (k.status != 0) rec.status = k.status;  // (the body failed, not the response)
      if (!k.final_url.empty()) rec.final_url = std::move(k.final_url);
      if (k.retryable && may_retry) defer(retry_.backoff(rec.attempts, jitter()));
      return false;
    }
    case Attempt::Kind::response:
      break;
  }
  const http::Response& resp = a.response;
  rec.status = resp.status();
  rec.final_url = resp.url();
  rec.bytes = resp.body_size();
  if (resp.status() >= 400) {
    rec.error = fmt::format("HTTP {} {}", resp.status(), resp.reason());
    bool may_retry = retry_.may_retry(rec.attempts);  // (stopped or not: as above)
    if (retryable_status(resp.status()) && may_retry) {
      auto delay = retry_.status_delay(rec.attempts, jitter(), resp.headers().get("Retry-After"),
                                       std::time(nullptr), rec.error);
      if (delay) defer(*delay);
    }
    return false;
  }
  rec.error.clear();
  return true;
}

// Decode and write: here on the lane's thread (the pool with --fsync).
Task<void> FetchLane::save(Target* t, http::Response* resp, LaneOutcome* out) {
  const Options& options = engine_.options;
  Record* rec = &out->record;
  std::string content_type(resp->headers().get_or("Content-Type", ""));
  bool decode = !options.raw && is_text_body(content_type, resp->read());
  fs::WriteOptions wo{
      .atomic = true, .fsync = options.fsync, .create_dirs = !engine_.name_template.empty()};
  WriteJob job{resp->take_body(), std::move(content_type), t->path, wo, decode, options.bom,
               t->encoding};
  WriteOutcome written;
  {
    Counting pending_write(writing);
    written = co_await write(std::move(job));
  }
  if (!written.error.empty()) {
    rec->error = std::move(written.error);
    out->disk_full = written.no_space;
    // A full disk stops the run (the engine's stop() follows the outcome): no
    // lane starts another request meanwhile, each only to fail the same way.
    // The engine's thread may be slow to see the outcome on a loaded machine,
    // and a lane's queue holds up to the window of URLs.
    if (written.no_space) engine_.stop_requested.store(true, std::memory_order_relaxed);
    co_return;
  }
  if (written.decoded) {
    rec->encoding = std::string(text::name(written.encoding));
    rec->encoding_source = std::string(text::to_string(written.source));
  }
  rec->path = std::move(t->path);
}

Task<WriteOutcome> FetchLane::write(WriteJob job) {
  if (writer_) co_return co_await writer_->write(std::move(job));
  co_return run_write_job(job);
}

}  // namespace corun::fetch
