// corun.fetch's C++ half: one corun::fetch::Fetcher run on the loop thread,
// its report records collected as they are written and handed to Python at the
// end, and, for a notebook's progress display, live counters Python reads
// while it runs. The public function (argument checks, FetchRecord,
// FetchResults, the display) is python/corun/fetch.py.
#include <pybind11/stl.h>

#include <corun/fetch/fetch.hpp>
#include <corun/fetch/record.hpp>
#include <corun/fetch/source.hpp>
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

// The fetch::Options members Python sets, by member name: the one list behind
// _fetch's options and _fetch_defaults (f(name, member) for each).
template <class Options, class F>
void for_each_option(Options& o, F&& f) {
  f("out_dir", o.out_dir);
  f("name_template", o.name_template);
  f("report", o.report);
  f("resume", o.resume);
  f("encoding", o.encoding);
  f("bom", o.bom);
  f("raw", o.raw);
  f("fsync", o.fsync);
  f("max_size", o.max_size);
  f("base_url", o.base_url);
  f("concurrency", o.concurrency);
  f("per_host", o.per_host);
  f("rate", o.rate);
  f("retries", o.retries);
  f("retry_delay", o.retry_delay);
  f("retry_max_delay", o.retry_max_delay);
  f("timeout", o.timeout);
  f("connect_timeout", o.connect_timeout);
  f("read_timeout", o.read_timeout);
  f("headers", o.headers);
  f("user_agent", o.user_agent);
  f("proxy", o.proxy);
  f("insecure", o.insecure);
  f("ca_file", o.ca_file);
  f("threads", o.threads);
  f("cookies", o.cookies);
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
py::object to_python(std::unique_ptr<FetchOutcome> out) {
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
  return py::make_tuple(records, summary);
}

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

  // The defaults of a default-constructed fetch::Options, by member name
  // (durations in seconds, paths as str, max_size None when unset): corun.fetch's
  // keyword defaults come from here.
  const fetch::Options defaults_of;
  py::dict defaults;
  for_each_option(defaults_of, [&](const char* name, const auto& member) {
    defaults[name] = option_to_python(member);
  });
  m.attr("_fetch_defaults") = defaults;

  // fetch::kNumericRanges: {field: (integer, min, max, zero, unit)}, min and
  // max as int for whole-number fields; zero is what 0 means when it is
  // accepted outside [min, max], else "".
  py::dict ranges;
  for (const fetch::NumericRange& r : fetch::kNumericRanges) {
    auto bound = [&r](double v) {
      return r.integer ? py::object(py::int_(static_cast<long long>(v))) : py::float_(v);
    };
    ranges[py::str(std::string(r.field))] = py::make_tuple(
        r.integer, bound(r.min), bound(r.max), std::string(r.zero), std::string(r.unit));
  }
  m.attr("_numeric_ranges") = ranges;
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
        std::size_t used = 0;
        for_each_option(o, [&](const char* name, auto& member) {
          if (!options.contains(name)) return;
          option_from_python(options[name], member);
          ++used;
        });
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

}  // namespace corun::python
