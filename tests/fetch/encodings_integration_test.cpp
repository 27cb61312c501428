// `corun fetch` against a real nginx serving pages in many encodings: every output file
// must be byte for byte what the WHATWG encoding rules make of the page (BOM, then the
// --encoding override, then the HTTP charset, then <meta>, then valid UTF-8), written as
// UTF-8 with a BOM (default), without one (--no-bom), or the bytes as served (--raw).
// The pages and the expected text come from tests/fetch/data/make_encoded_pages.py,
// which checks them against the standard's index files.
#include <gtest/gtest.h>

#include <set>

#include "fetch/cli_support.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing {
namespace {

using namespace cli;

#ifndef CORUN_WHATWG_DIR
#define CORUN_WHATWG_DIR ""
#endif

class FetchEncodings : public ::testing::Test {
 protected:
  void SetUp() override {
    pages_ = dir_.path() / "pages";
    std::string cmd = "/usr/bin/python3 '" + source_dir().string() +
                      "/tests/fetch/data/make_encoded_pages.py' '" + pages_.string() + "' '" +
                      CORUN_WHATWG_DIR + "' >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    manifest_ = nlohmann::json::parse(read_file(pages_ / "manifest.json"));
    NginxOptions options;
    options.root = pages_ / "www";
    options.extra_server_conf = read_file(pages_ / "nginx.conf");
    nginx_ = std::make_unique<Nginx>(options);
  }

  // Fetches the manifest group's pages into dir/<run>/out with `extra` flags; returns
  // the report's records by page name, after checking the run's general promises.
  std::map<std::string, nlohmann::json> fetch(const std::string& group, const std::string& run,
                                              std::vector<std::string> extra) {
    fs::path run_dir = dir_.path() / run;
    fs::create_directories(run_dir);
    std::string urls;
    for (const auto& page : manifest_[group]) {
      urls += nginx_->base_url() + "/" + page["name"].get<std::string>() + "\n";
    }
    write_file(run_dir / "urls.txt", urls);
    std::vector<std::string> args{"fetch", "-c",  "4",        "-i",          "urls.txt",
                                  "--out", "out", "--report", "report.jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = run_corun(args, RunOptions().in(run_dir).hang_guard(std::chrono::seconds(120)));
    EXPECT_EQ(r.exit_code, 0) << r;

    std::map<std::string, nlohmann::json> by_name;
    std::set<std::string> named_files;
    for (const auto& rec : read_report(run_dir / "report.jsonl")) {
      std::string url = str(rec, "url");
      std::string name = url.substr(url.rfind('/') + 1);
      EXPECT_TRUE(by_name.emplace(name, rec).second) << "two records for " << url;
      EXPECT_TRUE(ok(rec)) << rec.dump();
      EXPECT_EQ(num(rec, "status"), 200) << rec.dump();
      EXPECT_EQ(str(rec, "final_url"), url) << rec.dump();
      EXPECT_GE(num(rec, "attempts"), 1) << rec.dump();
      named_files.insert(fs::relative(output_path(rec, run_dir), run_dir / "out").string());
    }
    EXPECT_EQ(by_name.size(), manifest_[group].size());
    // One file per page and nothing else: no temp files, no partial files.
    auto files = list_files(run_dir / "out");
    EXPECT_EQ(std::set<std::string>(files.begin(), files.end()), named_files);
    run_dir_ = run_dir;
    return by_name;
  }

  std::string expected(const std::string& name) { return read_file(pages_ / "expected" / name); }
  std::string served(const std::string& name) { return read_file(pages_ / "www" / name); }
  std::string output(const nlohmann::json& rec) { return read_file(output_path(rec, run_dir_)); }

  TempDir dir_{"corun-fetch-enc"};
  fs::path pages_, run_dir_;
  nlohmann::json manifest_;
  std::unique_ptr<Nginx> nginx_;
};

TEST_F(FetchEncodings, AutoDecodesEveryPageAsABrowserWouldAndWritesUtf8WithBom) {
  auto got = fetch("auto", "auto", {});
  for (const auto& page : manifest_["auto"]) {
    std::string name = page["name"];
    SCOPED_TRACE(name);
    auto it = got.find(name);
    ASSERT_NE(it, got.end());
    EXPECT_EQ(lower(str(it->second, "encoding")), lower(page["encoding"])) << it->second.dump();
    EXPECT_EQ(str(it->second, "encoding_source"), page["source"].get<std::string>())
        << it->second.dump();
    EXPECT_EQ(num(it->second, "bytes"), static_cast<long>(served(name).size()))
        << it->second.dump();
    std::string want = std::string(kBom) + expected(name);
    std::string have = output(it->second);
    EXPECT_TRUE(have == want) << "output differs; " << have.size() << " bytes vs " << want.size()
                              << " expected; first 200 bytes:\n"
                              << have.substr(0, 200);
  }
}

TEST_F(FetchEncodings, NoBomWritesTheSameTextWithoutTheBom) {
  auto got = fetch("auto", "nobom", {"--no-bom"});
  for (const auto& page : manifest_["auto"]) {
    std::string name = page["name"];
    SCOPED_TRACE(name);
    ASSERT_TRUE(got.count(name));
    EXPECT_TRUE(output(got[name]) == expected(name));
  }
}

TEST_F(FetchEncodings, RawKeepsTheBytesAsServed) {
  auto got = fetch("auto", "raw", {"--raw"});
  for (const auto& page : manifest_["auto"]) {
    std::string name = page["name"];
    SCOPED_TRACE(name);
    ASSERT_TRUE(got.count(name));
    EXPECT_TRUE(output(got[name]) == served(name));
  }
}

TEST_F(FetchEncodings, OverrideBeatsHttpCharsetAndMetaButNotABom) {
  auto got = fetch("override", "override", {"--encoding", "shift_jis"});
  for (const auto& page : manifest_["override"]) {
    std::string name = page["name"];
    SCOPED_TRACE(name);
    ASSERT_TRUE(got.count(name));
    EXPECT_EQ(lower(str(got[name], "encoding")), lower(page["encoding"])) << got[name].dump();
    EXPECT_EQ(str(got[name], "encoding_source"), page["source"].get<std::string>());
    EXPECT_TRUE(output(got[name]) == std::string(kBom) + expected(name));
  }
}

// The same labels given as an override resolve as the standard says (gb2312 -> GBK).
TEST_F(FetchEncodings, OverrideLabelIsResolved) {
  auto got = fetch("auto", "gb2312", {"--encoding", "gb2312"});
  const std::string name = "gbk-http-equiv-gb2312.html";
  ASSERT_TRUE(got.count(name));
  EXPECT_EQ(lower(str(got[name], "encoding")), "gbk");
  EXPECT_EQ(str(got[name], "encoding_source"), "override");
  EXPECT_TRUE(output(got[name]) == std::string(kBom) + expected(name));
}

}  // namespace
}  // namespace corun::testing
