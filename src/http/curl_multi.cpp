// libcurl multi-socket engine over libuv (see include/corun/http/detail/curl_multi.hpp).
#include "corun/http/detail/curl_multi.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace corun::http::detail {

namespace {

constexpr std::size_t kMaxPooledHandles = 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

}  // namespace

// One uv_poll_t per open curl socket. When curl stops watching a socket (a
// keep-alive connection going idle) the watch is parked rather than closed:
// it keeps a read-only, unref'd registration, so reusing the connection costs
// no epoll_ctl ADD/DEL and no handle churn. It is closed when curl closes the
// socket (CURLOPT_CLOSESOCKETFUNCTION), before the descriptor can be reused.
struct CurlMulti::SocketWatch {
  uv_poll_t poll;  // first member: the uv handle pointer is the watch pointer
  CurlMulti* owner;
  curl_socket_t fd;
  int events = 0;       // what uv polls for now
  bool parked = false;  // curl does not watch it (idle connection)
  SocketWatch* prev = nullptr;
  SocketWatch* next = nullptr;
};

struct CurlMulti::Easy {
  CURL* handle = nullptr;
  TransferHandler* handler = nullptr;
  Easy* prev = nullptr;  // links in started_
  Easy* next = nullptr;
  bool started = false;          // added to the multi handle
  bool start_pending = false;    // in deferred_, to be added
  bool abort_pending = false;    // in deferred_, to be removed
  bool release_pending = false;  // return to the pool once removed
};

CurlMulti::CurlMulti(uv_loop_t* loop, MultiLimits limits) : loop_(loop) {
  global_init();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, limits.total_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limits.per_host);
  // Keep as many idle connections as may be open, so keep-alive survives bursts.
  long cache = limits.max_idle > 0 ? limits.max_idle : limits.total_connections;
  if (cache > 0) curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, cache);
}

CurlMulti::~CurlMulti() {
  // Transfers still running are dropped without on_done, and their handles freed:
  // their owners are going away and must not release them after this.
  for (Easy* e = started_; e != nullptr;) {
    Easy* next = e->next;
    bool freed_below = e->release_pending;  // also listed in deferred_
    remove_now(e);
    if (!freed_below) {
      curl_easy_cleanup(e->handle);
      delete e;
    }
    e = next;
  }
  for (Easy* e : deferred_) {
    if (e->release_pending || e->start_pending) {
      curl_easy_cleanup(e->handle);
      delete e;
    }
  }
  deferred_.clear();
  for (Easy* e : pool_) {
    curl_easy_cleanup(e->handle);
    delete e;
  }
  pool_.clear();
  curl_multi_cleanup(multi_);  // may still report sockets to remove
  while (watches_ != nullptr) close_watch(watches_);
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

CurlMulti::Easy* CurlMulti::easy_of(CURL* easy) noexcept {
  char* p = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
  return reinterpret_cast<Easy*>(p);
}

TransferHandler* CurlMulti::handler_of(CURL* easy) noexcept {
  Easy* e = easy_of(easy);
  return e != nullptr ? e->handler : nullptr;
}

CURL* CurlMulti::acquire() {
  Easy* e;
  if (!pool_.empty()) {
    e = pool_.back();
    pool_.pop_back();
  } else {
    e = new Easy;
    e->handle = curl_easy_init();
    if (e->handle == nullptr) {
      delete e;
      throw std::runtime_error("curl_easy_init failed");
    }
  }
  CURL* h = e->handle;
  curl_easy_setopt(h, CURLOPT_PRIVATE, e);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlMulti::on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, e);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CurlMulti::on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, e);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &CurlMulti::on_open_socket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::on_close_socket);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, this);
  return h;
}

