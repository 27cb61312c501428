// Where corun's diagnostics go (asyncio logs them through the "asyncio" logger):
// "Task exception was never retrieved", slow-callback warnings in debug mode,
// the default exception handler's reports. The sink is process-wide; the default
// writes one line to stderr. set_log_sink is thread-safe.
#pragma once

#include <functional>
#include <string_view>

namespace corun {

enum class LogLevel { debug, info, warning, error };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

// Replaces the sink; returns the previous one. An empty sink restores stderr.
LogSink set_log_sink(LogSink sink);
void log(LogLevel level, std::string_view message);

}  // namespace corun
