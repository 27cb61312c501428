// Linked into every test binary: CORUN_SOURCE_DIR and CORUN_BINARY_DIR in the
// environment (unless already set), so tests and the programs they start find
// the trees whether run by ctest or by hand. (gtest_discover_tests cannot pass
// an ENVIRONMENT list of two entries: it splits it at the semicolon.)
#include <cstdlib>

namespace {
struct TestEnvironment {
  TestEnvironment() {
    ::setenv("CORUN_SOURCE_DIR", CORUN_TEST_SOURCE_DIR, 0);
    ::setenv("CORUN_BINARY_DIR", CORUN_TEST_BINARY_DIR, 0);
  }
} const kTestEnvironment;
}  // namespace