void CurlMulti::recycle(Easy* e) noexcept {
  e->handler = nullptr;
  e->start_pending = e->abort_pending = e->release_pending = false;
  if (pool_.size() >= kMaxPooledHandles) {
    curl_easy_cleanup(e->handle);
    delete e;
    return;
  }
  // curl_easy_reset does not free the file list CURLOPT_COOKIEFILE queued (libcurl
  // 7.88; ASan saw one leak per request with a cookie jar): drop it first. With a
  // shared jar this leaves the jar's cookies alone.
  curl_easy_setopt(e->handle, CURLOPT_COOKIEFILE, static_cast<char*>(nullptr));
  curl_easy_reset(e->handle);
  pool_.push_back(e);
}

void CurlMulti::release(CURL* easy) noexcept {
  if (easy == nullptr) return;
  Easy* e = easy_of(easy);
  abort(easy);
  if (e->abort_pending) {
    e->release_pending = true;  // removed (and then recycled) once curl returns
    return;
  }
  recycle(e);
}

void CurlMulti::start(CURL* easy, TransferHandler* handler) {
  Easy* e = easy_of(easy);
  if (e->started || e->start_pending) throw std::logic_error("transfer already started");
  e->handler = handler;
  if (in_curl_ > 0) {
    e->start_pending = true;
    deferred_.push_back(e);
    ++active_;
    return;
  }
  add_now(e);
}

void CurlMulti::add_now(Easy* e) {
  CURLMcode rc = curl_multi_add_handle(multi_, e->handle);
  if (rc != CURLM_OK) {
    if (e->start_pending) --active_;
    e->start_pending = false;
    throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  }
  if (!e->start_pending) ++active_;
  e->start_pending = false;
  e->started = true;
  e->prev = nullptr;
  e->next = started_;
  if (started_ != nullptr) started_->prev = e;
  started_ = e;
}

void CurlMulti::remove_now(Easy* e) noexcept {
  curl_multi_remove_handle(multi_, e->handle);
  e->started = false;
  e->abort_pending = false;
  if (e->prev != nullptr)
    e->prev->next = e->next;
  else
    started_ = e->next;
  if (e->next != nullptr) e->next->prev = e->prev;
  e->prev = e->next = nullptr;
  --active_;
}

void CurlMulti::abort(CURL* easy) noexcept {
  Easy* e = easy_of(easy);
  if (e == nullptr) return;
  if (e->start_pending) {  // never reached curl
    e->start_pending = false;
    --active_;
    std::erase(deferred_, e);
    e->handler = nullptr;
    return;
  }
  if (!e->started || e->abort_pending) return;
  e->handler = nullptr;  // no more events, whatever curl still delivers
  if (in_curl_ > 0) {
    e->abort_pending = true;
    deferred_.push_back(e);
    return;
  }
  remove_now(e);
}

int CurlMulti::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlMulti*>(userp);
  auto* watch = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (watch != nullptr) {
      curl_multi_assign(self->multi_, fd, nullptr);
      // Only sockets curl opened and closes through our callbacks can be parked;
      // others (the threaded resolver's socketpair) are closed behind our back.
      if (self->owns(fd)) {
        self->park_watch(watch);
      } else {
        self->close_watch(watch);
      }
    }
    return 0;
  }
  if (watch == nullptr && static_cast<std::size_t>(fd) < self->by_fd_.size()) {
    watch = self->by_fd_[static_cast<std::size_t>(fd)];
    if (watch != nullptr) {  // an idle connection in use again
      watch->parked = false;
      uv_ref(reinterpret_cast<uv_handle_t*>(&watch->poll));
      curl_multi_assign(self->multi_, fd, watch);
    }
  }
  if (watch == nullptr) {
    watch = new SocketWatch;
    watch->owner = self;
    watch->fd = fd;
    if (uv_poll_init_socket(self->loop_, &watch->poll, fd) != 0) {
      delete watch;
      return -1;
    }
    watch->poll.data = watch;
    watch->next = self->watches_;
    if (self->watches_ != nullptr) self->watches_->prev = watch;
    self->watches_ = watch;
    ++self->watch_count_;
    if (static_cast<std::size_t>(fd) >= self->by_fd_.size()) {
      self->by_fd_.resize(static_cast<std::size_t>(fd) + 64, nullptr);
    }
    self->by_fd_[static_cast<std::size_t>(fd)] = watch;
    curl_multi_assign(self->multi_, fd, watch);
  }
  int events = 0;
  if ((what & CURL_POLL_IN) != 0) events |= UV_READABLE;
  if ((what & CURL_POLL_OUT) != 0) events |= UV_WRITABLE;
  self->set_events(watch, events);
  return 0;
}

