// corun.fetch's C++ half: one corun::fetch::Fetcher run on the loop thread,
// its report records collected as they are written and handed to Python at the
// end, and, for a notebook's progress display, live counters Python reads
// while it runs. The shared crawl (docs/scale-out.md) too: a worker (the
// Fetcher over a RedisFrontier, stopped gracefully on request), the producer
// (fetch::enqueue fed with lines Python pushes in batches) and the collector.
// The public functions (argument checks, FetchRecord, FetchResults, the
// display) are python/corun/fetch.py; enqueue and collect, python/corun/queue.py.
#include <pybind11/stl.h>

#include <corun/fetch/fetch.hpp>
#include <corun/fetch/frontier_redis.hpp>
#include <corun/fetch/queue.hpp>
#include <corun/fetch/record.hpp>
#include <corun/fetch/source.hpp>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "bindings.hpp"
#include "runtime.hpp"

namespace corun::python {

namespace {

// Counters of a running fetch: written on the loop thread at each record,
// read by Python's display from its own thread.
class LiveProgress {
 public:
  // Loop thread: a copy of the engine's counters (taken after each record).
  void update(const fetch::Progress& p) {
    std::lock_guard lock(mutex_);
    seen_ = p.seen;
    done_ = p.done;
    failed_ = p.failed;
    in_flight_ = p.in_flight;
    bytes_ = p.bytes;
    total_hint_ = p.total_hint;
  }
  // (seen, done, failed, in_flight, bytes, total_hint: -1 when unknown)
  py::tuple snapshot() {
    std::lock_guard lock(mutex_);
    return py::make_tuple(seen_, done_, failed_, in_flight_, bytes_, total_hint_);
  }

 private:
  std::mutex mutex_;
  std::uint64_t seen_ = 0, done_ = 0, failed_ = 0, in_flight_ = 0, bytes_ = 0;
  long long total_hint_ = -1;
};

// What Python checks a member's value as: "bool", "int" (a whole number),
// "number", "seconds", "size" (None: no limit), "str", "path", "list".
template <class T>
constexpr const char* option_kind() {
  if constexpr (std::is_same_v<T, bool>) {
    return "bool";
  } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::size_t>) {
    return "int";
  } else if constexpr (std::is_same_v<T, double>) {
    return "number";
  } else if constexpr (std::is_same_v<T, fetch::Seconds>) {
    return "seconds";
  } else if constexpr (std::is_same_v<T, std::optional<std::size_t>>) {
    return "size";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "str";
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return "path";
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>);
    return "list";
  }
}

const char* role_name(fetch::OptionRole role) {
  switch (role) {
    case fetch::OptionRole::run:
      return "run";
    case fetch::OptionRole::crawl:
      return "crawl";
    case fetch::OptionRole::worker:
      return "worker";
  }
  return "run";
}

// A member's value for Python: durations in seconds, paths as str.
template <class T>
py::object option_to_python(const T& v) {
  if constexpr (std::is_same_v<T, fetch::Seconds>) {
    return py::float_(v.count());
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return py::str(v.string());
  } else {
    return py::cast(v);
  }
}

// The member from a Python value (checked by corun.fetch before; a wrong type
// still raises TypeError here, through pybind11's cast).
template <class T>
void option_from_python(py::handle value, T& member) {
  if constexpr (std::is_same_v<T, fetch::Seconds>) {
    member = fetch::Seconds(value.cast<double>());
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    member = value.cast<std::string>();
  } else {
    member = value.cast<T>();
  }
}

struct FetchOutcome {
  fetch::Summary summary;
  std::vector<fetch::Record> records;
};

Task<std::unique_ptr<FetchOutcome>> run_fetch(std::vector<std::string> urls,
                                              std::optional<std::string> urls_file,
                                              fetch::Options options,
                                              std::shared_ptr<LiveProgress> live) {
  auto out = std::make_unique<FetchOutcome>();
  auto* records = &out->records;
  fetch::Fetcher* running = nullptr;
  options.on_record = [records, live, &running](const fetch::Record& r) {
    records->push_back(r);
    if (live && running) live->update(running->progress());
  };
  std::unique_ptr<fetch::UrlSource> source;
  if (urls_file) {
    source = std::make_unique<fetch::FileSource>(*urls_file);
  } else {
    source = std::make_unique<fetch::ListSource>(std::move(urls));
  }
  fetch::Fetcher fetcher(std::move(options));
  running = &fetcher;
  out->summary = co_await fetcher.run(*source);
  co_return out;
}

