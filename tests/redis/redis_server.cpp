// The redis-server test fixture (see redis_server.hpp).
#include "redis/redis_server.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace corun::testing {

RedisServer::RedisServer(RedisOptions options)
    : dir_("corun-redis"), options_(std::move(options)), port_(free_port()) {
  start();
}

RedisServer::~RedisServer() {
  kill();
}

std::string RedisServer::url(const std::string& userinfo, int db) const {
  std::string u = "redis://";
  if (!userinfo.empty()) u += userinfo + "@";
  u += "127.0.0.1:" + std::to_string(port_);
  if (db != 0) u += "/" + std::to_string(db);
  return u;
}

void RedisServer::start() {
  if (pid_ > 0) throw std::logic_error("RedisServer::start: already running");
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--dir",
                                   dir_.path().string(),
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   (dir_.path() / "redis.log").string(),
                                   "--enable-debug-command",
                                   "local"};
  if (!options_.requirepass.empty()) {
    args.push_back("--requirepass");
    args.push_back(options_.requirepass);
  }
  for (const auto& a : options_.extra_args) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the test process, whatever kills it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  if (!wait_for_port(port_, std::chrono::seconds(10))) {
    std::string text = log();
    kill();
    throw std::runtime_error(
        "redis-server did not start (is it installed? "
        "scripts/install-deps.sh): " +
        text);
  }
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string RedisServer::log() const {
  std::ifstream in(dir_.path() / "redis.log");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace corun::testing
