// corun::fetch frontier: where the engine's URLs come from and where their
// outcomes go. The engine (Fetcher) asks the frontier for work, fetches it and
// tells the frontier how each URL ended; it never reads input or writes the
// report itself. Two implementations:
//
//   - the local frontier (frontier_local.hpp): a UrlSource streamed line by
//     line plus the JSON-lines report (resume scan, torn-tail repair, one
//     record per URL), i.e. `corun fetch URLS|FILE|-`;
//   - the shared crawl (corun fetch --queue redis://...): Redis Streams with a
//     consumer group, leases, a delay set and server-side per-host limits.
//
// Contract (every call on the engine's loop, one at a time):
//   open()      once, before anything else; throws SetupError (or a subclass
//               of corun::Error) when the frontier cannot be used.
//   take(out, max)
//               appends at most `max` (>= 1) URLs that may start now and
//               returns true; waits (cancellably) while none is ready. Returns
//               false once no URL will ever come again: the input is exhausted
//               and nothing deferred is left (the crawl is finished), or stop()
//               was called. `out` may have received URLs even then.
//   complete(work, record)
//               the URL's final outcome (done or failed): exactly one record
//               per URL. Never blocks; a frontier that delivers records over
//               the network buffers them and close() waits for the delivery.
//   defer(work, record, delay)
//               a retryable failure: the URL is to be tried again no earlier
//               than `delay` from now (backoff or Retry-After); `record` holds
//               the failure so far (its attempts count the requests made).
//               The frontier hands the URL back through take() with
//               work.attempts == record.attempts, or, if it cannot try it
//               again (stopped, delivered too often), completes it with that
//               record.
//   release(work)
//               a URL that was taken and never started (the run was stopped
//               before its first request): no record; a later run or another
//               worker fetches it.
//   stop()      stop handing out work; take() returns false soon. URLs
//               already taken still come back through complete/defer/release.
//   close()     after the last outcome: write or deliver everything pending.
//   fill(summary)
//               the frontier's part of the Summary (lines_read,
//               input_exhausted, skipped, report_error ...).
//   leases(), lease_lapsed(work), confirm_lease(work)
//               a frontier that leases its URLs (another worker takes over a
//               URL whose lease lapsed: this one stalled) says so through
//               leases(). Just before a URL's request starts, the engine asks
//               lease_lapsed(work): from any lane's thread, cheap, no I/O;
//               true when the lease may have lapsed (not renewed lately, or
//               reported lost). Then the request waits for confirm_lease(work)
//               (engine's loop), which checks with the frontier's store that
//               the lease (and the host's slot) still holds: true, the request
//               starts; false, the URL is no longer this worker's and the
//               engine drops it without an outcome (its new owner reports it).
//   flush()     write what is pending now, blocking and never throwing: the
//               run was cancelled, or the process is about to _exit (a second
//               Ctrl-C). Records may still come after it.
//
// Records: every final record, whether the engine made it (complete()) or
// the frontier did (a deferred or released URL it will not try again), is
// passed to the observer the engine sets (set_record_observer) once the
// frontier has taken it in: the engine counts it and calls Options::on_record.
//
// Politeness: a frontier that enforces per-host limits itself (the shared
// crawl does, server-side, across every worker) says so through
// limits_hosts(); the engine then leaves per-host slots and --rate to it.
// Names: a frontier whose URLs may be fetched by several processes asks for
// names derived from the URL alone (deterministic_names()), so a URL fetched
// twice rewrites the same file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "corun/core/task.hpp"
#include "corun/fetch/naming.hpp"

namespace corun::fetch {

struct Record;
struct Summary;

// One URL handed to the engine.
struct Work {
  std::string url;          // absolute, as requested (base_url already applied)
  std::string label;        // encoding label from the input line, may be empty
  std::uint64_t index = 0;  // position in the input (Record::index, {index})
  int attempts = 0;         // requests already made for this URL (0: new)
  std::string token;        // the frontier's own handle (e.g. a stream entry ID)
  // Seconds spent on this URL before this take (earlier attempts and the waits
  // between them), so Record::elapsed covers them all; 0 when unknown.
  double elapsed = 0;
  // The page's file name under --out, named by the engine on the first
  // attempt; a frontier hands it back unchanged with a retry (empty: the
  // engine names it again). Relative: a shared crawl's retry may go to another
  // worker, which saves it under its own --out.
  std::string path;
  // A leasing frontier (leases()): when it last knew this worker held the
  // URL's lease (set by take() and confirm_lease(); steady clock).
  std::chrono::steady_clock::time_point leased{};
};

class Frontier {
 public:
  virtual ~Frontier() = default;

  virtual Task<void> open() = 0;
  virtual Task<bool> take(std::vector<Work>& out, std::size_t max) = 0;
  virtual void complete(Work work, Record record) = 0;
  virtual void defer(Work work, Record record, std::chrono::steady_clock::duration delay) = 0;
  virtual void release(Work work) = 0;
  virtual void stop() = 0;
  virtual Task<void> close() = 0;
  virtual void fill(Summary& summary) const = 0;
  virtual void flush() noexcept {}

  // Names reserved before the run (a resumed report's files): the engine
  // never gives a page one of these names. Called once, after open().
  virtual std::vector<std::string> reserved_names() const { return {}; }
  // Puts the reserved names into the engine's (empty) registry, once, after
  // open(). The default reserves reserved_names(); a frontier with millions of
  // them may hand over a registry it filled itself.
  virtual void reserve_names(NameRegistry& names) {
    for (const std::string& n : reserved_names()) names.reserve(n);
  }
  // A file the frontier writes among the pages (the local report), as a page
  // path would be written; empty when none. No page ever gets its name, not
  // even with {index} names (which otherwise never collide).
  virtual std::string own_path() const { return {}; }
  virtual bool limits_hosts() const noexcept { return false; }
  virtual bool deterministic_names() const noexcept { return false; }
  // Why the run must stop taking URLs although nobody called stop(): the
  // frontier can no longer record what is fetched (the local report's disk is
  // full). Empty while it may go on. Asked after each outcome; the engine then
  // stops (the URLs in flight end and are recorded, the rest are left for a
  // later run) and the reason becomes Summary::stop_reason.
  virtual std::string must_stop() const { return {}; }
  // Leases (see above). The defaults: nothing is leased, every URL may start.
  virtual bool leases() const noexcept { return false; }
  virtual bool lease_lapsed(const Work& work) const noexcept {
    (void)work;
    return false;
  }
  virtual Task<bool> confirm_lease(Work& work) {
    (void)work;
    co_return true;
  }

  // Set by the engine before open(); see "Records" above.
  void set_record_observer(std::function<void(const Record&)> observer) {
    observer_ = std::move(observer);
  }

 protected:
  // Implementations call this once per final record, after taking it in.
  void observe(const Record& record) const {
    if (observer_) observer_(record);
  }

 private:
  std::function<void(const Record&)> observer_;
};

}  // namespace corun::fetch
