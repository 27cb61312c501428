# Shared by bench/*/run.sh (sourced, POSIX sh). The caller sets $shared (the
# ../shared/bench folder) and $python (Debian's /usr/bin/python3).

# bench_corpus WORK PAGES: prints the folder of a PAGES-page corpus made with
# ../shared/bench/make_corpus.py in WORK (made once, then kept: it takes a while).
bench_corpus() {
  _dir="$1/corpus-$2"
  if [ ! -f "$_dir/urls.txt" ]; then
    echo "making a corpus of $2 pages in $_dir (once; kept for later runs)" >&2
    mkdir -p "$1"
    rm -rf "$_dir.tmp"
    "$python" "$shared/make_corpus.py" "$_dir.tmp" "$2" >&2
    mv "$_dir.tmp" "$_dir"
  fi
  echo "$_dir"
}

# bench_nginx_start CORPUS: nginx (../shared/bench/nginx.sh) serving CORPUS on a free
# loopback port; sets $port and $base and returns once nginx answers.
bench_nginx_start() {
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  sh "$shared/nginx.sh" start "$1" "$port"
  _i=0
  until curl -sf -o /dev/null "$base/p/0.html"; do
    _i=$((_i + 1))
    [ "$_i" -lt 100 ] || { echo "bench: nginx did not answer on $base" >&2; return 1; }
    sleep 0.1
  done
}

# bench_nginx_stop CORPUS
bench_nginx_stop() {
  sh "$shared/nginx.sh" stop "$1"
}
