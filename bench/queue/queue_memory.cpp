// Redis memory of the shared crawl, measured on a real server (bench/queue/run.sh):
//   queue_memory REDIS_URL producer N   corun::fetch::enqueue of N synthetic
//       URLs (~55 bytes, 20 hosts) into a fresh crawl: used_memory per URL in
//       all, then per URL in the dedup sets alone (after the stream is deleted),
//       and the producer's URLs/s;
//   queue_memory REDIS_URL dedup N      the dedup sets alone for N URLs, filled
//       with pipelined SADDs of the same fingerprints into the same buckets as
//       the producer's Lua step (to reach 10^7 without workers draining the
//       stream below the producer's high-water mark).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "corun/corun.hpp"
#include "corun/fetch/queue.hpp"
#include "corun/redis.hpp"

namespace {

namespace fetch = corun::fetch;
namespace redis = corun::redis;
using corun::Task;

std::string url_of(std::uint64_t i) {
  return fmt::format("http://host-{:02}.example.test/articles/2026/{:09}.html", i % 20, i);
}

// N generated lines, streamed (never all in memory).
class Generated final : public fetch::UrlSource {
 public:
  explicit Generated(std::uint64_t n) : n_(n) {}
  Task<bool> next_batch(std::vector<std::string>& out) override {
    for (int k = 0; k < 4096 && next_ < n_; ++k) out.push_back(url_of(next_++));
    co_return next_ < n_;
  }

 private:
  std::uint64_t n_;
  std::uint64_t next_ = 0;
};

Task<std::int64_t> used_memory(redis::Connection& conn) {
  Task<redis::Reply> t = conn.command("INFO", "memory");
  redis::Reply info = co_await t;
  const std::string& s = info.as_string();
  auto pos = s.find("used_memory:");
  co_return std::stoll(s.substr(pos + 12));
}

Task<int> bench(std::string url, std::string mode, std::uint64_t n) {
  Task<redis::Connection> c = redis::connect(url);
  redis::Connection conn = co_await c;
  co_await conn.command("FLUSHALL");
  Task<std::int64_t> m0t = used_memory(conn);
  std::int64_t m0 = co_await m0t;
  auto a = fetch::parse_queue_url(url + "/bench");
  auto t0 = std::chrono::steady_clock::now();
  if (mode == "producer") {
    Generated src(n);
    fetch::EnqueueOptions o;
    o.high_water = n + 1;
    Task<fetch::EnqueueResult> t = fetch::enqueue(a, src, "generated", o);
    fetch::EnqueueResult r = co_await t;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Task<std::int64_t> m1t = used_memory(conn);
    std::int64_t m1 = co_await m1t;
    Task<redis::Reply> su = conn.command("MEMORY", "USAGE", a.prefix() + "work", "SAMPLES", "0");
    redis::Reply stream = co_await su;
    co_await conn.command("DEL", a.prefix() + "work", a.prefix() + "hostq");
    Task<std::int64_t> m2t = used_memory(conn);
    std::int64_t m2 = co_await m2t;
    auto per = [&](std::int64_t bytes) {
      return static_cast<double>(bytes) / static_cast<double>(n);
    };
    fmt::print("producer N={} added={} in {:.1f} s ({:.0f} URLs/s)\n", n, r.added, secs,
               static_cast<double>(n) / secs);
    fmt::print(
        "  all keys: {:.1f} B/URL; stream (MEMORY USAGE): {:.1f} B/waiting URL; "
        "dedup sets alone: {:.2f} B/URL\n",
        per(m1 - m0), per(stream.as_integer()), per(m2 - m0));
  } else {
    const std::uint32_t buckets = 65536;
    const std::string P = a.prefix();
    for (std::uint64_t i = 0; i < n;) {
      redis::Pipeline p = conn.pipeline();
      for (int k = 0; k < 10000 && i < n; ++k, ++i) {
        auto f = fetch::fingerprint(url_of(i), buckets);
        p.command("SADD", P + "seen:" + std::to_string(f.bucket), std::to_string(f.value));
      }
      Task<std::vector<redis::Reply>> t = p.execute();
      co_await t;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Task<std::int64_t> m1t = used_memory(conn);
    std::int64_t m1 = co_await m1t;
    Task<redis::Reply> enc = conn.command("OBJECT", "ENCODING", P + "seen:0");
    redis::Reply e = co_await enc;
    fmt::print("dedup N={} buckets={}: {:.2f} B/URL ({} bytes; bucket 0 is a {}) in {:.1f} s\n", n,
               buckets, static_cast<double>(m1 - m0) / static_cast<double>(n), m1 - m0,
               e.as_string(), secs);
  }
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: queue_memory REDIS_URL producer|dedup N\n");
    return 2;
  }
  return corun::run(bench(argv[1], argv[2], std::stoull(argv[3])));
}