void CurlMulti::set_events(SocketWatch* watch, int events) noexcept {
  if (events == watch->events) return;
  watch->events = events;
  if (events == 0) {
    uv_poll_stop(&watch->poll);
  } else {
    uv_poll_start(&watch->poll, events, &CurlMulti::on_poll);
  }
}

void CurlMulti::park_watch(SocketWatch* watch) noexcept {
  // Only a socket curl was reading from is parked, as it is (no epoll change):
  // that is a connection going idle after a response. curl 7.88 closes a socket
  // whose connect failed or timed out without the close callback and tells us
  // REMOVE afterwards; changing the registration of that closed descriptor would
  // make libuv abort (epoll_ctl EBADF), so any other socket's watch is closed.
  if (watch->events != UV_READABLE) {
    close_watch(watch);
    return;
  }
  watch->parked = true;
  uv_unref(reinterpret_cast<uv_handle_t*>(&watch->poll));
}

bool CurlMulti::owns(curl_socket_t fd) const noexcept {
  return fd >= 0 && static_cast<std::size_t>(fd) < owned_.size() &&
         owned_[static_cast<std::size_t>(fd)] != 0;
}

curl_socket_t CurlMulti::on_open_socket(void* clientp, curlsocktype purpose,
                                        curl_sockaddr* address) {
  auto* self = static_cast<CurlMulti*>(clientp);
  (void)purpose;
  curl_socket_t fd = ::socket(address->family, address->socktype, address->protocol);
  // A watch still registered under this number belongs to a socket curl closed
  // without the close callback (see park_watch): libuv would modify a registration
  // the kernel already dropped. Close it before the new socket is watched.
  if (fd >= 0 && static_cast<std::size_t>(fd) < self->by_fd_.size()) {
    if (SocketWatch* stale = self->by_fd_[static_cast<std::size_t>(fd)]) self->close_watch(stale);
  }
  if (fd >= 0) {
    if (static_cast<std::size_t>(fd) >= self->owned_.size()) {
      self->owned_.resize(static_cast<std::size_t>(fd) + 64, 0);
    }
    self->owned_[static_cast<std::size_t>(fd)] = 1;
  }
  return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

int CurlMulti::on_close_socket(void* clientp, curl_socket_t fd) {
  auto* self = static_cast<CurlMulti*>(clientp);
  if (self->owns(fd)) self->owned_[static_cast<std::size_t>(fd)] = 0;
  if (static_cast<std::size_t>(fd) < self->by_fd_.size()) {
    if (SocketWatch* watch = self->by_fd_[static_cast<std::size_t>(fd)]) self->close_watch(watch);
  }
  return ::close(fd);
}

void CurlMulti::close_watch(SocketWatch* watch) noexcept {
  if (watch->prev != nullptr)
    watch->prev->next = watch->next;
  else
    watches_ = watch->next;
  if (watch->next != nullptr) watch->next->prev = watch->prev;
  --watch_count_;
  if (static_cast<std::size_t>(watch->fd) < by_fd_.size() &&
      by_fd_[static_cast<std::size_t>(watch->fd)] == watch) {
    by_fd_[static_cast<std::size_t>(watch->fd)] = nullptr;
  }
  watch->owner = nullptr;
  uv_poll_stop(&watch->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
           [](uv_handle_t* h) { delete static_cast<SocketWatch*>(h->data); });
}

int CurlMulti::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_);
  } else {
    uv_timer_start(self->timer_, &CurlMulti::on_uv_timer, static_cast<std::uint64_t>(timeout_ms),
                   0);
  }
  return 0;
}

