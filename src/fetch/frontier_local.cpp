// corun::fetch local frontier (see include/corun/fetch/frontier_local.hpp).
#include "corun/fetch/frontier_local.hpp"

#include <fmt/format.h>

#include <queue>
#include <system_error>
#include <unordered_map>

#include "corun/core/event.hpp"
#include "corun/core/threads.hpp"
#include "corun/core/time.hpp"
#include "report.hpp"

namespace corun::fetch {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::string_view kInterrupted = " (not retried: interrupted)";

struct Deferred {
  Clock::time_point due;
  Clock::time_point since;  // when it was deferred (its wait counts in elapsed)
  Work work;
};
struct LaterFirst {
  bool operator()(const Deferred& a, const Deferred& b) const noexcept { return a.due > b.due; }
};
}  // namespace

struct LocalFrontier::State {
  State(UrlSource& s, Config c) : source(s), config(std::move(c)) {
    config.out_dir =
        config.out_dir.empty() ? std::filesystem::path(".") : config.out_dir.lexically_normal();
  }

  UrlSource& source;
  Config config;

  // Report.
  ReportWriter report;
  ReportScan scan;         // --resume: done URLs and their names
  std::string report_key;  // the report as a page path would be written, if among the pages

  // Input.
  std::vector<std::string> lines;  // the source's current batch
  std::size_t next_line = 0;
  bool source_more = true;
  std::uint64_t lines_given = 0;  // raw lines the source gave
  std::uint64_t lines_read = 0;   // of those, taken
  std::uint64_t seen = 0;         // URL lines (the next index)
  std::uint64_t skipped = 0;

  // Retries: deferred URLs by due time; the record so far of every URL
  // deferred or handed back for a retry (by index), until its outcome.
  std::priority_queue<Deferred, std::vector<Deferred>, LaterFirst> deferred;
  std::unordered_map<std::uint64_t, Record> retry_records;
  std::size_t outstanding = 0;  // taken, no outcome yet
  bool stopped = false;
  Event changed;  // a deferral, an outcome or stop(): take() looks again

  bool input_done() const noexcept { return !source_more && next_line == lines.size(); }

  void open_blocking() {
    if (config.report == "-") {
      report.open(config.report, false);  // standard output: no file to make or scan
    } else {
      open_report_file();
    }
    // No page may take the input file's name, when it lies in the output folder
    // (-o . -i urls.txt).
    if (std::filesystem::path input = source.file_path(); !input.empty()) {
      std::error_code in_ec, out_ec;
      std::filesystem::path in_rel =
          std::filesystem::weakly_canonical(input, in_ec)
              .lexically_relative(std::filesystem::weakly_canonical(config.out_dir, out_ec));
      if (!in_ec && !out_ec && !in_rel.empty() && *in_rel.begin() != "..") {
        scan.names.reserve((config.out_dir / in_rel.generic_string()).string());
      }
    }
  }

  void open_report_file() {
    const std::filesystem::path& path = config.report;
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        throw SetupError(
            fmt::format("cannot create {}: {}", path.parent_path().string(), ec.message()));
      }
    }
    if (config.resume) {
      remove_stale_temp_files(config.out_dir);
      scan = scan_report(path);
    }
    refuse_the_input_as_report(path);
    report.open(path, config.resume, scan.whole_lines);
    // The report may live in the output folder: no page may take its name.
    std::filesystem::path rel = path.lexically_normal().lexically_relative(config.out_dir);
    if (!rel.empty() && *rel.begin() != "..") {
      report_key = (config.out_dir / rel.generic_string()).string();
      scan.names.reserve(report_key);
    }
  }

  // The report opened for writing over the file the URLs are read from would
  // empty the list before it is read: refused before anything is written.
  void refuse_the_input_as_report(const std::filesystem::path& report_path) const {
    std::filesystem::path input = source.file_path();
    std::error_code ec;
    if (!input.empty() && std::filesystem::equivalent(input, report_path, ec) && !ec) {
      throw SetupError(fmt::format(
          "the report {} is the input file: writing it would lose the URLs (give --report "
          "another path)",
          report_path.string()));
    }
  }

  // New input into out; false when the current batch has no more lines.
  void read_lines(std::vector<Work>& out, std::size_t max) {
    while (out.size() < max && next_line < lines.size()) {
      std::string& raw = lines[next_line++];
      ++lines_read;
      InputLine parsed;
      if (!parse_input_line(raw, config.base_url, parsed)) continue;
      std::uint64_t index = seen++;
      // (The report holds a URL's invalid UTF-8 bytes as U+FFFD: compared so.)
      if (config.resume && scan.done.take(stable_hash(as_reported(parsed.url)))) {
        ++skipped;
        continue;
      }
      Work w;
      w.url = std::move(parsed.url);
      w.label = std::move(parsed.label);
      w.index = index;
      out.push_back(std::move(w));
      ++outstanding;
    }
  }

  void take_due(std::vector<Work>& out, std::size_t max) {
    Clock::time_point now = Clock::now();
    while (out.size() < max && !deferred.empty() && deferred.top().due <= now) {
      Deferred d = deferred.top();
      deferred.pop();
      d.work.elapsed += Seconds(now - d.since).count();
      out.push_back(std::move(d.work));
      ++outstanding;
    }
  }

  Task<void> wait_changed() { co_await changed.wait(); }

  // The final record of a URL that will not be tried again (stopped).
  void complete_interrupted(std::uint64_t index, double elapsed, LocalFrontier& self) {
    auto it = retry_records.find(index);
    if (it == retry_records.end()) return;
    Record r = std::move(it->second);
    retry_records.erase(it);
    r.error += kInterrupted;
    r.elapsed = elapsed;
    write(r, self);
  }

  void write(const Record& r, const LocalFrontier& self) {
    report.add(r);
    changed.set();
    self.observe(r);
  }
};

