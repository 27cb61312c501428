// redis::Reply: one RESP2 reply as a value (what redis-py hands back, typed):
// nil, an integer, a status ("OK"), an error, a bulk string (bytes, binary
// safe) or an array of replies (nested to the depth hiredis parses: 7).
//
// Accessors name the type they expect and throw redis::ReplyTypeError, naming
// both types, when the reply holds another; is_*() test without throwing.
// Connection::command() turns a top-level error reply into a ResponseError, so
// error replies reach user code only as elements (EXEC's results) or through a
// pipeline's execute(raise_on_error = false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corun::redis {

class Reply {
 public:
  enum class Type : std::uint8_t { nil, integer, status, error, string, array };

  Reply() = default;  // nil
  static Reply nil() { return Reply(); }
  static Reply integer(std::int64_t value);
  static Reply status(std::string text);
  static Reply error(std::string message);
  static Reply string(std::string bytes);
  static Reply array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == Type::nil; }
  bool is_integer() const noexcept { return type_ == Type::integer; }
  bool is_status() const noexcept { return type_ == Type::status; }
  bool is_error() const noexcept { return type_ == Type::error; }
  bool is_string() const noexcept { return type_ == Type::string; }
  bool is_array() const noexcept { return type_ == Type::array; }

  std::int64_t as_integer() const;
  // A bulk string's bytes, or a status's text (both are strings to a caller).
  const std::string& as_string() const;
  // A bulk string, or std::nullopt for nil (GET of a missing key).
  std::optional<std::string> as_optional_string() const;
  const std::string& as_status() const;
  const std::string& as_error() const;
  const std::vector<Reply>& as_array() const;
  std::vector<Reply>& as_array();

  // Array access: size() and operator[] throw ReplyTypeError unless an array;
  // operator[] throws std::out_of_range past the end.
  std::size_t size() const;
  const Reply& operator[](std::size_t i) const;

  // For messages and tests: 'nil', '42', '+OK', '-ERR ...', '"bytes"', '[a, b]'.
  std::string repr() const;
  friend bool operator==(const Reply& a, const Reply& b) noexcept;

  static std::string_view type_name(Type t) noexcept;

 private:
  [[noreturn]] void mismatch(Type wanted) const;
  Type type_ = Type::nil;
  std::int64_t integer_ = 0;
  std::string text_;  // status, error or bulk bytes
  std::vector<Reply> elements_;
};

}  // namespace corun::redis
