// corun::fetch --rate: request starts per second per host, as RAII permits.
// (--per-host and the lane's share of -c are its session's limit_per_host and
// limit: the session owns connection limits, as aiohttp's connector does.)
//
// A lane asks admit(host) before each request to a host and holds the Permit
// until the request starts; the request's RequestOptions::before_start calls
// Permit::started(). A host has one turn: the permit holds it from admission
// to the start, so a host's requests start in the order they were admitted
// and at least 1/rate apart measured at the start itself, even when a request
// then waits in the session's gate (--per-host, -c) after its rate wait. A
// permit dropped before started() (failed, stopped, cancelled) passes the turn
// on without using the host's next start. The host table keeps an entry while
// a permit or a waiter uses it, or while its next start is still ahead; an
// entry past that goes away, so a crawl over a million hosts does not keep a
// million entries. Loop-thread only (one table per lane: with --rate all of a
// host's URLs go to one lane).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "corun/core/semaphore.hpp"
#include "corun/core/task.hpp"

namespace corun::fetch {

class HostAdmission {
 public:
  using Clock = std::chrono::steady_clock;
  // Sleeps d unless the run stops first; true if it stopped.
  using Pause = std::function<Task<bool>(Clock::duration)>;

  // rate <= 0: no rate (inactive).
  HostAdmission(double rate, Pause pause);
  HostAdmission(const HostAdmission&) = delete;
  HostAdmission& operator=(const HostAdmission&) = delete;

  bool active() const noexcept { return rate_ > 0; }

  class Permit {
   public:
    Permit(Permit&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)),
          key_(std::move(o.key_)),
          holds_turn_(std::exchange(o.holds_turn_, false)) {}
    Permit& operator=(Permit&&) = delete;
    Permit(const Permit&) = delete;
    ~Permit();

    // The request starts now: the host's next start is 1/rate from now, and
    // its turn passes to the next waiter. Once; later calls do nothing.
    void started() noexcept;

   private:
    friend class HostAdmission;
    Permit(HostAdmission* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    HostAdmission* owner_;
    std::string key_;
    bool holds_turn_ = false;
  };

  // Waits for the host's turn and its next start under --rate; nullopt if the
  // run stopped during the rate wait (nothing is held then).
  Task<std::optional<Permit>> admit(std::string host);

  // Entries in the host table.
  std::size_t hosts() const noexcept { return hosts_.size(); }

 private:
  struct Host {
    Semaphore turn{1};
    Clock::time_point next_start{};
    std::size_t users = 0;  // permits and waiters
  };
  void start(const std::string& key) noexcept;
  void leave(const std::string& key, bool release_turn) noexcept;

  double rate_;
  Pause pause_;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts_;
};

}  // namespace corun::fetch