py::object or_none(const std::string& s) {
  return s.empty() ? py::object(py::none()) : to_str(s);
}

// A field's value as Python sees it: None where the report has null.
template <class Field>
py::object field_value(const fetch::Record& r) {
  const auto& v = r.*Field::member;
  if constexpr (Field::kind == fetch::FieldKind::text) {
    return to_str(v);
  } else if constexpr (Field::kind == fetch::FieldKind::text_or_null ||
                       Field::kind == fetch::FieldKind::error_text) {
    return or_none(v);
  } else if constexpr (Field::kind == fetch::FieldKind::code_or_null) {
    return v == 0 ? py::object(py::none()) : py::object(py::int_(v));
  } else if constexpr (Field::kind == fetch::FieldKind::seconds) {
    return py::float_(v);
  } else {
    return py::int_(v);
  }
}

// A record as a tuple in kRecordFields' order (corun.FetchRecord's).
py::tuple record_tuple(const fetch::Record& r) {
  constexpr std::size_t n = std::tuple_size_v<decltype(fetch::kRecordFields)>;
  py::tuple t(n);
  std::size_t i = 0;
  fetch::for_each_record_field(
      [&](const auto& f) { t[i++] = field_value<std::remove_cvref_t<decltype(f)>>(r); });
  return t;
}

// (records as tuples in kRecordFields' order, summary as a dict)
py::tuple to_python(std::unique_ptr<FetchOutcome> out) {
  py::list records;
  for (const fetch::Record& r : out->records) records.append(record_tuple(r));
  const fetch::Summary& s = out->summary;
  py::dict summary;
  summary["seen"] = s.seen;
  summary["skipped"] = s.skipped;
  summary["done"] = s.done;
  summary["failed"] = s.failed;
  summary["not_started"] = s.not_started;
  summary["bytes"] = s.bytes;
  summary["elapsed"] = s.elapsed;
  summary["interrupted"] = s.interrupted;
  summary["report_error"] = or_none(s.report_error);
  summary["stop_reason"] = or_none(s.stop_reason);
  return py::make_tuple(records, summary);
}

// ---- the shared crawl ----

fetch::QueueAddress queue_address(const std::string& url) {
  try {
    return fetch::parse_queue_url(url);
  } catch (const fetch::QueueUrlError& e) {
    throw py::value_error(e.what());  // names kQueueUrlForm
  }
}

// A worker's graceful stop, asked from Python's thread (a cancelled await, a
// Ctrl-C in fetch_sync) and applied on the loop thread, where the Fetcher
// lives: the same as the CLI worker's first Ctrl-C (stop claiming, finish the
// transfers, deliver every outcome, hand back the rest). Loop thread only.
struct WorkerControl {
  fetch::Fetcher* fetcher = nullptr;  // while the run is on
  bool stop_requested = false;
  void stop() {
    stop_requested = true;
    if (fetcher != nullptr) fetcher->stop();
  }
};

// Python's handle on a WorkerControl: stop() from any thread, with the GIL.
class WorkerStop {
 public:
  explicit WorkerStop(std::shared_ptr<WorkerControl> control) : control_(std::move(control)) {}
  void stop() {
    post_to_loop_or_leak([control = control_] { control->stop(); });
  }

 private:
  std::shared_ptr<WorkerControl> control_;
};

struct WorkerOutcome {
  FetchOutcome fetched;
  std::string worker;
  fetch::RedisFrontier::Counters counters;
  std::vector<std::string> warnings;  // the frontier's (RedisFrontierOptions::on_warning)
};

// Clears the control's Fetcher pointer when the Fetcher's scope ends (however
// it ends), so a late stop() finds nothing to touch.
struct Attached {
  WorkerControl& control;
  Attached(WorkerControl& c, fetch::Fetcher& f) : control(c) { control.fetcher = &f; }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;
  ~Attached() { control.fetcher = nullptr; }
};

