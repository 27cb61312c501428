// Runs examples/environments (the five environments of docs/environments.md)
// and checks what it prints: each section's outcome, in order, exit status 0,
// and nothing on stderr (no "Task was destroyed but it is pending!", no
// "exception was never retrieved").
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct ExampleRun {
  int exit_status = -1;
  std::vector<std::string> lines;
  std::string stderr_text;
};

ExampleRun run_example(const char* exe) {
  ExampleRun r;
  // ctest runs each case as its own process, possibly in parallel: one file per process.
  std::string err_path =
      ::testing::TempDir() + "environments." + std::to_string(::getpid()) + ".stderr";
  std::string cmd = std::string("'") + exe + "' 2>'" + err_path + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) r.lines.push_back(line);
  std::ifstream err(err_path);
  r.stderr_text.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  std::remove(err_path.c_str());
  return r;
}

class ExampleEnvironments : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { run_ = new ExampleRun(run_example(CORUN_EXAMPLE_ENVIRONMENTS)); }
  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }

  // Index of the first line at or after `from` that starts with prefix, or -1.
  static int find(const std::string& prefix, int from = 0) {
    for (int i = from; i < static_cast<int>(run_->lines.size()); ++i) {
      if (run_->lines[static_cast<std::size_t>(i)].rfind(prefix, 0) == 0) return i;
    }
    return -1;
  }
  static const std::string& line(int i) { return run_->lines.at(static_cast<std::size_t>(i)); }
  // The line that starts with prefix (which must exist), for further checks.
  static std::string line_starting(const std::string& prefix) {
    int i = find(prefix);
    EXPECT_GE(i, 0) << "no line starts with: " << prefix;
    return i >= 0 ? line(i) : std::string();
  }
  static bool has_line(const std::string& text) {
    return find(text) >= 0 && line(find(text)) == text;
  }

  static ExampleRun* run_;
};
ExampleRun* ExampleEnvironments::run_ = nullptr;

TEST_F(ExampleEnvironments, ExitsCleanlyWithNothingOnStderr) {
  EXPECT_EQ(run_->exit_status, 0);
  EXPECT_EQ(run_->stderr_text, "");
  ASSERT_FALSE(run_->lines.empty());
  EXPECT_EQ(run_->lines.back(), "done");
}

TEST_F(ExampleEnvironments, SectionsComeInOrder) {
  int prev = -1;
  for (const char* header : {"== 1. ", "== 2. ", "== 3. ", "== 4. ", "== 5. "}) {
    int i = find(header);
    EXPECT_GT(i, prev) << header;
    prev = i;
  }
}

TEST_F(ExampleEnvironments, PlainMainCallingRun) {
  EXPECT_TRUE(has_line("1. run(answer()) returned 42"));
}

TEST_F(ExampleEnvironments, RunInsideTheLoopFailsAndSaysWhatToDo) {
  std::string error = line_starting("2. run() inside the loop raised RuntimeError: ");
  // semantic 1 (docs/behaviour.md): the message starts like this and names the alternatives.
  EXPECT_NE(error.find("RuntimeError: run() cannot be called from a running event loop"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("run_or_schedule"), std::string::npos) << error;
  EXPECT_NE(error.find("create_task"), std::string::npos) << error;
  EXPECT_NE(error.find("LoopThread"), std::string::npos) << error;
  EXPECT_TRUE(has_line("2. tasks the failed run() left behind: 0"));
}

TEST_F(ExampleEnvironments, RunOrScheduleSchedulesInsideAndRunsOutside) {
  EXPECT_TRUE(has_line("2. run_or_schedule inside the loop: scheduled, done() = false"));
  EXPECT_TRUE(has_line("2. co_await of its handle: 42"));
  EXPECT_TRUE(has_line("2. run_or_schedule with no loop running: done() = true, result() = 42"));
}

TEST_F(ExampleEnvironments, RunnerFreezesTasksBetweenCallsAndResumesThem) {
  EXPECT_TRUE(has_line("3. Runner, after the first run(): consumer done() = false, seen: first"));
  EXPECT_TRUE(
      has_line("3. Runner, between calls: \"second\" is queued, consumer still saw: first"));
  EXPECT_TRUE(
      has_line("3. Runner, after the second run(): the consumer resumed and saw: first, second"));
  EXPECT_TRUE(has_line("3. Runner, after close(): consumer cancelled() = true"));
}

TEST_F(ExampleEnvironments, LoopThreadReceivesWork) {
  EXPECT_TRUE(
      has_line("3. LoopThread: submit(square(7)).get() = 49, ran on the loop's thread, not the "
               "caller's: true"));
}

TEST_F(ExampleEnvironments, HostPollLoopDrivesALoopWithoutAThread) {
  EXPECT_TRUE(has_line("3. host poll() loop: ticker(3) returned 3 after several host iterations"));
  EXPECT_TRUE(
      has_line("3. host poll() loop: a corun loop was running between run_once() calls: false"));
}

TEST_F(ExampleEnvironments, OtherThreadsGetEveryResultOnce) {
  EXPECT_TRUE(
      has_line("4. 4 threads x 250 coroutines via LoopThread::submit and run_coroutine_threadsafe: "
               "1000 results, "
               "sum 332833500 (expected 332833500)"));
}

TEST_F(ExampleEnvironments, BlockingOnTheLoopsOwnThreadRaises) {
  std::string l = line_starting("4. ConcurrentFuture::get() on the loop's own thread: ");
  EXPECT_NE(l.find("RuntimeError: ConcurrentFuture::get() called on the thread of the loop"),
            std::string::npos)
      << l;
  EXPECT_NE(l.find("deadlock"), std::string::npos) << l;
}

TEST_F(ExampleEnvironments, SigintCancelsMainWhichCleansUpThenKeyboardInterrupt) {
  int cleanup = find("5. main task: CancelledError at its co_await; cleaning up");
  int interrupt = find("5. run() raised KeyboardInterrupt; the main task's cleanup had run: true");
  EXPECT_GE(cleanup, 0);
  EXPECT_GT(interrupt, cleanup);
  EXPECT_EQ(find("5. main task: the sleep ended with no interrupt (unexpected)"), -1);
}

TEST_F(ExampleEnvironments, NothingUnexpected) {
  for (const auto& l : run_->lines) EXPECT_EQ(l.find("unexpected"), std::string::npos) << l;
}

}  // namespace
