// A real redis-server (Debian's, from scripts/install-deps.sh) for the tests:
// started as a child process on a free loopback port in its own temporary
// directory (no RDB snapshots; AOF only when asked, for restarts that keep the
// data), stopped by pid. Never the system service. Blocking helpers: call them
// outside the event loop, or from a task that can afford to block briefly.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/nginx_fixture.hpp"

namespace corun::testing {

struct RedisOptions {
  std::string requirepass;              // --requirepass when not empty
  bool appendonly = false;              // AOF on: a restart keeps the data
  std::vector<std::string> extra_args;  // more command-line config ("--user", "alice on >pw ...")
};

class RedisServer {
 public:
  explicit RedisServer(RedisOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const noexcept { return port_; }
  // redis://[userinfo@]127.0.0.1:PORT[/db]
  std::string url(const std::string& userinfo = {}, int db = 0) const;
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }

  // SIGKILL and reap (no shutdown save): a crash, as far as clients can tell.
  void kill();
  // Starts it again on the same port and directory (its AOF, if on, is replayed).
  void start();
  std::string log() const;

 private:
  TempDir dir_;
  RedisOptions options_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace corun::testing
