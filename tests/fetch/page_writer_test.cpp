// corun::fetch page writer (src/fetch/page_writer.hpp): text or raw, the BOM,
// atomic writes, and the batched pool writer.
#include "page_writer.hpp"

#include <gtest/gtest.h>

#include "corun/corun.hpp"
#include "corun/fs/file.hpp"
#include "corun/text/utf8.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::fetch {
namespace {

namespace fsys = std::filesystem;

WriteJob job(std::string body, std::string content_type, fsys::path file, bool decode = true,
             bool bom = true) {
  WriteJob j;
  j.body = std::move(body);
  j.content_type = std::move(content_type);
  j.file = std::move(file);
  j.decode = decode;
  j.bom = bom;
  return j;
}

TEST(FetchPageWriter, TextTypes) {
  EXPECT_TRUE(is_text_type("text/html; charset=gbk"));
  EXPECT_TRUE(is_text_type(" text/plain "));
  EXPECT_TRUE(is_text_type(""));  // none: sniffed
  EXPECT_TRUE(is_text_type("application/json"));
  EXPECT_TRUE(is_text_type("application/xhtml+xml"));
  EXPECT_FALSE(is_text_type("image/png"));
  EXPECT_FALSE(is_text_type("application/octet-stream"));
  // The header is read as the sniffer reads it (Fetch's "extract a MIME type"): case
  // and whitespace do not matter, the last of several values counts, and one that
  // does not parse is no type at all (sniffed).
  EXPECT_TRUE(is_text_type("Text/HTML ; charset=x"));
  EXPECT_FALSE(is_text_type("text/html, image/png"));
  EXPECT_TRUE(is_text_type("image/png, text/plain"));
  EXPECT_TRUE(is_text_type("not a type"));
}

// A body without a Content-Type is text unless it looks binary (a PNG saved as
// windows-1252 text grew from 325 to 491 bytes of mojibake).
TEST(FetchPageWriter, AnUntypedBodyIsTextUnlessItLooksBinary) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  EXPECT_FALSE(is_text_body("", png));
  EXPECT_FALSE(is_text_body("", "GIF89a\x10\x10"));
  EXPECT_FALSE(is_text_body("", "%PDF-1.7\n"));
  EXPECT_FALSE(is_text_body("", std::string("PK\x03\x04", 4)));
  EXPECT_TRUE(is_text_body("", "<html><meta charset=gbk>\xC2\xA5</html>"));
  EXPECT_TRUE(is_text_body("", "plain words\r\n\tand a tab\x0C"));  // form feed is text
  EXPECT_TRUE(is_text_body("", std::string("\xFF\xFEh\0i\0", 6)));  // UTF-16 with its BOM
  EXPECT_TRUE(is_text_body("", ""));
  // A type says what it is, whatever the bytes.
  EXPECT_TRUE(is_text_body("text/plain", png));
  EXPECT_FALSE(is_text_body("image/png", "plain words"));
}

TEST(FetchPageWriter, TextIsDecodedToUtf8WithOrWithoutBom) {
  corun::testing::TempDir dir("corun-fetch-writer");
  WriteOutcome o =
      run_write_job(job("caf\xE9", "text/plain; charset=windows-1252", dir.path() / "a"));
  EXPECT_TRUE(o.error.empty()) << o.error;
  EXPECT_TRUE(o.decoded);
  EXPECT_EQ(o.encoding, text::Encoding::windows_1252);
  EXPECT_EQ(o.source, text::Source::http);
  EXPECT_EQ(fs::read_file_sync(dir.path() / "a"),
            "\xEF\xBB\xBF"
            "caf\xC3\xA9");

  o = run_write_job(
      job("caf\xE9", "text/plain; charset=windows-1252", dir.path() / "b", true, false));
  EXPECT_EQ(fs::read_file_sync(dir.path() / "b"), "caf\xC3\xA9");

  // UTF-8 with a BOM of its own: one BOM, not two (and none with bom = false).
  o = run_write_job(job("\xEF\xBB\xBFok", "text/plain", dir.path() / "c"));
  EXPECT_EQ(fs::read_file_sync(dir.path() / "c"), "\xEF\xBB\xBFok");
  EXPECT_EQ(o.source, text::Source::bom);
  o = run_write_job(job("\xEF\xBB\xBFok", "text/plain", dir.path() / "d", true, false));
  EXPECT_EQ(fs::read_file_sync(dir.path() / "d"), "ok");

  // A label given (the input line's, or --encoding) wins over the HTTP charset.
  WriteJob j = job("\xE9", "text/plain; charset=utf-8", dir.path() / "e", true, false);
  j.override_encoding = text::Encoding::windows_1252;
  o = run_write_job(j);
  EXPECT_EQ(o.encoding, text::Encoding::windows_1252);
  EXPECT_EQ(fs::read_file_sync(dir.path() / "e"), "\xC3\xA9");
}

