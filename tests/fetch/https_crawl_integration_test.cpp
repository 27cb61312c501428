// `corun fetch` at the shape of a crawl: HTTPS (TLS 1.3, HTTP/2 or HTTP/1.1)
// over many host addresses of one nginx, whose access log ($connection) says how
// many connections the client opened. Counts, not times: a crawl over more hosts
// than -c must reuse a host's connection on its next URL (at most hosts + -c
// connections), HTTP/2 requests to one host must share a connection, and
// --cacert must trust the CA it names and nothing else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_support.hpp"
#include "support/nginx_fixture.hpp"

namespace corun::testing::cli {
namespace {

constexpr int kHosts = 24;
constexpr int kPages = 40;

class HttpsCrawl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("corun-https-crawl");
    certs_ = new TestCerts(make_test_certs(dir_->path() / "ca", kHosts));
    wrong_ = new TestCerts(make_test_certs(dir_->path() / "wrong", kHosts));
  }
  static void TearDownTestSuite() {
    delete wrong_;
    delete certs_;
    delete dir_;
  }

  // An nginx with TLS on 127.0.0.1 to 127.0.0.<kHosts>, kPages small pages.
  static std::unique_ptr<Nginx> start(bool http2) {
    NginxOptions o;
    o.tls = true;
    o.http2 = http2;
    o.certs = *certs_;
    o.hosts = kHosts;
    o.access_log = true;
    auto nginx = std::make_unique<Nginx>(o);
    for (int i = 0; i < kPages; ++i) {
      write_text_file(nginx->root() / "p" / (std::to_string(i) + ".html"),
                      "<p>page " + std::to_string(i) + "</p>\n");
    }
    return nginx;
  }

  // count URLs, host (1-based) of URL i: 1 + i % hosts (round-robin, as a crawl
  // frontier interleaves sites), page i % kPages.
  static fs::path url_file(const Nginx& nginx, int count, int hosts, const std::string& name) {
    std::string text;
    for (int i = 0; i < count; ++i) {
      text += nginx.host_url(1 + i % hosts) + "/p/" + std::to_string(i % kPages) + ".html\n";
    }
    fs::path p = dir_->path() / name;
    write_file(p, text);
    return p;
  }

  // Runs `corun fetch` over the URLs; returns the run and its report.
  static RunResult fetch(const fs::path& urls, const std::string& out,
                         std::vector<std::string> extra) {
    std::vector<std::string> args{"fetch",       "-q",    "-i",
                                  urls.string(), "--out", (dir_->path() / out).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_corun(args);
  }

  static std::vector<nlohmann::json> report(const std::string& out) {
    return read_report(dir_->path() / out / "report.jsonl");
  }

  // nginx logs a request after its response went out: wait (a hang guard, not a
  // speed check) until it has logged every request the client saw answered.
  static ConnectionLog log_after(const Nginx& nginx, long requests) {
    ConnectionLog log = nginx.logged_connections(requests);
    EXPECT_EQ(log.requests, requests);
    return log;
  }

  static TempDir* dir_;
  static TestCerts* certs_;
  static TestCerts* wrong_;
};
TempDir* HttpsCrawl::dir_ = nullptr;
TestCerts* HttpsCrawl::certs_ = nullptr;
TestCerts* HttpsCrawl::wrong_ = nullptr;

// More hosts in rotation than connections: each host's connection is kept and
// reused on its next URL, over HTTP/2 and over HTTP/1.1, with several lanes.
TEST_F(HttpsCrawl, ManyHostsOpenAtMostHostsPlusConcurrencyConnections) {
  for (bool http2 : {true, false}) {
    SCOPED_TRACE(http2 ? "HTTP/2" : "HTTP/1.1");
    auto nginx = start(http2);
    constexpr int kUrls = 600;
    constexpr int kConc = 8;
    fs::path urls = url_file(*nginx, kUrls, kHosts, http2 ? "many-h2.txt" : "many-h1.txt");
    std::string out = http2 ? "many-h2" : "many-h1";
    RunResult r = fetch(
        urls, out,
        {"-c", std::to_string(kConc), "--threads", "2", "--cacert", certs_->ca_cert.string()});
    ASSERT_EQ(r.exit_code, 0) << r;
    auto records = report(out);
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kUrls));
    for (const auto& rec : records) ASSERT_TRUE(ok(rec)) << rec.dump();
    ConnectionLog log = log_after(*nginx, kUrls);
    EXPECT_LE(log.connections, kHosts + kConc)
        << log.connections << " connections for " << kUrls << " requests over " << kHosts
        << " hosts at -c " << kConc;
    EXPECT_GE(log.connections, kHosts);  // every host was visited
  }
}

