// corun::fetch local frontier: a UrlSource streamed line by line plus the
// JSON-lines report, i.e. what `corun fetch URLS|FILE|-` and corun.fetch()
// run on (the Frontier contract is frontier.hpp's).
//
//   - Input: lines are read in the source's batches, only as fast as the
//     engine takes URLs; parse_input_line turns them into URLs (base_url
//     applied) and labels; each URL line gets the next index ({index},
//     Record::index), blank and #comment lines none.
//   - --resume (resume = true): open() reads the report first; a URL with a
//     done record is skipped (once per done record, so a URL listed twice and
//     done once is fetched once more), and the files of done records are
//     reserved. A torn last line (a crash mid-write) is cut off, and named
//     temporary files a kill -9 left in the output folder are removed.
//   - Report: records are buffered and written in large pieces (every 64 KiB,
//     at flush() and close(); the engine also flushes every second); a failed
//     write leaves whole lines and is Summary::report_error.
//   - Retries: defer() keeps the URL (and its record so far) in a timer heap
//     and take() hands it back when due, before any new input. At most
//     max_deferred URLs wait so: while that many do, no new input is read.
//     After stop(), a deferred URL is completed with its record's error plus
//     " (not retried: interrupted)", as is a retried URL released unstarted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/frontier.hpp"
#include "corun/fetch/source.hpp"

namespace corun::fetch {

class LocalFrontier final : public Frontier {
 public:
  struct Config {
    std::filesystem::path report;   // the JSON-lines report (required)
    std::filesystem::path out_dir;  // where pages go: stale temp files, the report's page key
    bool resume = false;
    std::string base_url;
    std::size_t max_deferred = 4096;  // URLs waiting for a retry at once, at most
  };

  // source must outlive the frontier.
  LocalFrontier(UrlSource& source, Config config);
  ~LocalFrontier() override;
  LocalFrontier(const LocalFrontier&) = delete;
  LocalFrontier& operator=(const LocalFrontier&) = delete;

  Task<void> open() override;
  Task<bool> take(std::vector<Work>& out, std::size_t max) override;
  void complete(Work work, Record record) override;
  void defer(Work work, Record record, std::chrono::steady_clock::duration delay) override;
  void release(Work work) override;
  void stop() override;
  Task<void> close() override;
  void fill(Summary& summary) const override;
  void flush() noexcept override;
  std::string must_stop() const override;
  void reserve_names(NameRegistry& names) override;
  std::string own_path() const override;

  // URLs waiting for their retry now.
  std::size_t deferred() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace corun::fetch
