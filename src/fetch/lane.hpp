// corun::fetch lanes: one loop's share of a run's requests. A lane has a
// session of its own (whose limits are the lane's share of -c and --per-host),
// --rate admission and workers. Lane 0 runs on the engine's loop; each other lane on a LoopThread
// of its own, so a run uses every core for what costs the most (libcurl's
// work, decoding, writing files) while the engine's loop keeps the frontier
// (input, report) and the names' registry. A page is fetched, decoded and
// written on its lane's thread, start to end: handing bodies to another
// thread cost more CPU than it saved (see bench/README.md). URLs reach a
// remote lane, and outcomes come back, through mailboxes whose wake-ups
// coalesce under load.
//
// One URL on a lane (FetchLane::fetch_one), in named steps:
//   target   the URL parsed, the encoding label, the file's name;
//   attempt  one request: its --rate turn, then the session (which holds it
//            until its limits allow it; the total timeout starts there);
//   decide   the retry policy: a final record, or a deferral with its delay
//            (the frontier hands the URL back when due, maybe to another
//            worker);
//   save     decode and write the page.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "admission.hpp"
#include "corun/core/detail/mailbox.hpp"
#include "corun/core/event.hpp"
#include "corun/core/future.hpp"
#include "corun/core/queue.hpp"
#include "corun/core/threads.hpp"
#include "corun/fetch/fetch.hpp"
#include "corun/fetch/frontier.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/http/session.hpp"
#include "corun/http/url.hpp"
#include "host_batches.hpp"
#include "page_writer.hpp"
#include "retry.hpp"

namespace corun::fetch {

class FetchLane;

// What a lane hands back for one URL.
struct LaneOutcome {
  enum class Kind : std::uint8_t {
    complete,     // record is final
    defer,        // record so far; try again after delay
    not_started,  // stopped before its first request: no record
    confirm,      // its lease may have lapsed: the engine asks the frontier
                  // (Frontier::confirm_lease), then gives it back or drops it
  };
  Work work;
  Record record;
  Kind kind = Kind::complete;
  std::chrono::steady_clock::duration delay{};
  bool disk_full = false;  // its page could not be written for want of room
};

// What every lane reads from the engine: set before the lanes start, then
// read-only (names excepted, under names_mutex). The engine implements
// on_outcome (on its own loop).
struct LaneContext {
  explicit LaneContext(Options o) : options(std::move(o)) {}
  virtual ~LaneContext() = default;
  LaneContext(const LaneContext&) = delete;
  LaneContext& operator=(const LaneContext&) = delete;

  Options options;
  NameTemplate name_template;
  std::optional<text::Encoding> override_encoding;
  std::filesystem::path out_dir;
  bool unique_names = false;         // the template has {index}: names never collide
  bool deterministic_names = false;  // the frontier's: no registry at all
  std::string own_path;              // the frontier's file among the pages (the report)
  std::size_t per_host = 0;          // 0: no limit (or the frontier limits hosts)
  double rate = 0;                   // 0: no limit (or the frontier limits hosts)
  std::mutex names_mutex;            // lanes claim names from their threads
  NameRegistry names;

  http::SessionOptions session_options;         // every lane's session is made from these
  std::shared_ptr<http::CookieJar> cookie_jar;  // one jar for every lane's session
  std::atomic<bool> stop_requested{false};
  bool leases = false;  // Frontier::leases(): a request may start only on a lease still held
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // for posts from lanes

  // The key a relative name is written under: the path as the report writes it.
  std::string path_key(std::string_view relative) const { return (out_dir / relative).string(); }
  // path_key's inverse: a key's name under out_dir.
  std::string relative_key(const std::string& key) const {
    std::string prefix = (out_dir / "").string();
    return key.starts_with(prefix) ? key.substr(prefix.size()) : key;
  }

  // The path a URL's first attempt writes to: its name (from the template, or
  // from the URL) under out_dir, claimed in the registry where names can
  // collide (any thread: the registry has its mutex).
  std::string claim_path(const std::string& url, const UrlParts& parts, std::uint64_t index) {
    std::string path = path_key(name_template.empty() ? name_from_url(parts)
                                                      : name_template.expand(url, parts, index));
    // {index} names never collide (except with the frontier's own file,
    // resolved as usual); deterministic names are never changed.
    if (!deterministic_names && (!unique_names || path == own_path)) {
      std::lock_guard lock(names_mutex);
      path = names.claim(path);
    }
    return path;
  }
  // Names that can collide are claimed by the engine as it hands URLs out, in
  // input order, so collisions resolve the same way in every run whatever the
  // lanes' timing (a lane names only a URL given without one).
  bool names_in_input_order() const noexcept { return !deterministic_names && !unique_names; }

