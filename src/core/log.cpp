#include "corun/core/log.hpp"

#include <pthread.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace corun {
namespace {
std::mutex g_mutex;
// Held around fork(), as the frame pool's depot lock (pool.cpp): a child
// forked while another thread logs can log.
void lock_for_fork() {
  g_mutex.lock();
}
void unlock_after_fork() {
  g_mutex.unlock();
}
[[maybe_unused]] const int g_fork_handlers =
    ::pthread_atfork(&lock_for_fork, &unlock_after_fork, &unlock_after_fork);
LogSink& sink() {
  static LogSink s;
  return s;
}
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "?";
}
}  // namespace

LogSink set_log_sink(LogSink s) {
  std::lock_guard lock(g_mutex);
  LogSink old = std::move(sink());
  sink() = std::move(s);
  return old;
}

void log(LogLevel level, std::string_view message) {
  LogSink s;
  {
    std::lock_guard lock(g_mutex);
    s = sink();
  }
  if (s) {
    s(level, message);
    return;
  }
  std::string line = "corun ";
  line += level_name(level);
  line += ": ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace corun
