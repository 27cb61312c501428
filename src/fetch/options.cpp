// corun::fetch option checks (see kOptionFields and check_options in
// include/corun/fetch/fetch.hpp): the one place the ranges are enforced.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/http/detail/request_checks.hpp"
#include "corun/http/headers.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/encoding.hpp"
#include "labels.hpp"

namespace corun::fetch {

namespace {

std::string number_text(const NumericRange& r, double v) {
  if (r.integer && std::isfinite(v) && std::fabs(v) < 9.0e15 && v == std::floor(v)) {
    return fmt::format("{}", static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

void check(const OptionField& f, double value, const std::string& shown) {
  if (in_range(f.range, value)) return;
  throw OptionsError(std::string(f.name),
                     fmt::format("{} must be {}, not {}", f.name, describe_range(f.range), shown));
}

void check(const OptionField& f, double value) {
  check(f, value, number_text(f.range, value));
}

void check(const OptionField& f, std::uint64_t value) {
  // Converted exactly enough: any value above 2^53 is far out of every range.
  check(f, static_cast<double>(value), fmt::format("{}", value));
}

}  // namespace

const OptionField& option_field(std::string_view field) {
  for (const OptionField& f : kOptionFields) {
    if (f.name == field) return f;
  }
  throw std::out_of_range(fmt::format("no option named '{}'", field));
}

bool is_numeric(const OptionField& f) noexcept {
  return std::visit(
      [](auto pointer) {
        using T = std::remove_cvref_t<decltype(Options{}.*pointer)>;
        return kIsNumericOption<T>;
      },
      f.member);
}

const NumericRange& numeric_range(std::string_view field) {
  const OptionField& f = option_field(field);
  if (!is_numeric(f)) throw std::out_of_range(fmt::format("no numeric option named '{}'", field));
  return f.range;
}

bool in_range(const NumericRange& r, double value) noexcept {
  if (!std::isfinite(value)) return false;
  if (value == 0 && !r.zero.empty()) return true;
  if (r.integer && value != std::floor(value)) return false;
  return value >= r.min && value <= r.max;
}

std::string describe_range(const NumericRange& r) {
  std::string text;
  if (!r.zero.empty()) text = fmt::format("0 ({}) or ", r.zero);
  text += fmt::format("{} from {} to {}", r.integer ? "a whole number" : "a number",
                      number_text(r, r.min), number_text(r, r.max));
  if (!r.unit.empty()) text += fmt::format(" ({})", r.unit);
  return text;
}

void check_options(const Options& o) {
  for_each_option(o, [](const OptionField& f, const auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    if constexpr (std::is_same_v<T, std::size_t>) {
      check(f, std::uint64_t{member});
    } else if constexpr (std::is_same_v<T, std::optional<std::size_t>>) {
      if (member) check(f, std::uint64_t{*member});
    } else if constexpr (std::is_same_v<T, int>) {
      check(f, static_cast<double>(member), fmt::format("{}", member));
    } else if constexpr (std::is_same_v<T, double>) {
      check(f, member);
    } else if constexpr (std::is_same_v<T, Seconds>) {
      check(f, member.count());
    }
  });

  if (!o.name_template.empty()) {
    try {
      NameTemplate t(o.name_template);
    } catch (const TemplateError& e) {
      throw OptionsError("name_template", e.what());
    }
  }
  if (!o.raw && !o.encoding.empty() && o.encoding != "auto") {
    if (auto problem = label_problem(o.encoding)) throw OptionsError("encoding", *problem);
  }
  if (o.resume && o.report == "-") {
    throw OptionsError("report",
                       "--resume reads the report back, and a report on standard output "
                       "(--report -) cannot be read: give --report a file");
  }
  if (!o.base_url.empty() && !text::istarts_with(o.base_url, "http://") &&
      !text::istarts_with(o.base_url, "https://")) {
    throw OptionsError("base_url", fmt::format("the base URL must start with http:// or "
                                               "https://, not '{}'",
                                               o.base_url));
  }
  if (auto scheme_end = o.proxy.find("://"); scheme_end != std::string::npos) {
    // libcurl would fail every request with "Unsupported proxy scheme" (after
    // the retries): a usage error before anything is fetched, as curl's.
    std::string_view scheme = std::string_view(o.proxy).substr(0, scheme_end);
    constexpr std::string_view kSchemes[] = {"http",    "https",  "socks4",
                                             "socks4a", "socks5", "socks5h"};
    if (std::none_of(std::begin(kSchemes), std::end(kSchemes),
                     [&](std::string_view k) { return text::iequals(scheme, k); })) {
      throw OptionsError("proxy", fmt::format("unsupported proxy scheme '{}' in '{}' (use http, "
                                              "https, socks4, socks4a, socks5 or socks5h)",
                                              scheme, o.proxy));
    }
  }
  if (o.verify_tls && !o.ca_file.empty()) {
    if (auto problem = http::detail::ca_file_problem(o.ca_file)) {
      throw OptionsError("ca_file", problem->message);
    }
  }
  if (o.user_agent.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    throw OptionsError("user_agent",
                       "the user agent holds a CR, LF or NUL (it would end the header)");
  }
  for (const std::string& h : o.headers) {
    auto parts = split_header_flag(h);
    if (!parts) {
      throw OptionsError("headers",
                         fmt::format("bad header '{}' (expected 'Name: value', or 'Name;' for an "
                                     "empty value)",
                                     h));
    }
    // As the session would at the first request (a CR or LF in a value would
    // start a header of its own): a usage error before anything is fetched.
    http::Headers one;
    one.add(parts->first, parts->second);
    try {
      http::detail::check_headers(one);
    } catch (const ValueError& e) {
      throw OptionsError("headers", e.what());
    }
  }
}

std::optional<std::pair<std::string_view, std::string_view>> split_header_flag(
    std::string_view header) {
  auto colon = header.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    return std::pair(header.substr(0, colon), text::trim_http_whitespace(header.substr(colon + 1)));
  }
  if (colon == std::string_view::npos && header.size() > 1 && header.back() == ';') {
    return std::pair(header.substr(0, header.size() - 1), std::string_view());
  }
  return std::nullopt;
}

}  // namespace corun::fetch
