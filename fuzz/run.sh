#!/usr/bin/env bash
# Builds the corun::text libFuzzer target with clang and runs it.
# usage: fuzz/run.sh [SECONDS] [BUILD_DIR]      (default 60 s, build dir build-fuzz)
# Only the text layer is built, so other layers need not compile with clang. The seed
# corpus is made from tests/text/data/pages (real pages, each tagged with its own
# encoding); new inputs libFuzzer finds stay in BUILD_DIR/fuzz-corpus between runs.
# Exit status: 0 when the run ends without a finding, non-zero otherwise (the crashing
# input is written to BUILD_DIR/fuzz-artifacts/).
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-$root/build-fuzz}"

. "$root/fuzz/lib.sh"
fuzz_build "$build" text_fuzz

seeds="$build/fuzz-seeds"
corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
/usr/bin/python3 - "$root" "$seeds" <<'PY'
import json, os, sys
root, seeds = sys.argv[1], sys.argv[2]
encodings = []
whatwg = os.path.join(root, "third_party", "whatwg-encoding", "encodings.json")
for group in json.load(open(whatwg)):
    for e in group["encodings"]:
        encodings.append([l for l in e["labels"]])
def index(label):
    for i, labels in enumerate(encodings):
        if label in labels:
            return i
    return 0
pages = os.path.join(root, "tests", "text", "data", "pages")
for line in open(os.path.join(pages, "MANIFEST")):
    name, label, _ = line.split()
    body = open(os.path.join(pages, name), "rb").read()
    for n, (enc, ct) in enumerate([(index(label), b""), (0, b"text/html; charset=" + label.encode())]):
        # The whole page, and a short prefix (fast to mutate; ends mid-sequence).
        for cut, suffix in ((len(body), ""), (300 + n, ".head")):
            with open(os.path.join(seeds, f"{name}.{n}{suffix}"), "wb") as f:
                f.write(bytes([enc, 7 + n, len(ct)]) + ct + body[:cut])
PY

echo "fuzz/run.sh: running text_fuzz for ${seconds}s"
cd "$artifacts"
"$build/fuzz/text_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
  -dict="$root/fuzz/text.dict" \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
