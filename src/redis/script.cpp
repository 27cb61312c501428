// redis::Script: EVALSHA with load-on-NOSCRIPT (see include/corun/redis/script.hpp).
#include "corun/redis/script.hpp"

#include <fmt/format.h>

namespace corun::redis {

Script::Script(std::string source) : source_(std::move(source)), sha_(detail::sha1_hex(source_)) {}

namespace {

Task<Reply> run_script(Connection& conn, const std::string& source, const std::string& sha,
                       std::vector<std::string> keys, std::vector<std::string> args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(sha);
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  try {
    Task<Reply> first = conn.command_argv(argv);
    Reply r = co_await first;
    co_return r;
  } catch (const NoScriptError&) {
    // The server has no script by that digest: load it (below) and retry once.
  }
  std::vector<std::string> load{"SCRIPT", "LOAD", source};
  Task<Reply> loading = conn.command_argv(std::move(load));
  Reply loaded = co_await loading;
  if (loaded.as_string() != sha) {
    throw Error(fmt::format("SCRIPT LOAD returned digest {} for a script whose SHA-1 is {}",
                            loaded.as_string(), sha));
  }
  Task<Reply> retry = conn.command_argv(std::move(argv));
  Reply r = co_await retry;
  co_return r;
}

}  // namespace

Task<Reply> Script::operator()(Connection& conn) const {
  return run_script(conn, source_, sha_, {}, {});
}

Task<Reply> Script::operator()(Connection& conn, std::vector<std::string> keys) const {
  return run_script(conn, source_, sha_, std::move(keys), {});
}

Task<Reply> Script::operator()(Connection& conn, std::vector<std::string> keys,
                               std::vector<std::string> args) const {
  return run_script(conn, source_, sha_, std::move(keys), std::move(args));
}

}  // namespace corun::redis
