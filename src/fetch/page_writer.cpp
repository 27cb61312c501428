// corun::fetch page writer (see page_writer.hpp).
#include "page_writer.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <system_error>

#include "corun/core/error.hpp"
#include "corun/text/ascii.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/mime.hpp"
#include "corun/text/utf8.hpp"

namespace corun::fetch {

bool is_text_type(std::string_view content_type) {
  // Fetch's "extract a MIME type", as the sniffer reads the header: none (absent or
  // unparseable) means the body is sniffed, so it is treated as text.
  std::optional<text::MimeType> type = text::extract_mime_type(content_type);
  return !type || text::is_text_mime_type(type->essence);
}

bool is_text_body(std::string_view content_type, std::string_view body) {
  std::optional<text::MimeType> type = text::extract_mime_type(content_type);
  return type ? text::is_text_mime_type(type->essence) : !text::looks_binary(body);
}

bool wants_bom(std::string_view content_type, std::string_view body) {
  // An empty body stays an empty file; JSON must not start with a BOM (RFC
  // 8259: parsers may refuse it, Python's json.load does).
  if (body.empty()) return false;
  std::optional<text::MimeType> type = text::extract_mime_type(content_type);
  if (!type) return true;
  return !text::iequals(type->essence, "application/json") &&
         !text::iends_with(type->essence, "+json");
}

WriteOutcome run_write_job(const WriteJob& job) {
  WriteOutcome o;
  try {
    if (!job.decode) {
      fs::write_file_sync(job.file, job.body, job.write_options);
      return o;
    }
    text::SniffResult sniffed =
        job.override_encoding
            ? text::sniff(job.body, job.content_type, text::name(*job.override_encoding))
            : text::sniff(job.body, job.content_type);
    o.decoded = true;
    o.encoding = sniffed.encoding;
    o.source = sniffed.source;
    std::string_view head =
        job.bom && wants_bom(job.content_type, job.body) ? text::utf8_bom : std::string_view{};
    if (sniffed.encoding == text::Encoding::utf_8 && text::is_valid_utf8(job.body)) {
      // Already UTF-8: only the BOM changes.
      std::string_view b = job.body;
      if (b.starts_with(text::utf8_bom)) b.remove_prefix(text::utf8_bom.size());
      fs::write_file_sync(job.file, head, b, job.write_options);
    } else {
      std::string utf8 = text::decode(job.body, sniffed.encoding);
      fs::write_file_sync(job.file, head, utf8, job.write_options);
    }
  } catch (const fs::FileError& e) {
    o.error = e.what();
    o.no_space = e.code() == std::errc::no_space_on_device || e.code().value() == EDQUOT;
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

void BatchWriter::start_job() {
  auto batch = std::make_shared<Batch>();
  std::size_t n = std::min(pending_.size(), kMaxBatch);
  batch->jobs.reserve(n);
  batch->futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Pending& p = pending_.front();
    if (!p.done.done()) {  // a cancelled wait needs no write
      batch->jobs.push_back(std::move(p.job));
      batch->futures.push_back(p.done);
    }
    pending_.pop_front();
  }
  if (batch->jobs.empty()) return;
  try {
    loop_.queue_work(
        [batch] {
          batch->outcomes.reserve(batch->jobs.size());
          for (const WriteJob& j : batch->jobs) batch->outcomes.push_back(run_write_job(j));
        },
        [batch, writer = this, alive = alive_] {
          for (std::size_t i = 0; i < batch->futures.size(); ++i) {
            if (batch->futures[i].done()) continue;
            if (i < batch->outcomes.size()) {
              batch->futures[i].set_result(std::move(batch->outcomes[i]));
            } else {
              batch->futures[i].set_exception(
                  std::make_exception_ptr(RuntimeError("write job cancelled")));
            }
          }
          if (*alive) {
            --writer->running_;
            while (!writer->pending_.empty() && writer->running_ < writer->max_jobs_) {
              writer->start_job();
            }
          }
        });
  } catch (const RuntimeError& e) {
    for (auto& f : batch->futures) {
      f.set_exception(std::make_exception_ptr(
          RuntimeError(fmt::format("cannot start a write job: {}", e.what()))));
    }
    return;
  }
  ++running_;
}

}  // namespace corun::fetch
