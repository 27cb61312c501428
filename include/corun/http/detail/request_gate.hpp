// corun::http internals: the session's admission gate, the one owner of
// SessionOptions::limit and limit_per_host (aiohttp's TCPConnector limits). A
// request holds a Permit while its transfer runs; over HTTP/2 a permit is a
// stream, so the limits bound requests, not connections (libcurl's connection
// caps stay only as a backstop on connections).
//
// Fairness: a host's waiters are served in arrival order; when the total limit
// frees a slot, it goes to the oldest waiter among the hosts below their own
// limit, so a host at its limit never holds up another host's requests.
//
// Cancellation: a waiter cancelled while waiting leaves the queue; one cancelled
// after a slot was handed to it (before it resumed) passes the slot on. A Permit
// gives its slot back when destroyed. Loop-thread only.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "corun/core/detail/wait_list.hpp"

namespace corun::http::detail {

class RequestGate {
 public:
  // 0: no limit.
  RequestGate(std::size_t limit, std::size_t limit_per_host);
  RequestGate(const RequestGate&) = delete;
  RequestGate& operator=(const RequestGate&) = delete;
  ~RequestGate() = default;

  struct Host;

  // A slot held: given back by the destructor. Move-only.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept
        : gate_(std::exchange(other.gate_, nullptr)), host_(other.host_) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        reset();
        gate_ = std::exchange(other.gate_, nullptr);
        host_ = other.host_;
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { reset(); }
    void reset() noexcept;
    explicit operator bool() const noexcept { return gate_ != nullptr; }

   private:
    friend class RequestGate;
    Permit(RequestGate* gate, Host* host) noexcept : gate_(gate), host_(host) {}
    RequestGate* gate_ = nullptr;
    Host* host_ = nullptr;
  };

  // `co_await gate.acquire(origin)` -> Permit. Keep the awaiter in a named
  // variable; its destructor cleans up a wait that never finished.
  class Acquire : public corun::detail::ListWaiter {
   public:
    Acquire(RequestGate& gate, Host* host) noexcept : gate_(gate), host_(host) {}
    Acquire(const Acquire&) = delete;
    Acquire& operator=(const Acquire&) = delete;
    ~Acquire() override;
    bool await_ready() noexcept;
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      seq_ = ++gate_.next_seq_;
      if (!wait_on(waiters_of(host_), h)) return false;
      gate_.on_queued(*host_);
      return true;
    }
    Permit await_resume();

   private:
    friend class RequestGate;
    static corun::detail::IntrusiveList& waiters_of(Host* host) noexcept;
    RequestGate& gate_;
    Host* host_;  // null once the slot is in a Permit
    std::uint64_t seq_ = 0;
    bool owned_ = false;  // a slot is counted for this waiter, not yet in a Permit
  };

  // origin: the host key (URL::origin()); ignored without a per-host limit.
  Acquire acquire(std::string_view origin);
  // True when acquire(origin) would wait.
  bool would_wait(std::string_view origin) const;

  // False: every request shares one queue, and acquire() ignores its origin.
  bool keys_by_host() const noexcept { return per_host_ != 0; }
  std::size_t in_flight() const noexcept { return total_; }
  std::size_t in_flight(std::string_view origin) const;
  std::size_t waiting() const noexcept { return waiting_; }
  std::size_t hosts() const noexcept { return hosts_.size(); }  // hosts tracked now

  struct Host {
    std::size_t active = 0;
    corun::detail::IntrusiveList waiters;
    std::uint64_t queued_seq = 0;  // its entry in ready_ (0: none)
    std::string origin;            // its key in hosts_
  };

 private:
  bool host_room(const Host& h) const noexcept { return per_host_ == 0 || h.active < per_host_; }
  bool total_room() const noexcept { return limit_ == 0 || total_ < limit_; }
  Host* host_for(std::string_view origin);
  const Host* find_host(std::string_view origin) const;
  void on_queued(Host& h);
  void release(Host* h) noexcept;
  void dispatch() noexcept;
  void serve_all() noexcept;  // no per-host limit: all_'s waiters, oldest first
  void tidy(Host* h) noexcept;

  std::size_t limit_;
  std::size_t per_host_;
  std::size_t total_ = 0;
  std::size_t waiting_ = 0;
  std::uint64_t next_seq_ = 0;
  Host all_;  // every request's host without a per-host limit
  std::unordered_map<std::string, Host> hosts_;
  // Hosts below their limit with waiters, by the arrival of their first waiter
  // (an entry can be older than its host's first waiter after a cancellation;
  // dispatch() puts it right). Keyed hosts only: all_ never enters it.
  std::set<std::pair<std::uint64_t, Host*>> ready_;
};

}  // namespace corun::http::detail
