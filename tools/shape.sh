#!/bin/sh
# The codebase's shape, for issue notes (issue 11 asks for it before and after a
# reshaping): the five largest source files, the ten longest functions (from
# Universal Ctags' end-line field; lambdas count in the function that holds them;
# operators are left out, ctags misreads where they end),
# and the first rows of the `duplicates` tool when it is on PATH.
#
#   tools/shape.sh [REPO_DIR]
set -eu
repo=${1:-.}
cd "$repo"
files=$(git ls-files 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 'apps/*.cpp' 'apps/*.hpp' \
  'python/*.cpp' 'python/*.py')
echo "## five largest source files (lines)"
# shellcheck disable=SC2086
wc -l $files | grep -v ' total$' | sort -rn | head -5
echo
echo "## ten longest functions (lines)"
# shellcheck disable=SC2086
ctags -x --_xformat='%N %F %n %e' --kinds-c++=f --fields=+ne --languages=C++,Python \
  --kinds-python=fm $files 2>/dev/null |
  awk '$4 ~ /^[0-9]+$/ && $1 != "operator" && $1 ~ /^[A-Za-z_~][A-Za-z0-9_]*$/ { print $4 - $3 + 1, $2 ":" $3, $1 }' |
  sort -rn | head -10
if command -v duplicates >/dev/null; then
  echo
  echo "## duplicates (src include apps python)"
  duplicates --most 8 | head -12
fi
