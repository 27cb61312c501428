// Google Benchmark suite for the core runtime's hot paths. Each benchmark drives
// a corun::Loop directly with run_once() (the embedding hook), so what is
// measured is the runtime's own work plus one non-blocking libuv poll per
// iteration, amortised over a batch of `range(0)` operations.
//
//   call_soon + run        Loop::call_soon then the iteration that runs it
//   task create + step     create_task of a trivial coroutine, run to completion
//   call_later (insert)    inserting timers into the heap
//   call_later (fire)      a timer due at once, fired by the next iteration
//   Event wait/set         set() waking one waiting task that waits again (one
//                          run_once() per round trip, so it includes a libuv poll)
//   Event ping-pong        two tasks inside run() waking each other through two
//                          Events: a round trip is two task switches
//   sleep(0) in run()      one task yielding inside run(): one loop iteration
//   run_once (idle)        an iteration with nothing to do: the per-iteration floor
//   uv_run NOWAIT          the same on a bare libuv loop (its share of that floor)
#include <benchmark/benchmark.h>

#include <chrono>
#include <corun/corun.hpp>
#include <vector>

using namespace std::chrono_literals;

namespace {

void BM_CallSoonRun(benchmark::State& state) {
  corun::Loop loop;
  const auto batch = state.range(0);
  std::int64_t counter = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) loop.call_soon([&counter] { ++counter; });
    loop.run_once();
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_CallSoonRun)->Arg(1)->Arg(1000);

corun::Task<int> trivial(int x) {
  co_return x + 1;
}

void BM_TaskCreateStep(benchmark::State& state) {
  corun::Loop loop;
  const auto batch = state.range(0);
  std::vector<corun::TaskHandle<int>> handles;
  handles.reserve(static_cast<std::size_t>(batch));
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i)
      handles.push_back(loop.create_task(trivial(static_cast<int>(i))));
    loop.run_once();
    handles.clear();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_TaskCreateStep)->Arg(1)->Arg(1000);

void BM_CallLaterInsert(benchmark::State& state) {
  corun::Loop loop;
  const auto batch = state.range(0);
  std::vector<corun::TimerHandle> timers;
  timers.reserve(static_cast<std::size_t>(batch));
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) {
      timers.push_back(loop.call_later(std::chrono::milliseconds(1000 + i % 977), [] {}));
    }
    state.PauseTiming();
    for (auto& t : timers) t.cancel();
    timers.clear();
    loop.run_once();  // drops the cancelled timers from the heap
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_CallLaterInsert)->Arg(1000)->Arg(100000);

void BM_CallLaterFire(benchmark::State& state) {
  corun::Loop loop;
  const auto batch = state.range(0);
  std::int64_t counter = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) loop.call_later(0ms, [&counter] { ++counter; });
    loop.run_once();
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_CallLaterFire)->Arg(1)->Arg(1000);

corun::Task<void> wait_forever(corun::Event& event, std::int64_t& wakeups) {
  for (;;) {
    co_await event.wait();
    event.clear();
    ++wakeups;
  }
}

void BM_EventWaitSet(benchmark::State& state) {
  corun::Loop loop;
  corun::Event event;
  std::int64_t wakeups = 0;
  auto waiter = loop.create_task(wait_forever(event, wakeups));
  loop.run_once();  // the waiter starts and blocks
  for (auto _ : state) {
    event.set();      // wakes the waiter: its next step is queued
    loop.run_once();  // it runs, clears the event and waits again
  }
  if (wakeups != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("a wake-up was lost");
  waiter.cancel();
  loop.run_once();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventWaitSet);

corun::Task<void> pong(corun::Event& ping, corun::Event& pong_event) {
  for (;;) {
    co_await ping.wait();
    ping.clear();
    pong_event.set();
  }
}

corun::Task<void> ping_pong(benchmark::State& state) {
  corun::Event ping;
  corun::Event pong_event;
  auto partner = corun::create_task(pong(ping, pong_event));
  for (auto _ : state) {
    ping.set();
    co_await pong_event.wait();
    pong_event.clear();
  }
  partner.cancel();
  co_await corun::sleep(0s);
}

void BM_EventPingPong(benchmark::State& state) {
  corun::run(ping_pong(state));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventPingPong);

corun::Task<void> yield_loop(benchmark::State& state) {
  for (auto _ : state) co_await corun::sleep(0s);
}

void BM_Sleep0InRun(benchmark::State& state) {
  corun::run(yield_loop(state));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sleep0InRun);

void BM_RunOnceIdle(benchmark::State& state) {
  corun::Loop loop;
  for (auto _ : state) loop.run_once();
}
BENCHMARK(BM_RunOnceIdle);

void BM_UvRunNowait(benchmark::State& state) {
  uv_loop_t uv;
  uv_loop_init(&uv);
  uv_async_t async;  // a live handle, as corun's loop has, so uv_run polls
  uv_async_init(&uv, &async, [](uv_async_t*) {});
  for (auto _ : state) uv_run(&uv, UV_RUN_NOWAIT);
  uv_close(reinterpret_cast<uv_handle_t*>(&async), nullptr);
  uv_run(&uv, UV_RUN_DEFAULT);
  uv_loop_close(&uv);
}
BENCHMARK(BM_UvRunNowait);

}  // namespace

BENCHMARK_MAIN();
