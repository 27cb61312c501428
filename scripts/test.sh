#!/usr/bin/env bash
# Installs what is needed, builds corun and runs every test, as CI does:
#   1. a Release build with warnings as errors: the whole ctest suite;
#   2. an ASan+UBSan build: the whole suite again;
#   3. a TSan build: the core runtime's tests and the fetch engine's (the thread code);
#   4. a short libFuzzer run over corun::text (clang), and one over corun fetch's input
#      lines and names.
# Usage: scripts/test.sh            (everything; about 20-30 minutes on 2 cores)
#        QUICK=1 scripts/test.sh    (step 1 only)
# Build trees go to ./out/ci-*. Prints ctest's summaries and ends with
# "tests: N passed, N failed" over every ctest run; exits non-zero if any step failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
jobs="${JOBS:-2}"
fuzz_seconds="${FUZZ_SECONDS:-60}"

bash scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

passed=0
failed=0
failures=()
failed_tests=()
skipped_tests=()
tests_passed=0
tests_failed=0
step() {  # step NAME COMMAND...
  local name=$1
  shift
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

configure_build() {  # DIR extra cmake args...
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja -DCORUN_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs"
}

run_ctest() {  # DIR extra ctest args...
  local dir=$1
  shift
  local log="$dir.ctest.log"
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 600 "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # ctest exits 0 when it finds no test (a build that failed, a selection that
  # matches nothing): that is a failure here, not a pass.
  if grep -q 'No tests were found' "$log"; then
    echo "test.sh: no tests found in $dir for: $*"
    return 1
  fi
  # "97% tests passed, 3 tests failed out of 100"
  local line total bad
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    tests_passed=$((tests_passed + total - bad))
    tests_failed=$((tests_failed + bad))
  fi
  # ctest's "The following tests FAILED:" block, repeated in the closing summary.
  local names
  names=$(sed -n '/The following tests FAILED:/,/^Errors while running/p' "$log" |
    grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+[0-9]+ - //')
  if [ -n "$names" ]; then
    while IFS= read -r n; do failed_tests+=("$dir: $n"); done <<<"$names"
  fi
  # Skipped tests (GTEST_SKIP, pytest skips) are listed too: a skip must be seen.
  names=$(sed -n '/The following tests did not run:/,/^$/p' "$log" |
    grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+[0-9]+ - //')
  if [ -n "$names" ]; then
    while IFS= read -r n; do
      skipped_tests+=("$dir: $n")
      tests_passed=$((tests_passed - 1))  # ctest counts a skip among the passed
    done <<<"$names"
  fi
  return "$rc"
}

run_fuzz() {  # libFuzzer's progress goes to a log; its last lines (and any finding) are shown
  local log="$root/out/ci-fuzz.log"
  bash fuzz/run.sh "$fuzz_seconds" "$root/out/ci-fuzz" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ]; then tail -n 80 "$log"; else grep -E '^(#[0-9]+[[:space:]]+DONE|Done )' "$log"; fi
  return "$rc"
}

run_fuzz_fetch_input() {  # the same, for fuzz/fetch_input_fuzz.cpp (same build tree)
  local log="$root/out/ci-fuzz-fetch-input.log"
  bash fuzz/run_fetch_input.sh "$fuzz_seconds" "$root/out/ci-fuzz" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ]; then tail -n 80 "$log"; else grep -E '^(#[0-9]+[[:space:]]+DONE|Done )' "$log"; fi
  return "$rc"
}

mkdir -p out
rm -f out/ci-*/watchdog-*.txt
step "release build" configure_build out/ci-release -DCMAKE_BUILD_TYPE=Release -DCORUN_BUILD_PYTHON=ON
step "release tests" run_ctest out/ci-release
# clang-tidy and clang-format on every layer: the library (core text net fs http redis
# fetch), the command line (apps) and the Python module's C++ (python/src).
tidy_sources=()
format_files=()
for dir in src/core src/text src/net src/fs src/http src/redis src/fetch apps python/src; do
  tidy_sources+=("$dir"/*.cpp)
done
# tests/ and examples/ too, but for tests/install/consumer: the README's example as a
# user writes it (clang-format 14 reads `co_return i * i;` as a declaration).
while IFS= read -r f; do format_files+=("$f"); done < <(find src include apps python/src \
  tests examples -path tests/install/consumer -prune -o \( -name '*.cpp' -o -name '*.hpp' \) \
  -print | sort)
run_tidy() {  # one clang-tidy per few files, $jobs at a time; fails if any reports
  printf '%s\n' "$@" | xargs -P "$jobs" -n 4 clang-tidy -p out/ci-release --quiet \
    --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-ignored-optimization-argument
}
step "clang-tidy (every layer, apps, python/src)" run_tidy "${tidy_sources[@]}"
step "clang-format (src include apps python/src tests examples)" clang-format --dry-run -Werror "${format_files[@]}"

if [ -z "${QUICK:-}" ]; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # The Python module too: its tests run with the sanitizer's runtime preloaded into
  # Debian's python (tests/python/CMakeLists.txt).
  # -O1 -g1 (line tables) for the ASan build: what ASan asks for, with file:line in its
  # reports, in half the compile time of -O2 -g (engine_test.cpp: 43 s against 89 s; the
  # whole build 998 s against 2,119 s), which keeps the CI run well inside its time limit.
  # (TSan stays at -O2 -g: at -O1, g++ 12 under -fsanitize=thread reports a false
  # -Wmaybe-uninitialized in tests/text/streaming_test.cpp.)
  asan_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
  step "asan+ubsan build" configure_build out/ci-asan "${asan_flags[@]}" \
    -DCORUN_SANITIZE=address,undefined -DCORUN_BUILD_BENCH=OFF -DCORUN_BUILD_PYTHON=ON
  step "asan+ubsan tests" run_ctest out/ci-asan -LE soak
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  step "tsan build" configure_build out/ci-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCORUN_SANITIZE=thread -DCORUN_BUILD_BENCH=OFF -DCORUN_BUILD_EXAMPLES=OFF -DCORUN_BUILD_APPS=OFF \
    -DCORUN_BUILD_PYTHON=ON
  step "tsan tests (core)" run_ctest out/ci-tsan -L core
  # The fetch engine runs its lanes on threads of their own.
  step "tsan tests (fetch engine)" run_ctest out/ci-tsan -R '^FetchEngine[.]'
  # The Python module: the loop thread, the GIL, mailboxes and the backlog's give-back.
  step "tsan tests (python)" run_ctest out/ci-tsan -L python
  step "fuzz corun::text (${fuzz_seconds} s)" run_fuzz
  step "fuzz corun fetch input (${fuzz_seconds} s)" run_fuzz_fetch_input
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed steps: ${failures[*]}"
fi
for t in "${failed_tests[@]}"; do echo "failed test: $t"; done
for t in "${skipped_tests[@]}"; do echo "skipped test: $t"; done
for f in out/ci-*/watchdog-*.txt; do  # stacks of tests the watchdog stopped (tests/test_env.cpp)
  [ -f "$f" ] || continue
  echo "--- $f (a hung test's threads)"
  grep -E '^(Thread |#[0-9]+ )' "$f" | grep -vE ' in (__GI_|__libc_|start_thread|clone3)' | head -n 60
done
echo "steps: $passed passed, $failed failed"
echo "tests: $tests_passed passed, $tests_failed failed, ${#skipped_tests[@]} skipped"
[ "$failed" -eq 0 ]