// No BOM where it hurts: an empty body stays an empty file, and JSON (whose
// parsers may refuse a BOM: RFC 8259, Python's json.load) has none; it is
// still decoded to UTF-8.
TEST(FetchPageWriter, NoBomForAnEmptyBodyOrJson) {
  corun::testing::TempDir dir("corun-fetch-writer");
  WriteOutcome o = run_write_job(job("", "text/html", dir.path() / "empty"));
  EXPECT_TRUE(o.error.empty()) << o.error;
  EXPECT_EQ(fs::read_file_sync(dir.path() / "empty"), "");
  o = run_write_job(
      job("{\"a\": \"caf\xE9\"}", "application/json; charset=windows-1252", dir.path() / "j"));
  EXPECT_EQ(fs::read_file_sync(dir.path() / "j"), "{\"a\": \"caf\xC3\xA9\"}");
  o = run_write_job(job("\xEF\xBB\xBF[1]", "application/ld+json", dir.path() / "ld"));
  EXPECT_EQ(fs::read_file_sync(dir.path() / "ld"), "[1]");
  EXPECT_FALSE(wants_bom("Application/JSON", "[]"));
  EXPECT_TRUE(wants_bom("text/html", "<p>"));
  EXPECT_TRUE(wants_bom("", "<p>"));  // untyped text: as any text
}

TEST(FetchPageWriter, RawBodiesAreWrittenAsReceived) {
  corun::testing::TempDir dir("corun-fetch-writer");
  std::string bytes("\x89PNG\r\n\x00\xE9", 8);
  WriteOutcome o = run_write_job(job(bytes, "text/plain", dir.path() / "raw", false));
  EXPECT_TRUE(o.error.empty());
  EXPECT_FALSE(o.decoded);
  EXPECT_EQ(fs::read_file_sync(dir.path() / "raw"), bytes);
}

TEST(FetchPageWriter, WritesAreAtomic) {
  corun::testing::TempDir dir("corun-fetch-writer");
  fsys::path file = dir.path() / "page.html";
  fs::write_file_sync(file, "old");
  WriteJob j = job("new", "text/html", file, true, false);
  j.write_options.atomic = true;
  EXPECT_TRUE(run_write_job(j).error.empty());
  EXPECT_EQ(fs::read_file_sync(file), "new");
  // A write that fails leaves no file, no temporary file, and an error.
  WriteJob bad = job("x", "text/html", dir.path() / "missing" / "p.html");
  bad.write_options.create_dirs = false;
  WriteOutcome o = run_write_job(bad);
  EXPECT_FALSE(o.error.empty());
  EXPECT_FALSE(fsys::exists(dir.path() / "missing"));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fsys::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);  // page.html only
}

TEST(FetchPageWriter, BatchWriterWritesEveryPageOnThePool) {
  corun::testing::TempDir dir("corun-fetch-writer");
  std::vector<WriteOutcome> outcomes;
  corun::run(co_invoke([&]() -> Task<> {
    BatchWriter writer(get_running_loop(), 2);
    std::vector<Future<WriteOutcome>> pending;
    for (int i = 0; i < 100; ++i) {
      pending.push_back(writer.write(job("page " + std::to_string(i), "text/plain",
                                         dir.path() / std::to_string(i), true, false)));
    }
    for (auto& f : pending) outcomes.push_back(co_await f);
  }));
  ASSERT_EQ(outcomes.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(outcomes[i].error.empty()) << outcomes[i].error;
    EXPECT_EQ(fs::read_file_sync(dir.path() / std::to_string(i)), "page " + std::to_string(i));
  }
}

}  // namespace
}  // namespace corun::fetch