void CurlMulti::on_uv_timer(uv_timer_t* timer) {
  static_cast<CurlMulti*>(timer->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMulti::on_poll(uv_poll_t* poll, int status, int events) {
  auto* watch = static_cast<SocketWatch*>(poll->data);
  if (watch->owner == nullptr) return;
  if (watch->parked) {
    // An idle connection became readable: the server closed it (or sent junk).
    // curl finds out when it next checks the connection; stop polling until then.
    watch->owner->set_events(watch, 0);
    return;
  }
  int flags = 0;
  if (status < 0) {
    // An error on the socket (a reset: libuv has stopped the poll). With the
    // error bit alone libcurl fails with its generic "select/poll returned
    // error"; with the others too it reads or writes, and reports what the
    // socket says ("Connection reset by peer"), as curl does.
    flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
  } else {
    if ((events & UV_READABLE) != 0) flags |= CURL_CSELECT_IN;
    if ((events & UV_WRITABLE) != 0) flags |= CURL_CSELECT_OUT;
  }
  watch->owner->socket_action(watch->fd, flags);
}

void CurlMulti::socket_action(curl_socket_t fd, int flags) {
  int running = 0;
  ++in_curl_;
  curl_multi_socket_action(multi_, fd, flags, &running);
  --in_curl_;
  after_curl();
}

void CurlMulti::after_curl() {
  drain_finished();
  while (!deferred_.empty()) {
    std::vector<Easy*> work;
    work.swap(deferred_);
    for (Easy* e : work) {
      if (e->abort_pending) {
        remove_now(e);
        if (e->release_pending) recycle(e);
      } else if (e->start_pending) {
        try {
          add_now(e);
        } catch (const std::exception&) {
          // curl refused it (out of memory): report as a failed transfer.
          if (TransferHandler* h = e->handler) h->on_done(CURLE_OUT_OF_MEMORY);
        }
      }
    }
  }
}

void CurlMulti::drain_finished() {
  int left = 0;
  bool delivered = false;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Easy* e = easy_of(msg->easy_handle);
    CURLcode result = msg->data.result;
    if (e == nullptr || !e->started) continue;
    TransferHandler* handler = e->handler;
    bool release = e->release_pending;
    if (e->abort_pending) std::erase(deferred_, e);
    remove_now(e);
    if (release) {
      recycle(e);
    } else if (handler != nullptr) {
      handler->on_done(result);
      delivered = true;
    }
  }
  // A completion usually makes work ready for whoever drives the uv loop. When it
  // came from curl's timer (uv runs timers before it polls), uv would next block in
  // poll without knowing; uv_stop makes this uv_run iteration end without blocking.
  if (delivered) uv_stop(loop_);
}

std::size_t CurlMulti::on_write(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* e = static_cast<Easy*>(userp);
  std::size_t bytes = size * n;
  if (e->handler == nullptr) return 0;
  return e->handler->on_body(std::string_view(data, bytes)) ? bytes : 0;
}

void CurlMulti::call_before_send(CURL* easy) noexcept {
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &CurlMulti::on_prereq);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, easy_of(easy));
}

int CurlMulti::on_prereq(void* userp, char* /*remote_ip*/, char* /*local_ip*/, int /*remote_port*/,
                         int /*local_port*/) {
  auto* e = static_cast<Easy*>(userp);
  if (e->handler == nullptr || !e->handler->on_before_send()) return CURL_PREREQFUNC_ABORT;
  return CURL_PREREQFUNC_OK;
}

std::size_t CurlMulti::on_header(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* e = static_cast<Easy*>(userp);
  std::size_t bytes = size * n;
  if (e->handler == nullptr) return 0;
  e->handler->on_header_line(std::string_view(data, bytes));
  return bytes;
}

}  // namespace corun::http::detail
