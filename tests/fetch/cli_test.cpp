// `corun fetch` as users run it: the real executable as a child process.
// Exit codes (0 / 1 / 2 / 130), --help, --demo, stdin input, Ctrl-C (a real
// SIGINT: the first lets the requests in flight finish and writes the report,
// a second quits at once), and examples/seed_scraper against nginx.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "corun/corun.hpp"
#include "corun/fetch/demo.hpp"
#include "corun/fs/file.hpp"
#include "corun/net.hpp"
#include "corun/text/decode.hpp"
#include "corun/text/utf8.hpp"
#include "fetch/test_servers.hpp"
#include "support/nginx_fixture.hpp"

namespace {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

fsys::path corun_exe() {
  const char* dir = std::getenv("CORUN_BINARY_DIR");
  return fsys::path(dir ? dir : ".") / "apps" / "corun";
}

struct Child {
  pid_t pid = -1;
  fsys::path out, err;
  int wait_exit() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// Starts `corun args...` with stdout/stderr in files under dir; stdin from stdin_file.
std::unique_ptr<Child> start(const fsys::path& dir, std::vector<std::string> args,
                             const std::string& stdin_file = "/dev/null") {
  auto c = std::make_unique<Child>();
  static int n = 0;
  ++n;
  c->out = dir / fmt::format("stdout{}", n);
  c->err = dir / fmt::format("stderr{}", n);
  std::string exe = corun_exe().string();
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  c->pid = ::fork();
  if (c->pid == 0) {
    int i = ::open(stdin_file.c_str(), O_RDONLY);
    int o = ::open(c->out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(c->err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(i, 0), ::dup2(o, 1), ::dup2(e, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return c;
}

struct Result {
  int code;
  std::string out, err;
};

Result run_cli(const fsys::path& dir, std::vector<std::string> args,
               const std::string& stdin_file = "/dev/null") {
  auto c = start(dir, std::move(args), stdin_file);
  int code = c->wait_exit();
  return {code, corun::fs::read_file_sync(c->out), corun::fs::read_file_sync(c->err)};
}

std::vector<nlohmann::json> report(const fsys::path& p) {
  std::vector<nlohmann::json> out;
  std::string text = corun::fs::read_file_sync(p);
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "report ends in a partial line";
    if (nl == std::string::npos) break;
    out.push_back(nlohmann::json::parse(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}

// The decimal number written right before the first `suffix` in s (or after
// the first `prefix`); nullopt when there is none. (No std::regex: g++ 12 warns
// inside it under the sanitizers.)
std::optional<std::size_t> number_before(const std::string& s, std::string_view suffix) {
  auto at = s.find(suffix);
  if (at == std::string::npos) return std::nullopt;
  std::size_t begin = at;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(s[begin - 1]))) --begin;
  if (begin == at) return std::nullopt;
  return std::stoul(s.substr(begin, at - begin));
}
std::optional<std::size_t> number_after(const std::string& s, std::string_view prefix) {
  auto at = s.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  std::size_t begin = at + prefix.size(), end = begin;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  if (begin == end) return std::nullopt;
  return std::stoul(s.substr(begin, end - begin));
}

std::size_t temp_files(const fsys::path& dir) {
  std::size_t n = 0;
  for (auto& e : fsys::recursive_directory_iterator(dir)) {
    n += e.path().filename().string().ends_with(".corun-tmp");
  }
  return n;
}

TEST(FetchCli, HelpAndUsageErrors) {
  corun::testing::TempDir dir("corun-cli");
  Result help = run_cli(dir.path(), {"fetch", "--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* s : {"--concurrency", "--per-host", "--threads", "--no-cookies", "--resume",
                        "--no-bom", "--encoding", "Exit status"}) {
    EXPECT_NE(help.out.find(s), std::string::npos) << s;
  }
  // Value names read as the other options' (CLI11 appended its validators' text:
  // "--cacert FILE:FILE", "--lease FLOAT:FLOAT in [1 - 86400]"), defaults shown.
  for (const char* s : {"--cacert FILE ", "--lease S=60 ", "--deliver-timeout S=30 ",
                        "--max-deliveries N=5 ", "--queue URL "}) {
    EXPECT_NE(help.out.find(s), std::string::npos) << s << "\n" << help.out;
  }
  for (const char* s : {"FILE:FILE", "FLOAT:", "INT:", "UINT:"}) {
    EXPECT_EQ(help.out.find(s), std::string::npos) << s << "\n" << help.out;
  }
  EXPECT_EQ(run_cli(dir.path(), {}).code, 2);
  Result none = run_cli(dir.path(), {"fetch"});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("no URLs"), std::string::npos) << none.err;
  Result label = run_cli(dir.path(), {"fetch", "--encoding", "klingon", "http://127.0.0.1:1/"});
  EXPECT_EQ(label.code, 2);
  EXPECT_NE(label.err.find("klingon"), std::string::npos) << label.err;
  Result unknown = run_cli(dir.path(), {"fetch", "--no-such-option", "http://x/"});
  EXPECT_EQ(unknown.code, 2);
  // Every message of corun fetch has its prefix, the parser's too.
  EXPECT_TRUE(unknown.err.starts_with("corun fetch: ")) << unknown.err;
  EXPECT_NE(unknown.err.find("--no-such-option"), std::string::npos) << unknown.err;
  EXPECT_EQ(run_cli(dir.path(), {"fetch", "-c", "many", "http://x/"}).code, 2);
  EXPECT_EQ(run_cli(dir.path(), {"fetch", "--name", "{bad}", "http://x/"}).code, 2);
  EXPECT_EQ(run_cli(dir.path(), {"fetch", "--max-size", "lots", "http://x/"}).code, 2);
  EXPECT_EQ(run_cli(dir.path(), {"fetch", "-i", (dir.path() / "missing.txt").string()}).code, 2);
  // A flag that would be ignored is refused, not ignored: the shared crawl's
  // without --queue, --demo-pages without --demo, and a crawl setting or a local
  // run's option on a queue worker (checked before the server is reached).
  struct Refused {
    std::vector<std::string> args;
    const char* says;
  };
  const Refused refused[] = {
      {{"fetch", "--collect", "c.jsonl", "http://127.0.0.1:1/"}, "--collect goes with --queue"},
      {{"fetch", "--status", "http://127.0.0.1:1/"}, "--status goes with --queue"},
      {{"fetch", "--demo-pages", "5", "http://127.0.0.1:1/"}, "--demo-pages goes with --demo"},
      {{"fetch", "--raw", "-e", "big5", "http://127.0.0.1:1/"}, "--encoding goes without --raw"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--raw"}, "--raw: not a worker's option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--name", "{index}"},
       "--name: not a worker's option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--report", "r.jsonl"},
       "--report: not a worker's option"},
      // A producer's settings on a worker; a worker's on the producer, the
      // collector or --status; a crawl setting on the collector.
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--lease", "5"},
       "--lease: not a worker's option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--enqueue", "-", "-c", "5"},
       "--concurrency: not a producer's (--enqueue) option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--enqueue", "-", "--out", "o"},
       "--out: not a producer's (--enqueue) option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--enqueue", "-", "--worker-name", "w"},
       "--worker-name: not a producer's (--enqueue) option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--collect", "c.jsonl", "--rate", "3"},
       "--rate: not the collector's (--collect) option"},
      {{"fetch", "--queue", "redis://127.0.0.1:1/c", "--status", "--max-deliveries", "2"},
       "--max-deliveries: not --status's option"},
  };
  for (const Refused& r : refused) {
    Result got = run_cli(dir.path(), r.args);
    EXPECT_EQ(got.code, 2) << r.says << "\n" << got.err;
    EXPECT_NE(got.err.find(r.says), std::string::npos) << got.err;
  }
}

