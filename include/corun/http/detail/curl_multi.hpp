// corun::http internals: libcurl's multi-socket interface driven by a libuv loop.
// One uv_poll_t per socket curl asks to watch, one uv_timer_t for curl's timeout,
// curl_multi_socket_action on every event, finished transfers drained with
// curl_multi_info_read. This is the engine under ClientSession (aiohttp's
// connector + protocol); it knows nothing of coroutines, so it can be driven by
// a bare uv_run loop in tests.
//
// Each uv_run iteration that delivers an on_done ends with uv_stop(), so the
// loop's owner gets control back before uv blocks in poll: run a bare uv loop as
// `while (uv_run(loop, UV_RUN_DEFAULT) != 0) {}`.
//
// Thread-safety: none; every call and every callback happens on the thread that
// runs the uv loop. Ownership: CurlMulti owns the CURLM handle, its pool of easy
// handles and its uv handles (closed, and freed in their close callbacks, by the
// destructor; the uv loop must still be open then and be run once more so the
// close callbacks can free them).
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace corun::http::detail {

// Receives the events of one transfer. Callbacks run inside curl (header, body)
// or right after it (done); none of them may call back into CurlMulti except
// start(), which is deferred until curl returns.
class TransferHandler {
 public:
  // One raw header line, CRLF included (curl's CURLOPT_HEADERFUNCTION).
  virtual void on_header_line(std::string_view line) = 0;
  // A piece of the (decoded) body. Return false to abort the transfer, which then
  // finishes with CURLE_WRITE_ERROR.
  virtual bool on_body(std::string_view chunk) = 0;
  // The connection is ready and the request is about to be sent (curl's
  // CURLOPT_PREREQFUNCTION, set by CurlMulti::call_before_send). Return false
  // to abort the transfer before a byte is sent: it finishes with
  // CURLE_ABORTED_BY_CALLBACK.
  virtual bool on_before_send() { return true; }
  // The transfer is over and already detached from the multi handle; the easy
  // handle still holds its CURLINFO until released. The handler may be destroyed
  // from here on.
  virtual void on_done(CURLcode result) = 0;

 protected:
  ~TransferHandler() = default;
};

struct MultiLimits {
  long total_connections = 100;  // CURLMOPT_MAX_TOTAL_CONNECTIONS (0 = no limit)
  long per_host = 0;             // CURLMOPT_MAX_HOST_CONNECTIONS (0 = no limit)
  // CURLMOPT_MAXCONNECTS: connections (in use or idle) kept in the cache; past it
  // the oldest idle one is closed. 0: total_connections (curl's default when that
  // is 0 too). Note that curl counts idle connections in total_connections as
  // well, and closes the oldest idle one to open a new one past that limit.
  long max_idle = 0;
};

class CurlMulti {
 public:
  CurlMulti(uv_loop_t* loop, MultiLimits limits);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  uv_loop_t* loop() const noexcept { return loop_; }

  // An easy handle from the pool, reset to defaults plus what every corun
  // transfer sets (NOSIGNAL, callbacks). Give it back with release().
  CURL* acquire();
  void release(CURL* easy) noexcept;

  // Starts a configured easy handle; the handler gets its events until on_done
  // or abort(). Called from inside a curl callback, the start is deferred until
  // curl returns. Throws std::runtime_error if curl refuses the handle.
  void start(CURL* easy, TransferHandler* handler);
  // Stops a started transfer at once (its connection is closed or returned to the
  // pool by curl); on_done is not called. No effect on a handle not started.
  void abort(CURL* easy) noexcept;

  // Transfers started and not yet done/aborted.
  std::size_t active() const noexcept { return active_; }
  // Sockets curl has open (connections in use or idle in its pool).
  std::size_t watched_sockets() const noexcept { return watch_count_; }

  // Makes curl call the handler's on_before_send() just before it sends the
  // request of this acquired handle.
  static void call_before_send(CURL* easy) noexcept;

  // The handler of a transfer, from inside curl callbacks.
  static TransferHandler* handler_of(CURL* easy) noexcept;

 private:
  struct SocketWatch;
  struct Easy;  // per pooled easy handle: its handler and list links (CURLOPT_PRIVATE)
  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_prereq(void* userp, char* remote_ip, char* local_ip, int remote_port,
                       int local_port);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* poll, int status, int events);
  static void on_uv_timer(uv_timer_t* timer);
  static std::size_t on_write(char* data, std::size_t size, std::size_t n, void* userp);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* userp);

  void socket_action(curl_socket_t fd, int flags);
  void after_curl();
  void drain_finished();
  void add_now(Easy* e);
  void remove_now(Easy* e) noexcept;
  void recycle(Easy* e) noexcept;
  void close_watch(SocketWatch* watch) noexcept;
  void park_watch(SocketWatch* watch) noexcept;
  void set_events(SocketWatch* watch, int events) noexcept;
  static int on_close_socket(void* clientp, curl_socket_t fd);
  static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address);
  bool owns(curl_socket_t fd) const noexcept;
  static Easy* easy_of(CURL* easy) noexcept;

  uv_loop_t* loop_;
  CURLM* multi_;
  uv_timer_t* timer_;               // heap: freed in its close callback
  SocketWatch* watches_ = nullptr;  // intrusive list of live watches
  std::size_t watch_count_ = 0;
  std::vector<SocketWatch*> by_fd_;   // open sockets' watches, parked ones included
  std::vector<unsigned char> owned_;  // fds curl opened through on_open_socket
  std::size_t active_ = 0;
  int in_curl_ = 0;          // > 0 while curl_multi_* runs (callbacks may be on the stack)
  Easy* started_ = nullptr;  // intrusive list of transfers added to the multi handle
  std::vector<Easy*> pool_;
  std::vector<Easy*> deferred_;  // starts and aborts asked for while curl was running
};

}  // namespace corun::http::detail
