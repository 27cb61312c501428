// How command arguments become the byte strings Redis receives: strings and
// string views as they are (binary safe), integers in decimal, floating point
// in the shortest form that reads back exactly, and ranges of those (a
// std::vector of keys) one argument per element. bool is refused: Redis has no
// boolean, and "1" or "true" would be a guess.
#pragma once

#include <charconv>
#include <concepts>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace corun::redis::detail {

template <class T>
concept StringLike = std::is_convertible_v<const T&, std::string_view>;

template <class T>
concept CommandArg = StringLike<T> ||(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> &&
                                      !std::is_same_v<T, char>) ||
                     (std::ranges::input_range<T> && !StringLike<T> &&
                      StringLike<std::ranges::range_value_t<T>>);

template <CommandArg T>
void append_arg(std::vector<std::string>& argv, const T& value) {
  if constexpr (StringLike<T>) {
    argv.emplace_back(std::string_view(value));
  } else if constexpr (std::is_integral_v<T>) {
    argv.push_back(std::to_string(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    if (r.ec != std::errc()) throw std::invalid_argument("redis: cannot format a number");
    argv.emplace_back(buf, r.ptr);
  } else {
    for (const auto& element : value) argv.emplace_back(std::string_view(element));
  }
}

template <class... A>
std::vector<std::string> make_argv(const A&... args) {
  std::vector<std::string> argv;
  argv.reserve(sizeof...(A));
  (append_arg(argv, args), ...);
  return argv;
}

}  // namespace corun::redis::detail
