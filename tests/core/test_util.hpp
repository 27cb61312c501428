// Helpers shared by the core tests.
#pragma once

#include <corun/corun.hpp>
#include <mutex>
#include <string>
#include <vector>

namespace corun::testing {

// Captures corun's log lines for the duration of a test.
class LogCapture {
 public:
  LogCapture() {
    previous_ = corun::set_log_sink([this](corun::LogLevel, std::string_view m) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(m);
    });
  }
  ~LogCapture() { corun::set_log_sink(std::move(previous_)); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(std::string_view needle) const {
    for (const auto& l : lines()) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  corun::LogSink previous_;
};

// Collects exception handler calls of a loop.
struct HandlerCapture {
  std::vector<corun::ExceptionContext> calls;
  void install(corun::Loop& loop) {
    loop.set_exception_handler(
        [this](corun::Loop&, const corun::ExceptionContext& c) { calls.push_back(c); });
  }
  bool contains(std::string_view needle) const {
    for (const auto& c : calls) {
      if (c.message.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

// Runs n iterations of a loop (embedding style), as a deterministic driver.
inline void spin(corun::Loop& loop, int n = 1) {
  for (int i = 0; i < n; ++i) loop.run_once();
}

}  // namespace corun::testing
