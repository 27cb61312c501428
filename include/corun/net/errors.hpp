// corun::net errors, after Python's OSError family and asyncio's stream errors.
#pragma once

#include <cstddef>
#include <string>

#include "corun/core/error.hpp"

namespace corun::net {

// A socket-level failure; code() is libuv's (negative errno) error code.
class ConnectionError : public Error {
 public:
  ConnectionError(int code, std::string message) : Error(std::move(message)), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// readexactly()/readuntil() met the end of the stream first (asyncio.IncompleteReadError).
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::size_t expected);
  const std::string& partial() const noexcept { return partial_; }
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

// readuntil() found no separator within the reader's limit (asyncio.LimitOverrunError).
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(std::string message, std::size_t consumed)
      : Error(std::move(message)), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

}  // namespace corun::net
