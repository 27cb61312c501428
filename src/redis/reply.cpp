// redis::Reply and ResponseError (see include/corun/redis/reply.hpp, errors.hpp).
#include "corun/redis/reply.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "corun/redis/errors.hpp"

namespace corun::redis {

ResponseError::ResponseError(std::string server_message, std::string command,
                             std::string_view context)
    : Error(context.empty() ? server_message : fmt::format("{}: {}", context, server_message)),
      server_message_(std::move(server_message)),
      command_(std::move(command)) {
  std::string_view m(server_message_);
  std::size_t n = 0;
  while (n < m.size() && ((m[n] >= 'A' && m[n] <= 'Z') || m[n] == '_')) ++n;
  if (n > 0 && (n == m.size() || m[n] == ' ')) kind_ = std::string(m.substr(0, n));
}

Reply Reply::integer(std::int64_t value) {
  Reply r;
  r.type_ = Type::integer;
  r.integer_ = value;
  return r;
}

Reply Reply::status(std::string text) {
  Reply r;
  r.type_ = Type::status;
  r.text_ = std::move(text);
  return r;
}

Reply Reply::error(std::string message) {
  Reply r;
  r.type_ = Type::error;
  r.text_ = std::move(message);
  return r;
}

Reply Reply::string(std::string bytes) {
  Reply r;
  r.type_ = Type::string;
  r.text_ = std::move(bytes);
  return r;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::array;
  r.elements_ = std::move(elements);
  return r;
}

std::string_view Reply::type_name(Type t) noexcept {
  switch (t) {
    case Type::nil:
      return "nil";
    case Type::integer:
      return "integer";
    case Type::status:
      return "status";
    case Type::error:
      return "error";
    case Type::string:
      return "bulk string";
    case Type::array:
      return "array";
  }
  return "?";
}

void Reply::mismatch(Type wanted) const {
  std::string shown = repr();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  throw ReplyTypeError(fmt::format("expected a Redis {} reply, got {} {}", type_name(wanted),
                                   type_name(type_), shown));
}

std::int64_t Reply::as_integer() const {
  if (type_ != Type::integer) mismatch(Type::integer);
  return integer_;
}

const std::string& Reply::as_string() const {
  if (type_ != Type::string && type_ != Type::status) mismatch(Type::string);
  return text_;
}

std::optional<std::string> Reply::as_optional_string() const {
  if (type_ == Type::nil) return std::nullopt;
  if (type_ != Type::string) mismatch(Type::string);
  return text_;
}

const std::string& Reply::as_status() const {
  if (type_ != Type::status) mismatch(Type::status);
  return text_;
}

const std::string& Reply::as_error() const {
  if (type_ != Type::error) mismatch(Type::error);
  return text_;
}

const std::vector<Reply>& Reply::as_array() const {
  if (type_ != Type::array) mismatch(Type::array);
  return elements_;
}

std::vector<Reply>& Reply::as_array() {
  if (type_ != Type::array) mismatch(Type::array);
  return elements_;
}

std::size_t Reply::size() const {
  return as_array().size();
}

const Reply& Reply::operator[](std::size_t i) const {
  const auto& a = as_array();
  if (i >= a.size()) {
    throw std::out_of_range(
        fmt::format("Redis array reply index {} out of range ({} elements)", i, a.size()));
  }
  return a[i];
}

namespace {
void quote(std::string& out, const std::string& bytes) {
  out += '"';
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += '"';
}
}  // namespace

std::string Reply::repr() const {
  std::string out;
  switch (type_) {
    case Type::nil:
      return "nil";
    case Type::integer:
      return std::to_string(integer_);
    case Type::status:
      return "+" + text_;
    case Type::error:
      return "-" + text_;
    case Type::string:
      quote(out, text_);
      return out;
    case Type::array:
      out += '[';
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements_[i].repr();
      }
      out += ']';
      return out;
  }
  return out;
}

bool operator==(const Reply& a, const Reply& b) noexcept {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Reply::Type::nil:
      return true;
    case Reply::Type::integer:
      return a.integer_ == b.integer_;
    case Reply::Type::array:
      return a.elements_ == b.elements_;
    default:
      return a.text_ == b.text_;
  }
}

}  // namespace corun::redis
