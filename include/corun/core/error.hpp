// corun's exception types, after asyncio's. Error and its children derive from
// std::exception. CancelledError, KeyboardInterrupt and GeneratorExit do not (as
// asyncio moved CancelledError to BaseException), so `catch (const
// std::exception&)` never swallows a cancellation or a Ctrl-C.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

namespace corun {

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

class RuntimeError : public Error {
 public:
  using Error::Error;
};

class TimeoutError : public Error {
 public:
  TimeoutError() : Error("timed out") {}
  using Error::Error;
};

class InvalidStateError : public Error {
 public:
  using Error::Error;
};

// A value of the right type but wrong content (BoundedSemaphore over-release,
// task_done() called too often), Python's ValueError.
class ValueError : public Error {
 public:
  using Error::Error;
};

// Several exceptions raised together (a TaskGroup's children): Python's
// ExceptionGroup. exceptions() keeps them in the order they happened.
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions);
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

// Thrown into a task at its suspension point when it is cancelled. Deliberately
// not a std::exception.
class CancelledError {
 public:
  CancelledError() = default;
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept { return message_.c_str(); }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

// What run() ends with after Ctrl-C cancelled the main task. Not a std::exception.
class KeyboardInterrupt {
 public:
  const char* what() const noexcept { return "KeyboardInterrupt"; }
};

// Thrown into a suspended AsyncGenerator at its co_yield when it is closed
// (aclose() or loop shutdown), so it can run its cleanup. Not a std::exception.
class GeneratorExit {
 public:
  const char* what() const noexcept { return "GeneratorExit"; }
};

namespace detail {
// The text of an exception_ptr for logs ("TimeoutError: timed out" style is not
// available in C++, so: what(), or the type family for non-std exceptions).
std::string describe_exception(const std::exception_ptr& e);
// A type's name as written in C++ ("corun::ValueError"), not the mangled
// one typeid gives ("N5corun10ValueErrorE"); the mangled one if it cannot.
std::string type_name(const std::type_info& type);
bool is_cancelled_error(const std::exception_ptr& e) noexcept;
}  // namespace detail

}  // namespace corun
