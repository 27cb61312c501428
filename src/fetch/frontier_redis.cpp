// RedisFrontier: the worker side of the shared crawl (see
// include/corun/fetch/frontier_redis.hpp; the Lua steps: queue_scripts.hpp).
#include "corun/fetch/frontier_redis.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_set>

#include "corun/core/event.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/time.hpp"
#include "corun/fetch/fetch.hpp"
#include "corun/redis/connection.hpp"
#include "corun/redis/errors.hpp"
#include "queue_common.hpp"
#include "queue_scripts.hpp"

namespace corun::fetch {

namespace {

using Steady = std::chrono::steady_clock;

std::int64_t ticks(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Task<void> wait_event(Event* e) {
  co_await e->wait();
}

std::string default_worker_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return fmt::format("{}:{}:{:04x}", host, ::getpid(), rd() & 0xffffU);
}

// What the claim returned for an entry, kept while this worker holds it.
struct Held {
  std::string url, label, index, host, bucket, fp;
};

struct Outcome {
  enum class Kind : std::uint8_t { complete, defer, release } kind;
  std::string id;
  Held held;
  std::string attempts;
  std::string record;         // complete: the JSON line
  std::string elapsed, path;  // defer: carried to the retry (Work::elapsed, Work::path)
  bool ok = false;
  long long delay_ms = 0;
};

}  // namespace

struct RedisFrontier::Impl : std::enable_shared_from_this<RedisFrontier::Impl> {
  QueueAddress address;
  RedisFrontierOptions options;
  redis::Connection conn;
  QueueSettings settings;
  std::string worker;
  std::map<std::string, Held> held;  // entry id -> the URL leased
  std::deque<Outcome> outbox;
  std::optional<TaskHandle<void>> deliverer;
  std::optional<TaskHandle<void>> renewer;
  // A claim stop() gave up waiting for (Redis away): close() lets it end.
  std::optional<TaskHandle<redis::Reply>> abandoned_claim;
  Counters counters;
  bool stopped = false;
  Steady::time_point stopped_at{};
  bool crawl_gone = false;  // a script found the crawl's keys gone: nothing to deliver to
  bool finished = false;
  bool closed = false;
  bool warned_down = false;
  // Read by lease_lapsed() from the lanes' threads: the send time (steady
  // ticks) of the last renewal that succeeded, and the entries a renewal
  // reported lost (taken over or recorded elsewhere).
  std::atomic<std::int64_t> renewed_at{0};
  std::atomic<bool> any_lost{false};
  mutable std::mutex lost_mutex;
  std::unordered_set<std::string> lost;

  Event woken;  // set by stop(): ends take()'s waits at once

  std::string prefix() const { return address.prefix(); }
  // The scripts' first argument (queue_common.hpp's script_prefix), set when
  // the worker joins the crawl.
  std::string script_prefix;

  // take()'s sleeps (nothing ready, or Redis away): cut short by stop().
  Task<void> nap(std::chrono::milliseconds d) {
    if (stopped) co_return;
    try {
      Task<void> waiting = wait_for(wait_event(&woken), d);
      co_await waiting;
    } catch (const corun::TimeoutError&) {
      // (the usual end)
    }
  }

  // A claim's reply (or its error). Once stopped, it is waited for at most
  // close_timeout: with Redis away (a partition, a stalled server) its command
  // timeout alone could hold the exit longer than --deliver-timeout promises.
  // Then it is abandoned: whatever it claimed, if Redis ran it, goes back to
  // the crawl when its leases expire, as for a worker that died.
  Task<std::optional<redis::Reply>> await_claim(TaskHandle<redis::Reply> claim) {
    for (;;) {
      if (claim.done()) co_return co_await claim;
      if (stopped && Steady::now() - stopped_at >= options.close_timeout) {
        claim.cancel();
        abandoned_claim = claim;
        co_return std::nullopt;
      }
      try {
        // (shielded: a slice's end does not cancel the claim)
        Task<redis::Reply> waiting = wait_for(shield(claim), std::chrono::milliseconds(100));
        co_return co_await waiting;
      } catch (const corun::TimeoutError&) {
        // (next slice)
      }
    }
  }

