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
#include <string>
#include <vector>

#include "corun/core/task.hpp"

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

  // Names reserved before the run (a resumed report's files): the engine
  // never gives a page one of these names. Called once, after open().
  virtual std::vector<std::string> reserved_names() const { return {}; }
  virtual bool limits_hosts() const noexcept { return false; }
  virtual bool deterministic_names() const noexcept { return false; }
};

}  // namespace corun::fetch