// Issue 15: a number out of range was reported as "Semaphore initial value must be
// >= 0" (exit 1), or wrapped silently. Each is a usage error naming the flag and
// its range, and nothing internal shows.
TEST(FetchCli, NumbersOutOfRangeAreUsageErrorsNamingTheFlag) {
  corun::testing::TempDir dir("corun-cli");
  struct Bad {
    std::string flag;
    std::vector<std::string> values;
  };
  const std::vector<Bad> cases = {
      {"--concurrency", {"-5", "0", "99999999999", "100001", "1.5", "0x10", "many", ""}},
      {"--per-host", {"-1", "100001", "18446744073709551617", "2e3"}},
      {"--threads", {"-1", "257", "4x"}},
      {"--retries", {"-1", "101", "99999999999999999999"}},
      {"--rate", {"-1", "0.0001", "1e7", "nan", "inf", "1/s"}},
      {"--timeout", {"-0.5", "1e400", "0x10", "1e6.5"}},
      {"--connect-timeout", {"-1", "0.0005"}},
      {"--read-timeout", {"-1", "2000000"}},
      {"--retry-delay", {"-1", "1e9"}},
      {"--retry-max-delay", {"-0.1"}},
      {"--max-size", {"99999999999999999999999", "0", "-1", "1.5M", "2048T", "10X", "lots"}},
      {"--demo-pages", {"0", "-3", "1000001"}},
  };
  for (const Bad& b : cases) {
    for (const std::string& v : b.values) {
      Result r = run_cli(dir.path(), {"fetch", "-o", (dir.path() / "o").string(), b.flag, v,
                                      "http://127.0.0.1:1/"});
      EXPECT_EQ(r.code, 2) << b.flag << " " << v << "\n" << r.err;
      EXPECT_NE(r.err.find(b.flag + ": must be "), std::string::npos) << b.flag << " " << v << "\n"
                                                                      << r.err;
      EXPECT_NE(r.err.find(" from "), std::string::npos) << r.err;  // the range is given
      EXPECT_NE(r.err.find("'" + v + "'"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("Semaphore"), std::string::npos) << r.err;
    }
  }
  // -c short and long the same; the zero meanings are kept where documented.
  Result c = run_cli(dir.path(), {"fetch", "-c", "-5", "http://127.0.0.1:1/"});
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("--concurrency: must be a whole number from 1 to 100000, not '-5'"),
            std::string::npos)
      << c.err;
  Result help = run_cli(dir.path(), {"fetch", "--help"});
  EXPECT_NE(help.out.find("[0 (no limit) or a whole number from 1 to 100000]"), std::string::npos)
      << help.out;
}