  // An outcome handed back by a lane (the engine's loop).
  virtual void on_outcome(FetchLane& lane, LaneOutcome&& outcome) = 0;
  // Frontier::lease_lapsed (any lane's thread); asked only when `leases`.
  virtual bool lease_lapsed(const Work& work) const noexcept {
    (void)work;
    return false;
  }
};

// A URL for a lane's workers, or the marker that tells a worker to quit.
struct LaneItem {
  Work work;
  bool end = false;
};

class FetchLane {
 public:
  using Clock = std::chrono::steady_clock;

  FetchLane(LaneContext& engine, std::size_t concurrency);
  FetchLane(const FetchLane&) = delete;
  FetchLane& operator=(const FetchLane&) = delete;
  ~FetchLane();  // stops the loop: its tasks are cancelled first

  std::size_t concurrency() const noexcept { return concurrency_; }
  std::size_t workers() const noexcept { return workers_; }  // each takes one end marker
  bool remote() const noexcept { return thread_ != nullptr; }

  // Engine side (its loop).
  // Blocking (off the loops): a thread of its own, then open() there; home is
  // the engine's loop, where outcomes go.
  void start_remote(std::shared_ptr<detail::LoopLifeline> home);
  void open();                  // on the lane's loop, before any URL
  void give(LaneItem item);     // a URL (or end marker) for the workers
  void stop();                  // wakes the lane's waits (on its loop)
  void stop_thread();           // a remote lane's loop ends (its transfers abort)
  void drain_outbox();          // outcomes a remote lane posted and not yet taken
  Task<void> run_remote();      // runs a remote lane to its end, awaited on the engine's loop
  Task<void> run();             // on the lane's loop: the workers until every end marker
  std::size_t outstanding = 0;  // URLs handed over, no outcome yet (engine's loop)
  std::atomic<std::uint64_t> in_flight{0};  // Progress::in_flight
  std::atomic<std::uint64_t> requests{0};   // Progress::requests
  std::atomic<std::uint64_t> writing{0};    // Progress::writing

 private:
  struct Target {
    std::optional<http::URL> url;  // parsed by the session's parser: the request
    UrlParts parts;                // url's parts as written (views into it): file names
    std::optional<text::Encoding> encoding;
    std::string path;
  };
  struct Attempt {
    enum class Kind : std::uint8_t { response, failure, not_started, interrupted, confirm };
    Kind kind = Kind::response;
    http::Response response;
    std::exception_ptr failure;
  };

  void take_in(LaneItem&& item);  // on the lane's loop: a URL or end marker given
  Task<void> worker();
  // Coroutine arguments are pointers into the caller's frame (g++ 12 may
  // destroy a co_await operand's temporaries twice).
  Task<void> process(Work* work, std::uint64_t host);  // host: HostBatches::Next::host
  Task<void> fetch_one(LaneOutcome* out, std::uint64_t host);
  bool target(Work& work, Record& rec, Target& t);
  Task<Attempt> attempt(Target* t, const Work* work, Record* rec);
  bool decide(Attempt& a, LaneOutcome& out);
  Task<void> save(Target* t, http::Response* resp, LaneOutcome* out);

  bool stopped() const noexcept { return engine_.stop_requested.load(std::memory_order_relaxed); }
  Task<bool> pause(Clock::duration d);
  Task<void> wait_stop();
  Task<WriteOutcome> write(WriteJob job);
  void finish(LaneOutcome&& outcome);
  Task<void> run_here(Future<bool>* slot);

  LaneContext& engine_;
  std::size_t concurrency_;
  std::size_t workers_;  // 1 or 2 per slot (the constructor says when)
  RetryPolicy retry_;
  std::unique_ptr<LoopThread> thread_;          // null: the lane runs on the engine's loop
  std::shared_ptr<detail::LoopLifeline> home_;  // the engine's loop

  // The lane's loop only.
  std::unique_ptr<http::ClientSession> session_;
  std::unique_ptr<BatchWriter> writer_;  // --fsync: writes go to the pool
  // The lane's URLs, in the order the workers take them (unbounded: the
  // engine's credits bound it), and a ticket per URL or end marker, in the
  // order they came: a worker takes a ticket, then the next URL (false) or
  // ends (true). Every URL is taken before the first end marker's ticket.
  std::unique_ptr<HostBatches> batches_;
  std::unique_ptr<Queue<bool>> tickets_;
  std::unique_ptr<HostAdmission> admission_;
  std::mt19937_64 rng_{std::random_device{}()};
  Event stop_event_;  // set by stop(): wakes pause()

  // Mailboxes between the loops (remote lanes): a burst of URLs or outcomes
  // costs the other loop one wake-up.
  detail::Mailbox<LaneItem> inbox_;
  detail::Mailbox<LaneOutcome> outbox_;
};

}  // namespace corun::fetch
