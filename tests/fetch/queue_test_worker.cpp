// queue_test_worker QUEUE_URL OUT_DIR CONCURRENCY: a minimal worker process
// over RedisFrontier for the shared crawl's process-level tests
// (queue_integration_test.cpp), so the frontier and its Lua steps are tested
// across real processes (kill -9, per-host limits, a Redis restart) apart from
// the engine. It is not `corun fetch`'s worker (that is the engine over the
// same frontier): it fetches with one ClientSession, retries a 503 through
// defer() (Retry-After, at most 5 attempts), writes each body atomically to
// OUT_DIR/<16 hex digits of the URL> and completes the URL. Exit: 0 when the
// crawl is finished, 2 on a setup error.
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "corun/corun.hpp"
#include "corun/fetch/frontier_redis.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/fetch/queue.hpp"
#include "corun/fs/file.hpp"
#include "corun/http.hpp"

namespace {

namespace fetch = corun::fetch;
using corun::Task;

struct Worker {
  fetch::RedisFrontier* frontier = nullptr;
  corun::http::ClientSession* session = nullptr;
  std::filesystem::path out;
  std::size_t in_flight = 0;
  corun::Event slot_free;
};

Task<void> fetch_one(Worker* w, fetch::Work work) {
  auto t0 = std::chrono::steady_clock::now();
  fetch::Record rec;
  rec.url = work.url;
  rec.index = work.index;
  rec.attempts = work.attempts + 1;
  bool retry = false;
  std::chrono::milliseconds delay{50};
  try {
    Task<corun::http::Response> getting = w->session->get(work.url);
    corun::http::Response r = co_await getting;
    rec.status = r.status();
    rec.final_url = r.url();
    rec.bytes = r.body_size();
    if (r.status() == 503) {
      rec.error = "HTTP 503";
      retry = rec.attempts < 5;
      if (auto ra = r.headers().get("Retry-After")) {
        delay = std::chrono::milliseconds(std::stoi(std::string(*ra)) * 1000);
      }
    } else if (r.status() >= 400) {
      rec.error = fmt::format("HTTP {}", r.status());
    } else {
      std::string name = fmt::format("{:016x}", fetch::stable_hash(work.url));
      Task<void> writing = corun::fs::write_file(w->out / name, r.take_body());
      co_await writing;
      rec.path = (w->out / name).string();
    }
  } catch (const std::exception& e) {
    rec.error = e.what();
    retry = rec.attempts < 5;
  }
  rec.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (retry) {
    w->frontier->defer(std::move(work), std::move(rec), delay);
  } else {
    w->frontier->complete(std::move(work), std::move(rec));
  }
  --w->in_flight;
  w->slot_free.set();
}

Task<int> run(std::string queue, std::string out, std::size_t concurrency) {
  fetch::RedisFrontierOptions fo;
  fo.on_warning = [](const std::string& m) { fmt::print(stderr, "queue_test_worker: {}\n", m); };
  fetch::RedisFrontier frontier(fetch::parse_queue_url(queue), fo);
  co_await frontier.open();
  corun::http::SessionOptions so;
  so.limit = concurrency;
  corun::http::ClientSession session(so);
  Worker w;
  w.frontier = &frontier;
  w.session = &session;
  w.out = out;
  std::vector<corun::TaskHandle<void>> tasks;
  for (;;) {
    while (w.in_flight >= concurrency) {
      w.slot_free.clear();
      co_await w.slot_free.wait();
    }
    std::vector<fetch::Work> got;
    Task<bool> taking = frontier.take(got, concurrency - w.in_flight);
    bool more = co_await taking;
    for (auto& work : got) {
      ++w.in_flight;
      tasks.push_back(corun::create_task(fetch_one(&w, std::move(work))));
    }
    if (!more) break;
  }
  for (auto& t : tasks) co_await t;
  co_await frontier.close();
  co_await session.close();
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: queue_test_worker QUEUE_URL OUT_DIR CONCURRENCY\n");
    return 2;
  }
  try {
    return corun::run(run(argv[1], argv[2], std::stoul(argv[3])));
  } catch (const fetch::SetupError& e) {
    std::fprintf(stderr, "queue_test_worker: %s\n", e.what());
    return 2;
  }
}
