#include <gtest/gtest.h>

#include <corun/corun.hpp>

using namespace std::chrono_literals;

namespace {
corun::Task<int> add(int a, int b) {
  co_await corun::sleep(1ms);
  co_return a + b;
}
corun::Task<int> main_task() {
  int x = co_await add(1, 2);
  auto h = corun::create_task(add(x, 10));
  co_return co_await h;
}
}  // namespace

TEST(Smoke, RunReturnsValue) { EXPECT_EQ(corun::run(main_task()), 13); }
