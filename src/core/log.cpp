#include "corun/core/log.hpp"

#include <cstdio>
#include <mutex>
#include <string>

namespace corun {
namespace {
std::mutex g_mutex;
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
