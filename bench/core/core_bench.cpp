// Whole-process runtime benchmark: corun's side of the comparison with asyncio
// and uvloop (bench/core/peer.py runs the same workloads in Python; run.sh runs
// both and prints the table).
//
//   core_bench WORKLOAD [N]
//
// Workloads (N defaults to 1,000,000):
//   gather   create N trivial tasks and gather them (asyncio.gather)
//   sleep0   one task switching N times with sleep(0s) (asyncio.sleep(0))
//   event    N tasks waiting on one Event, then set: peak RSS per waiting task
//
// Prints one line of key=value pairs: the workload's wall time and CPU time
// (measured inside the process, so start-up is not counted for either side) and the growth of
// the process's peak RSS (getrusage ru_maxrss) over its value just before the
// workload, in total and per task.
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <corun/corun.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

// User + system CPU time of the process: on a shared machine it moves less than
// wall time when other jobs take the cores.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return sec(usage.ru_utime) + sec(usage.ru_stime);
}

corun::Task<void> trivial() {
  co_return;
}

corun::Task<void> gather_workload(std::size_t n) {
  std::vector<corun::Task<void>> tasks;
  tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(trivial());
  co_await corun::gather(std::move(tasks));
}

corun::Task<void> sleep0_workload(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) co_await corun::sleep(0s);
}

// The waiters keep no handles (neither does peer.py): what is measured is what a
// waiting task costs the runtime, not the benchmark's own bookkeeping.
struct EventBench {
  corun::Event event;
  corun::Event all_done;
  std::size_t waiting = 0;
};

corun::Task<void> wait_on(EventBench& b) {
  ++b.waiting;
  co_await b.event.wait();
  if (--b.waiting == 0) b.all_done.set();
}

corun::Task<void> event_workload(std::size_t n) {
  EventBench b;
  for (std::size_t i = 0; i < n; ++i) corun::create_task(wait_on(b));
  co_await corun::sleep(0s);  // one iteration: every waiter starts and blocks on the event
  if (b.waiting != n)
    throw corun::RuntimeError(fmt::format("only {} of {} tasks are waiting", b.waiting, n));
  b.event.set();
  co_await b.all_done.wait();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s gather|sleep0|event [N]\n", argv[0]);
    return 2;
  }
  std::string_view workload = argv[1];
  std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;

  corun::Task<void> (*body)(std::size_t) = nullptr;
  if (workload == "gather") {
    body = gather_workload;
  } else if (workload == "sleep0") {
    body = sleep0_workload;
  } else if (workload == "event") {
    body = event_workload;
  } else {
    std::fprintf(stderr, "unknown workload '%s'\n", argv[1]);
    return 2;
  }

  long rss_before = peak_rss_kib();
  double cpu_before = cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  corun::run(body(n));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_before;
  long rss_delta = peak_rss_kib() - rss_before;

  fmt::print(
      "impl=corun workload={} n={} seconds={:.6f} cpu_seconds={:.6f} peak_rss_delta_kib={} "
      "bytes_per_task={:.1f}\n",
      workload, n, seconds, cpu, rss_delta,
      static_cast<double>(rss_delta) * 1024.0 / static_cast<double>(n));
  return 0;
}
