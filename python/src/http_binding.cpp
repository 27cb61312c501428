// corun.ClientSession's C++ half: a corun::http::ClientSession living on the
// loop thread (created there on first use, closed and destroyed there), and
// Response values handed to Python. The public Python classes (ClientSession,
// ClientResponse, the exceptions) are in python/corun/http.py and errors.py;
// they check argument types and call these.
#include <pybind11/stl.h>

#include <cerrno>
#include <cmath>
#include <corun/http/detail/request_checks.hpp>
#include <corun/http/session.hpp>
#include <unordered_map>

#include "backlog.hpp"
#include "bindings.hpp"
#include "runtime.hpp"
#include "utf8_str.hpp"

namespace corun::python {

namespace {

// Loop thread only (after the Python thread built it).
struct SessionBox {
  http::SessionOptions options;
  std::unique_ptr<http::ClientSession> session;
  std::uint64_t made_in = 0;  // fork_generation() of the process that made session
  bool closed = false;

  http::ClientSession& get() {
    if (closed) throw RuntimeError("Session is closed");
    leave_if_inherited();
    if (!session) {
      session = std::make_unique<http::ClientSession>(options);
      made_in = fork_generation();
    }
    return *session;
  }

  // The session a fork's parent made (as redis-py's pool after a fork): its
  // connections are the parent's sockets, its state the parent's loop's.
  // Closing it here would end the parent's TLS sessions under it, so this
  // process lets go of it untouched (its memory stays) and makes its own.
  void leave_if_inherited() {
    if (session && made_in != fork_generation()) {
      // NOLINTNEXTLINE(bugprone-unused-return-value): left on purpose
      static_cast<void>(session.release());
    }
  }
};

// A session's backlog bound, per transfer its limit lets run at once.
constexpr std::size_t kBacklogPerLimit = 4;
// More event loops than this having used a session: forget the idle backlogs.
constexpr std::size_t kPruneBacklogsAt = 16;

// (total, connect, sock_read) in seconds; None for no limit.
using TimeoutTuple =
    std::tuple<std::optional<double>, std::optional<double>, std::optional<double>>;

std::optional<std::chrono::milliseconds> to_ms(const std::optional<double>& seconds) {
  if (!seconds || *seconds <= 0) return std::nullopt;
  return std::chrono::milliseconds(std::llround(*seconds * 1000.0));  // > 0: rounds half up
}

http::Timeouts to_timeouts(const TimeoutTuple& t) {
  http::Timeouts out;
  out.total = to_ms(std::get<0>(t));
  out.connect = to_ms(std::get<1>(t));
  out.sock_read = to_ms(std::get<2>(t));
  return out;
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;

http::Headers to_headers(const HeaderList& list) {
  http::Headers h;
  for (const auto& [name, value] : list) h.add(name, value);
  return h;
}

py::list headers_to_python(const http::Headers& headers) {
  py::list out;
  for (auto field : headers) out.append(py::make_tuple(to_str(field.name), to_str(field.value)));
  return out;
}

// A response on its way to Python, with the backlog slot it holds until it
// gets there (or is dropped).
struct Delivered {
  std::unique_ptr<http::Response> response;
  Backlog::Slot slot;
};

// A ClientSession's backlogs, one per asyncio loop its requests are awaited
// in (GIL held). Per loop, so that a loop that cannot take its responses (its
// thread blocked in corun.run's portal, say) holds back only its own requests,
// never another loop's; a blocking call (get_sync: wait()) takes no slot, as
// its caller takes the response when it arrives.
class Backlogs {
 public:
  explicit Backlogs(int bound) : bound_(bound) {}
  int bound() const { return bound_; }

  std::shared_ptr<Backlog> for_loop(PyObject* loop) {
    if (made_in_ != fork_generation()) {
      // A fork's child: the parent's slots are held by requests that will
      // never finish here, and a loop here may get a parent loop's address.
      by_loop_.clear();
      made_in_ = fork_generation();
    }
    auto it = by_loop_.find(loop);
    if (it != by_loop_.end()) return it->second;
    if (by_loop_.size() >= kPruneBacklogsAt) {
      // Loops come and go: forget the backlogs no request holds (only this
      // map refers to them, and only it hands them out, under the GIL). A new
      // loop at a dead one's address may get its backlog: its slots all came
      // back when that loop's undelivered responses were dropped.
      std::erase_if(by_loop_, [](const auto& e) { return e.second.use_count() == 1; });
    }
    auto b = std::make_shared<Backlog>(bound_);
    by_loop_.emplace(loop, b);
    return b;
  }
  int held(PyObject* loop) const {
    if (made_in_ != fork_generation()) return 0;
    auto it = by_loop_.find(loop);
    return it == by_loop_.end() ? 0 : it->second->held();
  }
  std::vector<std::shared_ptr<Backlog>> all() const {
    std::vector<std::shared_ptr<Backlog>> out;
    if (made_in_ != fork_generation()) return out;  // the parent's (for_loop)
    out.reserve(by_loop_.size());
    for (const auto& e : by_loop_) out.push_back(e.second);
    return out;
  }

 private:
  int bound_;
  std::uint64_t made_in_ = fork_generation();
  std::unordered_map<PyObject*, std::shared_ptr<Backlog>> by_loop_;  // compared, not owned
};

// The backlog a request takes its slot from: set when it is started (GIL held,
// before it is submitted to the loop thread), read there when it runs. Null: none.
struct BacklogChoice {
  std::shared_ptr<Backlog> backlog;
};

// A request, on the loop thread, once it holds its backlog slot. Its frame (the
// options, the Response, the awaiters: about 1.3 KB) is made then, so that the
// requests waiting for a slot (all but a few hundred of a gather's thousands)
// are the small frames of run_request only. options: null for the session's
// defaults (a plain get()).
Task<Delivered> perform_request(std::shared_ptr<SessionBox> box, Backlog::Slot slot,
                                std::string method, std::string url,
                                std::unique_ptr<http::RequestOptions> options) {
  http::ClientSession& session = box->get();
  // Not `options ? std::move(*options) : RequestOptions{}` as co_await's
  // operand: GCC 12's coroutine code then moved from *options even when it was
  // null (a crash on the loop thread for every plain get()).
  http::RequestOptions o;
  if (options) o = std::move(*options);
  http::Response r = co_await session.request(std::move(method), std::move(url), std::move(o));
  co_return Delivered{std::make_unique<http::Response>(std::move(r)), std::move(slot)};
}

// What a request's Call holds until it is started: its arguments only, in a
// frame small enough for corun's frame pool (detail/pool.hpp). The Python
// thread makes one per session.get(), all of them before the first response
// when a gather starts thousands; perform_request's 1.3 KB frame, above the
// pool's size classes, cost it a trip through malloc's slow path and fresh
// pages each (bench/README.md, "Sitting 20"). On the loop thread it waits here
// for its backlog slot: made for every waiting request, the large frames took
// the loop thread's heap to 16 MB in 6 KB steps (bench/README.md, "Sitting 23").
Task<Delivered> run_request(std::shared_ptr<SessionBox> box, std::shared_ptr<BacklogChoice> choice,
                            std::string method, std::string url,
                            std::unique_ptr<http::RequestOptions> options) {
  Backlog::Slot slot;
  if (std::shared_ptr<Backlog> backlog = choice ? std::move(choice->backlog) : nullptr) {
    Task<Backlog::Slot> taking = backlog->take();
    slot = co_await taking;
  }
  Task<Delivered> request = perform_request(std::move(box), std::move(slot), std::move(method),
                                            std::move(url), std::move(options));
  co_return co_await std::move(request);
}

// make_call's convert for a request: the Response as a Python _Response. Its
// slot is given back here, on the thread that takes the response.
py::object response_to_python(Delivered d) {
  d.slot.give_back();
  return py::cast(std::shared_ptr<http::Response>(std::move(d.response)));
}

Task<> close_session(std::shared_ptr<SessionBox> box,
                     std::vector<std::shared_ptr<Backlog>> backlogs) {
  box->closed = true;
  box->leave_if_inherited();
  // Requests waiting for a slot go on, and fail at once ("Session is closed").
  for (const auto& b : backlogs) b->open();
  if (box->session) co_await box->session->close();
}

class PySession {
 public:
  explicit PySession(http::SessionOptions options)
      : box_(std::make_shared<SessionBox>()),
        jar_(std::make_shared<http::CookieJar>()),
        backlogs_(options.limit == 0 ? nullptr
                                     : std::make_shared<Backlogs>(backlog_bound(options.limit))) {
    box_->options = std::move(options);
    // A jar with locks: Python reads it from its own thread while the loop
    // thread's transfers use it.
    box_->options.shared_cookie_jar = jar_;
  }
  PySession(const PySession&) = delete;
  PySession& operator=(const PySession&) = delete;
  // The session belongs to the loop thread: closed and destroyed there.
  ~PySession() {
    post_to_loop_or_leak([box = std::move(box_), backlogs = all_backlogs()]() mutable {
      box->leave_if_inherited();
      // No session yet: no request has got past its slot, so no slot is held
      // and none waits for one. A closed one opened its backlogs then.
      if (box->session && !box->session->closed()) {
        corun::create_task(close_session(std::move(box), std::move(backlogs)));
      }
    });
  }

  Call request(std::string method, std::string url, const std::optional<HeaderList>& headers,
               std::optional<py::bytes> data, const std::optional<TimeoutTuple>& timeout,
               bool allow_redirects, std::optional<int> max_redirects,
               std::optional<bool> raise_for_status, std::optional<std::size_t> max_body_size,
               const std::optional<HeaderList>& cookies, std::optional<std::string> proxy) {
    http::RequestOptions o;
    o.proxy = std::move(proxy);
    if (cookies) o.cookies = *cookies;
    if (headers) o.headers = to_headers(*headers);
    if (data) o.data = std::string(*data);
    if (timeout) o.timeout = to_timeouts(*timeout);
    o.allow_redirects = allow_redirects;
    o.max_redirects = max_redirects;
    o.raise_for_status = raise_for_status;
    o.max_body_size = max_body_size;
    return request_call(std::move(method), std::move(url),
                        std::make_unique<http::RequestOptions>(std::move(o)));
  }

  // A plain GET with the session's options (aiohttp's `session.get(url)` with
  // no keyword): the same work as request("GET", url, None, ...), without
  // converting nine absent arguments.
  Call get(std::string url) { return request_call("GET", std::move(url), nullptr); }

  Call close() {
    return make_call(close_session(box_, all_backlogs()), [] { return py::none(); });
  }

  // (bound, slots held) of loop's backlog: for tests. (0, 0) without a bound
  // (limit=0).
  std::pair<int, int> backlog_state(const py::object& loop) const {
    if (!backlogs_) return {0, 0};
    return {backlogs_->bound(), backlogs_->held(loop.ptr())};
  }

  // (name, value, domain, path, secure, http_only, expires) of every cookie.
  py::list cookies() const {
    py::list out;
    for (const http::Cookie& c : jar_->cookies()) {
      out.append(py::make_tuple(to_str(c.name), to_str(c.value), to_str(c.domain), to_str(c.path),
                                c.secure, c.http_only, c.expires));
    }
    return out;
  }
  void clear_cookies() { jar_->clear(); }
  void add_cookie(std::string name, std::string value, std::string domain, std::string path,
                  bool secure, bool http_only, long long expires) {
    http::Cookie c;
    c.name = std::move(name);
    c.value = std::move(value);
    c.domain = std::move(domain);
    c.path = std::move(path);
    c.secure = secure;
    c.http_only = http_only;
    c.expires = expires;
    jar_->add(c);  // std::invalid_argument: ValueError
  }

 private:
  std::shared_ptr<SessionBox> box_;
  std::shared_ptr<http::CookieJar> jar_;
  // Requests taken up and not yet handed to Python, per asyncio loop
  // (Backlogs): kBacklogPerLimit times the transfers in flight (room for
  // finished responses while Python takes the last batch); null, no bound,
  // without a limit.
  std::shared_ptr<Backlogs> backlogs_;

  static int backlog_bound(std::size_t limit) {
    constexpr std::size_t kMax = 1 << 30;
    return static_cast<int>(std::min(limit, kMax / kBacklogPerLimit) * kBacklogPerLimit);
  }

  Call request_call(std::string method, std::string url, std::unique_ptr<http::RequestOptions> o) {
    auto choice = backlogs_ ? std::make_shared<BacklogChoice>() : nullptr;
    Call call =
        make_call(run_request(box_, choice, std::move(method), std::move(url), std::move(o)),
                  response_to_python);
    if (choice) {
      call.on_submit([backlogs = backlogs_, choice](PyObject* loop) {
        if (loop != nullptr) choice->backlog = backlogs->for_loop(loop);
      });
    }
    return call;
  }

  std::vector<std::shared_ptr<Backlog>> all_backlogs() const {
    return backlogs_ ? backlogs_->all() : std::vector<std::shared_ptr<Backlog>>{};
  }
};

}  // namespace

void bind_http(py::module_& m) {
  // What text() builds its str with, on any bytes: for tests (tests/python/unit/test_utf8_str.py).
  m.def("_str_from_utf8", [](const py::bytes& b) { return str_keeping_utf8(std::string_view(b)); });
  py::class_<PySession>(m, "_Session")
      .def(py::init([](std::size_t limit, std::size_t limit_per_host, const TimeoutTuple& timeout,
                       const HeaderList& headers, std::string user_agent, bool raise_for_status,
                       int max_redirects, bool verify_tls, std::optional<std::string> ca_file,
                       bool trust_env, std::optional<std::string> proxy,
                       std::optional<std::size_t> max_body_size, bool http2, bool auto_decompress) {
             http::SessionOptions o;
             o.limit = limit;
             o.limit_per_host = limit_per_host;
             o.timeout = to_timeouts(timeout);
             o.headers = to_headers(headers);
             o.user_agent = std::move(user_agent);
             o.raise_for_status = raise_for_status;
             o.max_redirects = max_redirects;
             o.verify_tls = verify_tls;
             if (ca_file) o.ca_file = *ca_file;
             // A CA file that cannot serve is refused here, as Python's
             // ssl.create_default_context(cafile=) does (OSError: the file cannot be
             // read; ValueError: it holds no certificate), not at the first request.
             if (verify_tls && ca_file && !ca_file->empty()) {
               if (auto problem = http::detail::ca_file_problem(*ca_file)) {
                 if (problem->error != 0) {
                   errno = problem->error;
                   PyErr_SetFromErrnoWithFilename(PyExc_OSError, ca_file->c_str());
                   throw py::error_already_set();
                 }
                 throw py::value_error(problem->message);
               }
             }
             o.trust_env = trust_env;
             if (proxy) o.proxy = *proxy;
             o.max_body_size = max_body_size;
             o.http2 = http2;
             o.auto_decompress = auto_decompress;
             return std::make_unique<PySession>(std::move(o));
           }),
           py::arg("limit"), py::arg("limit_per_host"), py::arg("timeout"), py::arg("headers"),
           py::arg("user_agent"), py::arg("raise_for_status"), py::arg("max_redirects"),
           py::arg("verify_tls"), py::arg("ca_file"), py::arg("trust_env"), py::arg("proxy"),
           py::arg("max_body_size"), py::arg("http2"), py::arg("auto_decompress"))
      .def("request", &PySession::request, py::arg("method"), py::arg("url"), py::arg("headers"),
           py::arg("data"), py::arg("timeout"), py::arg("allow_redirects"),
           py::arg("max_redirects"), py::arg("raise_for_status"), py::arg("max_body_size"),
           py::arg("cookies"), py::arg("proxy"))
      .def("get", &PySession::get, py::arg("url"))
      .def("close", &PySession::close)
      .def("cookies", &PySession::cookies)
      .def("clear_cookies", &PySession::clear_cookies)
      .def("add_cookie", &PySession::add_cookie, py::arg("name"), py::arg("value"),
           py::arg("domain"), py::arg("path"), py::arg("secure"), py::arg("http_only"),
           py::arg("expires"))
      .def("_backlog_state", &PySession::backlog_state, py::arg("loop"));

  using R = http::Response;
  py::class_<R, std::shared_ptr<R>>(m, "_Response")
      .def_property_readonly("status", &R::status)
      .def_property_readonly("reason", [](const R& r) { return to_str(r.reason()); })
      .def_property_readonly("method", [](const R& r) { return to_str(r.method()); })
      .def_property_readonly("url", [](const R& r) { return to_str(r.url()); })
      .def_property_readonly("real_url", [](const R& r) { return to_str(r.real_url()); })
      .def_property_readonly("version", [](const R& r) { return std::string(r.version()); })
      .def_property_readonly("body_size", &R::body_size)
      .def("headers", [](const R& r) { return headers_to_python(r.headers()); })
      .def("history",
           [](const R& r) {
             py::list out;
             for (const R& h : r.history()) out.append(py::cast(std::make_shared<R>(h)));
             return out;
           })
      .def("content_type", &R::content_type)
      .def("charset", &R::charset)
      .def("body", [](const R& r) { return py::bytes(r.read()); })
      .def("sniff",
           [](const R& r) {
             text::SniffResult s = r.sniff_encoding();
             return py::make_tuple(std::string(text::name(s.encoding)),
                                   std::string(text::to_string(s.source)));
           })
      .def(
          "text",
          [](const R& r, const std::string& encoding, const std::string& errors) {
            text::Errors mode = errors == "strict" ? text::Errors::strict : text::Errors::replace;
            std::string out;
            try {
              out = without_gil([&] { return r.text(encoding, mode); });
            } catch (const text::DecodeError& e) {
              // As bytes.decode's: the error carries the input (the body), so
              // e.object[e.start:e.end] is the byte that could not be decoded.
              raise_exception_object(
                  py::module_::import("builtins")
                      .attr("UnicodeDecodeError")(std::string(text::name(e.encoding())),
                                                  py::bytes(r.read()), e.offset(), e.offset() + 1,
                                                  "invalid byte sequence"));
            } catch (...) {
              reraise_as_python();
            }
            return str_keeping_utf8(out);
          },
          py::arg("encoding"), py::arg("errors"))
      .def("raise_for_status", [](const R& r) {
        try {
          r.raise_for_status();
        } catch (...) {
          reraise_as_python();
        }
      });
}

}  // namespace corun::python
