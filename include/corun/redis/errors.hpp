// corun::redis errors, named after redis-py's (redis.exceptions) so a reader of
// Python code finds the twin at once:
//
//   corun::Error
//   ├── redis::Error
//   │   ├── ConnectionError       cannot connect (refused, unreachable, timed out
//   │   │                         connecting), or the connection was lost or closed;
//   │   │                         may_have_executed() says whether the command
//   │   │                         had been sent (in flight: it may have run)
//   │   ├── AuthenticationError   AUTH refused (WRONGPASS), or the server wants a
//   │   │                         password the URL does not give (NOAUTH)
//   │   ├── ResponseError         the server answered with an error: kind() is its
//   │   │   │                     first word (WRONGTYPE, ERR, NOPERM, BUSY...),
//   │   │   │                     what() the server's message verbatim
//   │   │   └── NoScriptError     NOSCRIPT (EVALSHA of a script the server lacks)
//   │   ├── InvalidURL            a malformed redis:// URL or an unsupported scheme
//   │   └── ReplyTypeError        a Reply read as a type it does not hold
//   └── TimeoutError (corun::TimeoutError)
//       └── redis::TimeoutError   a command's own timeout expired
//
// Unlike redis-py, AuthenticationError is not a ConnectionError: a refused
// password does not get better by reconnecting, and code that retries on
// ConnectionError should not loop on it. redis::TimeoutError derives from
// corun::TimeoutError (as redis-py's asyncio client raises asyncio's), so code
// that catches corun::TimeoutError around wait_for() catches both; catch
// corun::Error for everything.
#pragma once

#include <string>
#include <string_view>

#include "corun/core/error.hpp"

namespace corun::redis {

class Error : public corun::Error {
 public:
  using corun::Error::Error;
};

class ConnectionError : public Error {
 public:
  explicit ConnectionError(std::string message, bool may_have_executed = false)
      : Error(std::move(message)), may_have_executed_(may_have_executed) {}
  // True when the command had been sent before the connection was lost: the
  // server may or may not have executed it. False: it was never sent.
  bool may_have_executed() const noexcept { return may_have_executed_; }

 private:
  bool may_have_executed_ = false;
};

class AuthenticationError : public Error {
 public:
  using Error::Error;
};

class ResponseError : public Error {
 public:
  // server_message: the server's error reply, verbatim ("WRONGTYPE Operation
  // against a key holding the wrong kind of value"); command: the command's
  // name, if known; context: what what() puts before the server's message.
  explicit ResponseError(std::string server_message, std::string command = {},
                         std::string_view context = {});
  // The error's first word when it is an upper-case code ("WRONGTYPE", "ERR",
  // "NOSCRIPT", "LOADING"...), else empty.
  const std::string& kind() const noexcept { return kind_; }
  // The command that got the error ("LPUSH"), or empty.
  const std::string& command() const noexcept { return command_; }
  const std::string& server_message() const noexcept { return server_message_; }

 private:
  std::string server_message_;
  std::string kind_;
  std::string command_;
};

class NoScriptError : public ResponseError {
 public:
  using ResponseError::ResponseError;
};

class InvalidURL : public Error {
 public:
  using Error::Error;
};

class ReplyTypeError : public Error {
 public:
  using Error::Error;
};

class TimeoutError : public corun::TimeoutError {
 public:
  using corun::TimeoutError::TimeoutError;
};

}  // namespace corun::redis
