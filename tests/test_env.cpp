// Linked into every test binary:
//  - CORUN_SOURCE_DIR and CORUN_BINARY_DIR in the environment (unless already
//    set), so tests and the programs they start find the trees whether run by
//    ctest or by hand. (gtest_discover_tests cannot pass an ENVIRONMENT list of
//    two entries: it splits it at the semicolon.)
//  - a watchdog: when CORUN_TEST_WATCHDOG=N is set (ctest sets it a little below
//    each test's timeout), a test still running after N seconds prints every
//    thread's stack (through gdb, when installed) and aborts, so a hang seen once
//    in CI leaves a trace instead of only "Timeout".
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

void dump_stacks_and_abort(long seconds) {
  std::fprintf(stderr, "\n*** test watchdog: still running after %ld s; thread stacks follow\n",
               seconds);
  std::fflush(stderr);
  std::string pid = std::to_string(::getpid());
#ifdef PR_SET_PTRACER
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
  pid_t child = ::fork();
  // The stacks go to stderr and to CORUN_BINARY_DIR/watchdog-PID.txt (scripts/test.sh
  // repeats those files after its summary).
  std::string file = std::string(CORUN_TEST_BINARY_DIR) + "/watchdog-" + pid + ".txt";
  if (child == 0) {
    std::FILE* out = std::fopen(file.c_str(), "w");
    ::dup2(out ? ::fileno(out) : 2, 1);
    ::execlp("gdb", "gdb", "-p", pid.c_str(), "-batch", "-nx", "-ex", "thread apply all bt 40",
             static_cast<char*>(nullptr));
    std::fprintf(stderr, "*** test watchdog: gdb not available, no stacks\n");
    ::_exit(127);
  }
  if (child > 0) {
    int status = 0;
    ::waitpid(child, &status, 0);
    if (std::FILE* in = std::fopen(file.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) std::fwrite(buf, 1, n, stderr);
      std::fclose(in);
    }
  }
  std::fprintf(stderr, "*** test watchdog: aborting\n");
  std::fflush(stderr);
  std::abort();
}

struct TestEnvironment {
  TestEnvironment() {
    ::setenv("CORUN_SOURCE_DIR", CORUN_TEST_SOURCE_DIR, 0);
    ::setenv("CORUN_BINARY_DIR", CORUN_TEST_BINARY_DIR, 0);
    const char* w = std::getenv("CORUN_TEST_WATCHDOG");
    long seconds = w ? std::strtol(w, nullptr, 10) : 0;
    if (seconds > 0) {
      std::thread([seconds] {
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        dump_stacks_and_abort(seconds);
      }).detach();
    }
  }
} const kTestEnvironment;

}  // namespace