TEST(FetchCli, NumbersAtTheEdgesOfTheirRangesAreAccepted) {
  corun::testing::TempDir dir("corun-cli");
  int dead = corun::testing::free_port();
  Result r = run_cli(dir.path(), {"fetch",
                                  "-o",
                                  (dir.path() / "o").string(),
                                  "-c",
                                  "1",
                                  "--per-host",
                                  "0",
                                  "--threads",
                                  "0",
                                  "--rate",
                                  "0",
                                  "--timeout",
                                  "0",
                                  "--connect-timeout",
                                  "0",
                                  "--read-timeout",
                                  "0",
                                  "--retries",
                                  "0",
                                  "--retry-delay",
                                  "0",
                                  "--retry-max-delay",
                                  "1e6",
                                  "--max-size",
                                  "10M",
                                  fmt::format("http://127.0.0.1:{}/", dead)});
  EXPECT_EQ(r.code, 1) << r.err;  // the URL fails (nothing listens): a record, not a usage error
  EXPECT_EQ(report(dir.path() / "o" / "report.jsonl").size(), 1u);
  Result top = run_cli(dir.path(), {"fetch", "-o", (dir.path() / "o2").string(), "-c", "100000",
                                    "--per-host", "100000", "--threads", "256", "--rate", "1000000",
                                    "--retries", "0", "--max-size", "1024T", "--timeout", "1000000",
                                    fmt::format("http://127.0.0.1:{}/", dead)});
  EXPECT_EQ(top.code, 1) << top.err;
  EXPECT_EQ(report(dir.path() / "o2" / "report.jsonl").size(), 1u);
}

TEST(FetchCli, DemoFetchesTheSamplePages) {
  corun::testing::TempDir dir("corun-cli");
  fsys::path out = dir.path() / "demo";
  Result r = run_cli(dir.path(), {"fetch", "--demo", "--demo-pages", "60", "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("60 done, 0 failed"), std::string::npos) << r.err;
  auto records = report(out / "report.jsonl");
  ASSERT_EQ(records.size(), 60u);
  for (int i : {0, 7, 59}) {
    std::string page = corun::fetch::demo_page(i);
    EXPECT_EQ(corun::fs::read_file_sync(out / fmt::format("{}.html", i)),
              corun::text::with_bom(corun::text::decode(page, "gb18030")));
  }
  EXPECT_EQ(temp_files(out), 0u);
  // Not a terminal: the summary only; --progress forces the progress line.
  EXPECT_EQ(r.err.find("pages/s  "), std::string::npos) << r.err;
  Result p = run_cli(dir.path(),
                     {"fetch", "--demo", "--demo-pages", "5", "--progress", "--out", out.string()});
  EXPECT_EQ(p.code, 0);
  EXPECT_NE(p.err.find("5 done  0 failed  0 in flight"), std::string::npos) << p.err;
  Result q =
      run_cli(dir.path(), {"fetch", "--demo", "--demo-pages", "5", "-q", "--out", out.string()});
  EXPECT_EQ(q.code, 0);
  EXPECT_EQ(q.err, "");
}

TEST(FetchCli, ExitCodeOneWhenSomethingFailedAndStdinInput) {
  corun::testing::TempDir dir("corun-cli");
  int dead = corun::testing::free_port();
  corun::fs::write_file_sync(dir.path() / "urls.txt",
                             fmt::format("http://127.0.0.1:{}/a\nnot-a-url\n", dead));
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(), {"fetch", "--retries", "0", "-o", out.string(), "-"},
                     (dir.path() / "urls.txt").string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("0 done, 2 failed"), std::string::npos) << r.err;
  EXPECT_EQ(report(out / "report.jsonl").size(), 2u);
}

TEST(FetchCli, SummarySaysWhyUrlsFailedByCause) {
  corun::testing::TempDir dir("corun-cli");
  int dead = corun::testing::free_port();
  std::string a = fmt::format("http://127.0.0.1:{}/a", dead);
  std::string b = fmt::format("http://127.0.0.1:{}/b", dead);
  fsys::path out = dir.path() / "o";
  Result r =
      run_cli(dir.path(), {"fetch", "--retries", "0", "-o", out.string(), "not-a-url", a, b});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("0 done, 3 failed"), std::string::npos) << r.err;
  // The most frequent cause first, with the first URL that failed so and its detail.
  auto by_cause = r.err.find("failed, by cause");
  auto connect = r.err.find("     2  cannot connect\n");
  auto example = r.err.find(fmt::format("e.g. {}: ", a));
  auto invalid = r.err.find("     1  invalid URL (no http:// or https:// scheme)\n");
  ASSERT_NE(by_cause, std::string::npos) << r.err;
  ASSERT_NE(connect, std::string::npos) << r.err;
  ASSERT_NE(example, std::string::npos) << r.err;
  ASSERT_NE(invalid, std::string::npos) << r.err;
  EXPECT_LT(by_cause, connect);
  EXPECT_LT(connect, example);
  EXPECT_LT(example, invalid);
  EXPECT_NE(r.err.find("e.g. not-a-url"), std::string::npos) << r.err;
  // Quiet is quiet; all done says nothing of failures.
  Result q = run_cli(dir.path(), {"fetch", "-q", "--retries", "0", "-o", out.string(), a});
  EXPECT_EQ(q.code, 1);
  EXPECT_EQ(q.err, "");
  Result d = run_cli(dir.path(), {"fetch", "--demo", "--demo-pages", "3", "-o", out.string()});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.err.find("by cause"), std::string::npos) << d.err;
}

// A URL's password is not printed in the summary (the report keeps the URL).
TEST(FetchCli, SummaryHidesAUrlsPassword) {
  corun::testing::TempDir dir("corun-cli");
  int dead = corun::testing::free_port();
  std::string url = fmt::format("http://alice:s3cret@127.0.0.1:{}/a", dead);
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(), {"fetch", "--retries", "0", "-o", out.string(), url});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(fmt::format("e.g. http://alice:***@127.0.0.1:{}/a", dead)),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << r.err;
  auto records = report(out / "report.jsonl");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].dump().find(url), std::string::npos) << records[0].dump();
}

