// The failed records of a run grouped by cause, for the summaries of
// `corun fetch` and of a queue worker (apps only).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/record.hpp"
#include "corun/http/url.hpp"

namespace corun::app {

// The failed records grouped by cause, for the summary: whoever fetched one URL
// (or ran a crawl that failed for one reason) learns why without opening the
// report, as curl or wget would say it. An error reads "what (URL): detail"
// (or "what: URL", or "HTTP 404 Not Found"): "what" is the cause.
class FailureTally {
 public:
  // Counts every record `o` reports, after the callback `o` already has (the
  // report's own line). The tally must outlive the run made with `o`.
  void attach(fetch::Options& o) {
    o.on_record = [this, next = std::move(o.on_record)](const fetch::Record& r) {
      add(r);
      if (next) next(r);
    };
  }

  void add(const fetch::Record& r) {
    if (r.ok()) return;
    ++failed_;
    auto [cause, detail] = split(r.error, r.url);
    auto it = index_.find(cause);
    if (it == index_.end()) {
      if (causes_.size() >= kMaxCauses) return;  // counted in failed_ only
      it = index_.emplace(cause, causes_.size()).first;
      causes_.push_back(Cause{std::move(cause), r.url, std::move(detail), 0});
    }
    ++causes_[it->second].count;
  }

  // Lines for a summary, each indented by two spaces; "" when nothing failed.
  std::string describe() const {
    if (failed_ == 0) return "";
    std::vector<const Cause*> order;
    order.reserve(causes_.size());
    for (const Cause& c : causes_) order.push_back(&c);
    // Most frequent first; among equals, the first seen first.
    std::stable_sort(order.begin(), order.end(),
                     [](const Cause* a, const Cause* b) { return a->count > b->count; });
    std::string text = "  failed, by cause (every URL's error is in the report):";
    std::uint64_t shown = 0;
    // One cause past the first few is shown as they are, not as "1 for 1 other causes".
    std::size_t limit = order.size() == kShown + 1 ? order.size() : kShown;
    for (std::size_t i = 0; i < order.size() && i < limit; ++i) {
      const Cause& c = *order[i];
      shown += c.count;
      text += fmt::format("\n    {:>6}  {}", c.count, clip(hide_passwords(c.cause)));
      std::string example = c.url.empty() ? c.detail : c.url;
      if (!c.url.empty() && !c.detail.empty()) example += ": " + c.detail;
      if (!example.empty()) {
        text += fmt::format("\n            e.g. {}", clip(hide_passwords(std::move(example))));
      }
      if (c.cause.starts_with("TLS certificate verification failed")) {
        text += "\n            (--cacert FILE trusts a private CA; -k skips the check)";
      }
    }
    if (shown < failed_) {
      std::size_t others = order.size() > limit ? order.size() - limit : 0;
      text += others > 0 && causes_.size() < kMaxCauses
                  ? fmt::format("\n    {:>6}  for {} other causes", failed_ - shown, others)
                  : fmt::format("\n    {:>6}  for other causes", failed_ - shown);
    }
    return text;
  }

 private:
  struct Cause {
    std::string cause;
    std::string url;     // the first URL that failed this way
    std::string detail;  // its error's text after the cause
    std::uint64_t count;
  };
  static constexpr std::size_t kMaxCauses = 1000;
  static constexpr std::size_t kShown = 5;
  static constexpr std::size_t kMaxWidth = 300;

  static std::pair<std::string, std::string> split(const std::string& error,
                                                   const std::string& url) {
    if (!url.empty()) {
      // The error names the URL without its credentials (http::without_userinfo).
      std::string marker = " (" + url + ")";
      if (error.find(marker) == std::string::npos)
        marker = " (" + http::without_userinfo(url) + ")";
      if (auto at = error.find(marker); at != std::string::npos) {
        std::string detail = error.substr(at + marker.size());
        if (detail.starts_with(": ")) detail.erase(0, 2);
        return {error.substr(0, at), std::move(detail)};
      }
      std::string tail = ": " + url;
      if (error.size() > tail.size() && error.ends_with(tail)) {
        return {error.substr(0, error.size() - tail.size()), ""};
      }
    }
    // "what (URL): detail" naming another URL (where a redirect led): the same
    // cause, that URL with the detail.
    for (std::string_view scheme :
         {std::string_view(" (http://"), std::string_view(" (https://")}) {
      auto at = error.find(scheme);
      if (at == std::string::npos) continue;
      auto close = error.find("): ", at);
      std::string named;
      std::string rest;
      if (close != std::string::npos) {
        named = error.substr(at + 2, close - at - 2);
        rest = error.substr(close + 3);
      } else if (error.ends_with(")")) {
        named = error.substr(at + 2, error.size() - at - 3);
      } else {
        continue;
      }
      if (!rest.empty()) {
        named += ": ";
        named += rest;
      }
      return {error.substr(0, at), std::move(named)};
    }
    // A file that could not be written ("cannot write out/a.html: No space left
    // on device"): the cause is the system's reason, the file its detail, so a
    // full disk is one cause, not one per file.
    static constexpr std::string_view kWrite = "cannot write ";
    if (error.starts_with(kWrite)) {
      if (auto colon = error.rfind(": "); colon != std::string::npos && colon > kWrite.size()) {
        return {fmt::format("cannot write the file: {}", error.substr(colon + 2)),
                error.substr(kWrite.size(), colon - kWrite.size())};
      }
    }
    return {error, ""};
  }
  // A URL's password shown as *** ("https://alice:***@host/"), as wget shows it:
  // the summary goes to a terminal, a log, a CI page. The report keeps the URL as
  // given (--resume matches it against the input).
  static std::string hide_passwords(std::string s) {
    for (std::size_t at = s.find("://"); at != std::string::npos; at = s.find("://", at)) {
      std::size_t start = at + 3;
      std::size_t end = s.find_first_of("/?#) \t\n", start);
      if (end == std::string::npos) end = s.size();
      std::size_t sign = s.rfind('@', end == 0 ? 0 : end - 1);
      std::size_t colon =
          sign == std::string::npos || sign < start ? std::string::npos : s.find(':', start);
      if (colon != std::string::npos && colon < sign && sign > colon + 1) {
        s.replace(colon + 1, sign - colon - 1, "***");
        end = colon + 4;
      }
      at = end;
    }
    return s;
  }
  static std::string clip(const std::string& s) {
    if (s.size() <= kMaxWidth) return s;
    std::size_t cut = kMaxWidth;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8
    return s.substr(0, cut) + "...";
  }

  std::uint64_t failed_ = 0;
  std::vector<Cause> causes_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace corun::app
