// redis::Pipeline: commands collected, then sent in one write and answered in
// one read (redis-py's pipeline(transaction=False)). Wrap them in MULTI ...
// EXEC yourself for a transaction: EXEC's array then holds their results.
//
//   redis::Pipeline p = conn.pipeline();
//   p.command("INCR", "hits").command("EXPIRE", "hits", 60).command("GET", "hits");
//   std::vector<redis::Reply> replies = co_await p.execute();
//
// execute() returns one Reply per command, in order, once all have answered.
// Error replies stay in their place; with raise_on_error (the default, as
// redis-py) the first of them is then thrown as a ResponseError. The whole
// batch shares one timeout (the connection's command_timeout, or the Timeout
// given to execute()); a connection error fails execute() with the first
// ConnectionError after every command has settled. Cancelling execute() drops
// or discards all of its commands as for Connection::command(). A pipeline is
// emptied by execute() and can be filled again.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/core/loop.hpp"
#include "corun/core/task.hpp"
#include "corun/redis/detail/args.hpp"
#include "corun/redis/reply.hpp"

namespace corun::redis {

namespace detail {
class ConnectionState;
}

class Pipeline {
 public:
  template <detail::CommandArg... A>
  Pipeline& command(const A&... args) {
    commands_.push_back(detail::make_argv(args...));
    return *this;
  }
  Pipeline& command_argv(std::vector<std::string> argv);
  std::size_t size() const noexcept { return commands_.size(); }
  bool empty() const noexcept { return commands_.empty(); }

  Task<std::vector<Reply>> execute(bool raise_on_error = true,
                                   std::optional<Clock::duration> timeout = {});

 private:
  friend class Connection;
  explicit Pipeline(std::shared_ptr<detail::ConnectionState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::ConnectionState> state_;
  std::vector<std::vector<std::string>> commands_;
};

}  // namespace corun::redis