// Six causes: all six shown, not five and "1 for 1 other causes".
TEST(FetchCli, OneCausePastTheFirstFiveIsShownAsTheyAre) {
  corun::testing::TempDir dir("corun-cli");
  int dead = corun::testing::free_port();
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(), {"fetch", "--retries", "0", "-o", out.string(),
                                  fmt::format("http://127.0.0.1:{}/a", dead), "not-a-url",
                                  "ftp://x/", "http:///b", "http://h:99999/", "http://[::1/"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.find("other causes"), std::string::npos) << r.err;
  for (const char* cause :
       {"cannot connect", "no http:// or https:// scheme", "unsupported URL scheme 'ftp'",
        "invalid URL (no host)", "bad port", "IPv6"}) {
    EXPECT_NE(r.err.find(cause), std::string::npos) << cause << "\n" << r.err;
  }
}

// Eight causes: the five most frequent, then how many failed for the other
// three (it read "3 of 3 other causes").
TEST(FetchCli, CausesPastTheFirstFiveAreCountedTogether) {
  corun::testing::TempDir dir("corun-cli");
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(),
                     {"fetch", "--retries", "0", "-o", out.string(), "not-a-url", "not-a-url-2",
                      "ftp://x/", "ftp://y/", "http:///b", "http:///c", "http://h:99999/",
                      "http://h:99998/", "http://[::1/", "gopher://x/", "ws://x/", "file:///x"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("\n         3  for 3 other causes"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" of 3 other"), std::string::npos) << r.err;
}

// curl's habit: -H takes one value, the URLs after it stay URLs (a list option
// took every word after it: the URLs were sent as headers and never fetched).
TEST(FetchCli, HeaderFlagTakesOneValueAndTheUrlsAfterItAreFetched) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer echo(corun::testing::echo_handler);
  std::string a = fmt::format("http://127.0.0.1:{}/a", echo.port());
  std::string b = fmt::format("http://127.0.0.1:{}/b", echo.port());
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(),
                     {"fetch", "-q", "-o", out.string(), "-H", "X-One: 1", a, "-H", "X-Two: 2", b});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* name : {"a", "b"}) {
    std::string head = corun::fs::read_file_sync(out / name);
    EXPECT_NE(head.find("X-One: 1\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Two: 2\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("http"), std::string::npos) << "a URL sent as a header: " << head;
  }
  // curl's "Name;" sends the header with an empty value; -A, as -H, may not end
  // its header line.
  Result empty = run_cli(dir.path(), {"fetch", "-q", "-o", out.string(), "-H", "X-Empty;", a});
  EXPECT_EQ(empty.code, 0) << empty.err;
  std::string head = corun::fs::read_file_sync(out / "a");
  EXPECT_NE(head.find("\r\nX-Empty:"), std::string::npos) << head;
  Result agent = run_cli(dir.path(), {"fetch", "-q", "-o", out.string(), "-A", "x\r\nEvil: 1", a});
  EXPECT_EQ(agent.code, 2) << agent.err;
  EXPECT_NE(agent.err.find("user agent"), std::string::npos) << agent.err;
}

// `sh -c cmd`'s exit code (-1: it did not exit).
int shell(const std::string& cmd) {
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A closed stdin, stdout or stderr (`>&-`): the run goes as with /dev/null there.
// The next descriptor opened took the closed one's number: libuv's epoll instance
// was read as the URL list (a hang with '-') and closed on exit with an assertion
// (exit 134).
TEST(FetchCli, AClosedStdinStdoutOrStderrIsNoCrashAndNoHang) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer echo(corun::testing::echo_handler);
  std::string url = fmt::format("http://127.0.0.1:{}/closed.txt", echo.port());
  std::string exe = corun_exe().string();
  int n = 0;
  for (const char* closed : {">&-", "2>&-", "<&-", ">&- 2>&- <&-"}) {
    fsys::path out = dir.path() / fmt::format("o{}", ++n);
    EXPECT_EQ(shell(fmt::format("'{}' fetch -o '{}' {} {}", exe, out.string(), url, closed)), 0)
        << closed;
    EXPECT_EQ(report(out / "report.jsonl").size(), 1u) << closed;
  }
  // '-' with stdin closed: an empty list (the hang guard is `timeout`, not a timing check).
  fsys::path out = dir.path() / "o-stdin";
  EXPECT_EQ(shell(fmt::format("timeout 120 '{}' fetch -q -o '{}' - <&-", exe, out.string())), 0);
  EXPECT_EQ(report(out / "report.jsonl").size(), 0u);
}

// The URL list is never lost: a report named as the list is refused before
// anything is written; a list in the output folder is never a page's file (the
// page gets "-1"); a folder as -i is a usage error that leaves an earlier report
// alone. And a BOM before the first URL (Notepad's lists, corun's own pages) is
// not part of it.
TEST(FetchCli, TheUrlListIsNeverWrittenOver) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer echo(corun::testing::echo_handler);
  std::string base = fmt::format("http://127.0.0.1:{}", echo.port());
  fsys::path work = dir.path() / "work";
  fsys::create_directories(work);
  std::string list = fmt::format("\xEF\xBB\xBF{}/urls.txt\r\n{}/a.txt\n", base, base);
  corun::fs::write_file_sync(work / "urls.txt", list);
  std::string exe = corun_exe().string();
  // -o . (the default) with the list in it, as `wget -i urls.txt` is used.
  EXPECT_EQ(shell(fmt::format("cd '{}' && '{}' fetch -q -i urls.txt", work.string(), exe)), 0);
  EXPECT_EQ(corun::fs::read_file_sync(work / "urls.txt"), list);
  auto records = report(work / "report.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["url"], base + "/urls.txt");  // the BOM is not in the URL
  EXPECT_EQ(records[0]["path"], (fsys::path(".") / "urls-1.txt").string()) << records[0].dump();
  EXPECT_TRUE(fsys::exists(work / "urls-1.txt"));
  // --report naming the list, as a file or as stdin.
  fsys::path out = dir.path() / "o";
  Result same =
      run_cli(dir.path(), {"fetch", "-q", "-o", out.string(), "-i", (work / "urls.txt").string(),
                           "--report", (work / "urls.txt").string()});
  EXPECT_EQ(same.code, 2) << same.err;
  EXPECT_NE(same.err.find("is the input file"), std::string::npos) << same.err;
  Result piped =
      run_cli(dir.path(),
              {"fetch", "-q", "-o", out.string(), "--report", (work / "urls.txt").string(), "-"},
              (work / "urls.txt").string());
  EXPECT_EQ(piped.code, 2) << piped.err;
  EXPECT_EQ(corun::fs::read_file_sync(work / "urls.txt"), list);
  // A folder as the list: a usage error, the earlier report as it was.
  Result folder = run_cli(dir.path(), {"fetch", "-q", "-o", work.string(), "-i", "/"});
  EXPECT_EQ(folder.code, 2) << folder.err;
  EXPECT_NE(folder.err.find("Is a directory"), std::string::npos) << folder.err;
  EXPECT_EQ(report(work / "report.jsonl").size(), 2u);
  // A base URL without a scheme would fail every line: a usage error instead.
  Result no_scheme = run_cli(dir.path(), {"fetch", "-q", "-o", out.string(), "--base",
                                          fmt::format("127.0.0.1:{}", echo.port()), "a.txt"});
  EXPECT_EQ(no_scheme.code, 2) << no_scheme.err;
  EXPECT_NE(no_scheme.err.find("must start with http://"), std::string::npos) << no_scheme.err;
}

// A URL argument is one URL: a space in it is part of it (sent as %20), not
// the start of an encoding label as on an input line. '-' (stdin) goes alone.
TEST(FetchCli, AUrlArgumentWithASpaceIsOneUrl) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::Nginx nginx;
  corun::fs::write_file_sync(nginx.root() / "a b.html", "<p>spaced</p>");
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(), {"fetch", "-q", "-o", out.string(), "--name", "{index}.html",
                                  nginx.base_url() + "/a b.html "});
  EXPECT_EQ(r.code, 0) << r.err;
  auto records = report(out / "report.jsonl");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0]["error"].is_null()) << records[0];
  EXPECT_EQ(records[0]["status"], 200) << records[0];
  EXPECT_EQ(corun::fs::read_file_sync(out / "0.html"), "\xEF\xBB\xBF<p>spaced</p>");

  Result mixed = run_cli(dir.path(), {"fetch", "-o", out.string(), nginx.base_url() + "/x", "-"});
  EXPECT_EQ(mixed.code, 2) << mixed.err;
  EXPECT_NE(mixed.err.find("'-' (read the URLs from stdin) goes alone"), std::string::npos)
      << mixed.err;
}

