#!/bin/sh
# Prints the folder of the benchmark reference material every figure in bench/README.md is
# measured with: the GB18030 corpus generator (make_corpus.py), the nginx launcher
# (nginx.sh) and the peers (peers/aiohttp_seed.py ...). It is not part of this repository:
# it lives beside it, in ../shared/bench, or wherever CORUN_SHARED_BENCH points.
# Exits 2 with a message saying so when it is absent. The build and the tests never need it.
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${CORUN_SHARED_BENCH:-$top/../shared/bench}
for f in make_corpus.py nginx.sh peers/aiohttp_seed.py; do
  if [ ! -f "$dir/$f" ]; then
    echo "bench: needs the shared benchmark material (make_corpus.py, nginx.sh, peers/) in" >&2
    echo "  $dir, which has no $f: set CORUN_SHARED_BENCH=DIR to where it is." >&2
    echo "  (The same corpus and peers as every figure in bench/README.md; the build and" >&2
    echo "  the tests do not need it.)" >&2
    exit 2
  fi
done
cd "$dir" && pwd