  void forget(const std::string& id) {
    held.erase(id);
    if (any_lost.load(std::memory_order_acquire)) {
      std::lock_guard lock(lost_mutex);
      lost.erase(id);
    }
  }

  void warn(const std::string& message) const {
    if (options.on_warning) options.on_warning(message);
  }

  void note_down(const std::exception& e) {
    ++counters.redis_errors;
    if (!warned_down) {
      warned_down = true;
      warn(fmt::format("queue {}: {} (retrying; results are kept until delivered)",
                       address.to_string(), e.what()));
    }
  }
  void note_up() {
    if (warned_down) {
      warned_down = false;
      warn(fmt::format("queue {}: connected again", address.to_string()));
    }
  }

  Held held_for(const Work& work) const {
    auto it = held.find(work.token);
    if (it != held.end()) return it->second;
    // Not from this frontier's claims (should not happen): derive it from the URL.
    Held h;
    UrlFingerprint f = fingerprint(work.url, settings.buckets);
    h.url = work.url;
    h.label = work.label;
    h.index = std::to_string(work.index);
    h.host = queue_detail::host_of(work.url);
    h.bucket = std::to_string(f.bucket);
    h.fp = std::to_string(f.value);
    return h;
  }

  // The complete outcome waiting in the outbox for h's URL, if any.
  const Outcome* completed(const Held& h) const {
    for (const Outcome& o : outbox) {
      if (o.kind == Outcome::Kind::complete && o.held.fp == h.fp && o.held.url == h.url) return &o;
    }
    return nullptr;
  }

  void push(Outcome o) {
    outbox.push_back(std::move(o));
    if (!deliverer || deliverer->done()) {
      deliverer = create_task(deliver(shared_from_this()), "queue-deliver");
    }
  }

  Task<void> deliver_one(const Outcome& o) {
    const std::string& P = script_prefix;
    if (o.kind == Outcome::Kind::complete) {
      Task<redis::Reply> running = queue_lua::complete_script()(
          conn, {},
          {P, o.id, o.held.host, o.held.bucket, o.held.fp, o.record, o.ok ? "1" : "0", worker});
      redis::Reply r = co_await running;
      if (r.as_integer() == 1) {
        ++counters.recorded;
      } else {
        ++counters.duplicates;
      }
      co_return;
    }
    bool retry = o.kind == Outcome::Kind::defer;
    Task<redis::Reply> running = queue_lua::defer_script()(
        conn, {},
        {P, worker, o.id, std::to_string(o.delay_ms), retry ? "1" : "0", o.held.url, o.held.label,
         o.held.index, o.attempts, o.held.host, o.held.bucket, o.held.fp,
         o.elapsed.empty() ? std::string("0") : o.elapsed, o.path});
    redis::Reply r = co_await running;
    if (r.as_integer() == 0) ++counters.leases_lost;
  }

