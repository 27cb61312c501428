// corun::fetch option checks (see NumericRange and check_options in
// include/corun/fetch/fetch.hpp): the one place the ranges are enforced.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/naming.hpp"
#include "corun/text/encoding.hpp"

namespace corun::fetch {

namespace {

std::string number_text(const NumericRange& r, double v) {
  if (r.integer && std::isfinite(v) && std::fabs(v) < 9.0e15 && v == std::floor(v)) {
    return fmt::format("{}", static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

void check(std::string_view field, double value, const std::string& shown) {
  const NumericRange& r = numeric_range(field);
  if (in_range(r, value)) return;
  throw OptionsError(std::string(field),
                     fmt::format("{} must be {}, not {}", field, describe_range(r), shown));
}

void check(std::string_view field, double value) {
  check(field, value, number_text(numeric_range(field), value));
}

void check(std::string_view field, std::uint64_t value) {
  // Converted exactly enough: any value above 2^53 is far out of every range.
  check(field, static_cast<double>(value), fmt::format("{}", value));
}

}  // namespace

const NumericRange& numeric_range(std::string_view field) {
  for (const NumericRange& r : kNumericRanges) {
    if (r.field == field) return r;
  }
  throw std::out_of_range(fmt::format("no numeric option named '{}'", field));
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
  check("concurrency", std::uint64_t{o.concurrency});
  check("limit_per_host", std::uint64_t{o.limit_per_host});
  check("threads", std::uint64_t{o.threads});
  check("retries", static_cast<double>(o.retries), fmt::format("{}", o.retries));
  check("rate", o.rate);
  check("timeout", o.timeout.count());
  check("connect_timeout", o.connect_timeout.count());
  check("read_timeout", o.read_timeout.count());
  check("retry_delay", o.retry_delay.count());
  check("retry_max_delay", o.retry_max_delay.count());
  if (o.max_body_size) check("max_body_size", std::uint64_t{*o.max_body_size});

  if (!o.name_template.empty()) {
    try {
      NameTemplate t(o.name_template);
    } catch (const TemplateError& e) {
      throw OptionsError("name_template", e.what());
    }
  }
  if (!o.raw && !o.encoding.empty() && o.encoding != "auto" && !text::lookup(o.encoding)) {
    throw OptionsError("encoding", fmt::format("unknown encoding label '{}'", o.encoding));
  }
  for (const std::string& h : o.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      throw OptionsError("headers", fmt::format("bad header '{}' (expected 'Name: value')", h));
    }
  }
}

}  // namespace corun::fetch
