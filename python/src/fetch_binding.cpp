// corun.fetch's C++ half: one corun::fetch::Fetcher run on the loop thread,
// its report records collected as they are written and handed to Python at the
// end. The public function (argument checks, FetchRecord, FetchResults) is in
// api.py.
#include <pybind11/stl.h>

#include <corun/fetch/fetch.hpp>
#include <corun/fetch/source.hpp>

#include "bindings.hpp"
#include "runtime.hpp"

namespace corun::python {

namespace {

struct FetchOutcome {
  fetch::Summary summary;
  std::vector<fetch::Record> records;
};

Task<std::unique_ptr<FetchOutcome>> run_fetch(std::vector<std::string> urls,
                                              std::optional<std::string> urls_file,
                                              fetch::Options options) {
  auto out = std::make_unique<FetchOutcome>();
  auto* records = &out->records;
  options.on_record = [records](const fetch::Record& r) { records->push_back(r); };
  std::unique_ptr<fetch::UrlSource> source;
  if (urls_file) {
    source = std::make_unique<fetch::FileSource>(*urls_file);
  } else {
    source = std::make_unique<fetch::ListSource>(std::move(urls));
  }
  fetch::Fetcher fetcher(std::move(options));
  out->summary = co_await fetcher.run(*source);
  co_return out;
}

py::object or_none(const std::string& s) {
  return s.empty() ? py::object(py::none()) : to_str(s);
}

// (records as tuples in report field order, summary as a dict)
py::object to_python(std::unique_ptr<FetchOutcome> out) {
  py::list records;
  for (const fetch::Record& r : out->records) {
    records.append(py::make_tuple(to_str(r.url), or_none(r.final_url),
                                  r.status == 0 ? py::object(py::none()) : py::int_(r.status),
                                  r.bytes, or_none(r.encoding), or_none(r.encoding_source),
                                  or_none(r.path), or_none(r.error), r.attempts, r.elapsed));
  }
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
  m.def(
      "_fetch",
      [](std::vector<std::string> urls, std::optional<std::string> urls_file, std::string out_dir,
         std::string name, std::string report, bool resume, std::string encoding, bool bom,
         bool raw, bool fsync, std::optional<std::size_t> max_size, std::string base_url,
         std::size_t concurrency, std::size_t per_host, double rate, int retries,
         double retry_delay, double retry_max_delay, double timeout, double connect_timeout,
         double read_timeout, std::vector<std::string> headers, std::string user_agent,
         std::string proxy, bool insecure, std::size_t threads, bool cookies) {
        fetch::Options o;
        o.out_dir = out_dir;
        o.name_template = std::move(name);
        o.report = report;
        o.resume = resume;
        o.encoding = std::move(encoding);
        o.bom = bom;
        o.raw = raw;
        o.fsync = fsync;
        o.max_size = max_size;
        o.base_url = std::move(base_url);
        o.concurrency = concurrency;
        o.per_host = per_host;
        o.rate = rate;
        o.retries = retries;
        o.retry_delay = fetch::Seconds(retry_delay);
        o.retry_max_delay = fetch::Seconds(retry_max_delay);
        o.timeout = fetch::Seconds(timeout);
        o.connect_timeout = fetch::Seconds(connect_timeout);
        o.read_timeout = fetch::Seconds(read_timeout);
        o.headers = std::move(headers);
        o.user_agent = std::move(user_agent);
        o.proxy = std::move(proxy);
        o.insecure = insecure;
        o.threads = threads;
        o.cookies = cookies;
        return make_call(run_fetch(std::move(urls), std::move(urls_file), std::move(o)),
                         &to_python);
      },
      py::arg("urls"), py::arg("urls_file"), py::arg("out_dir"), py::arg("name"), py::arg("report"),
      py::arg("resume"), py::arg("encoding"), py::arg("bom"), py::arg("raw"), py::arg("fsync"),
      py::arg("max_size"), py::arg("base_url"), py::arg("concurrency"), py::arg("per_host"),
      py::arg("rate"), py::arg("retries"), py::arg("retry_delay"), py::arg("retry_max_delay"),
      py::arg("timeout"), py::arg("connect_timeout"), py::arg("read_timeout"), py::arg("headers"),
      py::arg("user_agent"), py::arg("proxy"), py::arg("insecure"), py::arg("threads"), py::arg("cookies"));
}

}  // namespace corun::python