  // Delivers the outbox in order. Outcomes are idempotent on the server (the
  // done mark, the lease check), so one whose delivery failed mid-flight is
  // simply sent again.
  Task<void> deliver(std::shared_ptr<Impl> keep) {
    (void)keep;  // this Impl lives as long as this task
    auto pause = std::chrono::milliseconds(100);
    while (!outbox.empty()) {
      try {
        Task<void> sending = deliver_one(outbox.front());
        co_await sending;
        forget(outbox.front().id);
        outbox.pop_front();
        pause = std::chrono::milliseconds(100);
        note_up();
      } catch (const redis::ResponseError& e) {
        if (queue_detail::is_crawl_gone(e)) {
          // Nothing left to deliver to: the claim says so and ends the run.
          if (!crawl_gone) {
            warn(fmt::format("{}: {} outcome{} dropped", queue_detail::crawl_gone(address).what(),
                             outbox.size(), outbox.size() == 1 ? "" : "s"));
          }
          crawl_gone = true;
          counters.not_delivered += outbox.size();
          outbox.clear();
          held.clear();
          break;
        }
        // A script error is not transient: say so and keep the outcome (it
        // is retried, slowly) rather than lose the URL.
        note_down(e);
        pause = std::chrono::milliseconds(5000);
      } catch (const redis::Error& e) {
        note_down(e);
      } catch (const corun::TimeoutError& e) {
        note_down(e);
      }
      if (!outbox.empty() && counters.redis_errors > 0 && warned_down) {
        co_await sleep(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  Task<void> renew_loop(std::shared_ptr<Impl> keep) {
    (void)keep;
    auto period = std::max(settings.lease / 3, std::chrono::milliseconds(10));
    for (;;) {
      co_await sleep(period);
      if (held.empty()) continue;
      std::vector<std::string> args{script_prefix, worker, std::to_string(settings.lease.count())};
      for (const auto& [id, h] : held) {
        args.push_back(id);
        args.push_back(h.host);
      }
      // The lease of an entry renewed now runs from no earlier than this.
      Steady::time_point sent = Steady::now();
      try {
        Task<redis::Reply> running = queue_lua::renew_script()(conn, {}, std::move(args));
        redis::Reply gone = co_await running;
        counters.leases_lost += gone.size();
        if (gone.size() > 0) {
          std::lock_guard lock(lost_mutex);
          for (const redis::Reply& id : gone.as_array()) {
            if (held.count(id.as_string()) != 0) lost.insert(id.as_string());
          }
          any_lost.store(true, std::memory_order_release);
        }
        // (after the lost marks: a lane that sees this renewal sees them too)
        renewed_at.store(ticks(sent), std::memory_order_release);
      } catch (const redis::Error& e) {
        note_down(e);
      } catch (const corun::TimeoutError& e) {
        note_down(e);
      }
    }
  }
};

RedisFrontier::RedisFrontier(QueueAddress address, RedisFrontierOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->address = std::move(address);
  impl_->options = std::move(options);
  impl_->worker = impl_->options.worker.empty() ? default_worker_name() : impl_->options.worker;
}

RedisFrontier::~RedisFrontier() {
  if (impl_->deliverer && !impl_->deliverer->done()) impl_->deliverer->cancel();
  if (impl_->renewer && !impl_->renewer->done()) impl_->renewer->cancel();
}

Task<void> RedisFrontier::open() {
  redis::ConnectOptions co;
  co.command_timeout = impl_->options.command_timeout;
  co.client_name = "corun-" + impl_->worker;
  for (char& c : co.client_name) {
    if (c == ' ') c = '_';
  }
  Task<redis::Connection> opening = queue_detail::open(impl_->address, co);
  impl_->conn = co_await opening;
  Task<void> checking = queue_detail::check_types(impl_->conn, impl_->address);
  co_await checking;
  Task<redis::Reply> reading = impl_->conn.command("HGETALL", impl_->prefix() + "meta");
  redis::Reply meta = co_await reading;
  auto m = queue_detail::as_map(meta);
  if (m.find("buckets") == m.end()) {
    throw QueueError(
        fmt::format("queue {}: no crawl of that name on the server (start the "
                    "producer first: corun fetch --queue URL/NAME --enqueue FILE)",
                    impl_->address.to_string()));
  }
  impl_->settings = queue_detail::settings_from_meta(m);
  impl_->script_prefix = queue_detail::script_prefix(impl_->address, m);
  impl_->renewer = create_task(impl_->renew_loop(impl_), "queue-renew");
}

Task<bool> RedisFrontier::take(std::vector<Work>& out, std::size_t max) {
  Impl& im = *impl_;
  auto idle = std::chrono::milliseconds(10);
  auto backoff = std::chrono::milliseconds(100);
  while (!im.stopped) {
    redis::Reply r;
    bool down = false;
    // A claimed entry's lease runs from no earlier than this.
    Steady::time_point sent = Steady::now();
    try {
      TaskHandle<redis::Reply> claim =
          create_task(queue_lua::claim_script()(im.conn, {},
                                                {im.script_prefix, im.worker, std::to_string(max),
                                                 std::to_string(im.settings.lease.count())}),
                      "queue-claim");
      Task<std::optional<redis::Reply>> claiming = im.await_claim(claim);
      std::optional<redis::Reply> reply = co_await claiming;
      if (!reply) co_return false;  // stopped, and Redis did not answer in time
      r = std::move(*reply);
      im.note_up();
      backoff = std::chrono::milliseconds(100);
    } catch (const redis::ResponseError& e) {
      if (queue_detail::is_crawl_gone(e)) {
        im.crawl_gone = true;
        throw queue_detail::crawl_gone(im.address);
      }
      throw;  // the script or the crawl's keys are broken: not transient
    } catch (const redis::Error& e) {
      im.note_down(e);
      down = true;
    } catch (const corun::TimeoutError& e) {
      im.note_down(e);
      down = true;
    }
    if (down) {
      // Redis is away: claim nothing until it answers (the connection
      // reconnects by itself; outcomes wait in the outbox).
      Task<void> napping = im.nap(backoff);
      co_await napping;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    const redis::Reply& entries = r[2];
    const std::size_t before = out.size();
    for (const redis::Reply& e : entries.as_array()) {
      Held h{e[1].as_string(), e[2].as_string(), e[3].as_string(),
             e[5].as_string(), e[6].as_string(), e[7].as_string()};
      ++im.counters.taken;
      // A URL this worker has already fetched, whose outcome still waits for
      // delivery: after a stall another worker took it over and handed it
      // back. It is answered with that outcome, not fetched again.
      if (const Outcome* done = im.completed(h)) {
        Outcome again = *done;
        again.id = e[0].as_string();
        again.held = std::move(h);
        im.push(std::move(again));
        ++im.counters.answered_again;
        continue;
      }
      Work w;
      w.url = h.url;
      w.label = h.label;
      w.index = std::stoull(h.index);
      w.attempts = std::stoi(e[4].as_string());
      w.token = e[0].as_string();
      w.elapsed = std::strtod(e[8].as_string().c_str(), nullptr);
      w.path = e[9].as_string();
      w.leased = sent;
      im.held[w.token] = std::move(h);
      out.push_back(std::move(w));
    }
    // URLs this claim recorded as delivered too often: this worker's records.
    if (r.size() > 3) {
      for (const redis::Reply& line : r[3].as_array()) {
        Record rec;
        if (parse_json_line(line.as_string(), rec)) {
          ++im.counters.given_up;
          observe(rec);
        }
      }
    }
    if (out.size() > before) co_return true;
    if (entries.size() > 0) continue;  // all answered from the outbox: claim again
    if (r[0].as_integer() == 1) {
      im.finished = true;
      co_return false;
    }
    // Nothing ready: sleep a little (longer while it stays so), at most until
    // the next delayed URL falls due.
    auto wait = std::min(idle, im.options.max_poll);
    std::int64_t due = r[1].as_integer();
    if (due >= 0) wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(due, 1)));
    Task<void> napping = im.nap(wait);
    co_await napping;
    idle = std::min(idle * 2, im.options.max_poll);
  }
  co_return false;
}

void RedisFrontier::complete(Work work, Record record) {
  Outcome o;
  o.kind = Outcome::Kind::complete;
  o.held = impl_->held_for(work);
  o.id = std::move(work.token);
  o.ok = record.ok();
  o.record = to_json_line(record);
  impl_->push(std::move(o));
  observe(record);
}

void RedisFrontier::defer(Work work, Record record, std::chrono::steady_clock::duration delay) {
  Outcome o;
  o.kind = Outcome::Kind::defer;
  o.held = impl_->held_for(work);
  o.id = std::move(work.token);
  o.attempts = std::to_string(record.attempts);
  o.elapsed = fmt::format("{}", record.elapsed);
  o.path = work.path;
  o.delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  ++impl_->counters.deferred;
  impl_->push(std::move(o));
}

void RedisFrontier::release(Work work) {
  Outcome o;
  o.kind = Outcome::Kind::release;
  o.held = impl_->held_for(work);
  o.id = std::move(work.token);
  o.attempts = std::to_string(work.attempts);
  o.elapsed = fmt::format("{}", work.elapsed);
  o.path = work.path;
  ++impl_->counters.released;
  impl_->push(std::move(o));
}

void RedisFrontier::stop() {
  if (!impl_->stopped) impl_->stopped_at = Steady::now();
  impl_->stopped = true;
  impl_->woken.set();
}

bool RedisFrontier::lease_lapsed(const Work& work) const noexcept {
  const Impl& im = *impl_;
  // Renewals come every lease/3: while they succeed on time the newest is
  // less than half a lease old and nothing is asked per URL. Older, the
  // worker (or Redis) stalled: the lease may have expired and the URL been
  // taken over.
  std::int64_t fresh = std::max(ticks(work.leased), im.renewed_at.load(std::memory_order_acquire));
  auto age = std::chrono::nanoseconds(ticks(Steady::now()) - fresh);
  if (age > im.settings.lease / 2) return true;
  if (im.any_lost.load(std::memory_order_acquire)) {
    try {
      std::lock_guard lock(im.lost_mutex);
      return im.lost.count(work.token) != 0;
    } catch (...) {  // (a mutex that cannot be locked: ask the server)
      return true;
    }
  }
  return false;
}

Task<bool> RedisFrontier::confirm_lease(Work& work) {
  Impl& im = *impl_;
  if (im.held.count(work.token) == 0) co_return false;  // delivered or dropped already
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    const Held& h = im.held[work.token];
    Steady::time_point sent = Steady::now();
    std::int64_t answer = -1;
    try {
      Task<redis::Reply> confirming = queue_lua::confirm_script()(
          im.conn, {},
          {im.script_prefix, im.worker, std::to_string(im.settings.lease.count()), work.token,
           h.host});
      redis::Reply r = co_await confirming;
      answer = r.as_integer();
      im.note_up();
    } catch (const redis::ResponseError& e) {
      if (queue_detail::is_crawl_gone(e)) {
        im.crawl_gone = true;
        throw queue_detail::crawl_gone(im.address);
      }
      throw;  // the script or the crawl's keys are broken: not transient
    } catch (const redis::Error& e) {
      im.note_down(e);
    } catch (const corun::TimeoutError& e) {
      im.note_down(e);
    }
    if (answer == 1) {
      ++im.counters.confirmed;
      work.leased = sent;
      if (im.any_lost.load(std::memory_order_acquire)) {
        std::lock_guard lock(im.lost_mutex);
        im.lost.erase(work.token);
      }
      co_return true;
    }
    if (answer == 0 || answer == 2) {
      if (answer == 0) {
        ++im.counters.dropped;
      } else {
        ++im.counters.bounced;
      }
      im.forget(work.token);
      co_return false;
    }
    // Redis is away: nothing starts until it answers, unless the run stops
    // meanwhile (the URL is then handed back like one never started).
    if (im.stopped) {
      release(work);
      co_return false;
    }
    co_await sleep(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    if (im.held.count(work.token) == 0) co_return false;
  }
}

Task<void> RedisFrontier::close() {
  Impl& im = *impl_;
  if (im.closed) co_return;
  if (!im.stopped) im.stopped_at = Steady::now();
  im.stopped = true;
  // URLs still held with no outcome (the engine returned them all, normally):
  // back to the crawl for another worker.
  std::vector<std::string> pending_ids;
  for (const auto& o : im.outbox) pending_ids.push_back(o.id);
  for (const auto& [id, h] : im.held) {
    if (std::find(pending_ids.begin(), pending_ids.end(), id) != pending_ids.end()) continue;
    Outcome o;
    o.kind = Outcome::Kind::release;
    o.id = id;
    o.held = h;
    o.attempts = "0";
    im.outbox.push_back(std::move(o));
    ++im.counters.released;
  }
  // Delivery keeps retrying while Redis is away: given up after close_timeout
  // without progress (a long outbox to a live server is delivered whole).
  bool gave_up = false;
  auto deadline = Steady::now() + im.options.close_timeout;
  if (im.abandoned_claim) {
    // Redis has not answered since the stop already (a claim was given up on
    // then): the time waited for it counts, so the exit stays within the
    // transfers' -m plus --deliver-timeout, not twice that. One slice is tried
    // all the same: Redis may be back by now.
    deadline = std::max(im.stopped_at + im.options.close_timeout,
                        Steady::now() + std::chrono::milliseconds(500));
  }
  std::size_t last = im.outbox.size();
  while (!im.outbox.empty()) {
    if (!im.deliverer || im.deliverer->done()) im.deliverer = create_task(im.deliver(impl_));
    TaskHandle<void> d = *im.deliverer;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    if (left <= std::chrono::milliseconds::zero()) break;
    try {
      // In slices (shielded: a slice's end does not cancel the delivery).
      Task<void> waiting = wait_for(shield(d), std::min(left, std::chrono::milliseconds(500)));
      co_await waiting;
    } catch (const corun::TimeoutError&) {
      // (next slice)
    }
    if (im.outbox.size() < last) {
      last = im.outbox.size();
      deadline = Steady::now() + im.options.close_timeout;
    }
  }
  if (!im.outbox.empty()) {
    if (im.deliverer && !im.deliverer->done()) {
      im.deliverer->cancel();
      TaskHandle<void> d = *im.deliverer;
      try {
        co_await d;
      } catch (const CancelledError&) {
        // Expected: given up.
      }
    }
    // Outcomes (a record, a retry) and hand-backs of URLs never started: said
    // apart, and a hand-back that did not happen is not counted as one.
    std::size_t n = 0;
    std::size_t back = 0;
    for (const Outcome& o : im.outbox) (o.kind == Outcome::Kind::release ? back : n) += 1;
    im.counters.not_delivered += n;
    im.counters.not_released += back;
    im.counters.released -= std::min<std::uint64_t>(im.counters.released, back);
    std::string what;
    if (n > 0) {
      what = fmt::format("{} outcome{} not delivered (their URLs will be fetched again)", n,
                         n == 1 ? "" : "s");
    }
    if (back > 0) {
      what += fmt::format("{}{} URL{} never started not handed back", what.empty() ? "" : ", ",
                          back, back == 1 ? "" : "s");
    }
    im.warn(fmt::format(
        "queue {}: Redis unreachable for {:.0f} s while closing: {}; those URLs were never "
        "acked and another worker takes them once their leases expire",
        im.address.to_string(), std::chrono::duration<double>(im.options.close_timeout).count(),
        what));
    im.outbox.clear();
    im.held.clear();
    gave_up = true;
  }
  if (im.renewer && !im.renewer->done()) {
    im.renewer->cancel();
    TaskHandle<void> r = *im.renewer;
    try {
      co_await r;
    } catch (const CancelledError&) {
      // Expected: the renewal loop runs until cancelled.
    }
  }
  try {
    // (Not after giving up: Redis is away, and the consumer still holds leases;
    // nor when the crawl is gone.)
    // Bounded like the delivery: Redis may have gone away just now.
    if (!gave_up && !im.crawl_gone) {
      Task<redis::Reply> leaving =
          wait_for(queue_lua::leave_script()(im.conn, {}, {im.script_prefix, im.worker}),
                   std::min(im.options.close_timeout, im.options.command_timeout));
      co_await leaving;
    }
  } catch (const redis::Error&) {
    // Best effort: a consumer left behind holds nothing and shows in --status.
  } catch (const corun::TimeoutError&) {
    // Same.
  }
  if (im.abandoned_claim && !im.abandoned_claim->done()) {
    TaskHandle<redis::Reply> c = *im.abandoned_claim;
    try {
      co_await c;
    } catch (...) {  // CancelledError (as asked) or the claim's error
    }
  }
  im.conn.close();
  im.closed = true;
}

void RedisFrontier::fill(Summary& summary) const {
  summary.input_exhausted = impl_->finished;
}

const QueueSettings& RedisFrontier::settings() const {
  return impl_->settings;
}

const std::string& RedisFrontier::worker() const {
  return impl_->worker;
}

const RedisFrontier::Counters& RedisFrontier::counters() const noexcept {
  return impl_->counters;
}

std::size_t RedisFrontier::undelivered() const noexcept {
  return impl_->outbox.size();
}

}  // namespace corun::fetch
