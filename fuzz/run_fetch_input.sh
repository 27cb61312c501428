#!/usr/bin/env bash
# Builds the libFuzzer target over corun fetch's input lines and names
# (fuzz/fetch_input_fuzz.cpp) with clang and runs it.
# usage: fuzz/run_fetch_input.sh [SECONDS] [BUILD_DIR]   (default 60 s, build dir build-fuzz)
# Configured as fuzz/run.sh configures (the same BUILD_DIR serves both). Seeds are
# written here (input lines, templates and URLs as users write them); new inputs
# libFuzzer finds stay in BUILD_DIR/fetch-input-corpus between runs.
# Exit status: 0 when the run ends without a finding, non-zero otherwise (the
# failing input is written to BUILD_DIR/fetch-input-artifacts/).
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-$root/build-fuzz}"

. "$root/fuzz/lib.sh"
fuzz_build "$build" fetch_input_fuzz

seeds="$build/fetch-input-seeds"
corpus="$build/fetch-input-corpus"
artifacts="$build/fetch-input-artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
# Layout (see the target): template\ base\ line\ then 8 bytes of {index}, then raw
# bytes for sanitize_name. A backslash followed by another byte ends a field.
n=0
seed() { n=$((n + 1)); printf '%b' "$1" >"$seeds/seed$n"; }
seed '{index}.html\\ \\ http://127.0.0.1:8080/p/1.html\\ 12345678page.html'
seed '{host}/{name}\\ http://h/\\   p/2.html?q=1#f  gb18030\r\\ 00000000a/b'
seed '{path}\\ \\ https://[::1]:443/a%2e%2e/%E4%B8%AD.html x-user-defined\\ 00000001..'
seed '{hash}.bin\\ \\ \xEF\xBB\xBFhttp://x/\x00y\\ 00000002\xff\xfe.name'
seed 'd/{index}-{name}\\ \\ # a comment\\ 00000003con'
seed '{name}\\ \\ \thttp://127.0.0.1:1/a.b.c?x=%00&y=../z\t\\ 00000004.hidden'

echo "fuzz/run_fetch_input.sh: running fetch_input_fuzz for ${seconds}s"
cd "$artifacts"
"$build/fuzz/fetch_input_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -dict="$root/fuzz/fetch_input.dict" \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
