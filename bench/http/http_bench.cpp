// HTTP client throughput: N GETs over a rotating list of paths with CONC requests
// in flight through one ClientSession (limit = CONC), bodies read and discarded.
// Prints one line: "requests=N errors=E bytes=B seconds=S rps=R".
//
//   http_bench BASE_URL URLS_FILE REQUESTS CONC [gather]
//
// gather: the scraper's shape instead of CONC workers: every request a task of
// one gather (the session's limit keeping CONC in flight), all the responses
// held until the gather returns them, as `asyncio.gather(*gets)` does.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/http.hpp"

namespace {

struct Totals {
  std::size_t errors = 0;
  std::size_t bytes = 0;
};

corun::Task<void> worker(corun::http::ClientSession& session, const std::vector<std::string>& urls,
                         std::size_t& next, std::size_t requests, Totals& totals) {
  for (;;) {
    std::size_t i = next++;
    if (i >= requests) co_return;
    try {
      corun::http::Response r = co_await session.get(urls[i % urls.size()]);
      totals.bytes += r.body_size();
      if (r.status() != 200) ++totals.errors;
    } catch (const std::exception& e) {
      if (totals.errors++ == 0) std::fprintf(stderr, "http_bench: %s\n", e.what());
    }
  }
}

void print_result(std::size_t requests, const Totals& totals, double secs) {
  std::printf("requests=%zu errors=%zu bytes=%zu seconds=%.3f rps=%.0f\n", requests, totals.errors,
              totals.bytes, secs, static_cast<double>(requests) / secs);
}

corun::Task<void> run_gather(corun::http::ClientSession& session,
                             const std::vector<std::string>& urls, std::size_t requests) {
  auto start = std::chrono::steady_clock::now();
  std::vector<corun::Task<corun::http::Response>> gets;
  gets.reserve(requests);
  for (std::size_t i = 0; i < requests; ++i) gets.push_back(session.get(urls[i % urls.size()]));
  std::vector<corun::http::Response> responses = co_await corun::gather(std::move(gets));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Totals totals;
  for (const auto& r : responses) {
    totals.bytes += r.body_size();
    if (r.status() != 200) ++totals.errors;
  }
  print_result(requests, totals, secs);
}

corun::Task<void> run(std::string base, std::vector<std::string> urls, std::size_t requests,
                      std::size_t conc, bool gather) {
  for (auto& u : urls) u = base + u;
  corun::http::SessionOptions options;
  options.limit = conc;
  corun::http::ClientSession session(options);
  // Warm-up: open the connections so the measurement is the steady state, as wrk's is.
  {
    std::size_t next = 0;
    Totals t;
    std::vector<corun::TaskHandle<void>> ws;
    for (std::size_t w = 0; w < conc; ++w) {
      ws.push_back(corun::create_task(worker(session, urls, next, conc * 4, t)));
    }
    for (auto& w : ws) co_await w;
  }
  if (gather) {
    co_await run_gather(session, urls, requests);
    co_await session.close();
    co_return;
  }
  std::size_t next = 0;
  Totals totals;
  auto start = std::chrono::steady_clock::now();
  std::vector<corun::TaskHandle<void>> ws;
  for (std::size_t w = 0; w < conc; ++w) {
    ws.push_back(corun::create_task(worker(session, urls, next, requests, totals)));
  }
  for (auto& w : ws) co_await w;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_result(requests, totals, secs);
  co_await session.close();
}

}  // namespace

int main(int argc, char** argv) {
  bool gather = argc == 6 && std::string(argv[5]) == "gather";
  if (argc != 5 && !gather) {
    std::fprintf(stderr, "usage: http_bench BASE_URL URLS_FILE REQUESTS CONC [gather]\n");
    return 2;
  }
  std::vector<std::string> urls;
  std::ifstream in(argv[2]);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) urls.push_back(line);
  }
  if (urls.empty()) {
    std::fprintf(stderr, "http_bench: no paths in %s\n", argv[2]);
    return 2;
  }
  corun::run(run(argv[1], std::move(urls), std::strtoull(argv[3], nullptr, 10),
                 std::strtoull(argv[4], nullptr, 10), gather));
  return 0;
}