// `corun fetch --queue URL/NAME` (apps/queue_command.cpp's worker): the
// crawl's settings from Redis applied to options, the engine over a
// RedisFrontier until the crawl is finished or it is stopped.
Task<std::unique_ptr<WorkerOutcome>> run_worker(fetch::QueueAddress address, fetch::Options options,
                                                std::string worker,
                                                std::shared_ptr<LiveProgress> live,
                                                std::shared_ptr<WorkerControl> control,
                                                bool keep_records) {
  auto out = std::make_unique<WorkerOutcome>();
  Task<fetch::QueueSettings> reading = fetch::read_queue_settings(address);
  fetch::QueueSettings settings = co_await reading;
  settings.apply_to(options);
  auto* records = &out->fetched.records;
  fetch::Fetcher* running = nullptr;
  options.on_record = [records, live, &running, keep_records](const fetch::Record& r) {
    if (keep_records) records->push_back(r);
    if (live && running) live->update(running->progress());
  };
  fetch::Fetcher fetcher(std::move(options));
  running = &fetcher;
  fetch::RedisFrontierOptions fo;
  fo.worker = std::move(worker);
  // Kept for the summary: the loop thread is not the caller's, and a kernel's
  // process stderr is not the notebook's.
  fo.on_warning = [warnings = &out->warnings](const std::string& m) { warnings->push_back(m); };
  fetch::RedisFrontier frontier(address, fo);
  {
    Attached attached(*control, fetcher);
    if (control->stop_requested) fetcher.stop();  // asked while the settings were read
    Task<fetch::Summary> run = fetcher.run(frontier);
    out->fetched.summary = co_await run;
  }
  out->worker = frontier.worker();
  out->counters = frontier.counters();
  co_return out;
}

// As to_python, the summary also with "worker", "finished" (the crawl was
// finished when this worker ended) and "worker_counters" (RedisFrontier's).
py::object worker_to_python(std::unique_ptr<WorkerOutcome> out) {
  const bool finished = out->fetched.summary.input_exhausted;
  py::tuple both = to_python(std::make_unique<FetchOutcome>(std::move(out->fetched)));
  auto summary = both[1].cast<py::dict>();
  summary["worker"] = to_str(out->worker);
  summary["finished"] = finished;
  const auto& c = out->counters;
  py::dict counters;
  counters["taken"] = c.taken;
  counters["recorded"] = c.recorded;
  counters["duplicates"] = c.duplicates;
  counters["deferred"] = c.deferred;
  counters["released"] = c.released;
  counters["leases_lost"] = c.leases_lost;
  counters["redis_errors"] = c.redis_errors;
  counters["confirmed"] = c.confirmed;
  counters["dropped"] = c.dropped;
  counters["bounced"] = c.bounced;
  counters["given_up"] = c.given_up;
  counters["not_delivered"] = c.not_delivered;
  summary["worker_counters"] = counters;
  py::list warnings;
  for (const std::string& w : out->warnings) warnings.append(to_str(w));
  summary["warnings"] = warnings;
  return both;
}

// Lines pushed by Python (corun.enqueue's iterable, in batches) for
// fetch::enqueue to read as a UrlSource: a short queue of batches, so the
// iterable is streamed, never held whole. Loop thread only: Python pushes
// through push_lines() tasks, which wait while the queue is full.
struct UrlFeed {
  static constexpr std::size_t kMaxQueued = 4;  // batches waiting for the producer
  std::deque<std::vector<std::string>> batches;
  bool closed = false;  // the caller has no more lines
  bool ended = false;   // the enqueue has ended (done, failed, cancelled): pushes refused
  Event data;           // batches or closed, for the source
  Event room;           // room in the queue or ended, for push_lines

  void end() {
    ended = true;
    room.set();
    data.set();
  }
};

