// corun.ClientSession's C++ half: a corun::http::ClientSession living on the
// loop thread (created there on first use, closed and destroyed there), and
// Response values handed to Python. The public Python classes (ClientSession,
// ClientResponse, the exceptions) are in python/corun/http.py and errors.py;
// they check argument types and call these.
#include <pybind11/stl.h>

#include <cmath>
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
  bool closed = false;

  http::ClientSession& get() {
    if (closed) throw RuntimeError("Session is closed");
    if (!session) session = std::make_unique<http::ClientSession>(options);
    return *session;
  }
};

// A session's backlog bound, per transfer its limit lets run at once.
constexpr std::size_t kBacklogPerLimit = 4;
// More Python threads than this having used a session: forget idle backlogs.
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

Task<Delivered> run_request(std::shared_ptr<SessionBox> box, std::shared_ptr<Backlog> backlog,
                            std::string method, std::string url, http::RequestOptions options) {
  Backlog::Slot slot;
  if (backlog) {
    Task<Backlog::Slot> taking = backlog->take();
    slot = co_await taking;
  }
  http::ClientSession& session = box->get();
  http::Response r =
      co_await session.request(std::move(method), std::move(url), std::move(options));
  co_return Delivered{std::make_unique<http::Response>(std::move(r)), std::move(slot)};
}

// make_call's convert for a request: the Response as a Python _Response. Its
// slot is given back here, on the thread that takes the response.
py::object response_to_python(Delivered d) {
  d.slot.give_back();
  return py::cast(std::shared_ptr<http::Response>(std::move(d.response)));
}

using Backlogs = std::vector<std::shared_ptr<Backlog>>;

Task<> close_session(std::shared_ptr<SessionBox> box, Backlogs backlogs) {
  box->closed = true;
  // Requests waiting for a slot go on, and fail at once ("Session is closed").
  for (const auto& b : backlogs) b->open();
  if (box->session) co_await box->session->close();
}

class PySession {
 public:
  explicit PySession(http::SessionOptions options)
      : box_(std::make_shared<SessionBox>()),
        jar_(std::make_shared<http::CookieJar>()),
        bound_(backlog_bound(options.limit)) {
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
      for (const auto& b : backlogs) b->open();
      if (box->session && !box->session->closed()) {
        corun::create_task(close_session(std::move(box), std::move(backlogs)));
      }
    });
  }

  Call request(std::string method, std::string url, const std::optional<HeaderList>& headers,
               std::optional<py::bytes> data, const std::optional<TimeoutTuple>& timeout,
               bool allow_redirects, std::optional<int> max_redirects,
               std::optional<bool> raise_for_status, std::optional<std::size_t> max_body_size,
               const std::optional<HeaderList>& cookies, bool blocking) {
    http::RequestOptions o;
    if (cookies) o.cookies = *cookies;
    if (headers) o.headers = to_headers(*headers);
    if (data) o.data = std::string(*data);
    if (timeout) o.timeout = to_timeouts(*timeout);
    o.allow_redirects = allow_redirects;
    o.max_redirects = max_redirects;
    o.raise_for_status = raise_for_status;
    o.max_body_size = max_body_size;
    return make_call(run_request(box_, blocking ? nullptr : backlog_here(), std::move(method),
                                 std::move(url), std::move(o)),
                     response_to_python);
  }

  // A plain GET with the session's options (aiohttp's `session.get(url)` with
  // no keyword): the same work as request("GET", url, None, ...), without
  // converting nine absent arguments.
  Call get(std::string url) {
    return make_call(
        run_request(box_, backlog_here(), "GET", std::move(url), http::RequestOptions{}),
        response_to_python);
  }

  Call close() {
    return make_call(close_session(box_, all_backlogs()), [] { return py::none(); });
  }

  // (bound, slots held) of this thread's backlog: for tests. (0, 0) without a
  // bound (limit=0).
  std::pair<int, int> backlog_state() const {
    auto it = backlogs_.find(PyThread_get_thread_ident());
    return {bound_, it == backlogs_.end() ? 0 : it->second->held()};
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

 private:
  std::shared_ptr<SessionBox> box_;
  std::shared_ptr<http::CookieJar> jar_;
  // Requests taken up and not yet handed to Python, per Python thread (so per
  // event loop): kBacklogPerLimit times the transfers in flight (room for
  // finished responses while Python takes the last batch); 0, no bound,
  // without a limit. Per thread, so that a loop that stops taking its
  // responses (its thread blocked, e.g. in corun.run's portal or a blocking
  // call) holds back only its own requests, never another loop's. Blocking
  // calls take no slot: their caller takes the response as it arrives.
  int bound_;
  std::unordered_map<unsigned long, std::shared_ptr<Backlog>> backlogs_;  // GIL held

  static int backlog_bound(std::size_t limit) {
    constexpr std::size_t kMax = 1 << 30;
    return static_cast<int>(std::min(limit, kMax / kBacklogPerLimit) * kBacklogPerLimit);
  }

  // GIL held.
  std::shared_ptr<Backlog> backlog_here() {
    if (bound_ == 0) return nullptr;
    unsigned long thread = PyThread_get_thread_ident();
    auto it = backlogs_.find(thread);
    if (it != backlogs_.end()) return it->second;
    if (backlogs_.size() >= kPruneBacklogsAt) {
      // Threads come and go: forget the backlogs no request holds (only the
      // map refers to them, and only the map, under the GIL, hands them out).
      std::erase_if(backlogs_, [](const auto& e) { return e.second.use_count() == 1; });
    }
    auto b = std::make_shared<Backlog>(bound_);
    backlogs_.emplace(thread, b);
    return b;
  }

  Backlogs all_backlogs() const {
    Backlogs out;
    out.reserve(backlogs_.size());
    for (const auto& e : backlogs_) out.push_back(e.second);
    return out;
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
           py::arg("cookies"), py::arg("blocking") = false)
      .def("get", &PySession::get, py::arg("url"))
      .def("close", &PySession::close)
      .def("cookies", &PySession::cookies)
      .def("clear_cookies", &PySession::clear_cookies)
      .def("_backlog_state", &PySession::backlog_state);

  using R = http::Response;
  py::class_<R, std::shared_ptr<R>>(m, "_Response")
      .def_property_readonly("status", &R::status)
      .def_property_readonly("reason", [](const R& r) { return to_str(r.reason()); })
      .def_property_readonly("method", [](const R& r) { return to_str(r.method()); })
      .def_property_readonly("url", [](const R& r) { return to_str(r.url()); })
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
