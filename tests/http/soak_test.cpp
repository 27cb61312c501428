// Soak: many requests through one ClientSession; open file descriptors and RSS
// stay flat (measured after a warm-up, so pools and caches are already full).
// CORUN_SOAK_REQUESTS (compile definition) sets the size: 20,000 in the default
// suite, 100,000 in the "soak" label.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/http.hpp"
#include "support/nginx_fixture.hpp"

#ifndef CORUN_SOAK_REQUESTS
#define CORUN_SOAK_REQUESTS 20000
#endif

namespace {

using corun::Task;
using corun::http::ClientSession;
using corun::http::Response;

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

Task<std::size_t> batch(ClientSession& s, const std::string& url, int requests) {
  std::size_t bytes = 0;
  std::size_t next = 0;
  auto worker = [&]() -> Task<void> {
    while (next < static_cast<std::size_t>(requests)) {
      ++next;
      Response r = co_await s.get(url);
      EXPECT_EQ(r.status(), 200);
      bytes += r.read().size();
    }
  };
  std::vector<corun::TaskHandle<void>> ws;
  for (int i = 0; i < 64; ++i) ws.push_back(corun::create_task(worker()));
  for (auto& w : ws) co_await w;
  co_return bytes;
}

TEST(HttpSoak, DescriptorsAndMemoryStayFlat) {
  corun::testing::Nginx nginx;
  std::string page(12 * 1024, 'q');
  corun::testing::write_text_file(nginx.root() / "page.html", page);
  std::string url = nginx.base_url() + "/page.html";
  constexpr int kTotal = CORUN_SOAK_REQUESTS;
  constexpr int kWarmup = kTotal / 10;
  corun::run([&]() -> Task<void> {
    corun::http::SessionOptions o;
    o.limit = 64;
    ClientSession s(o);
    EXPECT_EQ(co_await batch(s, url, kWarmup), page.size() * kWarmup);
    std::size_t fds = open_fds();
    std::size_t rss = rss_bytes();
    for (int done = kWarmup; done < kTotal; done += kWarmup) {
      EXPECT_EQ(co_await batch(s, url, kWarmup), page.size() * kWarmup);
      EXPECT_LE(open_fds(), fds + 2) << "after " << done + kWarmup << " requests";
    }
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine holds freed memory on purpose
    EXPECT_LE(rss_bytes(), rss + 16 * 1024 * 1024)
        << "RSS grew from " << rss << " to " << rss_bytes();
#else
    (void)rss;
#endif
    co_await s.close();
  }());
  EXPECT_LE(nginx.accepted_connections(), 64);
}

}  // namespace