// HTTP/2: requests to one host are streams of one connection (a lane's), not a
// connection each.
TEST_F(HttpsCrawl, Http2RequestsToOneHostShareAConnection) {
  auto nginx = start(true);
  constexpr int kUrls = 400;
  fs::path urls = url_file(*nginx, kUrls, 1, "one-host.txt");
  RunResult r = fetch(urls, "one-host-t1",
                      {"-c", "32", "--threads", "1", "--cacert", certs_->ca_cert.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  ConnectionLog log = log_after(*nginx, kUrls);
  EXPECT_EQ(log.connections, 1);

  r = fetch(urls, "one-host-t2",
            {"-c", "32", "--threads", "2", "--cacert", certs_->ca_cert.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  ConnectionLog both = log_after(*nginx, 2 * kUrls);
  EXPECT_LE(both.connections - log.connections, 2);  // at most one per lane
}

// --cacert: the test CA is trusted (verification on), another CA is not, and
// without it the system store does not know the test CA.
TEST_F(HttpsCrawl, CacertTrustsItsCaAndRejectsAnother) {
  auto nginx = start(true);
  fs::path urls = url_file(*nginx, 6, 3, "cacert.txt");

  RunResult good = fetch(urls, "cacert-good", {"--cacert", certs_->ca_cert.string()});
  EXPECT_EQ(good.exit_code, 0) << good;
  for (const auto& rec : report("cacert-good")) EXPECT_TRUE(ok(rec)) << rec.dump();

  for (const auto& [name, extra] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"cacert-wrong", {"--cacert", wrong_->ca_cert.string()}}, {"cacert-none", {}}}) {
    SCOPED_TRACE(name);
    RunResult bad = fetch(urls, name, extra);
    EXPECT_EQ(bad.exit_code, 1) << bad;
    auto records = report(name);
    ASSERT_EQ(records.size(), 6u);
    for (const auto& rec : records) {
      EXPECT_FALSE(ok(rec));
      EXPECT_NE(error_words(rec).find("certificate"), std::string::npos) << rec.dump();
      EXPECT_EQ(num(rec, "attempts"), 1) << "a verification failure is not retried";
    }
  }

  // -k/--insecure (Options::verify_tls = false): the unknown CA is accepted.
  for (const std::string flag : {"-k", "--insecure"}) {
    SCOPED_TRACE(flag);
    std::string out = "insecure" + flag;
    RunResult k = fetch(urls, out, {flag});
    EXPECT_EQ(k.exit_code, 0) << k;
    auto records = report(out);
    EXPECT_EQ(records.size(), 6u);
    for (const auto& rec : records) EXPECT_TRUE(ok(rec)) << rec.dump();
  }

  RunResult missing = fetch(urls, "cacert-missing", {"--cacert", "/nonexistent/ca.pem"});
  EXPECT_EQ(missing.exit_code, 2) << missing;  // a usage error, before any request
  EXPECT_NE(missing.err.find("/nonexistent/ca.pem"), std::string::npos) << missing;

  // A file that holds no certificate: refused before any request (as curl's exit
  // 77), not every URL failed with a TLS error.
  fs::path not_pem = dir_->path() / "not-a-ca.pem";
  write_text_file(not_pem, "not a certificate\n");
  RunResult bad = fetch(urls, "cacert-not-pem", {"--cacert", not_pem.string()});
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_NE(bad.err.find("the CA file " + not_pem.string() + " holds no PEM certificate"),
            std::string::npos)
      << bad;
  EXPECT_FALSE(fs::exists(dir_->path() / "cacert-not-pem" / "report.jsonl")) << bad;
  // With -k the file is not read (nothing is verified), as curl -k.
  RunResult k_bad = fetch(urls, "cacert-not-pem-k", {"-k", "--cacert", not_pem.string()});
  EXPECT_EQ(k_bad.exit_code, 0) << k_bad;
  // Nor is one that does not exist (curl -k --cacert /nonexistent works too).
  RunResult k_missing = fetch(urls, "cacert-missing-k", {"-k", "--cacert", "/nonexistent/ca.pem"});
  EXPECT_EQ(k_missing.exit_code, 0) << k_missing;
}

}  // namespace
}  // namespace corun::testing::cli
