// A user's program: the README's example, built against an installed corun.
#include <corun/corun.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

using namespace std::chrono_literals;

corun::Task<int> square_later(int i) {
  co_await corun::sleep(1ms);
  co_return i * i;
}

corun::Task<int> main_task() {
  std::vector<corun::Task<int>> work;
  for (int i = 0; i < 10; ++i) work.push_back(square_later(i));
  auto squares = co_await corun::wait_for(corun::gather(std::move(work)), 5s);
  co_return std::accumulate(squares.begin(), squares.end(), 0);
}

int main() {
  std::printf("%d\n", corun::run(main_task()));
  return 0;
}
