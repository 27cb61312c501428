// corun::net errors, after asyncio's stream exceptions and Python's OSError family.
#pragma once

#include <cstddef>
#include <string>

#include "corun/core/error.hpp"

namespace corun::net {

// An operating-system level connection failure (Python's OSError /
// ConnectionError): refused, reset, unreachable, name not resolved. code() is
// the libuv error code (negative errno), 0 when not from libuv.
class ConnectionError : public Error {
 public:
  ConnectionError(std::string message, int code) : Error(std::move(message)), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// The peer reset the connection (ECONNRESET, EPIPE).
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// asyncio.IncompleteReadError: EOF before readexactly()/readuntil() got enough.
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::size_t expected);
  const std::string& partial() const noexcept { return partial_; }
  // Bytes wanted; 0 when reading up to a separator.
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

// asyncio.LimitOverrunError: readuntil() found no separator within the limit.
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(std::string message, std::size_t consumed)
      : Error(std::move(message)), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

}  // namespace corun::net
