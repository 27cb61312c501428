// corun::http internals: one hop of a request (one HTTP exchange) as the
// CurlMulti engine's TransferHandler. It parses the response's header lines into
// a Response and sends the body to one of three sinks: the Response's buffer
// (bounded by max_body), the request's on_chunk callback, or a file (save_to).
// A Transfer lives in the request coroutine's frame; its destructor gives the
// easy handle back, which also stops a transfer still running (the cancellation
// path). Loop-thread only.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/http/detail/curl_errors.hpp"
#include "corun/http/detail/curl_multi.hpp"
#include "corun/http/detail/easy_options.hpp"
#include "corun/http/response.hpp"

namespace corun::http {

// Fills a Response's private fields (Response's friend).
struct ResponseBuilder {
  static int& status(Response& r) { return r.status_; }
  static int& version(Response& r) { return r.version_; }
  static std::string& reason(Response& r) { return r.reason_; }
  static std::string& method(Response& r) { return r.method_; }
  // url() and real_url() from the URL with its fragment, if any.
  static void set_url(Response& r, std::string_view url) {
    auto hash = url.find('#');
    r.url_.assign(url.substr(0, hash));
    if (hash == std::string_view::npos) {
      r.real_url_.clear();
    } else {
      r.real_url_.assign(url);
    }
  }
  static Headers& headers(Response& r) { return r.headers_; }
  static std::string& body(Response& r) { return r.body_; }
  static std::size_t& body_size(Response& r) { return r.body_size_; }
  static std::vector<Response>& history(Response& r) { return r.history_; }
};

namespace detail {

// The standard reason phrase of a status ("" when unknown): HTTP/2 sends none.
std::string_view standard_reason(int status) noexcept;
// 301, 302, 303, 307, 308: the statuses a session follows.
bool is_redirect(int status) noexcept;

class Transfer;

// A session's transfers in flight (an intrusive list), so close() can stop them.
struct TransferList {
  Transfer* head = nullptr;
};

class Transfer final : public TransferHandler {
 public:
  Transfer(TransferList& list, CurlMulti& multi, Response& resp);
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  // Settings, before the transfer starts.
  bool allow_redirects = true;  // a redirect's body is dropped, not the user's
  std::size_t max_body = std::numeric_limits<std::size_t>::max();
  const std::function<void(std::string_view)>* on_chunk = nullptr;
  const std::filesystem::path* save_to = nullptr;
  const std::function<void()>* before_send = nullptr;  // RequestOptions::before_send

  // The easy handle, from the engine's pool; given back by the destructor.
  CURL* easy = nullptr;
  // What the easy handle points at while it runs (see easy_options.hpp).
  EasyStorage storage;

  // Set by on_done (or stop()); the request awaits it.
  std::optional<Future<void>> done;
  CURLcode result = CURLE_OK;

  // Once started: fails the transfer with TimeoutError when nothing arrives for
  // sock_read once its connection is up (aiohttp's ClientTimeout.sock_read: the
  // longest silence while waiting for the response or its body; the connect is
  // timed by timeout.connect). Checked by a timer on `loop` that moves with
  // the data, not by libcurl's low-speed check, which averages over seconds.
  void watch_reads(Loop& loop, std::chrono::milliseconds sock_read);

  // Closes the save_to file; throws std::system_error if the last write failed.
  void finish_file();
  // Stops the transfer now and fails `done` with why (the session is closing).
  void stop(std::exception_ptr why) noexcept;
  // The failure as curl_errors.hpp reads it (after result != CURLE_OK).
  TransferFailure failure() const;
  Transfer* next_in_list() const noexcept { return next_; }
  const std::string& url() const noexcept { return resp_.url(); }

  void on_header_line(std::string_view line) override;
  bool on_body(std::string_view chunk) override;
  bool on_before_send() override;
  void on_done(CURLcode r) override;

 private:
  void start_body();
  void check_reads();
  bool to_callback(std::string_view chunk);
  bool to_file(std::string_view chunk);
  bool to_memory(std::string_view chunk);

  TransferList& list_;
  CurlMulti& multi_;
  Response& resp_;
  bool too_big_ = false;
  bool body_started_ = false;
  bool discard_body_ = false;
  std::FILE* file_ = nullptr;
  std::exception_ptr callback_error_;
  // watch_reads: the loop, the limit, when the transfer started and when data last came.
  Loop* read_loop_ = nullptr;
  std::chrono::milliseconds sock_read_{0};
  std::chrono::steady_clock::time_point started_{};
  std::chrono::steady_clock::time_point last_read_{};
  Handle read_timer_;
  Transfer* prev_ = nullptr;
  Transfer* next_ = nullptr;
};

}  // namespace detail
}  // namespace corun::http
