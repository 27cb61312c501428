// corun::fetch: the order a lane's workers take its URLs in. A lane's queue
// holds a bounded window of URLs (the engine's credits bound it). Taken
// strictly first in, first out, a window spread over many hosts puts about
// one request per host in flight, and every response then costs a socket
// wake-up, reads and TLS records of its own, on both sides. For a host whose
// responses come over HTTP/2, HostBatches takes its URLs in runs: the oldest
// URL waiting, then up to burst - 1 more of the same host's, then the oldest
// waiting again. A run's requests share the host's connection as streams and
// come back together (bench/README.md, sitting 16: 15% fewer system calls at
// 50 hosts).
//
// A host is known to multiplex once a response from it came over HTTP/2 (the
// lane says so: multiplexes()); until then, and for HTTP/1.1 hosts, it gets
// no runs: there, a run of n requests would need n connections to one host at
// once (at 50 hosts over HTTP/1.1, runs of 8 opened 447 connections instead of
// 120). What stays as it was: a host's URLs are taken in their input order,
// and once a URL is the oldest waiting, fewer than burst others are taken
// before it. burst = 1 is first in, first out. Hosts are told apart by a
// 64-bit hash of the URL's origin (the session's key for its limits): two
// hosts that collide only share runs. Loop-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "corun/fetch/frontier.hpp"

namespace corun::fetch {

class HostBatches {
 public:
  explicit HostBatches(std::size_t burst) : burst_(burst == 0 ? 1 : burst) {}

  struct Next {
    Work work;
    std::uint64_t host;  // for multiplexes()
  };

  void push(Work work);
  // The next URL to fetch. Precondition: !empty().
  Next pop();
  // What the last response from `host` came over: true for HTTP/2 (or 3).
  void multiplexes(std::uint64_t host, bool yes);

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // Forgets which hosts multiplex beyond this many (a crawl over a million
  // hosts keeps no million entries).
  static constexpr std::size_t kMaxKnownHosts = std::size_t{1} << 16;

 private:
  struct Waiting {
    std::uint64_t seq;
    Work work;
  };
  using Hosts = std::unordered_map<std::uint64_t, std::deque<Waiting>>;
  Next take(Hosts::iterator host);

  std::size_t burst_;
  std::size_t size_ = 0;
  std::uint64_t next_seq_ = 0;
  Hosts hosts_;  // hosts with URLs waiting, each its URLs in order
  // (seq, host) of every URL pushed and not yet passed by the oldest-first
  // scan; an entry whose URL was taken in a run is passed when reached.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> order_;
  std::unordered_set<std::uint64_t> multiplexing_;
  std::uint64_t current_ = 0;  // the host of the run being taken
  std::size_t run_left_ = 0;   // URLs the run may still take
};

}  // namespace corun::fetch