class FeedSource final : public fetch::UrlSource {
 public:
  explicit FeedSource(std::shared_ptr<UrlFeed> feed) : feed_(std::move(feed)) {}
  Task<bool> next_batch(std::vector<std::string>& out) override {
    UrlFeed& f = *feed_;
    while (f.batches.empty() && !f.closed) {
      f.data.clear();
      co_await f.data.wait();
    }
    if (f.batches.empty()) co_return false;  // closed
    std::vector<std::string>& front = f.batches.front();
    out.insert(out.end(), std::make_move_iterator(front.begin()),
               std::make_move_iterator(front.end()));
    f.batches.pop_front();
    f.room.set();
    co_return !(f.closed && f.batches.empty());
  }

 private:
  std::shared_ptr<UrlFeed> feed_;
};

// True once the lines are queued; false when the enqueue has ended already
// (its own outcome says why).
Task<bool> push_lines(std::shared_ptr<UrlFeed> feed, std::vector<std::string> lines) {
  while (!feed->ended && feed->batches.size() >= UrlFeed::kMaxQueued) {
    feed->room.clear();
    co_await feed->room.wait();
  }
  if (feed->ended) co_return false;
  feed->batches.push_back(std::move(lines));
  feed->data.set();
  co_return true;
}

Task<void> close_feed(std::shared_ptr<UrlFeed> feed) {
  feed->closed = true;
  feed->data.set();
  co_return;
}