// Names that collide are resolved in input order whatever the threads: the
// same input gives the same names in every run (the lanes used to claim them
// as they got to each URL, so with two threads the -N suffixes moved between
// runs).
TEST(FetchCli, CollidingNamesFollowTheInputWithThreads) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::NginxOptions no;
  no.hosts = 4;
  corun::testing::Nginx nginx(no);
  corun::fs::write_file_sync(nginx.root() / "p.html", "<p>p</p>");
  std::string list;
  for (int k = 0; k < 40; ++k) list += fmt::format("{}/p.html#{}\n", nginx.host_url(k % 4 + 1), k);
  corun::fs::write_file_sync(dir.path() / "urls.txt", list);
  for (int run = 0; run < 2; ++run) {
    fsys::path out = dir.path() / fmt::format("o{}", run);
    Result r = run_cli(dir.path(), {"fetch", "-q", "--threads", "2", "-c", "8", "-o", out.string(),
                                    "-i", (dir.path() / "urls.txt").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    auto records = report(out / "report.jsonl");
    ASSERT_EQ(records.size(), 40u);
    for (auto& rec : records) {
      std::string url = rec["url"].get<std::string>();
      int k = std::stoi(url.substr(url.find('#') + 1));
      fsys::path want = out / (k == 0 ? std::string("p.html") : fmt::format("p-{}.html", k));
      EXPECT_EQ(rec["path"].get<std::string>(), want.string()) << "run " << run << ": " << url;
    }
  }
}

TEST(FetchCli, ReadsAPipeAsItComes) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  fsys::path out = dir.path() / "o";
  // Lines arrive over a pipe with pauses longer than the reader's poll interval.
  std::string cmd = fmt::format(
      "(for i in 1 2 3; do echo http://127.0.0.1:{}/p/$i.html; sleep 0.3; done) | '{}' fetch -q -o "
      "'{}' -",
      server.port(), corun_exe().string(), out.string());
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(report(out / "report.jsonl").size(), 3u);
  EXPECT_TRUE(fsys::exists(out / "3.html"));
}

// `corun fetch -c 4` over 200 URLs of the slow server (urls.txt in dir), into out;
// returns once some pages are written (3.html, or a 60 s hang guard: no timing
// assertion), the run still going.
std::unique_ptr<Child> start_slow_run(const fsys::path& dir,
                                      const corun::testing::TestServer& server,
                                      const fsys::path& out) {
  std::string list;
  for (int i = 0; i < 200; ++i)
    list += fmt::format("http://127.0.0.1:{}/p/{}.html\n", server.port(), i);
  corun::fs::write_file_sync(dir / "urls.txt", list);
  auto child =
      start(dir, {"fetch", "-c", "4", "-o", out.string(), "-i", (dir / "urls.txt").string()});
  auto guard = std::chrono::steady_clock::now() + 60s;
  while (!fsys::exists(out / "3.html") && std::chrono::steady_clock::now() < guard)
    std::this_thread::sleep_for(10ms);
  return child;
}

