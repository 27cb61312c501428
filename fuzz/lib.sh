# Shared by fuzz/run*.sh (sourced, bash): configures BUILD_DIR for the libFuzzer targets
# (clang, fuzz targets only: no tests, benchmarks, examples or apps) and builds TARGET.
# usage: fuzz_build BUILD_DIR TARGET     (one build dir serves every target)
fuzz_build() {
  local build=$1 target=$2 root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  mkdir -p "$build"
  cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCORUN_BUILD_FUZZ=ON -DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_BENCH=OFF \
    -DCORUN_BUILD_EXAMPLES=OFF -DCORUN_BUILD_APPS=OFF >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; return 1; }
  cmake --build "$build" -j2 --target "$target"
}