Task<fetch::EnqueueResult> run_enqueue(fetch::QueueAddress address, std::shared_ptr<UrlFeed> feed,
                                       std::optional<std::string> urls_file, std::string input_name,
                                       fetch::EnqueueOptions options) {
  std::exception_ptr failure;
  fetch::EnqueueResult result;
  try {
    if (urls_file) {
      Task<fetch::EnqueueResult> running =
          fetch::enqueue(address, std::filesystem::path(*urls_file), std::move(options));
      result = co_await running;
    } else {
      FeedSource source(feed);
      Task<fetch::EnqueueResult> running =
          fetch::enqueue(address, source, std::move(input_name), std::move(options));
      result = co_await running;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  feed->end();  // a push waiting for room learns the enqueue is over
  if (failure) std::rethrow_exception(failure);
  co_return result;
}

py::object enqueue_to_python(const fetch::EnqueueResult& r) {
  py::dict d;
  d["lines"] = r.lines;
  d["resumed"] = r.resumed;
  d["added"] = r.added;
  d["duplicates"] = r.duplicates;
  return d;
}

// Python's handle on a UrlFeed: each method is a Call on the loop thread.
class FeedHandle {
 public:
  explicit FeedHandle(std::shared_ptr<UrlFeed> feed) : feed_(std::move(feed)) {}
  Call push(std::vector<std::string> lines) {
    return make_call(push_lines(feed_, std::move(lines)), [](bool ok) { return py::bool_(ok); });
  }
  Call close() {
    return make_call(close_feed(feed_), [] { return py::none(); });
  }

 private:
  std::shared_ptr<UrlFeed> feed_;
};

// Sets the fetch::Options members named in `options`; returns how many names
// it used (the caller rejects a dict holding others).
std::size_t options_from_python(const py::dict& options, fetch::Options& o) {
  std::size_t used = 0;
  fetch::for_each_option(o, [&](const fetch::OptionField& f, auto& member) {
    py::str name(std::string(f.name));
    if (!options.contains(name)) return;
    option_from_python(options[name], member);
    ++used;
  });
  return used;
}

void bind_fetch_run(py::module_& m);
void bind_queue(py::module_& m);

}  // namespace

void bind_fetch(py::module_& m) {
  // The record's fields, (name, kind, in_report) in tuple order: corun.FetchRecord
  // is built from them.
  py::list fields;
  fetch::for_each_record_field([&](const auto& f) {
    fields.append(py::make_tuple(py::str(std::string(f.name)),
                                 py::str(std::string(fetch::field_kind_name(f.kind))),
                                 f.in_report));
  });
  m.attr("_record_fields") = py::tuple(fields);

  // fetch::kOptionFields, in order: (member, Python keyword, kind, role), kind
  // as option_kind() names it, role "run", "crawl" or "worker" (OptionRole).
  // corun.fetch's keywords and their checks are made from these.
  py::list option_fields;
  const fetch::Options defaults_of;
  fetch::for_each_option(defaults_of, [&](const fetch::OptionField& f, const auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    option_fields.append(py::make_tuple(std::string(f.name), std::string(f.python_keyword()),
                                        option_kind<T>(), role_name(f.role)));
  });
  m.attr("_fetch_options") = py::tuple(option_fields);

  // The defaults of a default-constructed fetch::Options, by member name
  // (durations in seconds, paths as str, max_body_size None when unset): corun.fetch's
  // keyword defaults come from here.
  py::dict defaults;
  fetch::for_each_option(defaults_of, [&](const fetch::OptionField& f, const auto& member) {
    defaults[py::str(std::string(f.name))] = option_to_python(member);
  });
  m.attr("_fetch_defaults") = defaults;

  // The numeric options' ranges (OptionField::range): {member: (integer, min,
  // max, zero, unit)}, min and max as int for whole-number fields; zero is
  // what 0 means when it is accepted outside [min, max], else "".
  py::dict ranges;
  for (const fetch::OptionField& f : fetch::kOptionFields) {
    if (!fetch::is_numeric(f)) continue;
    const fetch::NumericRange& r = f.range;
    auto bound = [&r](double v) {
      return r.integer ? py::object(py::int_(static_cast<long long>(v))) : py::float_(v);
    };
    ranges[py::str(std::string(f.name))] = py::make_tuple(r.integer, bound(r.min), bound(r.max),
                                                          std::string(r.zero), std::string(r.unit));
  }
  m.attr("_numeric_ranges") = ranges;
  bind_fetch_run(m);
  bind_queue(m);
}

namespace {

// corun.fetch's engine call and its live progress.
void bind_fetch_run(py::module_& m) {
  py::class_<LiveProgress, std::shared_ptr<LiveProgress>>(
      m, "_FetchProgress", "Live counters of a running fetch (for a progress display).")
      .def(py::init<>())
      .def("snapshot", &LiveProgress::snapshot,
           "(seen, done, failed, in_flight, bytes, total_hint or -1)");
  m.def(
      "_fetch",
      [](std::vector<std::string> urls, std::optional<std::string> urls_file,
         const py::dict& options, std::shared_ptr<LiveProgress> progress) {
        fetch::Options o;
        std::size_t used = options_from_python(options, o);
        if (used != options.size()) {
          throw py::type_error("_fetch(): options holds a name that is no fetch::Options member");
        }
        return make_call(
            run_fetch(std::move(urls), std::move(urls_file), std::move(o), std::move(progress)),
            &to_python);
      },
      py::arg("urls"), py::arg("urls_file"), py::arg("options"), py::arg("progress").none(true),
      "Runs a fetch: options maps fetch::Options member names to values (the others keep "
      "their defaults).");
}

// The shared crawl (docs/scale-out.md): the worker, the producer, the collector.
void bind_queue(py::module_& m) {
  m.attr("_queue_url_form") = std::string(fetch::kQueueUrlForm);
  m.attr("_queue_name_template") = std::string(fetch::kQueueNameTemplate);
  {
    const fetch::EnqueueOptions eo;
    py::dict d;
    d["high_water"] = eo.high_water;
    d["lease"] = std::chrono::duration<double>(eo.settings.lease).count();
    d["max_deliveries"] = eo.settings.max_deliveries;
    m.attr("_enqueue_defaults") = d;
  }
  m.def(
      "_check_queue_url", [](const std::string& url) { (void)queue_address(url); }, py::arg("url"),
      "Raises ValueError (naming the expected form) unless url is a queue URL.");
  py::class_<WorkerStop>(m, "_WorkerStop", "A queue worker's graceful stop.")
      .def("stop", &WorkerStop::stop,
           "Stops claiming, lets the transfers finish, hands back the rest (any thread).");
  m.def(
      "_fetch_worker",
      [](const std::string& queue, const py::dict& options, const std::string& worker,
         std::shared_ptr<LiveProgress> progress, bool records) {
        fetch::QueueAddress address = queue_address(queue);
        fetch::Options o;
        std::size_t used = options_from_python(options, o);
        if (used != options.size()) {
          throw py::type_error(
              "_fetch_worker(): options holds a name that is no fetch::Options member");
        }
        auto control = std::make_shared<WorkerControl>();
        Call call = make_call(run_worker(std::move(address), std::move(o), worker,
                                         std::move(progress), control, records),
                              &worker_to_python);
        return py::make_tuple(std::move(call), WorkerStop(control));
      },
      py::arg("queue"), py::arg("options"), py::arg("worker"), py::arg("progress").none(true),
      py::arg("records"),
      "A worker of the crawl at queue: (Call, _WorkerStop). options: the worker's own "
      "fetch::Options members (the crawl's settings come from Redis); records: False keeps "
      "no record (a long crawl's worker), only the summary.");
  py::class_<FeedHandle>(m, "_UrlFeed", "Lines for a running enqueue, pushed in batches.")
      .def("push", &FeedHandle::push, py::arg("lines"),
           "A Call: True once queued (waits while the queue is full), False once the enqueue "
           "has ended.")
      .def("close", &FeedHandle::close, "A Call: no more lines.");
  m.def(
      "_enqueue",
      [](const std::string& queue, std::optional<std::string> urls_file, std::string input_name,
         const py::dict& settings, std::string base_url, bool replace_settings,
         std::size_t high_water) {
        fetch::QueueAddress address = queue_address(queue);
        fetch::Options o;
        std::size_t used = options_from_python(settings, o);
        double lease = 60;
        if (settings.contains("lease")) {
          lease = settings["lease"].cast<double>();
          ++used;
        }
        int max_deliveries = 5;
        if (settings.contains("max_deliveries")) {
          max_deliveries = settings["max_deliveries"].cast<int>();
          ++used;
        }
        if (used != settings.size()) {
          throw py::type_error("_enqueue(): settings holds a name that is no crawl setting");
        }
        try {
          fetch::check_options(o);  // OptionsError -> ValueError, as the CLI's usage error
        } catch (...) {
          reraise_as_python();
        }
        fetch::EnqueueOptions eo;
        eo.settings = fetch::QueueSettings::from_options(o);
        eo.settings.lease = std::chrono::milliseconds(static_cast<long long>(lease * 1000));
        eo.settings.max_deliveries = max_deliveries;
        eo.replace_settings = replace_settings;
        eo.base_url = std::move(base_url);
        eo.high_water = high_water;
        auto feed = std::make_shared<UrlFeed>();
        Call call = make_call(run_enqueue(std::move(address), feed, std::move(urls_file),
                                          std::move(input_name), std::move(eo)),
                              &enqueue_to_python);
        return py::make_tuple(std::move(call), FeedHandle(feed));
      },
      py::arg("queue"), py::arg("urls_file").none(true), py::arg("input_name"), py::arg("settings"),
      py::arg("base_url"), py::arg("replace_settings"), py::arg("high_water"),
      "The producer of the crawl at queue: (Call, _UrlFeed). settings: the crawl's "
      "fetch::Options members, lease (seconds), max_deliveries.");
  m.def(
      "_collect",
      [](const std::string& queue, const std::string& report) {
        fetch::QueueAddress address = queue_address(queue);
        // What the collector met (Redis unreachable, reachable again), one line
        // each, as a worker's summary["warnings"]: written on the loop thread
        // while the collector runs, read once it has ended.
        auto warnings = std::make_shared<std::vector<std::string>>();
        fetch::CollectOptions co;
        co.on_warning = [warnings](const std::string& m) { warnings->push_back(m); };
        return make_call(fetch::collect(std::move(address), report, std::move(co)),
                         [warnings](fetch::CollectResult r) {
                           py::dict d;
                           d["written"] = r.written;
                           d["done"] = r.done;
                           d["failed"] = r.failed;
                           py::list w;
                           for (const std::string& m : *warnings) w.append(to_str(m));
                           d["warnings"] = w;
                           return d;
                         });
      },
      py::arg("queue"), py::arg("report"),
      "Writes the crawl's report to report as records arrive; ends when the crawl is finished. "
      "Its result: written, done, failed, warnings.");
}

}  // namespace

}  // namespace corun::python