// With --rate, URLs waiting for their host's turn when Ctrl-C comes were never
// started: no record (they used to be recorded as failed, "interrupted before
// the request started", and --resume then added a second record for each).
TEST(FetchCli, CtrlCDuringRateWaitsRecordsNoFailures) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  fsys::path out = dir.path() / "o";
  std::string list;
  for (int i = 0; i < 100; ++i)
    list += fmt::format("http://127.0.0.1:{}/p/{}.html\n", server.port(), i);
  corun::fs::write_file_sync(dir.path() / "urls.txt", list);
  auto child = start(dir.path(), {"fetch", "-c", "8", "--rate", "20", "-o", out.string(), "-i",
                                  (dir.path() / "urls.txt").string()});
  auto guard = std::chrono::steady_clock::now() + 60s;
  while (!fsys::exists(out / "3.html") && std::chrono::steady_clock::now() < guard)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fsys::exists(out / "3.html"));
  ::kill(child->pid, SIGINT);
  EXPECT_EQ(child->wait_exit(), 130);
  std::string err = corun::fs::read_file_sync(child->err);
  EXPECT_NE(err.find(" done, 0 failed"), std::string::npos) << err;
  auto records = report(out / "report.jsonl");
  EXPECT_LT(records.size(), 100u);
  for (auto& rec : records) EXPECT_TRUE(rec["error"].is_null()) << rec;
  Result again = run_cli(dir.path(), {"fetch", "-c", "32", "--resume", "-o", out.string(), "-i",
                                      (dir.path() / "urls.txt").string()});
  EXPECT_EQ(again.code, 0) << again.err;
  auto all = report(out / "report.jsonl");
  EXPECT_EQ(all.size(), 100u);
  std::set<std::string> urls;
  for (auto& rec : all) urls.insert(rec["url"].get<std::string>());
  EXPECT_EQ(urls.size(), 100u);
}

TEST(FetchCli, FirstCtrlCFinishesInFlightWorkAndWritesTheReport) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  fsys::path out = dir.path() / "o";
  auto child = start_slow_run(dir.path(), server, out);
  ASSERT_TRUE(fsys::exists(out / "3.html"));
  ::kill(child->pid, SIGINT);
  int code = child->wait_exit();
  EXPECT_EQ(code, 130);
  std::string err = corun::fs::read_file_sync(child->err);
  EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
  EXPECT_NE(err.find("--resume"), std::string::npos) << err;
  auto records = report(out / "report.jsonl");
  EXPECT_GT(records.size(), 3u);
  EXPECT_LT(records.size(), 200u);
  // The summary accounts for every line of the input (issue 15): done, read but
  // not started, and the lines never read (the reader stops with the run).
  auto done = number_before(err, " done, 0 failed");
  ASSERT_TRUE(done) << err;
  EXPECT_EQ(*done, records.size());
  std::size_t not_started = number_before(err, " read but not started").value_or(0);
  auto unread_at = err.find(" of the input's 200 lines not read (it was read up to line ");
  ASSERT_NE(unread_at, std::string::npos) << err;
  auto unread = number_before(err, " of the input's 200 lines not read");
  auto read_to = number_after(err, "(it was read up to line ");
  ASSERT_TRUE(unread && read_to) << err;
  EXPECT_GT(*unread, 0u) << err;  // -c 4 holds at most 4 * 4 + 64 URLs: most were never read
  EXPECT_EQ(*unread + *read_to, 200u) << err;
  EXPECT_EQ(*done + not_started + *unread, 200u) << err;
  // Every record's file is complete, and every page file has its record.
  std::size_t pages = 0;
  for (auto& e : fsys::directory_iterator(out)) pages += e.path().extension() == ".html";
  EXPECT_EQ(pages, records.size());
  for (auto& rec : records) {
    EXPECT_TRUE(rec["error"].is_null()) << rec;
    EXPECT_EQ(corun::fs::read_file_sync(rec["path"].get<std::string>()), "\xEF\xBB\xBF<p>slow</p>");
  }
  EXPECT_EQ(temp_files(out), 0u);

  // --resume fetches exactly the rest.
  Result again = run_cli(dir.path(), {"fetch", "-c", "32", "--resume", "-o", out.string(), "-i",
                                      (dir.path() / "urls.txt").string()});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(report(out / "report.jsonl").size(), 200u);
  pages = 0;
  for (auto& e : fsys::directory_iterator(out)) pages += e.path().extension() == ".html";
  EXPECT_EQ(pages, 200u);
}

// SIGTERM (a service manager's stop, `kill`) as Ctrl-C: the requests in flight
// finish, the report is whole; the exit status is 128 + 15 = 143, as a shell's.
TEST(FetchCli, SigtermFinishesInFlightWorkAndExitsWith143) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  fsys::path out = dir.path() / "o";
  auto child = start_slow_run(dir.path(), server, out);
  ASSERT_TRUE(fsys::exists(out / "3.html"));
  ::kill(child->pid, SIGTERM);
  EXPECT_EQ(child->wait_exit(), 143);
  std::string err = corun::fs::read_file_sync(child->err);
  EXPECT_NE(err.find("terminated (SIGTERM)"), std::string::npos) << err;
  EXPECT_NE(err.find("--resume"), std::string::npos) << err;
  auto records = report(out / "report.jsonl");
  EXPECT_GT(records.size(), 3u);
  EXPECT_LT(records.size(), 200u);
  for (auto& rec : records) EXPECT_TRUE(rec["error"].is_null()) << rec;
  EXPECT_EQ(temp_files(out), 0u);
}

