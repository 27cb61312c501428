// redis::Script: a Lua script run by its SHA-1 (redis-py's register_script):
// EVALSHA, and when the server answers NOSCRIPT (never loaded, SCRIPT FLUSH, a
// restarted server) SCRIPT LOAD and EVALSHA again, once. The SHA-1 is computed
// locally, so the first call costs no extra round trip when the server already
// has the script.
//
//   static const redis::Script incr_by("return redis.call('INCRBY', KEYS[1], ARGV[1])");
//   std::vector<std::string> keys{"counter"}, args{"5"};
//   redis::Reply r = co_await incr_by(conn, keys, args);
#pragma once

#include <string>
#include <vector>

#include "corun/core/task.hpp"
#include "corun/redis/connection.hpp"
#include "corun/redis/reply.hpp"

namespace corun::redis {

class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const noexcept { return source_; }
  // Lower-case hex SHA-1 of the source (what SCRIPT LOAD returns).
  const std::string& sha() const noexcept { return sha_; }

  // Runs the script with KEYS and ARGV; an error the script raises is a
  // ResponseError. The connection and the script must outlive the call.
  Task<Reply> operator()(Connection& conn) const;
  Task<Reply> operator()(Connection& conn, std::vector<std::string> keys) const;
  Task<Reply> operator()(Connection& conn, std::vector<std::string> keys,
                         std::vector<std::string> args) const;

 private:
  std::string source_;
  std::string sha_;
};

namespace detail {
// SHA-1 (FIPS 180-4) of bytes as 40 lower-case hex digits.
std::string sha1_hex(std::string_view bytes);
}  // namespace detail

}  // namespace corun::redis
