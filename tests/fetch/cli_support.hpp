// Helpers for the `corun fetch` integration tests (tests/fetch/*_integration_test.cpp):
// run the real executable as a child process (with resource limits, a hang guard and an
// optional mid-run kill), read its JSON-lines report, list and read output files.
// Blocking; the tests drive real servers (nginx, the fault server) from the outside.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace corun::testing::cli {

namespace fs = std::filesystem;

// <build>/apps/corun: from CORUN_BINARY_DIR (set by ctest), else found from this test
// executable's place in the build tree (<build>/tests/fetch/<test>).
inline fs::path corun_binary() {
  const char* dir = std::getenv("CORUN_BINARY_DIR");
  if (dir != nullptr && *dir != '\0') return fs::path(dir) / "apps" / "corun";
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() / "apps" /
         "corun";
}

// The source tree: CORUN_SOURCE_DIR (set by ctest), else from this header's own path.
inline fs::path source_dir() {
  const char* dir = std::getenv("CORUN_SOURCE_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& bytes) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Every regular file under dir, as paths relative to dir, sorted.
inline std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_directory()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct RunOptions {
  fs::path cwd;                            // empty: the test's own
  std::optional<fs::path> stdin_file;      // default /dev/null
  std::optional<rlim_t> file_size_limit;   // RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail EFBIG)
  std::optional<rlim_t> open_files_limit;  // RLIMIT_NOFILE
  // A hang guard, not a speed check: a run still going after this is killed and fails.
  std::chrono::seconds limit{300};
  // Called about every 10 ms while the child runs; returning true sends it SIGKILL.
  std::function<bool()> kill_when;
  // Called about every 10 ms while the child runs; a nonzero return is a signal sent to it.
  std::function<int()> signal_when;

  RunOptions& in(fs::path dir) {
    cwd = std::move(dir);
    return *this;
  }
  RunOptions& stdin_from(fs::path file) {
    stdin_file = std::move(file);
    return *this;
  }
  RunOptions& max_file_size(rlim_t bytes) {
    file_size_limit = bytes;
    return *this;
  }
  RunOptions& max_open_files(rlim_t n) {
    open_files_limit = n;
    return *this;
  }
  RunOptions& hang_guard(std::chrono::seconds s) {
    limit = s;
    return *this;
  }
  RunOptions& kill_once(std::function<bool()> f) {
    kill_when = std::move(f);
    return *this;
  }
};

struct RunResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool hung = false;   // killed by the hang guard
  bool killed_on_request = false;
  long peak_rss_kb = 0;  // ru_maxrss of the child
  std::string out, err;
};

inline std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.exit_code << " signal " << r.signal << (r.hung ? " (hung)" : "")
            << "\n--- stdout ---\n"
            << r.out.substr(0, 4000) << "\n--- stderr ---\n"
            << r.err.substr(0, 4000);
}

// Runs `corun <args...>`; stdout and stderr are captured through files (no pipe to fill).
inline RunResult run_corun(const std::vector<std::string>& args, const RunOptions& opt = {}) {
  // Tests call this from several threads at once (two queue workers): each call needs
  // its own capture files, or one removes the other's before it is read.
  static std::atomic<int> serial{0};
  fs::path capture = fs::temp_directory_path() / ("corun-fetch-it-" + std::to_string(::getpid()) +
                                                  "-" + std::to_string(++serial));
  fs::path out_path = capture.string() + ".out", err_path = capture.string() + ".err";
  std::string exe = corun_binary().string();
  std::vector<std::string> argv_s{exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string in = opt.stdin_file ? opt.stdin_file->string() : "/dev/null";
  std::string cwd = opt.cwd.string();

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int i = ::open(in.c_str(), O_RDONLY);
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (i < 0 || o < 0 || e < 0) ::_exit(126);
    ::dup2(i, 0), ::dup2(o, 1), ::dup2(e, 2);
    ::close(i), ::close(o), ::close(e);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::signal(SIGPIPE,
             SIG_DFL);  // the test may ignore it (an in-process server); the CLI gets the default
    if (opt.file_size_limit) {
      ::signal(SIGXFSZ, SIG_IGN);  // inherited across exec: a too-big write fails with EFBIG
      rlimit rl{*opt.file_size_limit, *opt.file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (opt.open_files_limit) {
      rlimit rl{*opt.open_files_limit, *opt.open_files_limit};
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }

  RunResult r;
  auto deadline = std::chrono::steady_clock::now() + opt.limit;
  int status = 0;
  rusage ru{};
  for (;;) {
    pid_t w = ::wait4(pid, &status, WNOHANG, &ru);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      r.hung = true;
      ::kill(pid, SIGKILL);
    } else if (opt.kill_when && !r.killed_on_request && opt.kill_when()) {
      r.killed_on_request = true;
      ::kill(pid, SIGKILL);
    } else if (opt.signal_when) {
      if (int sig = opt.signal_when(); sig != 0) ::kill(pid, sig);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.peak_rss_kb = ru.ru_maxrss;
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

// Newline-terminated lines of a file (a report read while it is being written may end in
// a partial line, which is not counted).
inline std::size_t count_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (!in.eof()) ++n;
  }
  return n;
}

// Every line must be one JSON object; a torn or non-JSON line fails the test.
inline std::vector<nlohmann::json> read_report(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "no report at " << p;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << p << " line " << n << " is not a JSON object: " << line;
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

inline std::string str(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  if (it == record.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

inline long num(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  return (it == record.end() || !it->is_number()) ? -1 : it->get<long>();
}

// A record is a success when it has no error (null, missing or empty).
inline bool ok(const nlohmann::json& record) {
  return str(record, "error").empty();
}

// The last record per URL (a resumed run appends; the last word counts).
inline std::map<std::string, nlohmann::json> by_url(const std::vector<nlohmann::json>& records) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& r : records) out[str(r, "url")] = r;
  return out;
}

// The output file a record names: absolute, or relative to the run's directory.
inline fs::path output_path(const nlohmann::json& record, const fs::path& run_dir) {
  fs::path p = str(record, "path");
  return p.is_absolute() ? p : run_dir / p;
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The record's error, lower case, with the URL taken out (so that words looked for in it
// cannot match the URL instead of the message).
inline std::string error_words(const nlohmann::json& record) {
  std::string e = str(record, "error");
  std::string url = str(record, "url");
  if (!url.empty()) {
    for (auto pos = e.find(url); pos != std::string::npos; pos = e.find(url))
      e.erase(pos, url.size());
  }
  return lower(e);
}

inline constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace corun::testing::cli