// Issue 15: with -c 16 the progress line said "32 in flight" (it counted pages
// waiting to be written, and URLs waiting for a request slot). It counts
// requests now: never more than -c.
TEST(FetchCli, ProgressLineCountsRequestsInFlight) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  std::string list;
  for (int i = 0; i < 24; ++i)
    list += fmt::format("http://127.0.0.1:{}/p/{}.html\n", server.port(), i);
  corun::fs::write_file_sync(dir.path() / "urls.txt", list);
  Result r =
      run_cli(dir.path(), {"fetch", "-c", "2", "--threads", "1", "--progress", "-o",
                           (dir.path() / "o").string(), "-i", (dir.path() / "urls.txt").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  // Ticks every 250 ms over a run of about 12 responses of 150 ms each, per connection.
  std::size_t lines = 0, busy = 0;
  for (auto at = r.err.find(" in flight"); at != std::string::npos;
       at = r.err.find(" in flight", at + 1)) {
    // (A piece that holds this occurrence and no other.)
    auto n = number_before(r.err.substr(at - std::min<std::size_t>(at, 12), 22), " in flight");
    ASSERT_TRUE(n) << r.err;
    ++lines;
    EXPECT_LE(*n, 2u) << r.err;
    busy += *n > 0;
  }
  EXPECT_GE(lines, 2u) << r.err;  // the ticker's lines and the final one
  EXPECT_GE(busy, 1u) << r.err;   // and some showed requests under way
}

TEST(FetchCli, SecondCtrlCQuitsAtOnce) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::TestServer server;
  std::string list;
  for (int i = 0; i < 100; ++i)
    list += fmt::format("http://127.0.0.1:{}/p/{}.html\n", server.port(), i);
  corun::fs::write_file_sync(dir.path() / "urls.txt", list);
  fsys::path out = dir.path() / "o";
  auto child = start(dir.path(), {"fetch", "-c", "1", "--timeout", "60", "-o", out.string(), "-i",
                                  (dir.path() / "urls.txt").string()});
  auto guard = std::chrono::steady_clock::now() + 60s;
  while (!fsys::exists(out / "0.html") && std::chrono::steady_clock::now() < guard)
    std::this_thread::sleep_for(10ms);
  ::kill(child->pid, SIGINT);
  std::this_thread::sleep_for(20ms);
  ::kill(child->pid, SIGINT);
  EXPECT_EQ(child->wait_exit(), 130);
  EXPECT_EQ(temp_files(out), 0u);
  // Whatever the report holds is whole lines of whole files.
  for (auto& rec : report(out / "report.jsonl"))
    EXPECT_TRUE(fsys::exists(rec["path"].get<std::string>()));
}

#ifdef CORUN_EXAMPLE_SEED_SCRAPER
TEST(SeedScraper, FetchesTheCorpusFromNginxLikeThePythonScraper) {
  corun::testing::TempDir dir("corun-seed");
  fsys::path corpus = dir.path() / "corpus";
  // The suite's own corpus generator (the benchmark corpus's layout: p/N.html, urls.txt).
  const char* src = std::getenv("CORUN_SOURCE_DIR");
  fsys::path root = src != nullptr && *src != '\0'
                        ? fsys::path(src)
                        : fsys::path(__FILE__).parent_path() / ".." / "..";
  fsys::path make_corpus = root / "tests" / "support" / "make_corpus.py";
  ASSERT_TRUE(fsys::exists(make_corpus)) << make_corpus;
  std::string gen = fmt::format("/usr/bin/python3 '{}' '{}' 30 >/dev/null", make_corpus.string(),
                                corpus.string());
  ASSERT_EQ(std::system(gen.c_str()), 0);
  corun::testing::NginxOptions no;
  no.root = corpus;
  corun::testing::Nginx nginx(no);
  fsys::path out = dir.path() / "out";
  std::string cmd =
      fmt::format("'{}' '{}' '{}' '{}' 8 > '{}'", CORUN_EXAMPLE_SEED_SCRAPER, nginx.base_url(),
                  (corpus / "urls.txt").string(), out.string(), (dir.path() / "stdout").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_NE(corun::fs::read_file_sync(dir.path() / "stdout").find("30 pages, "), std::string::npos);
  for (int i = 0; i < 30; ++i) {
    std::string page = corun::fs::read_file_sync(corpus / "p" / fmt::format("{}.html", i));
    EXPECT_EQ(corun::fs::read_file_sync(out / fmt::format("{}.html", i)),
              corun::text::with_bom(corun::text::decode(page, "gb18030")));
  }
}
#endif

}  // namespace