LocalFrontier::LocalFrontier(UrlSource& source, Config config)
    : state_(std::make_unique<State>(source, std::move(config))) {}
LocalFrontier::~LocalFrontier() = default;

Task<void> LocalFrontier::open() {
  State* s = state_.get();
  co_await to_thread([s] { s->open_blocking(); });
}

Task<bool> LocalFrontier::take(std::vector<Work>& out, std::size_t max) {
  State& s = *state_;
  std::size_t before = out.size();
  max += before;
  for (;;) {
    if (s.stopped) co_return false;
    s.take_due(out, max);  // retries first: they have waited already
    if (out.size() > before) co_return true;
    if (s.deferred.size() < s.config.max_deferred) {
      s.read_lines(out, max);
      if (out.size() > before) co_return true;
      if (s.source_more) {
        s.lines.clear();
        s.next_line = 0;
        s.source_more = co_await s.source.next_batch(s.lines);
        s.lines_given += s.lines.size();
        continue;  // (a slow source may give no lines: stop() is checked again)
      }
    }
    if (s.input_done() && s.deferred.empty() && s.outstanding == 0) co_return false;
    // Wait for a retry to be due, or for a change (a deferral, an outcome, stop()).
    s.changed.clear();
    if (s.deferred.empty()) {
      co_await s.changed.wait();
    } else {
      Clock::duration d = s.deferred.top().due - Clock::now();
      if (d > Clock::duration::zero()) {
        try {
          co_await wait_for(s.wait_changed(), d);
        } catch (const TimeoutError&) {
        }
      }
    }
  }
}

void LocalFrontier::complete(Work work, Record record) {
  State& s = *state_;
  --s.outstanding;
  if (work.attempts > 0) s.retry_records.erase(work.index);
  s.write(record, *this);
}

void LocalFrontier::defer(Work work, Record record, std::chrono::steady_clock::duration delay) {
  State& s = *state_;
  --s.outstanding;
  if (s.stopped) {
    s.retry_records.erase(work.index);
    record.error += kInterrupted;
    s.write(record, *this);
    return;
  }
  Clock::time_point now = Clock::now();
  work.attempts = record.attempts;
  work.elapsed = record.elapsed;
  std::uint64_t index = work.index;
  s.deferred.push(Deferred{now + delay, now, std::move(work)});
  s.retry_records.insert_or_assign(index, std::move(record));
  s.changed.set();
}

void LocalFrontier::release(Work work) {
  State& s = *state_;
  --s.outstanding;
  // A retry that never started: its earlier attempts are its record.
  if (work.attempts > 0) {
    s.complete_interrupted(work.index, work.elapsed, *this);
  } else {
    s.changed.set();
  }
}

void LocalFrontier::stop() {
  State& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  s.changed.set();
  // Every deferred URL ends now, as a retry interrupted in its wait.
  std::vector<Deferred> waiting;
  waiting.reserve(s.deferred.size());
  while (!s.deferred.empty()) {
    waiting.push_back(s.deferred.top());
    s.deferred.pop();
  }
  Clock::time_point now = Clock::now();
  for (Deferred& d : waiting) {
    s.complete_interrupted(d.work.index, d.work.elapsed + Seconds(now - d.since).count(), *this);
  }
}

Task<void> LocalFrontier::close() {
  state_->report.finish();
  co_return;
}

void LocalFrontier::fill(Summary& summary) const {
  const State& s = *state_;
  summary.seen = s.seen;
  summary.skipped = s.skipped;
  summary.lines_read = s.lines_read;
  summary.input_exhausted = !s.source_more && s.lines_read == s.lines_given;
  summary.report_error = s.report.error();
  // Records the report could not take: their URLs are not done for --resume.
  if (std::size_t n = s.report.buffered_records(); n > 0 && !summary.report_error.empty()) {
    summary.report_error +=
        s.config.report == "-"
            ? fmt::format(" ({} record{} not written)", n, n == 1 ? "" : "s")
            : fmt::format(" ({} record{} not in the report: --resume fetches {} URL{} again)", n,
                          n == 1 ? "" : "s", n == 1 ? "its" : "their", n == 1 ? "" : "s");
  }
}

std::string LocalFrontier::must_stop() const {
  const State& s = *state_;
  if (!s.report.short_of_room()) return {};
  if (!s.report.error().empty()) return s.report.error();  // a write failed: why
  return fmt::format(
      "the disk is nearly full: {} KiB left for the report ({}), less than the {} KiB it keeps "
      "for the records of the requests in flight",
      s.report.room_when_short() / 1024, s.config.report.string(), ReportWriter::kLowRoom / 1024);
}

void LocalFrontier::flush() noexcept {
  state_->report.flush();
}

void LocalFrontier::reserve_names(NameRegistry& names) {
  names = std::move(state_->scan.names);
}

std::string LocalFrontier::own_path() const {
  return state_->report_key;
}

std::size_t LocalFrontier::deferred() const noexcept {
  return state_->deferred.size();
}

}  // namespace corun::fetch
