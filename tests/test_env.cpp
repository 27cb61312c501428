// Linked into every test binary:
//  - CORUN_SOURCE_DIR and CORUN_BINARY_DIR in the environment (unless already
//    set), so tests and the programs they start find the trees whether run by
//    ctest or by hand. (gtest_discover_tests cannot pass an ENVIRONMENT list of
//    two entries: it splits it at the semicolon.)
//  - a watchdog: when CORUN_TEST_WATCHDOG=N is set (ctest sets it a little below
//    each test's timeout), a test still running after N seconds (SIGALRM) prints
//    every thread's stack, and those of the programs it started (through gdb,
//    when installed), and aborts, so a hang seen once in CI leaves a trace
//    instead of only "Timeout".
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

// This process and its descendants (programs the test started), parents first.
std::vector<pid_t> self_and_descendants() {
  std::vector<pid_t> pids{::getpid()};
  for (std::size_t i = 0; i < pids.size(); ++i) {
    std::error_code ec;
    std::string tasks = "/proc/" + std::to_string(pids[i]) + "/task";
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream children(t.path() / "children");
      for (pid_t c; children >> c;) pids.push_back(c);
    }
  }
  return pids;
}

std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : cmd) {
    if (c == '\0') c = ' ';
  }
  return cmd;
}

// The state letter of /proc/PID/stat (R, S, D, Z, T, ...), or '?'.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

// Appends every thread's stack of pid to file, through gdb (bounded by timeout(1): a
// process that exits meanwhile must not keep gdb waiting).
void append_stacks(pid_t pid, const std::string& file) {
  if (pid != ::getpid() && process_state(pid) == 'Z') return;  // exited, not yet reaped
  if (std::FILE* out = std::fopen(file.c_str(), "a")) {
    std::fprintf(out, "=== process %d: %s\n", static_cast<int>(pid), command_line(pid).c_str());
    std::fclose(out);
  }
  std::string p = std::to_string(pid);
  pid_t child = ::fork();
  if (child == 0) {
    std::FILE* out = std::fopen(file.c_str(), "a");
    ::dup2(out ? ::fileno(out) : 2, 1);
    ::dup2(out ? ::fileno(out) : 2, 2);
    ::execlp("timeout", "timeout", "-s", "KILL", "60", "gdb", "-p", p.c_str(), "-batch", "-nx",
             "-ex", "thread apply all bt 40", static_cast<char*>(nullptr));
    std::fprintf(stderr, "*** test watchdog: gdb not available, no stacks\n");
    ::_exit(127);
  }
  if (child > 0) {
    int status = 0;
    ::waitpid(child, &status, 0);
  }
}

long g_watchdog_seconds = 0;

// Runs in the SIGALRM handler: nothing here is async-signal-safe, but the process is
// hung and about to abort; at worst the dump itself hangs and ctest's timeout ends it.
void dump_stacks_and_abort(long seconds) {
  std::fprintf(stderr,
               "\n*** test watchdog: still running after %ld s; the stacks of its threads "
               "(and of programs it started) follow\n",
               seconds);
  std::fflush(stderr);
#ifdef PR_SET_PTRACER
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
  // The stacks go to stderr and to CORUN_BINARY_DIR/watchdog-PID.txt (scripts/test.sh
  // repeats those files after its summary).
  std::string file =
      std::string(CORUN_TEST_BINARY_DIR) + "/watchdog-" + std::to_string(::getpid()) + ".txt";
  std::vector<pid_t> pids = self_and_descendants();
  for (pid_t pid : pids) append_stacks(pid, file);
  if (std::FILE* in = std::fopen(file.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) std::fwrite(buf, 1, n, stderr);
    std::fclose(in);
  }
  // Started programs would outlive the abort (and could hold ctest's pipes open).
  for (std::size_t i = 1; i < pids.size(); ++i) ::kill(pids[i], SIGKILL);
  std::fprintf(stderr, "*** test watchdog: aborting\n");
  std::fflush(stderr);
  std::abort();
}

struct TestEnvironment {
  TestEnvironment() {
    ::setenv("CORUN_SOURCE_DIR", CORUN_TEST_SOURCE_DIR, 0);
    ::setenv("CORUN_BINARY_DIR", CORUN_TEST_BINARY_DIR, 0);
    const char* w = std::getenv("CORUN_TEST_WATCHDOG");
    g_watchdog_seconds = w ? std::strtol(w, nullptr, 10) : 0;
    if (g_watchdog_seconds > 0) {
      // alarm(), not a thread: tests fork, and a child forked from a multi-threaded
      // parent loses signals under TSan (and TSan sleeps 1 s at every exit while
      // another thread lives). fork() does not pass the alarm on to children.
      struct sigaction sa {};
      sa.sa_handler = [](int) { dump_stacks_and_abort(g_watchdog_seconds); };
      sa.sa_flags = SA_RESETHAND;
      ::sigaction(SIGALRM, &sa, nullptr);
      ::alarm(static_cast<unsigned>(g_watchdog_seconds));
    }
  }
} const kTestEnvironment;

}  // namespace