// `--report -` is standard output, as `-` is for curl's -o: the records go there
// (for `| jq`), the summary stays on standard error, and no file named "-" is
// made. --resume cannot read such a report back: a usage error.
TEST(FetchCli, ReportDashIsStandardOutput) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::Nginx nginx;
  corun::fs::write_file_sync(nginx.root() / "a.html", "<p>a</p>");
  fsys::path out = dir.path() / "o";
  Result r = run_cli(dir.path(), {"fetch", "--report", "-", "-o", out.string(),
                                  nginx.base_url() + "/a.html", nginx.base_url() + "/missing"});
  EXPECT_EQ(r.code, 1) << r.err;  // the 404
  std::vector<nlohmann::json> records;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    auto nl = r.out.find('\n', pos);
    ASSERT_NE(nl, std::string::npos) << r.out;
    records.push_back(nlohmann::json::parse(r.out.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(records.size(), 2u) << r.out;
  EXPECT_EQ(records[0]["url"], nginx.base_url() + "/a.html");
  EXPECT_TRUE(records[0]["error"].is_null()) << records[0];
  EXPECT_EQ(records[1]["status"], 404) << records[1];
  EXPECT_NE(r.err.find("1 done, 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("report on standard output"), std::string::npos) << r.err;
  EXPECT_FALSE(fsys::exists(dir.path() / "-"));
  EXPECT_FALSE(fsys::exists(out / "report.jsonl"));
  EXPECT_TRUE(fsys::exists(out / "a.html"));

  Result resumed = run_cli(dir.path(), {"fetch", "--resume", "--report", "-", "-o", out.string(),
                                        nginx.base_url() + "/a.html"});
  EXPECT_EQ(resumed.code, 2) << resumed.err;
  EXPECT_NE(resumed.err.find("a report on standard output (--report -) cannot be read"),
            std::string::npos)
      << resumed.err;
  EXPECT_TRUE(resumed.out.empty()) << resumed.out;
}

// A run refused at its start (here: the report names the output folder) leaves
// no output folder behind that it made itself; one that was there stays.
TEST(FetchCli, ARunRefusedAtStartLeavesNoFolderItMade) {
  corun::testing::TempDir dir("corun-cli");
  fsys::path out = dir.path() / "a" / "b";
  Result r = run_cli(
      dir.path(), {"fetch", "-o", out.string(), "--report", out.string(), "http://127.0.0.1:1/x"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << r.err;
  EXPECT_FALSE(fsys::exists(dir.path() / "a")) << r.err;

  fsys::create_directories(out);
  Result again = run_cli(
      dir.path(), {"fetch", "-o", out.string(), "--report", out.string(), "http://127.0.0.1:1/x"});
  EXPECT_EQ(again.code, 2) << again.err;
  EXPECT_TRUE(fsys::exists(out));
}

// Two runs into one report (the same --out, say): the second would cut the first's
// records and interleave its own with them. It is refused before it cuts anything.
TEST(FetchCli, AReportAnotherRunIsWritingIsRefusedUntouched) {
  corun::testing::TempDir dir("corun-cli");
  fsys::path rep = dir.path() / "report.jsonl";
  const std::string held = "{\"url\":\"http://h/a\"}\n";
  corun::fs::write_file_sync(rep, held);
  int fd = ::open(rep.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running corun fetch holds it
  for (bool resume : {false, true}) {
    std::vector<std::string> args{"fetch",    "-o",         (dir.path() / "o").string(),
                                  "--report", rep.string(), "http://127.0.0.1:1/x"};
    if (resume) args.emplace_back("--resume");
    Result r = run_cli(dir.path(), args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("is the report of another run still going"), std::string::npos) << r.err;
    EXPECT_EQ(corun::fs::read_file_sync(rep), held) << "resume " << resume;
  }
  // Not a regular file: nothing to lock or cut, and two runs may share it.
  Result null_report =
      run_cli(dir.path(), {"fetch", "-q", "-o", (dir.path() / "o").string(), "--report",
                           "/dev/null", "--retries", "0", "http://127.0.0.1:1/x"});
  EXPECT_EQ(null_report.code, 1) << null_report.err;
  EXPECT_EQ(null_report.err.find("cannot write"), std::string::npos) << null_report.err;
  ::close(fd);  // that run ended: the next one writes the report
  Result r = run_cli(dir.path(), {"fetch", "-q", "-o", (dir.path() / "o").string(), "--report",
                                  rep.string(), "--retries", "0", "http://127.0.0.1:1/x"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(report(rep).size(), 1u);
}

// `--report - >> file` on a file that cannot grow (a size limit here; a full
// disk alike): the failed write must leave what the file held before. The
// report file's own repair (cutting back to its last whole record) must not
// touch standard output, which is the shell's file: it truncated it to the
// bytes corun had written, so to nothing.
TEST(FetchCli, AReportOnStandardOutputThatCannotBeWrittenLeavesTheFileAlone) {
  corun::testing::TempDir dir("corun-cli");
  corun::testing::Nginx nginx;
  corun::fs::write_file_sync(nginx.root() / "a.html", "<p>a</p>");
  fsys::path sink = dir.path() / "all.jsonl";
  std::string before;
  for (int i = 0; i < 2000; ++i) before += fmt::format("{{\"earlier\":{}}}\n", i);
  corun::fs::write_file_sync(sink, before);  // ~34 KB, over the 16 KB limit below
  fsys::path err = dir.path() / "stderr";
  std::string exe = corun_exe().string();
  std::vector<std::string> args{exe,
                                "fetch",
                                "-q",
                                "--report",
                                "-",
                                "-o",
                                (dir.path() / "o").string(),
                                nginx.base_url() + "/a.html"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead
    struct rlimit lim {};
    lim.rlim_cur = lim.rlim_max = 16 * 1024;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    int o = ::open(sink.c_str(), O_WRONLY | O_APPEND);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int i = ::open("/dev/null", O_RDONLY);
    ::dup2(i, 0), ::dup2(o, 1), ::dup2(e, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string said = corun::fs::read_file_sync(err);
  ASSERT_TRUE(WIFEXITED(status)) << said;
  EXPECT_EQ(WEXITSTATUS(status), 1) << said;
  EXPECT_NE(said.find("cannot write standard output"), std::string::npos) << said;
  EXPECT_TRUE(corun::fs::read_file_sync(sink) == before) << "the file's earlier lines are gone";
}
