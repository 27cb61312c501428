// corun::fetch HostBatches (src/fetch/host_batches.hpp): the order a lane's
// workers take its URLs in. First in, first out until a host is known to
// multiplex; then runs of its URLs, at most `burst` long, each host's URLs in
// their own order, and a URL that is the oldest waiting taken within `burst`
// takes.
#include "host_batches.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "corun/fetch/naming.hpp"
#include "corun/http/url.hpp"

namespace corun::fetch {
namespace {

Work work(const std::string& host, int n) {
  Work w;
  w.url = "https://" + host + "/" + std::to_string(n);
  w.index = static_cast<std::uint64_t>(n);
  return w;
}

std::uint64_t key(const std::string& host) {
  return stable_hash(http::URL::origin_of("https://" + host + "/"));
}

std::string host_of(const Work& w) {
  std::string rest = w.url.substr(8);
  return rest.substr(0, rest.find('/'));
}

// Round-robin input: URL i goes to host i % hosts.
void push_round_robin(HostBatches& b, int hosts, int urls, int first = 0) {
  for (int i = first; i < first + urls; ++i) b.push(work("h" + std::to_string(i % hosts), i));
}

std::vector<Work> drain(HostBatches& b) {
  std::vector<Work> out;
  while (!b.empty()) out.push_back(b.pop().work);
  return out;
}

TEST(FetchHostBatches, FirstInFirstOutUntilAHostIsKnownToMultiplex) {
  HostBatches b(8);
  push_round_robin(b, 5, 40);
  EXPECT_EQ(b.size(), 40u);
  std::vector<Work> out = drain(b);
  ASSERT_EQ(out.size(), 40u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].index, i);
}

TEST(FetchHostBatches, AnHttp11HostGetsNoRuns) {
  HostBatches b(8);
  b.multiplexes(key("h0"), true);
  b.multiplexes(key("h0"), false);  // its last response came over HTTP/1.1
  push_round_robin(b, 5, 40);
  std::vector<Work> out = drain(b);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].index, i);
}

TEST(FetchHostBatches, AMultiplexingHostsUrlsComeInRunsOfAtMostBurst) {
  HostBatches b(4);
  for (int h = 0; h < 5; ++h) b.multiplexes(key("h" + std::to_string(h)), true);
  push_round_robin(b, 5, 40);  // 8 URLs a host
  std::vector<Work> out = drain(b);
  ASSERT_EQ(out.size(), 40u);
  // h0's first four, h1's first four, ..., then every host's other four.
  std::vector<std::string> hosts;
  hosts.reserve(out.size());
  for (const Work& w : out) hosts.push_back(host_of(w));
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(hosts[i], "h" + std::to_string(i / 4 % 5)) << i;
  }
  // Each host's URLs in their input order.
  std::map<std::string, std::uint64_t> last;
  for (const Work& w : out) {
    auto [it, fresh] = last.emplace(host_of(w), w.index);
    if (!fresh) {
      EXPECT_LT(it->second, w.index) << w.url;
      it->second = w.index;
    }
  }
}

TEST(FetchHostBatches, RunsStopWhereTheHostHasNothingMoreWaiting) {
  HostBatches b(8);
  b.multiplexes(key("a"), true);
  b.push(work("a", 0));
  b.push(work("b", 1));
  b.push(work("a", 2));
  EXPECT_EQ(b.pop().work.index, 0u);
  EXPECT_EQ(b.pop().work.index, 2u);  // the run goes on with a
  EXPECT_EQ(b.pop().work.index, 1u);  // a has nothing more: the oldest
  b.push(work("a", 3));
  b.push(work("b", 4));
  EXPECT_EQ(b.pop().work.index, 3u);
  EXPECT_EQ(b.pop().work.index, 4u);
  EXPECT_TRUE(b.empty());
}

TEST(FetchHostBatches, NextNamesTheHostTheLaneTellsAbout) {
  HostBatches b(8);
  b.push(work("example.org:8443", 0));
  HostBatches::Next n = b.pop();
  EXPECT_EQ(n.host, key("example.org:8443"));
  EXPECT_EQ(n.work.url, "https://example.org:8443/0");
}

// Pushes and pops interleaved, as a lane's window refills: no URL that is the
// oldest waiting sees `burst` or more others taken before it, whatever the
// hosts do, and every URL comes out exactly once.
TEST(FetchHostBatches, NoUrlStarves) {
  constexpr std::size_t kBurst = 8;
  HostBatches b(kBurst);
  // Two hot multiplexing hosts and many cold ones.
  b.multiplexes(key("hot0"), true);
  b.multiplexes(key("hot1"), true);
  std::uint64_t next = 0;
  auto push_one = [&] {
    std::uint64_t i = next++;
    std::string host = i % 3 == 0 ? "cold" + std::to_string(i) : "hot" + std::to_string(i % 2);
    b.push(work(host, static_cast<int>(i)));
  };
  for (int i = 0; i < 100; ++i) push_one();
  std::vector<bool> taken(20000, false);
  std::uint64_t oldest = 0;      // the smallest index not yet taken
  std::size_t since_oldest = 0;  // takes since `oldest` became the oldest
  for (int round = 0; round < 19000; ++round) {
    Work w = b.pop().work;
    ASSERT_FALSE(taken[w.index]) << w.index;
    taken[w.index] = true;
    if (w.index == oldest) {
      while (oldest < next && taken[oldest]) ++oldest;
      since_oldest = 0;
    } else {
      ASSERT_LT(++since_oldest, kBurst) << "URL " << oldest << " starves";
    }
    if (next < 19100) push_one();  // the window refills
  }
  EXPECT_EQ(b.size(), 100u);
  for (const Work& w : drain(b)) {
    EXPECT_FALSE(taken[w.index]) << w.index;
    taken[w.index] = true;
  }
  for (std::uint64_t i = 0; i < next; ++i) EXPECT_TRUE(taken[i]) << i;
}

TEST(FetchHostBatches, BurstOneIsFirstInFirstOut) {
  HostBatches b(1);
  b.multiplexes(key("h0"), true);
  push_round_robin(b, 3, 12);
  std::vector<Work> out = drain(b);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].index, i);
}

}  // namespace
}  // namespace corun::fetch
