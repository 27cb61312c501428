// corun::fetch page writer: a received body -> its file. Text bodies (text/*,
// XML, JSON, JavaScript, or no Content-Type and not binary: is_text_body) are decoded as a
// browser would (text::sniff: BOM, the HTTP charset, <meta>, UTF-8,
// detection; or the label given) and written as UTF-8, with a BOM unless
// bom = false; other bodies, and every body when decode = false (--raw), are
// written as received. Every file is written atomically (fs::WriteOptions::
// atomic): a crash leaves the old file or the new one, never half of one.
#pragma once

#include <cstddef>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corun/core/future.hpp"
#include "corun/core/loop.hpp"
#include "corun/fs/file.hpp"
#include "corun/text/encoding.hpp"
#include "corun/text/sniff.hpp"

namespace corun::fetch {

// True for a Content-Type whose body is decoded as text (an empty one too: sniffed).
bool is_text_type(std::string_view content_type);
// Whether this body is decoded as text: its Content-Type says so, or it has none
// and the body does not look binary (text::looks_binary: a PNG served without a
// type is saved as it is, as a browser would not show it as text).
bool is_text_body(std::string_view content_type, std::string_view body);

// Everything the decode-and-write job needs, moved in.
// Whether a decoded body is written after a BOM (when --no-bom is not given):
// not an empty one (an empty file stays empty), nor JSON (RFC 8259 forbids
// it; Python's json.load refuses it).
bool wants_bom(std::string_view content_type, std::string_view body);

struct WriteJob {
  std::string body;
  std::string content_type;
  std::filesystem::path file;
  fs::WriteOptions write_options;
  bool decode = false;
  bool bom = true;
  std::optional<text::Encoding> override_encoding;
};

// What the decode-and-write job reports back.
struct WriteOutcome {
  bool decoded = false;
  text::Encoding encoding = text::Encoding::utf_8;
  text::Source source = text::Source::default_;
  std::string error;      // empty: written
  bool no_space = false;  // the write failed for want of room (ENOSPC, EDQUOT)
};

// Decodes (when job.decode) and writes one page, blocking; never throws (a
// failure is outcome.error).
WriteOutcome run_write_job(const WriteJob& job);

// Decode-and-write jobs on libuv's thread pool, batched: a job takes every
// page waiting when it starts, so under load one thread hand-off (and one
// wake-up of the loop) serves many pages instead of one each. At most
// max_jobs jobs run at once; the rest of the pages wait on the loop thread.
// Loop-thread API. run()'s shutdown waits for running jobs (they count as
// executor jobs, like to_thread's).
class BatchWriter {
 public:
  BatchWriter(Loop& loop, std::size_t max_jobs) : loop_(loop), max_jobs_(max_jobs) {}
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;
  ~BatchWriter() {
    // Jobs still running own their batches; they only touch this object
    // through the lifeline, which is cut here.
    *alive_ = false;
  }

  Future<WriteOutcome> write(WriteJob job) {
    Future<WriteOutcome> done(loop_);
    pending_.push_back(Pending{std::move(job), done});
    if (running_ < max_jobs_) start_job();
    return done;
  }

 private:
  struct Pending {
    WriteJob job;
    Future<WriteOutcome> done;
  };
  struct Batch {
    std::vector<WriteJob> jobs;
    std::vector<Future<WriteOutcome>> futures;
    std::vector<WriteOutcome> outcomes;
  };
  static constexpr std::size_t kMaxBatch = 64;

  void start_job();

  Loop& loop_;
  std::size_t max_jobs_;
  std::size_t running_ = 0;
  std::deque<Pending> pending_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace corun::fetch
