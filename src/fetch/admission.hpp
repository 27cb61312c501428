// corun::fetch per-host admission: --per-host (requests in flight per host)
// and --rate (request starts per second per host), as RAII permits. A lane
// asks admit(host) before each request and holds the Permit until the
// response is in; the permit's destructor gives the slot back on every path
// (done, failed, stopped, cancelled). The host table keeps an entry while a
// permit or a waiter uses it; without --rate (whose next start time must be
// remembered) an unused entry goes away, so a crawl over a million hosts does
// not keep a million entries. Loop-thread only (one table per lane: with
// per-host limits all of a host's URLs go to one lane).
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

// A held Semaphore slot, given back by the destructor.
class SlotPermit {
 public:
  SlotPermit() = default;
  explicit SlotPermit(Semaphore& s) : sem_(&s) {}
  SlotPermit(SlotPermit&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
  SlotPermit& operator=(SlotPermit&& o) noexcept {
    if (this != &o) {
      reset();
      sem_ = std::exchange(o.sem_, nullptr);
    }
    return *this;
  }
  ~SlotPermit() { reset(); }
  void reset() noexcept {
    if (sem_ != nullptr) std::exchange(sem_, nullptr)->release();
  }

 private:
  Semaphore* sem_ = nullptr;
};

// Waits for a slot of s; the permit gives it back.
Task<SlotPermit> acquire_slot(Semaphore& s);

class HostAdmission {
 public:
  using Clock = std::chrono::steady_clock;
  // Sleeps d unless the run stops first; true if it stopped.
  using Pause = std::function<Task<bool>(Clock::duration)>;

  // per_host 0: no slot limit; rate <= 0: no rate.
  HostAdmission(std::size_t per_host, double rate, Pause pause);
  HostAdmission(const HostAdmission&) = delete;
  HostAdmission& operator=(const HostAdmission&) = delete;

  bool active() const noexcept { return per_host_ > 0 || rate_ > 0; }

  class Permit {
   public:
    Permit(Permit&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)),
          key_(std::move(o.key_)),
          holds_slot_(std::exchange(o.holds_slot_, false)) {}
    Permit& operator=(Permit&&) = delete;
    Permit(const Permit&) = delete;
    ~Permit();

   private:
    friend class HostAdmission;
    Permit(HostAdmission* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    HostAdmission* owner_;
    std::string key_;
    bool holds_slot_ = false;
  };

  // Waits for a slot of the host and its next start under --rate; nullopt if
  // the run stopped during the rate wait (nothing is held then).
  Task<std::optional<Permit>> admit(std::string host);

  // Entries in the host table.
  std::size_t hosts() const noexcept { return hosts_.size(); }

 private:
  struct Host {
    explicit Host(std::size_t per_host) : slots(per_host > 0 ? static_cast<int>(per_host) : 1) {}
    Semaphore slots;
    Clock::time_point next_start{};
    std::size_t users = 0;  // permits and waiters
  };
  void leave(const std::string& key, bool release_slot) noexcept;

  std::size_t per_host_;
  double rate_;
  Pause pause_;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts_;
};

}  // namespace corun::fetch
